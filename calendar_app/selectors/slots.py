"""Reads of an account's queue: its slots by weekday, and the best times to post."""

from __future__ import annotations

from statistics import median
from typing import Any, TypedDict

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from agency.models import Platform, SocialAccount
from agency.permissions import brands_for_user
from calendar_app.models import PostTarget, QueueSlot, TargetState
from reports.models import PostMetricsDaily

__all__ = [
    "BEST_TIMES_MIN_POSTS",
    "DEFAULT_BEST_TIMES",
    "account_for_user",
    "best_times",
    "slot_week",
    "slots_for_account",
]

# Below this many measured posts, a weekday x hour ranking is noise, not a pattern.
BEST_TIMES_MIN_POSTS = 10

# Generic rules of thumb from the platforms' and the scheduling tools' published advice
# (weekday mornings, lunch and the commute home); they know nothing of this brand's audience.
# (weekday 0=Monday, hour in the brand's zone), best first.
_WEEKDAY_OFFICE = [(1, 9), (2, 12), (3, 17), (0, 9), (4, 12)]
DEFAULT_BEST_TIMES: dict[str, list[tuple[int, int]]] = {
    Platform.FACEBOOK: [(2, 9), (3, 12), (4, 9), (1, 13), (0, 12)],
    Platform.INSTAGRAM: [(1, 11), (2, 12), (4, 11), (3, 19), (5, 10)],
    Platform.X: [(1, 9), (2, 9), (3, 12), (0, 12), (4, 9)],
    Platform.LINKEDIN: [(1, 8), (2, 9), (3, 10), (1, 12), (2, 17)],
    Platform.MASTODON: [(1, 10), (2, 14), (3, 19), (5, 11), (6, 11)],
    Platform.BLUESKY: [(1, 10), (2, 13), (3, 18), (5, 11), (6, 11)],
    Platform.SANDBOX: _WEEKDAY_OFFICE,
}


class BestTimes(TypedDict):
    source: str
    slots: list[tuple[int, int]]
    explanation: str
    labels: list[str]


def account_for_user(*, user, account_id) -> SocialAccount:
    """The account if the user may read its brand, else 404 (write checks are the caller's)."""
    try:
        return (
            SocialAccount.objects.select_related("brand__agency")
            .filter(brand__in=brands_for_user(user=user).values("pk"))
            .get(pk=account_id)
        )
    except (SocialAccount.DoesNotExist, ValueError) as exc:
        raise Http404("No such account.") from exc


def slots_for_account(*, account: SocialAccount) -> QuerySet[QueueSlot]:
    return QueueSlot.objects.filter(account=account).order_by("weekday", "time")


def slot_week(*, account: SocialAccount) -> list[dict[str, Any]]:
    """Seven days, Monday first, each with its slots in time order (one query)."""
    week: list[dict[str, Any]] = [
        {"weekday": day.value, "label": day.label, "slots": []} for day in QueueSlot.Weekday
    ]
    for slot in slots_for_account(account=account):
        week[slot.weekday]["slots"].append(slot)
    return week


def _label(weekday: int, hour: int) -> str:
    return f"{QueueSlot.Weekday(weekday).label} {hour:02d}:00"


def best_times(*, account: SocialAccount, limit: int = 3) -> BestTimes:
    """The weekday x hour (in the brand's zone) when this account's posts do best.

    With at least BEST_TIMES_MIN_POSTS published posts that have metrics, hours are ranked by
    the median engagements of the posts published in them (the median, so one viral post does
    not make its hour look like a habit; engagements rather than the rate per reach, because
    several platforms report no reach). Ties go to the hour with more posts. Otherwise the
    platform's generic defaults (DEFAULT_BEST_TIMES), and the explanation says so.
    """
    zone = account.brand.zone
    # PostMetricsDaily rows are cumulative: the latest one is the post's total so far.
    latest = PostMetricsDaily.objects.filter(target=OuterRef("pk")).order_by("-date")
    measured = (
        PostTarget.objects.filter(
            account=account, state=TargetState.PUBLISHED, published_at__isnull=False
        )
        .annotate(total_engagements=Subquery(latest.values("engagements")[:1]))
        .filter(total_engagements__isnull=False)
        .values_list("published_at", "total_engagements")
    )
    rows = list(measured)
    if len(rows) >= BEST_TIMES_MIN_POSTS:
        buckets: dict[tuple[int, int], list[int]] = {}
        for published_at, engagements in rows:
            local = published_at.astimezone(zone)
            buckets.setdefault((local.weekday(), local.hour), []).append(engagements)
        ranked = sorted(
            buckets.items(), key=lambda item: (-median(item[1]), -len(item[1]), item[0])
        )
        slots = [key for key, _ in ranked[:limit]]
        explanation = (
            f"From {len(rows)} published posts of {account} with metrics: the hours whose posts "
            f"had the highest median engagements (likes, comments, shares and clicks as the "
            f"platform counts them), in {account.brand.time_zone} time."
        )
        source = "history"
    else:
        slots = DEFAULT_BEST_TIMES.get(account.platform, _WEEKDAY_OFFICE)[:limit]
        explanation = (
            f"Generic times that often work on {account.get_platform_display()}, not learned "
            f"from this account: it has {len(rows)} published post{'s' if len(rows) != 1 else ''}"
            f" with metrics and {BEST_TIMES_MIN_POSTS} are needed to rank its own best hours. "
            f"Times are in {account.brand.time_zone}."
        )
        source = "defaults"
    return {
        "source": source,
        "slots": slots,
        "explanation": explanation,
        "labels": [_label(weekday, hour) for weekday, hour in slots],
    }
