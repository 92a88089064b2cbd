"""An account's queue page (its weekly slots and best-time suggestions) and "add to queue"."""

from datetime import time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from agency.models import Role, SocialAccount
from agency.permissions import Area, brand_for_user, brands_for_user
from calendar_app import selectors, services
from calendar_app.models import Post, QueueSlot


class SlotForm(forms.Form):
    weekday = forms.TypedChoiceField(choices=QueueSlot.Weekday.choices, coerce=int)
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def __init__(self, *args, zone_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time"].label = f"Time ({zone_name})"
        self.fields["time"].help_text = f"Wall-clock time in {zone_name}, for example 09:30."


def _account(request, account_id, *, write: bool) -> SocialAccount:
    account = selectors.account_for_user(user=request.user, account_id=account_id)
    brand = brand_for_user(
        user=request.user,
        brand_id=account.brand_id,
        write=write,
        area=Area.CALENDAR if write else None,
    )
    if brand.user_role == Role.CLIENT:
        # The queue is the agency's working plan; clients see what is planned in the portal.
        raise PermissionDenied("The queue is for the agency's staff.")
    account.brand = brand
    return account


def _queue_page(request, account, *, form=None, status=200):
    brand = account.brand
    return render(
        request,
        "calendar_app/slots/queue.html",
        {
            "account": account,
            "brand": brand,
            "week": selectors.slot_week(account=account),
            "best": selectors.best_times(account=account),
            "form": form or SlotForm(zone_name=brand.time_zone),
            "can_write": brand.user_role in (Role.ADMIN, Role.MANAGER),
        },
        status=status,
    )


@login_required
@require_GET
def account_queue(request, account_id):
    return _queue_page(request, _account(request, account_id, write=False))


@login_required
@require_POST
def slot_create(request, account_id):
    account = _account(request, account_id, write=True)
    form = SlotForm(request.POST, zone_name=account.brand.time_zone)
    if form.is_valid():
        try:
            slot = services.slot_create(
                account=account,
                weekday=form.cleaned_data["weekday"],
                time=form.cleaned_data["time"],
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added {slot.get_weekday_display()} {slot.time:%H:%M}.")
            return redirect("calendar:account-queue", account_id=account.pk)
    return _queue_page(request, account, form=form, status=400)


@login_required
@require_POST
def slot_delete(request, slot_id):
    slot = get_object_or_404(
        QueueSlot.objects.select_related("account__brand__agency").filter(
            account__brand__in=brands_for_user(user=request.user).values("pk")
        ),
        pk=slot_id,
    )
    account = _account(request, slot.account_id, write=True)
    label = f"{slot.get_weekday_display()} {slot.time:%H:%M}"
    services.slot_delete(slot=slot, by=request.user)
    messages.success(request, f"Removed {label}.")
    return redirect("calendar:account-queue", account_id=account.pk)


@login_required
@require_POST
def slots_add_suggested(request, account_id):
    account = _account(request, account_id, write=True)
    best = selectors.best_times(account=account)
    created = services.slots_add(
        account=account,
        times=[(weekday, time(hour)) for weekday, hour in best["slots"]],
        by=request.user,
    )
    if created:
        messages.success(request, f"Added {len(created)} suggested slot(s).")
    else:
        messages.info(request, "The account already has every suggested slot.")
    return redirect("calendar:account-queue", account_id=account.pk)


@login_required
@require_POST
def post_add_to_queue(request, post_id):
    post = get_object_or_404(
        Post.objects.filter(brand__in=brands_for_user(user=request.user).values("pk")), pk=post_id
    )
    brand = brand_for_user(
        user=request.user, brand_id=post.brand_id, write=True, area=Area.CALENDAR
    )
    try:
        post = services.post_add_to_queue(post=post, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        when = post.scheduled_at.astimezone(brand.zone)
        waiting = "" if services.post_is_publishable(post) else " It goes out once approved."
        messages.success(request, f"Queued for {when:%a %d %b %H:%M} ({brand.time_zone}).{waiting}")
    return redirect("calendar:post-detail", post_id=post.pk)


urlpatterns = [
    path("accounts/<uuid:account_id>/queue/", account_queue, name="account-queue"),
    path("accounts/<uuid:account_id>/queue/slots/", slot_create, name="slot-create"),
    path(
        "accounts/<uuid:account_id>/queue/suggested/",
        slots_add_suggested,
        name="slots-add-suggested",
    ),
    path("slots/<uuid:slot_id>/delete/", slot_delete, name="slot-delete"),
    path("posts/<uuid:post_id>/add-to-queue/", post_add_to_queue, name="post-add-to-queue"),
]
