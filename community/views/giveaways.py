"""Giveaway pages: create one on a published post, draw it once, and export its winners and
entrants as CSV. Staff only: clients get a 404, marketers read, admins and managers change."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, can_write
from community import selectors, services
from community.models import Giveaway
from community.views.listening import community_brand

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    value = "" if value is None else str(value)
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


class TargetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        when = f"{obj.published_at:%d %b %Y}" if obj.published_at else obj.get_state_display()
        return f"{obj.post.title or obj.post.text[:40]} on {obj.account} ({when})"


class GiveawayForm(forms.Form):
    name = forms.CharField(max_length=200)
    target = TargetChoiceField(queryset=None, label="Post", empty_label="Choose a published post")
    winners_count = forms.IntegerField(label="Winners", min_value=1, initial=1)
    must_contain = forms.CharField(
        max_length=100,
        required=False,
        help_text="A word or #hashtag each entry must contain (any case); blank: every comment.",
    )
    one_entry_per_person = forms.BooleanField(required=False, initial=True)
    exclude_staff = forms.BooleanField(
        required=False, initial=True, help_text="Leave out the brand's own accounts."
    )
    excluded_handles = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Handles that may not win (employees, past winners), separated by commas.",
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        # Any post of the brand validates, so that an unpublished one is refused in words by
        # the service; the list offers the published ones.
        field = self.fields["target"]
        field.queryset = selectors.giveaway_targets_for_brand(brand=brand)
        published = selectors.giveaway_targets_for_brand(brand=brand, published_only=True)
        field.widget.choices = [("", field.empty_label)] + [
            (t.pk, field.label_from_instance(t)) for t in published
        ]


def _giveaway(request, giveaway_id, *, write: bool = False) -> Giveaway:
    giveaway = get_object_or_404(
        Giveaway.objects.select_related("target__post", "target__account", "drawn_by"),
        pk=giveaway_id,
    )
    giveaway.brand = community_brand(request, giveaway.brand_id, write=write)
    return giveaway


@login_required
@require_http_methods(["GET", "POST"])
def giveaway_list(request, brand_id):
    brand = community_brand(request, brand_id, write=request.method == "POST")
    writer = can_write(brand.user_role, Area.COMMUNITY)
    form = GiveawayForm(request.POST or None, brand=brand) if writer else None
    if request.method == "POST" and form.is_valid():
        try:
            giveaway = services.giveaway_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Created the giveaway “{giveaway.name}”.")
            return redirect("community:giveaway-detail", giveaway_id=giveaway.pk)
    return render(
        request,
        "community/giveaways/list.html",
        {
            "brand": brand,
            "form": form,
            "giveaways": selectors.giveaways_for_brand(brand=brand),
            "can_write": writer,
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_http_methods(["GET"])
def giveaway_detail(request, giveaway_id):
    giveaway = _giveaway(request, giveaway_id)
    drawn = giveaway.drawn_at is not None
    return render(
        request,
        "community/giveaways/detail.html",
        {
            "brand": giveaway.brand,
            "giveaway": giveaway,
            "verified": services.giveaway_verify(giveaway=giveaway) if drawn else None,
            "short": drawn and len(giveaway.winners) < giveaway.winners_count,
            "can_write": can_write(giveaway.brand.user_role, Area.COMMUNITY),
        },
    )


@login_required
@require_POST
def giveaway_draw(request, giveaway_id):
    giveaway = _giveaway(request, giveaway_id, write=True)
    try:
        giveaway = services.giveaway_draw(giveaway=giveaway, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if len(giveaway.winners) < giveaway.winners_count:
            messages.warning(
                request,
                f"Only {len(giveaway.entrants)} eligible entrant(s) for "
                f"{giveaway.winners_count} prizes: every one of them wins.",
            )
        else:
            messages.success(request, f"Drew {len(giveaway.winners)} winner(s).")
    return redirect("community:giveaway-detail", giveaway_id=giveaway.pk)


def _csv(giveaway: Giveaway, what: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = slugify(giveaway.name) or "giveaway"
    response["Content-Disposition"] = f'attachment; filename="{name}-{what}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return response


@login_required
@require_http_methods(["GET"])
def winners_csv(request, giveaway_id):
    giveaway = _giveaway(request, giveaway_id)
    return _csv(
        giveaway,
        "winners",
        ["rank", "handle", "message_id", "platform_message_id", "text"],
        (
            [rank, w["handle"], w["message_id"], w.get("platform_message_id", ""), w["text"]]
            for rank, w in enumerate(giveaway.winners, start=1)
        ),
    )


@login_required
@require_http_methods(["GET"])
def entrants_csv(request, giveaway_id):
    giveaway = _giveaway(request, giveaway_id)
    return _csv(
        giveaway,
        "entrants",
        ["handle", "message_id", "platform_message_id", "text"],
        (
            [e["handle"], e["message_id"], e.get("platform_message_id", ""), e["text"]]
            for e in giveaway.entrants
        ),
    )


urlpatterns = [
    path("brands/<uuid:brand_id>/giveaways/", giveaway_list, name="giveaway-list"),
    path("giveaways/<uuid:giveaway_id>/", giveaway_detail, name="giveaway-detail"),
    path("giveaways/<uuid:giveaway_id>/draw/", giveaway_draw, name="giveaway-draw"),
    path("giveaways/<uuid:giveaway_id>/winners.csv", winners_csv, name="giveaway-winners-csv"),
    path("giveaways/<uuid:giveaway_id>/entrants.csv", entrants_csv, name="giveaway-entrants-csv"),
]
