"""Writes of an account's queue: its recurring slots, and "add to queue" (the next free ones).

A slot is a wall-clock time in the brand's zone (Tuesday 09:00 Europe/Berlin), so a post queued
into it goes out at 09:00 there in summer and in winter; the UTC instant is worked out per date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from agency.models import SocialAccount
from agency.services import audit_log
from calendar_app.models import Post, PostTarget, QueueSlot, TargetState
from calendar_app.services.posts import post_schedule

S = TargetState

__all__ = [
    "OCCUPYING_STATES",
    "post_add_to_queue",
    "slot_create",
    "slot_delete",
    "slot_instant",
    "slot_next_free",
    "slots_add",
]

# A target in one of these states holds its instant: a second post at the same minute of the
# same account would look like a double post to the audience (and to the platform's spam rules).
OCCUPYING_STATES = (S.DRAFT, S.SCHEDULED, S.QUEUED, S.PUBLISHED)

# How far ahead to look for a free slot before saying the queue is full.
_HORIZON_DAYS = 366


def _audit_slot(slot: QueueSlot, *, by, action: str) -> None:
    brand = slot.account.brand
    audit_log(
        actor=by,
        action=action,
        target=slot,
        agency=brand.agency,
        brand=brand,
        data={
            "account": str(slot.account_id),
            "weekday": slot.weekday,
            "time": f"{slot.time:%H:%M}",
        },
    )


def _normalise_time(value: dt_time) -> dt_time:
    # Slots are minutes; seconds typed into an API call must not make a "different" slot.
    return value.replace(second=0, microsecond=0, tzinfo=None)


@transaction.atomic
def slot_create(*, account: SocialAccount, weekday: int, time: dt_time, by) -> QueueSlot:
    slot = QueueSlot(account=account, weekday=weekday, time=_normalise_time(time))
    if QueueSlot.objects.filter(account=account, weekday=weekday, time=slot.time).exists():
        raise ValidationError(
            f"{account} already has a slot on {QueueSlot.Weekday(weekday).label} at "
            f"{slot.time:%H:%M}."
        )
    slot.full_clean(validate_constraints=False)
    slot.save()
    _audit_slot(slot, by=by, action="queue_slot.created")
    return slot


@transaction.atomic
def slots_add(
    *, account: SocialAccount, times: Iterable[tuple[int, dt_time]], by
) -> list[QueueSlot]:
    """Create the slots the account does not have yet (the one-click "add suggested slots");
    those it has are skipped, not refused. Returns the new ones."""
    existing = set(QueueSlot.objects.filter(account=account).values_list("weekday", "time"))
    created = []
    for weekday, at in times:
        at = _normalise_time(at)
        if (weekday, at) in existing:
            continue
        existing.add((weekday, at))
        created.append(slot_create(account=account, weekday=weekday, time=at, by=by))
    return created


@transaction.atomic
def slot_delete(*, slot: QueueSlot, by) -> None:
    """Remove a recurring time; posts already queued into it keep their time."""
    _audit_slot(slot, by=by, action="queue_slot.deleted")
    slot.delete()


def slot_instant(day: date, at: dt_time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone`.

    Across daylight-saving changes:
    - a time that does not exist (02:30 on a spring-forward day in Europe/Berlin, when clocks
      jump from 02:00 to 03:00) moves to the first valid instant after the gap: 03:00 local;
    - a time that happens twice (02:30 on a fall-back day) is taken once, at its first
      occurrence (fold=0, still summer time); the repeated hour is never a second slot.
    """
    local = datetime.combine(day, at, tzinfo=zone)  # fold=0
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc
    # In the gap. fold=1 reads the wall time with the offset after the change (an instant
    # before the gap), fold=0 with the one before (an instant after it); the change itself lies
    # in between: find the first second that is already on the new offset.
    low = local.replace(fold=1).astimezone(UTC)
    high = utc
    after_offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _occupied_instants(account: SocialAccount, *, after: datetime, exclude_post=None) -> set:
    # A draft waiting for approval has no due_at of its own unless it was queued: then the
    # post's planned time is the one it holds.
    qs = (
        PostTarget.objects.filter(account=account, state__in=OCCUPYING_STATES)
        .annotate(instant=Coalesce(F("due_at"), F("post__scheduled_at")))
        .filter(instant__gt=after)
    )
    if exclude_post is not None:
        qs = qs.exclude(post=exclude_post)
    return set(qs.values_list("instant", flat=True))


