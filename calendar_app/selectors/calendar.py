"""Reads of the content calendar: one entry per post target, in a range of wall-clock time.

FullCalendar cannot show named time zones without a plugin, so it is told everything is UTC and
given each brand's wall-clock times without an offset: 09:00 in Berlin shows as 09:00 in any
browser. `start` and `end` are wall-clock times too; with every brand shown, each target is
placed in its own brand's zone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse

from agency.models import Brand, Platform, Role
from agency.permissions import Area, brands_for_user, can_write
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.selectors.approvals import CLIENT_VISIBLE_APPROVALS

__all__ = [
    "EXPORT_COLUMNS",
    "CalendarFilters",
    "CalendarState",
    "calendar_entries",
    "calendar_entries_between",
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


# Each state as (a condition on the target, the approvals its post must be in or None). The
# approval half is checked on the posts read beforehand (see _posts_at), not by a join.
_STATES: dict[str, tuple[Q, tuple[str, ...] | None]] = {
    CalendarState.DRAFT: (Q(state=S.DRAFT), (A.DRAFT, A.CHANGES_REQUESTED)),
    CalendarState.IN_REVIEW: (Q(state=S.DRAFT), (A.IN_REVIEW, A.CLIENT_REVIEW)),
    CalendarState.APPROVED: (Q(state=S.DRAFT), (A.APPROVED, A.CLIENT_APPROVED)),
    CalendarState.SCHEDULED: (Q(state__in=[S.SCHEDULED, S.QUEUED, S.PUBLISHING]), None),
    CalendarState.PUBLISHED: (Q(state=S.PUBLISHED), None),
    CalendarState.FAILED: (Q(state__in=[S.FAILED, S.UNCONFIRMED]), None),
    CalendarState.CANCELLED: (Q(state=S.CANCELLED), None),
}


# The words of target states and post approvals, looked up once: a model's get_FOO_display per
# row was a good part of building thousands of calendar events.
_STATE_WORDS = dict(S.choices)
_APPROVAL_WORDS = dict(A.choices)


def _state_and_words(state: str, approval: str) -> tuple[str, str]:
    # Before scheduling a target shows its post's approval; after, its own publishing state.
    if state == S.DRAFT:
        if approval in (A.IN_REVIEW, A.CLIENT_REVIEW):
            return CalendarState.IN_REVIEW.value, _APPROVAL_WORDS[approval]
        if approval in (A.APPROVED, A.CLIENT_APPROVED):
            return CalendarState.APPROVED.value, _APPROVAL_WORDS[approval]
        return CalendarState.DRAFT.value, _APPROVAL_WORDS[approval]
    if state in (S.SCHEDULED, S.QUEUED, S.PUBLISHING):
        return CalendarState.SCHEDULED.value, _STATE_WORDS[state]
    if state in (S.FAILED, S.UNCONFIRMED):
        return CalendarState.FAILED.value, _STATE_WORDS[state]
    return state, _STATE_WORDS[state]


def calendar_state(target: PostTarget) -> tuple[str, str]:
    """(key, words) of a target as the calendar shows it."""
    return _state_and_words(target.state, target.post.approval_state)


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


class _PostRow(NamedTuple):
    brand_id: uuid.UUID
    approval_state: str
    # Read only for the events feed (calendar_events), which places and shows them.
    scheduled_at: datetime | None = None
    title: str = ""
    text: str = ""
    tags: list | None = None


def _planned(*, brand_ids: list, start: datetime, end: datetime) -> QuerySet[Post]:
    return Post.objects.filter(
        brand_id__in=brand_ids, scheduled_at__gte=start, scheduled_at__lt=end
    ).order_by()


def _posts_at(
    *,
    brand_ids: list,
    start: datetime,
    end: datetime,
    fields: tuple[str, ...] = (),
    text_ids: bool = False,
) -> dict:
    """{id: _PostRow} of the brands' posts that may have a target whose time (`at`, see
    _targets_at) is in [start, end): planned in the range, or with a target due or published
    in it. `fields`: more of _PostRow's fields to read, the first ones after approval_state,
    in their order. `text_ids`: the ids (keys and brand_id) as text, not UUIDs, for a feed of
    thousands of rows that only prints them (making a UUID of each, and a str of it again,
    was a tenth of its time).

    `at` is one of three times on two tables (due, published, the post's plan), so no index
    finds it, and joining the posts made PostgreSQL hash every post of the brand (at 100,000
    posts its cost model prefers that to ~1,000 index probes). So the posts planned in the
    range are read by post_brand_schedule, and the targets due or published in it by
    target_due and target_published, without a join."""
    if fields != _PostRow._fields[2 : 2 + len(fields)]:
        raise ValueError(f"Read _PostRow's fields in their order, not {fields}.")
    ids = (_text("pk"), _text("brand_id")) if text_ids else ("pk", "brand_id")
    columns = (*ids, "approval_state", *fields)

    def rows(posts: QuerySet[Post]) -> dict:
        return {row[0]: _PostRow(*row[1:]) for row in posts.order_by().values_list(*columns)}

    posts = rows(_planned(brand_ids=brand_ids, start=start, end=end))
    moved = PostTarget.objects.filter(
        Q(due_at__gte=start, due_at__lt=end) | Q(published_at__gte=start, published_at__lt=end)
    ).values_list(_text("post_id") if text_ids else "post_id", flat=True)
    # Usually a target is due when its post is planned: only the few that were moved away from
    # the plan (or published late) are left to read, by primary key.
    others = set(moved.order_by()) - posts.keys()
    posts |= rows(Post.objects.filter(pk__in=others, brand_id__in=brand_ids)) if others else {}
    return posts


def _text(field: str) -> Cast:
    return Cast(field, output_field=models.TextField())


def _targets_of(
    posts: dict,
    *,
    filters: CalendarFilters,
    client_brand_ids: frozenset = frozenset(),
    among: QuerySet[PostTarget] | None = None,
) -> QuerySet[PostTarget]:
    """The targets of `posts` (from _posts_at) that pass `filters` but the tag (left to the
    caller), found by their post's id (an index); `among`: the same targets, found otherwise.
    Of the brands in `client_brand_ids`, only client-facing targets: a post sent to or
    approved by the client, or the target published (selectors.client_visible_posts_q's rule,
    per target)."""
    qs = PostTarget.objects.filter(post_id__in=list(posts)) if among is None else among
    if client_brand_ids:
        facing = [
            pk
            for pk, post in posts.items()
            if post.brand_id not in client_brand_ids
            or post.approval_state in CLIENT_VISIBLE_APPROVALS
        ]
        qs = qs.filter(Q(post_id__in=facing) | Q(state=S.PUBLISHED))
    if filters.state:
        condition, approvals = _STATES[filters.state]
        qs = qs.filter(condition)
        if approvals is not None:
            allowed = [pk for pk, post in posts.items() if post.approval_state in approvals]
            qs = qs.filter(post_id__in=allowed)
    else:
        qs = qs.exclude(state=S.CANCELLED)
    if filters.account_id:
        qs = qs.filter(account_id=filters.account_id)
    if filters.platform:
        qs = qs.filter(account__platform=filters.platform)
    return qs


def _target_time(state: str, due_at, published_at, plan):
    """A target's time (`at`): published, when it went out; pending, when it is due; a draft,
    its post's plan. The same rule as the `at` of _targets_at, in Python."""
    if state == S.PUBLISHED:
        return published_at or due_at or plan
    return due_at or plan


def _targets_at(
    *,
    brand_ids: list,
    start: datetime,
    end: datetime,
    filters: CalendarFilters,
    client_brand_ids: frozenset = frozenset(),
) -> QuerySet[PostTarget]:
    """The targets of the brands whose time (`at`, an instant, annotated) is in [start, end),
    earliest first (see _posts_at and _targets_of), as models with their account and
    `shares_time` (another target of the post is scheduled or past: a draft is pinned); their
    posts come from _with_posts."""
    posts = _posts_at(brand_ids=brand_ids, start=start, end=end)
    qs = _targets_of(posts, filters=filters, client_brand_ids=client_brand_ids)
    # COALESCE stops at the first value: the post's plan is looked up only for a target that
    # has no due time (a draft).
    plan = Subquery(Post.objects.filter(pk=OuterRef("post_id")).order_by().values("scheduled_at"))
    shared_by_scheduled = PostTarget.objects.filter(post=OuterRef("post")).exclude(
        state__in=[S.DRAFT, S.CANCELLED]
    )
    return (
        qs.select_related("account")
        .annotate(
            # _target_time's rule.
            at=Case(
                When(state=S.PUBLISHED, then=Coalesce("published_at", "due_at", plan)),
                default=Coalesce("due_at", plan),
            ),
            shares_time=Exists(shared_by_scheduled),
        )
        .filter(at__gte=start, at__lt=end)
        # The id last: pages of the API must not swap rows that share a time and platform.
        .order_by("at", "account__platform", "pk")
    )


def _with_posts(targets: list[PostTarget]) -> list[PostTarget]:
    """The targets with their posts and brands, in one query."""
    posts = Post.objects.select_related("brand").in_bulk({t.post_id for t in targets})
    for target in targets:
        target.post = posts[target.post_id]
    return targets


def _entry(target: PostTarget, roles: dict) -> CalendarEntry:
    brand = target.post.brand
    state, label = calendar_state(target)
    movable = target.state == S.SCHEDULED or (target.state == S.DRAFT and not target.shares_time)
    return CalendarEntry(
        target=target,
        brand=brand,
        local=target.at.astimezone(brand.zone),
        state=state,
        state_label=label,
        editable=movable and can_write(roles.get(brand.pk), Area.CALENDAR),
    )


def _has_tag(target: PostTarget, tag: str) -> bool:
    # Tags are a JSON list; matching them here keeps SQLite and PostgreSQL alike.
    return tag in {_normal_tag(t) for t in target.post.tags or []}


def calendar_entries(
    *, user, brand: Brand | None = None, start: datetime, end: datetime, filters: CalendarFilters
) -> list[CalendarEntry]:
    """Targets placed at wall-clock times in [start, end), earliest first. Five queries, however
    many targets: the user's brands with their roles, the posts in the range (two), the targets,
    and their posts with what they show."""
    roles = dict(brands_for_user(user=user).values_list("pk", "user_role"))
    brand_ids = [brand.pk] if brand is not None else list(roles)
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    qs = _targets_at(
        brand_ids=brand_ids,
        start=_utc(start) - _ZONE_SLACK,
        end=_utc(end) + _ZONE_SLACK,
        filters=filters,
    )
    tag = _normal_tag(filters.tag)
    entries = []
    for target in _with_posts(list(qs)):
        local = target.at.astimezone(target.post.brand.zone)
        if not start <= local.replace(tzinfo=None) < end:
            continue
        if tag and not _has_tag(target, tag):
            continue
        entries.append(_entry(target, roles))
    return entries


class _LazyEntries(Sequence):
    """Entries of a queryset of targets, built only for the slice asked for: a paginator counts
    in SQL and reads one page, rather than every target of the range."""

    def __init__(self, targets: QuerySet[PostTarget], roles: dict):
        self.targets, self.roles = targets, roles

    def count(self) -> int:
        return self.targets.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_entry(target, self.roles) for target in _with_posts(list(self.targets[index]))]
        return _entry(_with_posts([self.targets[index]])[0], self.roles)


