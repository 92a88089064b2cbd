"""Reads of the content calendar: one entry per post target, in a range of wall-clock time.

FullCalendar cannot show named time zones without a plugin, so it is told everything is UTC and
given each brand's wall-clock times without an offset: 09:00 in Berlin shows as 09:00 in any
browser. `start` and `end` are wall-clock times too; with every brand shown, each target is
placed in its own brand's zone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, When
from django.db.models.functions import Coalesce
from django.urls import reverse

from agency.models import Brand
from agency.permissions import Area, brands_for_user, can_write
from calendar_app.models import Post, PostTarget, TargetState

__all__ = [
    "EXPORT_COLUMNS",
    "CalendarFilters",
    "CalendarState",
    "calendar_entries",
    "calendar_events",
    "calendar_export_rows",
]

S = TargetState
A = Post.Approval

# The widest UTC offsets in use (-12:00 and +14:00): a UTC window this much wider than the
# wall-clock range holds every target of every brand, whatever its zone.
_ZONE_SLACK = timedelta(hours=14)


class CalendarState(models.TextChoices):
    """What the calendar shows: a target's publishing state, and before scheduling, its
    post's approval."""

    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed or unconfirmed"
    CANCELLED = "cancelled", "Cancelled"


_STATE_Q = {
    CalendarState.DRAFT: Q(state=S.DRAFT, post__approval_state__in=[A.DRAFT, A.CHANGES_REQUESTED]),
    CalendarState.IN_REVIEW: Q(
        state=S.DRAFT, post__approval_state__in=[A.IN_REVIEW, A.CLIENT_REVIEW]
    ),
    CalendarState.APPROVED: Q(
        state=S.DRAFT, post__approval_state__in=[A.APPROVED, A.CLIENT_APPROVED]
    ),
    CalendarState.SCHEDULED: Q(state__in=[S.SCHEDULED, S.QUEUED, S.PUBLISHING]),
    CalendarState.PUBLISHED: Q(state=S.PUBLISHED),
    CalendarState.FAILED: Q(state__in=[S.FAILED, S.UNCONFIRMED]),
    CalendarState.CANCELLED: Q(state=S.CANCELLED),
}


def calendar_state(target: PostTarget) -> tuple[str, str]:
    """(key, words) of a target as the calendar shows it."""
    if target.state == S.DRAFT:
        approval = target.post.approval_state
        if approval in (A.IN_REVIEW, A.CLIENT_REVIEW):
            return CalendarState.IN_REVIEW, target.post.get_approval_state_display()
        if approval in (A.APPROVED, A.CLIENT_APPROVED):
            return CalendarState.APPROVED, target.post.get_approval_state_display()
        return CalendarState.DRAFT, target.post.get_approval_state_display()
    if target.state in (S.SCHEDULED, S.QUEUED, S.PUBLISHING):
        return CalendarState.SCHEDULED, target.get_state_display()
    if target.state in (S.FAILED, S.UNCONFIRMED):
        return CalendarState.FAILED, target.get_state_display()
    return target.state, target.get_state_display()


@dataclass(frozen=True)
class CalendarFilters:
    account_id: uuid.UUID | None = None
    platform: str = ""
    state: str = ""
    tag: str = ""


@dataclass(frozen=True)
class CalendarEntry:
    target: PostTarget
    brand: Brand
    local: datetime  # aware, in the brand's zone
    state: str
    state_label: str
    editable: bool


def _normal_tag(tag: str) -> str:
    return tag.strip().lstrip("#").casefold()


