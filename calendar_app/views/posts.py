import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, brand_for_user, brands_for_user
from calendar_app import selectors, services
from calendar_app.forms import PostForm
from calendar_app.models import Post, PostTarget

_PLACEHOLDER = str(uuid.UUID(int=0))


@dataclass(frozen=True, slots=True)
class PostRow:
    url: str
    label: str
    brand: str
    scheduled: str
    # The counts as text: localizing 600 small integers per page was a measurable share of
    # it, and an integer under a thousand prints the same in every locale.
    targets: str
    published: str
    failed: str  # empty when none failed


class _ScheduledWords:
    """A time as the date filter's "D j M Y, H:i" prints it ("Tue 3 Mar 2026, 09:30").

    The filter parses its format and translates the day and month names on every call, which
    was most of the page's time for 200 rows; here the names are translated once per page.
    tests/calendar_app/test_views.py holds it to the filter's output."""

    def __init__(self):
        self.days = [str(name) for _, name in sorted(WEEKDAYS_ABBR.items())]
        self.months = {number: str(name).title() for number, name in MONTHS_3.items()}

    def __call__(self, local: datetime) -> str:
        return (
            f"{self.days[local.weekday()]} {local.day} {self.months[local.month]} "
            f"{local.year:04d}, {local.hour:02d}:{local.minute:02d}"
        )


def _post_rows(posts) -> list[PostRow]:
    """The list's rows ready to print: the detail address reversed once, each time in its
    brand's zone. Per-row {% url %} and {% timezone %}/date tags were most of the page's time."""
    url = reverse("calendar:post-detail", args=[_PLACEHOLDER])
    words = _ScheduledWords()
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    rows = []
    for post in posts:
        scheduled = ""
        if post.scheduled_at is not None:
            name = post.brand.time_zone
            zone = zones.get(name) or zones.setdefault(name, zoneinfo.ZoneInfo(name))
            scheduled = words(localtime(post.scheduled_at, zone))
        rows.append(
            PostRow(
                url=url.replace(_PLACEHOLDER, str(post.pk), 1),
                label=str(post),
                brand=post.brand.name,
                scheduled=scheduled,
                targets=str(post.target_count),
                published=str(post.published_count),
                failed=str(post.failed_count) if post.failed_count else "",
            )
        )
    return rows


@login_required
def post_list(request):
    brand = None
    brand_id = request.GET.get("brand") or request.session.get("current_brand_id")
    if brand_id:
        try:
            brand = brand_for_user(user=request.user, brand_id=brand_id)
        except Http404:
            brand = None
    posts = _post_rows(selectors.posts_for_user(user=request.user, brand=brand)[:200])
    return render(
        request,
        "calendar_app/post_list.html",
        {"posts": posts, "brand": brand},
    )


@login_required
def post_create(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.CALENDAR)
    form = PostForm(request.POST or None, brand=brand)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accounts = list(data["accounts"])
        try:
            with transaction.atomic():
                post = services.post_create(
                    brand=brand,
                    by=request.user,
                    accounts=accounts,
                    title=data["title"],
                    text=data["text"],
                    link=data["link"],
                    variants={a.pk: {"first_comment": data["first_comment"]} for a in accounts},
                    scheduled_at=data["scheduled_at"],
                )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, "Post scheduled." if data["scheduled_at"] else "Draft saved.")
            return redirect("calendar:post-detail", post_id=post.pk)
    return render(request, "calendar_app/post_form.html", {"form": form, "brand": brand})


@login_required
def post_detail(request, post_id):
    try:
        post = selectors.post_with_targets(post_id=post_id, user=request.user)
    except Post.DoesNotExist as exc:
        raise Http404("No such post.") from exc
    brand = brand_for_user(user=request.user, brand_id=post.brand_id)
    return render(
        request,
        "calendar_app/post_detail.html",
        {"post": post, "brand": brand, "can_write": brand.user_role in ("admin", "manager")},
    )


def _target_for_write(request, target_id) -> PostTarget:
    target = get_object_or_404(
        PostTarget.objects.select_related("post__brand", "account").filter(
            post__brand__in=brands_for_user(user=request.user).values("pk")
        ),
        pk=target_id,
    )
    brand_for_user(user=request.user, brand_id=target.post.brand_id, write=True, area=Area.CALENDAR)
    return target


@login_required
@require_POST
def post_cancel(request, post_id):
    post = get_object_or_404(
        Post.objects.filter(brand__in=brands_for_user(user=request.user).values("pk")), pk=post_id
    )
    brand_for_user(user=request.user, brand_id=post.brand_id, write=True, area=Area.CALENDAR)
    cancelled = services.post_cancel(post=post, by=request.user)
    messages.success(request, f"Cancelled {cancelled} pending target(s).")
    return redirect("calendar:post-detail", post_id=post.pk)


@login_required
@require_POST
def target_retry(request, target_id):
    target = _target_for_write(request, target_id)
    try:
        services.target_retry(target=target, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{target.account} will be tried again in a moment.")
    return redirect("calendar:post-detail", post_id=target.post_id)


@login_required
@require_POST
def target_mark_published(request, target_id):
    target = _target_for_write(request, target_id)
    try:
        services.target_mark_published(
            target=target, by=request.user, url=request.POST.get("url", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Marked as published on {target.account}.")
    return redirect("calendar:post-detail", post_id=target.post_id)


urlpatterns = [
    path("posts/", post_list, name="post-list"),
    path("brands/<uuid:brand_id>/posts/new/", post_create, name="post-create"),
    path("posts/<uuid:post_id>/", post_detail, name="post-detail"),
    path("posts/<uuid:post_id>/cancel/", post_cancel, name="post-cancel"),
    path("targets/<uuid:target_id>/retry/", target_retry, name="target-retry"),
    path(
        "targets/<uuid:target_id>/mark-published/",
        target_mark_published,
        name="target-mark-published",
    ),
]