def calendar_entries_between(
    *, user, brand: Brand | None = None, start: datetime, end: datetime, filters: CalendarFilters
) -> Sequence[CalendarEntry]:
    """Targets whose instant is in [start, end) (aware datetimes), earliest first, as the API
    lists them: of the brands the user reads as a client, only what the portal shows them (no
    drafts, nothing in internal review: selectors.client_visible_posts_q's rule, per target).

    Without a tag filter, a lazy sequence that a paginator counts in SQL and slices; with one
    (matched in Python), a list."""
    roles = dict(brands_for_user(user=user).values_list("pk", "user_role"))
    brand_ids = [brand.pk] if brand is not None else list(roles)
    client = frozenset(pk for pk in brand_ids if roles.get(pk) == Role.CLIENT)
    qs = _targets_at(
        brand_ids=brand_ids, start=start, end=end, filters=filters, client_brand_ids=client
    )
    tag = _normal_tag(filters.tag)
    if tag:
        return [_entry(t, roles) for t in _with_posts(list(qs)) if _has_tag(t, tag)]
    return _LazyEntries(qs, roles)


def _utc(wall_clock: datetime) -> datetime:
    return wall_clock.replace(tzinfo=UTC)


def _post_label(post: Post | _PostRow) -> str:
    if post.title:
        return post.title
    text = " ".join(post.text.split())
    return text[:40] + ("..." if len(text) > 40 else "") or "(no text)"


