"""Reads of SMART goals: the live value of a goal's metric and its progress towards the target.

A goal's progress is computed from the metrics every time, never typed in. The rules, in words:

- The goal's window runs from its start date to today, or to its due date once that has passed
  ("as of"), in the brand's time zone.
- *Cumulative* metrics (impressions, reach, link clicks, paid spend, paid clicks, conversions)
  are summed over the window; their baseline is 0 unless one is given.
- *Level* metrics are read as of that day: followers (the latest count of each account),
  engagement rate (engagements / reach over the window, in per cent), median first response (in
  minutes, over conversations that started in the window) and return on ad spend (conversion
  value / spend over the window). Without a baseline, followers use the count on the start date;
  the others have no trajectory and are judged only on the target.
- `progress` is the fraction of the way from the baseline to the target (0 to 1).
- `expected` is where a straight line from the baseline on the start date to the target on the
  due date stands as of today.
- Status:
  not_started: before the start date, or no data yet;
  achieved: the target is met (at least / at most);
  missed: the due date has passed and the target is not met;
  at_risk: behind the expected value by more than 10 % of the distance from baseline to target;
  on_track: otherwise.
- A spending cap (paid spend, "stay at or under") can only grow, so it is missed as soon as the
  spend passes the cap, achieved only once the due date has passed under the cap, and at risk
  when the spend runs ahead of the straight line by more than 10 % of the cap.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from agency.models import Brand, SocialAccount
from reports.models import AccountMetricsDaily, Goal

__all__ = [
    "AT_RISK_MARGIN",
    "CUMULATIVE_METRICS",
    "METRIC_DIRECTIONS",
    "METRIC_UNITS",
    "goal_current_value",
    "goal_progress",
    "goals_for_brand",
    "goals_with_progress",
]

M = Goal.Metric
D = Goal.Direction
S = Goal.Status

AT_RISK_MARGIN = Decimal("0.10")
CUMULATIVE_METRICS = frozenset(
    {M.IMPRESSIONS, M.REACH, M.LINK_CLICKS, M.SPEND, M.CLICKS, M.CONVERSIONS}
)
ORGANIC_METRICS = frozenset({M.FOLLOWERS, M.ENGAGEMENT_RATE, M.IMPRESSIONS, M.REACH, M.LINK_CLICKS})
PAID_METRICS = frozenset({M.SPEND, M.ROAS, M.CLICKS, M.CONVERSIONS})
# Which way each metric may sensibly be pushed: nobody aims to lose followers or to answer
# slower, and a spending goal is a budget cap.
METRIC_DIRECTIONS: dict[str, frozenset[str]] = {
    M.FOLLOWERS: frozenset({D.AT_LEAST}),
    M.ENGAGEMENT_RATE: frozenset({D.AT_LEAST}),
    M.IMPRESSIONS: frozenset({D.AT_LEAST}),
    M.REACH: frozenset({D.AT_LEAST}),
    M.LINK_CLICKS: frozenset({D.AT_LEAST}),
    M.MEDIAN_FIRST_RESPONSE: frozenset({D.AT_MOST}),
    M.SPEND: frozenset({D.AT_MOST}),
    M.ROAS: frozenset({D.AT_LEAST}),
    M.CLICKS: frozenset({D.AT_LEAST}),
    M.CONVERSIONS: frozenset({D.AT_LEAST}),
}
METRIC_UNITS: dict[str, str] = {
    M.ENGAGEMENT_RATE: "%",
    M.MEDIAN_FIRST_RESPONSE: "min",
    M.ROAS: "x",
}


def goals_for_brand(*, brand: Brand) -> QuerySet[Goal]:
    return Goal.objects.filter(brand=brand).select_related("account", "owner")


def _brand_today(brand: Brand) -> dt.date:
    return timezone.localdate(timezone=brand.zone)


def _day_start(brand: Brand, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=brand.zone)


def _accounts(goal: Goal) -> QuerySet[SocialAccount]:
    if goal.account_id:
        return SocialAccount.objects.filter(pk=goal.account_id, brand_id=goal.brand_id)
    return SocialAccount.objects.filter(brand_id=goal.brand_id)


def _followers_on(goal: Goal, day: dt.date) -> Decimal | None:
    latest = (
        AccountMetricsDaily.objects.filter(
            account=OuterRef("pk"), date__lte=day, followers__isnull=False
        )
        .order_by("-date")
        .values("followers")[:1]
    )
    total = _accounts(goal).annotate(latest=Subquery(latest)).aggregate(total=Sum("latest"))
    return None if total["total"] is None else Decimal(total["total"])


def _organic_sums(goal: Goal, start: dt.date, end: dt.date) -> dict[str, Any]:
    return AccountMetricsDaily.objects.filter(
        account__in=_accounts(goal), date__gte=start, date__lte=end
    ).aggregate(
        impressions=Sum("impressions"),
        reach=Sum("reach"),
        engagements=Sum("engagements"),
        link_clicks=Sum("link_clicks"),
    )


def _median_first_response_minutes(goal: Goal, start: dt.date, end: dt.date) -> Decimal | None:
    from community.selectors.inbox import response_time_overall

    overall = response_time_overall(
        start=_day_start(goal.brand, start),
        end=_day_start(goal.brand, end + dt.timedelta(days=1)),
        brand=goal.brand,
    )
    median = overall["median_first_response"]
    if median is None:
        return None
    return (Decimal(median.total_seconds()) / 60).quantize(Decimal("0.01"))


def _paid_value(goal: Goal, start: dt.date, end: dt.date) -> Decimal | None:
    """From ads.selectors.brand_kpis when that exists; anything missing counts as no data."""
    try:
        from ads import selectors as ads_selectors
    except ImportError:  # pragma: no cover - the ads app is always installed
        return None
    brand_kpis = getattr(ads_selectors, "brand_kpis", None)
    if brand_kpis is None:
        return None
    kpis = brand_kpis(brand=goal.brand, start=start, end=end) or {}
    value = kpis.get(goal.metric)
    if isinstance(value, dict):
        value = value.get("value")
    return None if value is None else Decimal(str(value))


def goal_current_value(*, goal: Goal, as_of: dt.date) -> Decimal | None:
    """The metric's live value over the goal's window up to `as_of`; None when there is no
    data (which is not the same as 0)."""
    start, metric = goal.start_date, goal.metric
    if as_of < start:
        return None
    if metric == M.FOLLOWERS:
        return _followers_on(goal, as_of)
    if metric in ORGANIC_METRICS:
        sums = _organic_sums(goal, start, as_of)
        if metric == M.ENGAGEMENT_RATE:
            if not sums["reach"]:
                return None
            rate = Decimal(sums["engagements"] or 0) * 100 / Decimal(sums["reach"])
            return rate.quantize(Decimal("0.01"))
        value = sums[metric]
        return None if value is None else Decimal(value)
    if metric == M.MEDIAN_FIRST_RESPONSE:
        return _median_first_response_minutes(goal, start, as_of)
    if metric in PAID_METRICS:
        return _paid_value(goal, start, as_of)
    return None


def _baseline(goal: Goal) -> Decimal | None:
    if goal.baseline is not None:
        return goal.baseline
    if goal.metric in CUMULATIVE_METRICS:
        return Decimal(0)
    if goal.metric == M.FOLLOWERS:
        return _followers_on(goal, goal.start_date)
    return None


def _met(goal: Goal, current: Decimal) -> bool:
    if goal.direction == D.AT_MOST:
        return current <= goal.target
    return current >= goal.target


def _fraction(value: Decimal) -> float:
    return float(min(max(value, Decimal(0)), Decimal(1)).quantize(Decimal("0.0001")))


def _status(
    goal: Goal,
    *,
    today: dt.date,
    current: Decimal | None,
    baseline: Decimal | None,
    expected: Decimal | None,
) -> str:
    past_due = today > goal.due_date
    if today < goal.start_date:
        return S.NOT_STARTED
    if current is None:
        return S.MISSED if past_due else S.NOT_STARTED
    if goal.metric == M.SPEND and goal.direction == D.AT_MOST:
        if current > goal.target:
            return S.MISSED
        if past_due:
            return S.ACHIEVED
        ahead = current - expected if expected is not None else Decimal(0)
        return S.AT_RISK if ahead > AT_RISK_MARGIN * goal.target else S.ON_TRACK
    if _met(goal, current):
        return S.ACHIEVED
    if past_due:
        return S.MISSED
    if baseline is None or expected is None:
        return S.ON_TRACK
    behind = expected - current if goal.direction == D.AT_LEAST else current - expected
    return S.AT_RISK if behind > AT_RISK_MARGIN * abs(goal.target - baseline) else S.ON_TRACK


def goal_progress(*, goal: Goal, today: dt.date | None = None) -> dict[str, Any]:
    """{current, baseline, target, progress, expected, expected_progress, status, as_of}; see
    the module docstring for the rules. `today` is a date in the brand's time zone."""
    today = today or _brand_today(goal.brand)
    as_of = min(today, goal.due_date)
    current = goal_current_value(goal=goal, as_of=as_of) if today >= goal.start_date else None
    baseline = _baseline(goal)
    span = (goal.due_date - goal.start_date).days
    elapsed = Decimal(min(max((as_of - goal.start_date).days, 0), span)) / Decimal(span)
    expected = progress = None
    if baseline is not None:
        expected = (baseline + (goal.target - baseline) * elapsed).quantize(Decimal("0.01"))
        if current is not None:
            distance = goal.target - baseline
            if distance == 0:
                progress = 1.0 if _met(goal, current) else 0.0
            else:
                progress = _fraction((current - baseline) / distance)
    if goal.metric == M.SPEND and goal.direction == D.AT_MOST and current is not None:
        # Of a cap, "progress" is how much of it has been used.
        progress = _fraction(current / goal.target)
    return {
        "goal": goal,
        "as_of": as_of,
        "current": current,
        "baseline": baseline,
        "target": goal.target,
        "progress": progress,
        "progress_percent": None if progress is None else round(progress * 100),
        "expected": expected,
        "expected_progress": float(elapsed.quantize(Decimal("0.0001"))),
        "status": _status(goal, today=today, current=current, baseline=baseline, expected=expected),
        "unit": METRIC_UNITS.get(goal.metric, ""),
    }


def goals_with_progress(*, brand: Brand, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Every goal of the brand with its progress, soonest due first."""
    today = today or _brand_today(brand)
    goals = list(goals_for_brand(brand=brand))
    for goal in goals:
        goal.brand = brand  # one brand for all: no query per goal to fetch it again
    return [goal_progress(goal=goal, today=today) for goal in goals]