def calendar_entries(
    *, user, brand: Brand | None = None, start: datetime, end: datetime, filters: CalendarFilters
) -> list[CalendarEntry]:
    """Targets placed at wall-clock times in [start, end), earliest first. Two queries, however
    many targets: the user's brands with their roles, then the targets with what they show."""
    roles = dict(brands_for_user(user=user).values_list("pk", "user_role"))
    brand_ids = [brand.pk] if brand is not None else list(roles)
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)

    shared_by_scheduled = PostTarget.objects.filter(post=OuterRef("post")).exclude(
        state__in=[S.DRAFT, S.CANCELLED]
    )
    qs = (
        PostTarget.objects.filter(post__brand_id__in=brand_ids)
        .select_related("post__brand", "account")
        .annotate(
            # Published: when it went out; pending: when it is due; a draft: its post's plan.
            at=Case(
                When(
                    state=S.PUBLISHED,
                    then=Coalesce("published_at", "due_at", "post__scheduled_at"),
                ),
                default=Coalesce("due_at", "post__scheduled_at"),
            ),
            shares_time=Exists(shared_by_scheduled),
        )
        .filter(at__gte=_utc(start) - _ZONE_SLACK, at__lt=_utc(end) + _ZONE_SLACK)
        .order_by("at", "account__platform")
    )
    if filters.account_id:
        qs = qs.filter(account_id=filters.account_id)
    if filters.platform:
        qs = qs.filter(account__platform=filters.platform)
    qs = qs.filter(_STATE_Q[filters.state]) if filters.state else qs.exclude(state=S.CANCELLED)

    tag = _normal_tag(filters.tag)
    entries = []
    for target in qs:
        target_brand = target.post.brand
        local = target.at.astimezone(target_brand.zone)
        if not start <= local.replace(tzinfo=None) < end:
            continue
        # Tags are a JSON list; matching them here keeps SQLite and PostgreSQL alike.
        if tag and tag not in {_normal_tag(t) for t in target.post.tags or []}:
            continue
        state, label = calendar_state(target)
        movable = target.state == S.SCHEDULED or (
            target.state == S.DRAFT and not target.shares_time
        )
        entries.append(
            CalendarEntry(
                target=target,
                brand=target_brand,
                local=local,
                state=state,
                state_label=label,
                editable=movable and can_write(roles.get(target_brand.pk), Area.CALENDAR),
            )
        )
    return entries


def _utc(wall_clock: datetime) -> datetime:
    return wall_clock.replace(tzinfo=UTC)


def _post_label(post: Post) -> str:
    if post.title:
        return post.title
    text = " ".join(post.text.split())
    return text[:40] + ("..." if len(text) > 40 else "") or "(no text)"


def calendar_events(
    *, user, brand: Brand | None = None, start: datetime, end: datetime, filters: CalendarFilters
) -> list[dict]:
    """The entries as FullCalendar event objects."""
    entries = calendar_entries(user=user, brand=brand, start=start, end=end, filters=filters)
    events = []
    for entry in entries:
        target = entry.target
        account = target.account
        title = (
            f"{entry.state_label}: {_post_label(target.post)} · {account.handle} "
            f"({account.get_platform_display()})"
        )
        if brand is None:
            title += f" · {entry.brand.name}, {entry.brand.time_zone}"
        events.append(
            {
                "id": str(target.pk),
                "title": title,
                "start": entry.local.replace(tzinfo=None).isoformat(timespec="seconds"),
                "allDay": False,
                "url": reverse("calendar:post-detail", args=[target.post_id]),
                "editable": entry.editable,
                "durationEditable": False,
                "classNames": [
                    "cal-event",
                    f"cal-platform--{account.platform}",
                    f"cal-state--{entry.state}",
                ],
                "extendedProps": {
                    "postId": str(target.post_id),
                    "state": entry.state,
                    "stateLabel": entry.state_label,
                    "platform": account.platform,
                    "platformLabel": account.get_platform_display(),
                    "account": account.handle,
                    "brand": entry.brand.name,
                    "timeZone": entry.brand.time_zone,
                    "rescheduleUrl": reverse("calendar:target-reschedule", args=[target.pk]),
                },
            }
        )
    return events


EXPORT_COLUMNS = [
    "brand",
    "account",
    "platform",
    "post title",
    "text",
    "scheduled time",
    "time zone",
    "state",
    "approval state",
    "tags",
    "external url",
]


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with one of these as a formula ("CSV injection").
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def calendar_export_rows(
    *, user, brand: Brand | None = None, start: datetime, end: datetime, filters: CalendarFilters
) -> list[dict[str, str]]:
    """The entries as rows for a CSV file, keyed by EXPORT_COLUMNS."""
    rows = []
    for entry in calendar_entries(user=user, brand=brand, start=start, end=end, filters=filters):
        target = entry.target
        post = target.post
        rows.append(
            {
                "brand": entry.brand.name,
                "account": target.account.handle,
                "platform": target.account.get_platform_display(),
                "post title": _cell(post.title),
                "text": _cell(target.effective_text),
                "scheduled time": entry.local.isoformat(timespec="minutes"),
                "time zone": entry.brand.time_zone,
                "state": entry.state_label,
                "approval state": post.get_approval_state_display(),
                "tags": _cell("; ".join(post.tags or [])),
                "external url": target.external_url,
            }
        )
    return rows