def slot_next_free(
    *,
    account: SocialAccount,
    after: datetime | None = None,
    taken: Iterable[datetime] | None = None,
    exclude_post: Post | None = None,
) -> datetime:
    """The first slot instant (UTC) strictly after `after` (default: now) that no other
    draft, scheduled, queued or published target of the account holds, nor any of `taken`.

    Slots are read in the brand's zone and turned into instants day by day with
    `slot_instant` (see there for the daylight-saving rule). `exclude_post` lets a post that is
    queued again move within its own times instead of blocking itself.
    """
    after = after or timezone.now()
    slots = list(QueueSlot.objects.filter(account=account).order_by("weekday", "time"))
    if not slots:
        raise ValidationError("This account has no queue slots yet; add some on its queue page.")
    zone = account.brand.zone
    busy = _occupied_instants(account, after=after, exclude_post=exclude_post)
    busy.update(taken or ())
    by_weekday: dict[int, list[dt_time]] = {}
    for slot in slots:
        by_weekday.setdefault(slot.weekday, []).append(slot.time)
    first_day = after.astimezone(zone).date()
    for offset in range(_HORIZON_DAYS + 1):
        day = first_day + timedelta(days=offset)
        instants = sorted({slot_instant(day, at, zone) for at in by_weekday.get(day.weekday(), [])})
        for instant in instants:
            if instant > after and instant not in busy:
                return instant
    raise ValidationError(
        f"Every queue slot of {account} is taken for the next year; add more slots or pick a "
        "time yourself."
    )


_NOT_QUEUEABLE = (S.QUEUED, S.PUBLISHING, S.PUBLISHED, S.UNCONFIRMED)


@transaction.atomic
def post_add_to_queue(*, post: Post, by) -> Post:
    """Give each target its account's next free slot; the post's time is the earliest of them.

    Then the rules of `post_schedule` apply: without an approval workflow the targets are
    scheduled (each at its own slot); with one, the times are kept on the waiting drafts and the
    final approval schedules them.

    The account rows are locked (in a fixed order, so two posts sharing accounts cannot
    deadlock) while slots are chosen, so two people queueing at once get different slots.
    """
    # of=("self",): locking the brand row too would make every queueing of the brand wait.
    post = (
        Post.objects.select_for_update(of=("self",)).select_related("brand__agency").get(pk=post.pk)
    )
    targets = list(post.targets.select_related("account__brand").order_by("account_id"))
    if not targets:
        raise ValidationError("This post has no accounts to queue it for.")
    if any(t.state in _NOT_QUEUEABLE for t in targets):
        raise ValidationError(
            "This post is being published or was published already; it cannot be queued again."
        )
    list(
        SocialAccount.objects.select_for_update()
        .filter(pk__in=[t.account_id for t in targets])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    times = {t.pk: slot_next_free(account=t.account, after=now, exclude_post=post) for t in targets}
    earliest = min(times.values())
    post = post_schedule(post=post, at=earliest, by=by)
    # post_schedule gives every target the post's time; each keeps its own slot instead.
    for target_id, at in times.items():
        PostTarget.objects.filter(pk=target_id, state__in=(S.DRAFT, S.SCHEDULED)).update(
            due_at=at, updated_at=timezone.now()
        )
    audit_log(
        actor=by,
        action="post.queued",
        target=post,
        agency=post.brand.agency,
        brand=post.brand,
        data={str(pk): at.isoformat() for pk, at in times.items()},
    )
    return post
