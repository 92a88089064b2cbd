"""Writes of the content calendar: moving a post target to another time by drag and drop.

The calendar works in wall-clock time of the brand's zone; `wall_clock_to_aware` turns what the
browser sends into an aware time, refusing the hour that does not exist when clocks go forward.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from agency.models import Brand, SocialAccount
from agency.permissions import Area, brand_for_user, can_write
from agency.services import audit_log
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.publishing import _move

S = TargetState

__all__ = ["target_reschedule", "wall_clock_to_aware"]

_WHY_NOT_MOVABLE = {
    S.QUEUED: "is being handed to the platform right now",
    S.PUBLISHING: "is being published right now",
    S.PUBLISHED: "is already published",
    S.FAILED: "failed; retry it from the post page instead",
    S.UNCONFIRMED: "may have been published; settle it on the post page first",
    S.CANCELLED: "was cancelled",
}


def wall_clock_to_aware(*, brand: Brand, value: datetime) -> datetime:
    """`value` read as wall-clock time in the brand's zone (any offset it carries is ignored)."""
    naive = value.replace(tzinfo=None)
    aware = naive.replace(tzinfo=brand.zone)
    # A time skipped when clocks go forward maps to another wall-clock time after a round trip.
    if aware.astimezone(UTC).astimezone(brand.zone).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{naive:%H:%M} does not exist on {naive:%d %B %Y} in {brand.time_zone}: "
            "the clocks go forward then. Choose another time."
        )
    return aware


def _sync_post_time(post: Post) -> None:
    """Post.scheduled_at stays the earliest due time of its targets."""
    earliest = post.targets.exclude(state=S.CANCELLED).aggregate(at=Min("due_at"))["at"]
    if earliest is not None and earliest != post.scheduled_at:
        post.scheduled_at = earliest
        post.save(update_fields=["scheduled_at", "updated_at"])


@transaction.atomic
def target_reschedule(*, target: PostTarget, at: datetime, by) -> PostTarget:
    """Move one target to `at` (aware). A scheduled target gets a new due time; a draft only
    moves its post's plan, and only when every account of the post is still a draft (they
    share the one planned time)."""
    if timezone.is_naive(at):
        raise ValidationError("Give the time with its time zone.")
    # Lock the post so two moves of its targets cannot interleave their scheduled_at updates.
    post = Post.objects.select_for_update().select_related("brand__agency").get(pk=target.post_id)
    target = PostTarget.objects.select_related("account").get(pk=target.pk)
    brand = post.brand
    role = brand_for_user(user=by, brand_id=brand.pk).user_role
    if not can_write(role, Area.CALENDAR):
        raise PermissionDenied(f"Your role can read but not change the calendar of {brand.name}.")
    account = target.account
    if account.status != SocialAccount.Status.CONNECTED:
        raise ValidationError(
            f"{account} is {account.get_status_display().lower()}: reconnect it before moving "
            "its posts."
        )
    if target.state not in (S.DRAFT, S.SCHEDULED):
        raise ValidationError(
            f"This post on {account} {_WHY_NOT_MOVABLE[target.state]}; it cannot be moved."
        )
    if at < timezone.now():
        raise ValidationError("That time is in the past; choose a time from now on.")

    before = target.due_at or post.scheduled_at
    if target.state == S.SCHEDULED:
        # From scheduled to scheduled only: if a dispatcher claimed it meanwhile, we lose.
        if not _move(target.pk, frm=(S.SCHEDULED,), to=S.SCHEDULED, due_at=at):
            raise ValidationError(
                f"This post on {account} was just handed to the platform; it cannot be moved."
            )
        _sync_post_time(post)
    else:
        if post.targets.filter(~Q(state__in=(S.DRAFT, S.CANCELLED))).exists():
            raise ValidationError(
                "This draft shares its post with accounts that are already scheduled or "
                "published; open the post to change its time."
            )
        post.scheduled_at = at
        post.save(update_fields=["scheduled_at", "updated_at"])

    audit_log(
        actor=by,
        action="post_target.rescheduled",
        target=target,
        agency=brand.agency,
        brand=brand,
        data={
            "post": str(post.pk),
            "from": before.isoformat() if before else None,
            "to": at.isoformat(),
            "state": target.state,
        },
    )
    target.refresh_from_db()
    return target