_MARKER = uuid.UUID(int=0)


def _url_of(name: str) -> tuple[str, str]:
    """The parts of a URL around its id: reversed once, then formatted for each event."""
    head, tail = reverse(name, args=[_MARKER]).split(str(_MARKER))
    return head, tail


def calendar_events(
    *,
    user,
    brand: Brand | None = None,
    start: datetime,
    end: datetime,
    filters: CalendarFilters,
    per_day: int | None = None,
) -> list[dict]:
    """Targets placed at wall-clock times in [start, end), earliest first, as FullCalendar event
    objects (calendar_entries' rules, without its models).

    A month view of a busy brand is thousands of events, so they are built from rows: no model
    instances (nor an account's decrypted token per target), a display label per row from a
    dict, each URL reversed once and formatted per event, and only the fields shown. Whether
    a draft shares its time with a scheduled target of its post (which pins it) is asked only
    about the drafts in range. Four queries, however many targets: the user's brands, the
    posts in the range (two), the targets; a fifth when the range has drafts, and one more when
    a target was moved away from its post's plan (see _posts_at).

    `per_day` (the month and list views): at most that many events a day, the earliest, and
    one more event for the rest, "+N more", whose `extendedProps.more` the page opens as that
    day's view. A brand posting 140 times a day is 4,800 events in a month view otherwise,
    3 MB of JSON nobody can read in a month grid."""
    brands = {
        str(pk): (role, name, time_zone, can_write(role, Area.CALENDAR))
        for pk, role, name, time_zone in brands_for_user(user=user).values_list(
            "pk", "user_role", "name", "time_zone"
        )
    }
    brand_ids = [brand.pk] if brand is not None else list(brands)
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    tag = _normal_tag(filters.tag)
    fields = ("scheduled_at", "title", "text", "tags")[: 4 if tag else 3]
    at_from, at_to = _utc(start) - _ZONE_SLACK, _utc(end) + _ZONE_SLACK
    posts = _posts_at(brand_ids=brand_ids, start=at_from, end=at_to, fields=fields, text_ids=True)
    # A target is in the range by its own due or published time (two indexes), or, without a
    # due time (a draft), by its post's plan (target_untimed). Reading "the targets of the
    # posts in the range" instead made PostgreSQL hash-join all targets of every brand.
    # The brands' targets are those of their accounts (a handful of rows to join).
    timed = PostTarget.objects.filter(
        Q(due_at__gte=at_from, due_at__lt=at_to)
        | Q(published_at__gte=at_from, published_at__lt=at_to),
        account__brand_id__in=brand_ids,
    )
    untimed = PostTarget.objects.filter(
        due_at__isnull=True,
        post__in=_planned(brand_ids=brand_ids, start=at_from, end=at_to).values("pk"),
    )
    # Each target's time is worked out here from its row and its post's plan, not in SQL as
    # _targets_at does for the API's pages: its correlated subquery per row made PostgreSQL's
    # estimate big enough to JIT-compile the query (30 ms of its 38), and a feed of the whole
    # range sorts as fast in Python.
    timed, untimed = (
        _targets_of(posts, filters=filters, among=among)
        .order_by()
        .values_list(
            _text("pk"),
            _text("post_id"),
            "state",
            "due_at",
            "published_at",
            "account__handle",
            "account__platform",
        )
        for among in (timed, untimed)
    )
    found = {}  # by id: a target without a due time may be published in the range too
    for pk, post_id, state, due_at, published_at, handle, platform in timed.union(
        untimed, all=True
    ):
        post = posts.get(post_id)
        if post is None:  # planned into the range since _posts_at read it
            continue
        at = _target_time(state, due_at, published_at, post.scheduled_at)
        if at is not None:
            found[pk] = (at, platform, pk, post_id, state, handle)
    rows = sorted(found.values())
    drafts = {post_id for _, _, _, post_id, state, _ in rows if state == S.DRAFT}
    pinned = (
        set(
            PostTarget.objects.filter(post_id__in=drafts)
            .exclude(state__in=[S.DRAFT, S.CANCELLED])
            .order_by()
            .values_list(_text("post_id"), flat=True)
        )
        if drafts
        else set()
    )
    zones = {pk: ZoneInfo(time_zone) for pk, (_, _, time_zone, _) in brands.items()}
    platform_words = dict(Platform.choices)
    post_head, post_tail = _url_of("calendar:post-detail")
    move_head, move_tail = _url_of("calendar:target-reschedule")
    events = []
    shown: dict = defaultdict(int)  # date -> events kept
    hidden: dict = defaultdict(int)  # date -> events left for "+N more"
    for at, platform, pk, post_id, state, handle in rows:
        post = posts[post_id]
        _, brand_name, time_zone, writes = brands[post.brand_id]
        local = at.astimezone(zones[post.brand_id]).replace(tzinfo=None)
        if not start <= local < end:
            continue
        if tag and tag not in {_normal_tag(t) for t in post.tags or []}:
            continue
        if per_day is not None:
            day = local.date()
            if shown[day] >= per_day:
                hidden[day] += 1
                continue
            shown[day] += 1
        key, words = _state_and_words(state, post.approval_state)
        movable = state == S.SCHEDULED or (state == S.DRAFT and post_id not in pinned)
        platform_label = platform_words.get(platform, platform)
        title = f"{words}: {_post_label(post)} · {handle} ({platform_label})"
        if brand is None:
            title += f" · {brand_name}, {time_zone}"
        events.append(
            {
                "id": pk,
                "title": title,
                "start": local.isoformat(timespec="seconds"),
                "allDay": False,
                "url": f"{post_head}{post_id}{post_tail}",
                "editable": movable and writes,
                "durationEditable": False,
                "classNames": ["cal-event", f"cal-platform--{platform}", f"cal-state--{key}"],
                "extendedProps": {
                    "postId": post_id,
                    "state": key,
                    "stateLabel": words,
                    "platform": platform,
                    "platformLabel": platform_label,
                    "account": handle,
                    "brand": brand_name,
                    "timeZone": time_zone,
                    "rescheduleUrl": f"{move_head}{pk}{move_tail}",
                },
            }
        )
    for day, count in sorted(hidden.items()):
        events.append(
            {
                "id": f"more-{day.isoformat()}",
                "title": f"+{count} more",
                # The day's last minute: FullCalendar lists a day's events by time.
                "start": f"{day.isoformat()}T23:59:59",
                "allDay": False,
                "editable": False,
                "classNames": ["cal-event", "cal-more"],
                "extendedProps": {"more": count, "date": day.isoformat()},
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
