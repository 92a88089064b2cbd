"""Reads of organic analytics, and the one report every reports page is built from.

`brand_report(*, brand, start, end)` is the contract the dashboard, the client portal, the PDF
and CSV exports and the goals share; its docstring says what each key means. `METRIC_HELP` has a
sentence per metric, shown as hover text and to screen readers next to each number.

Dates are calendar days in the brand's time zone, both ends included. Ratios and changes are
Decimal fractions (0.05 is 5 %), rounded to four places, and None where they would divide by
zero: never a made-up 0.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from agency.models import Brand, SocialAccount
from calendar_app.models import PostTarget, TargetState
from community.selectors.inbox import response_time_overall
from reports.models import AccountMetricsDaily, PostMetricsDaily

logger = logging.getLogger(__name__)

__all__ = [
    "BEST_POSTS",
    "BEST_POST_SORTS",
    "METRIC_HELP",
    "ORGANIC_METRICS",
    "PERIODS",
    "brand_report",
    "brands_with_metrics_to_sync",
    "metrics_accounts_for_brand",
    "metrics_targets_for_brand",
    "period_dates",
    "sort_best_posts",
]

ORGANIC_METRICS = (
    "followers",
    "impressions",
    "reach",
    "engagements",
    "link_clicks",
    "engagement_rate",
)
PAID_KEYS = (
    "spend",
    "currency",
    "impressions",
    "clicks",
    "conversions",
    "conversion_value",
    "ctr",
    "cpc",
    "roas",
)
BEST_POSTS = 5
# The ads app's "clicks of every tracked link of a brand per day" selector; looked up when the
# report is built, so this module works before and after ads/selectors/links.py has it.
LINK_SELECTOR_NAMES = ("clicks_per_link_per_day",)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FOUR_PLACES = Decimal("0.0001")

METRIC_HELP: dict[str, str] = {
    "followers": "People following the brand's accounts at the end of the period, added up "
    "over all accounts.",
    "impressions": "Times the brand's content was shown, counting repeat views by the same "
    "person, summed over the period.",
    "reach": "People who saw the brand's content, as each network counts them per day, summed "
    "over the period.",
    "engagements": "Likes, comments, shares, saves and clicks on the brand's content, summed "
    "over the period.",
    "link_clicks": "Clicks on links in the brand's posts and profiles, as the networks report "
    "them, summed over the period.",
    "engagement_rate": "Engagements divided by reach (not by followers): the share of people "
    "reached who interacted. Empty when nobody was reached.",
    "change": "Change against the previous period of the same length: (this period - previous) "
    "÷ previous. Empty when the previous period was zero.",
    "best_posts": "Posts published in the period, ranked by engagements; their totals are as of "
    "the last day of the period.",
    "best_times": "Median engagements of the posts published in each weekday and hour, in the "
    "brand's time zone.",
    "conversations": "Inbox conversations whose first message arrived in the period.",
    "median_first_response_minutes": "Half of the conversations got their first answer faster "
    "than this, half slower.",
    "median_resolution_minutes": "Half of the resolved conversations were closed faster than "
    "this, counted from their first message.",
    "spend": "Money spent on paid campaigns in the period.",
    "ctr": "Click-through rate: paid clicks divided by paid impressions.",
    "cpc": "Cost per click: spend divided by paid clicks.",
    "roas": "Return on ad spend: conversion value divided by spend.",
    "conversions": "Purchases, sign-ups or other goals the ads networks attribute to the ads.",
    "link_clicks_tracked": "Clicks on the agency's tracked short links (/l/…) in the period.",
}


# -- what the sync reads ----------------------------------------------------------------------


def metrics_accounts_for_brand(*, brand: Brand) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(
        brand=brand, status=SocialAccount.Status.CONNECTED
    ).select_related("brand")


def metrics_targets_for_brand(*, brand: Brand, published_since: datetime) -> QuerySet[PostTarget]:
    """Published targets of the brand since then; their account and brand come along, as the
    platform dispatch needs both."""
    return PostTarget.objects.filter(
        account__brand=brand,
        state=TargetState.PUBLISHED,
        published_at__gte=published_since,
    ).select_related("account__brand", "post")


def brands_with_metrics_to_sync() -> QuerySet[Brand]:
    return Brand.objects.filter(social_accounts__status=SocialAccount.Status.CONNECTED).distinct()


# -- periods --------------------------------------------------------------------------------

PERIODS = {
    "7": "Last 7 days",
    "30": "Last 30 days",
    "90": "Last 90 days",
    "month": "This month",
    "custom": "Custom dates",
}


def period_dates(*, brand: Brand, period: str, today: date | None = None) -> tuple[date, date]:
    """First and last day (inclusive) of a named period, ending today in the brand's zone."""
    today = today or timezone.localdate(timezone=brand.zone)
    if period == "month":
        return today.replace(day=1), today
    return today - timedelta(days=int(period) - 1), today


# -- the report -------------------------------------------------------------------------------


def brand_report(*, brand: Brand, start: date, end: date) -> dict[str, Any]:
    """Everything the reports show for one brand and period, organic and paid together.

    `start` and `end` are days in the brand's time zone, both included. Keys:

    - "brand", "start", "end": as passed. "previous_start", "previous_end": the period of the
      same length just before, which every change is measured against.
    - "organic": {name: {"value", "previous", "change"}} for
        followers        last known value in the period per account, added over accounts (0
                         when nothing is known);
        impressions, reach, engagements, link_clicks
                         sums over the period's daily account snapshots;
        engagement_rate  engagements / reach (not / followers) as a Decimal fraction, None when
                         reach is 0.
      "change" is (value - previous) / previous as a Decimal fraction, None when previous is
      0 or None.
    - "daily": one dict per day of the period, in order: {"date", "followers" (None before
      anything is known), "impressions", "reach", "engagements"}.
    - "best_posts": up to 5 targets published in the period (by their publishing time in the
      brand's zone), ranked by engagements: {"target_id", "text", "account" (handle),
      "platform" (its name), "published_at" (aware datetime), "engagements", "reach",
      "engagement_rate", "url"}; totals as of the period's last day (post snapshots are
      cumulative).
    - "best_times": {"weekday" (English name), "hour" (0-23, brand zone),
      "median_engagements"} for each weekday and hour with a post in the period, best first.
    - "inbox": {"conversations", "median_first_response_minutes",
      "median_resolution_minutes"} for conversations that started in the period; the medians
      are Decimal minutes, None when no conversation was answered or resolved.
    - "paid": None while the ads app has no `brand_kpis` selector (or cannot convert a
      campaign's currency), else {"spend", "currency", "impressions", "clicks", "conversions",
      "conversion_value", "ctr", "cpc", "roas"} as it returns them (zeros without campaigns;
      ctr, cpc and roas None where they would divide by zero).
    - "links": {"clicks", "top": [{"name", "code", "clicks"}]}: clicks on the brand's tracked
      links in the period and its five most clicked links; {"clicks": 0, "top": []} while the
      ads app has no `clicks_per_link_per_day` selector.

    Queries: a fixed number whatever the number of posts or days (accounts' snapshots, best
    posts, best times, the inbox's two, and whatever the ads selectors take).
    """
    if end < start:
        raise ValueError("The period ends before it starts.")
    length = (end - start).days + 1
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - timedelta(days=length - 1)
    zone = brand.zone
    start_at = datetime.combine(start, time.min, tzinfo=zone)
    end_before = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)

    rows = list(
        AccountMetricsDaily.objects.filter(
            account__brand=brand, date__gte=previous_start, date__lte=end
        )
        .order_by("date", "account_id")
        .values(
            "account_id", "date", "followers", "impressions", "reach", "engagements", "link_clicks"
        )
    )
    current = [r for r in rows if r["date"] >= start]
    previous = [r for r in rows if r["date"] < start]
    now_values, before_values = _organic(current), _organic(previous)
    organic = {
        name: {
            "value": now_values[name],
            "previous": before_values[name],
            "change": _change(now_values[name], before_values[name]),
        }
        for name in ORGANIC_METRICS
    }

    posts = _published_with_totals(brand=brand, start_at=start_at, end_before=end_before, end=end)
    return {
        "brand": brand,
        "start": start,
        "end": end,
        "previous_start": previous_start,
        "previous_end": previous_end,
        "organic": organic,
        "daily": _daily(current, start=start, length=length),
        "best_posts": _best_posts(posts),
        "best_times": _best_times(posts, zone=zone),
        "inbox": _inbox(brand=brand, start_at=start_at, end_before=end_before),
        "paid": _paid(brand=brand, start=start, end=end),
        "links": _links(brand=brand, start=start, end=end),
    }


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator or numerator is None:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(FOUR_PLACES, ROUND_HALF_UP)


def _change(value, previous) -> Decimal | None:
    if value is None or not previous:
        return None
    return _ratio(Decimal(value) - Decimal(previous), previous)


def _organic(rows: list[dict]) -> dict:
    totals = {
        name: sum(r[name] for r in rows)
        for name in ("impressions", "reach", "engagements", "link_clicks")
    }
    last_followers: dict = {}
    for row in rows:  # by date: the last one known per account wins
        if row["followers"] is not None:
            last_followers[row["account_id"]] = row["followers"]
    totals["followers"] = sum(last_followers.values())
    totals["engagement_rate"] = _ratio(totals["engagements"], totals["reach"])
    return totals


def _daily(rows: list[dict], *, start: date, length: int) -> list[dict]:
    by_day: dict = defaultdict(list)
    for row in rows:
        by_day[row["date"]].append(row)
    known: dict = {}  # account -> followers, carried over days the account did not report
    series = []
    for offset in range(length):
        day = start + timedelta(days=offset)
        day_rows = by_day.get(day, [])
        for row in day_rows:
            if row["followers"] is not None:
                known[row["account_id"]] = row["followers"]
        series.append(
            {
                "date": day,
                "followers": sum(known.values()) if known else None,
                "impressions": sum(r["impressions"] for r in day_rows),
                "reach": sum(r["reach"] for r in day_rows),
                "engagements": sum(r["engagements"] for r in day_rows),
            }
        )
    return series


def _published_with_totals(*, brand: Brand, start_at, end_before, end: date) -> list[PostTarget]:
    """Every target published in the period with its latest snapshot up to `end`, best first:
    one query, whatever the number of posts."""
    latest = PostMetricsDaily.objects.filter(target=OuterRef("pk"), date__lte=end).order_by("-date")
    return list(
        PostTarget.objects.filter(
            account__brand=brand,
            published_at__gte=start_at,
            published_at__lt=end_before,
        )
        .annotate(
            total_engagements=Subquery(latest.values("engagements")[:1]),
            total_reach=Subquery(latest.values("reach")[:1]),
        )
        .filter(total_engagements__isnull=False)
        .select_related("post", "account")
        .order_by("-total_engagements", "-total_reach", "published_at")
    )


def _best_posts(targets: list[PostTarget]) -> list[dict]:
    return [
        {
            "target_id": t.pk,
            "text": t.effective_text,
            "account": t.account.handle,
            "platform": t.account.get_platform_display(),
            "published_at": t.published_at,
            "engagements": t.total_engagements,
            "reach": t.total_reach,
            "engagement_rate": _ratio(t.total_engagements, t.total_reach),
            "url": t.external_url,
        }
        for t in targets[:BEST_POSTS]
    ]


BEST_POST_SORTS = {
    "engagements": ("Engagements", lambda p: (p["engagements"], p["reach"])),
    "reach": ("Reach", lambda p: (p["reach"], p["engagements"])),
    "engagement_rate": ("Engagement rate", lambda p: (p["engagement_rate"] or Decimal(-1),)),
    "published_at": ("Published", lambda p: (p["published_at"],)),
}


def sort_best_posts(posts: list[dict], *, sort: str) -> list[dict]:
    """The best posts in another order (highest or newest first); unknown keys keep the
    ranking by engagements."""
    if sort not in BEST_POST_SORTS:
        return posts
    return sorted(posts, key=BEST_POST_SORTS[sort][1], reverse=True)


def _best_times(targets: list[PostTarget], *, zone) -> list[dict]:
    slots: dict = defaultdict(list)
    for target in targets:
        local = target.published_at.astimezone(zone)
        slots[(local.weekday(), local.hour)].append(target.total_engagements)
    times = [
        {
            "weekday": WEEKDAYS[weekday],
            "hour": hour,
            "median_engagements": Decimal(str(statistics.median(values))),
            "_order": (weekday, hour),
        }
        for (weekday, hour), values in slots.items()
    ]
    times.sort(key=lambda t: (-t["median_engagements"], t["_order"]))
    for slot in times:
        del slot["_order"]
    return times


def _minutes(duration: timedelta | None) -> Decimal | None:
    if duration is None:
        return None
    return (Decimal(duration.total_seconds()) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _inbox(*, brand: Brand, start_at, end_before) -> dict:
    overall = response_time_overall(brand=brand, start=start_at, end=end_before)
    return {
        "conversations": overall["conversations"],
        "median_first_response_minutes": _minutes(overall["median_first_response"]),
        "median_resolution_minutes": _minutes(overall["median_resolution"]),
    }


def _ads_selector(*names: str):
    """The first of these ads selectors that exists, or None: the ads app may not have it yet."""
    try:
        import ads.selectors as ads_selectors
    except ImportError:  # pragma: no cover - the ads app is always installed
        return None
    for name in names:
        function = getattr(ads_selectors, name, None)
        if callable(function):
            return function
    return None


def _paid(*, brand: Brand, start: date, end: date) -> dict | None:
    brand_kpis = _ads_selector("brand_kpis")
    if brand_kpis is None:
        return None
    try:
        kpis = brand_kpis(brand=brand, start=start, end=end)
    except ValidationError as exc:
        # e.g. a campaign in a currency without an exchange rate: the organic report still
        # shows; the ads pages say what to fix.
        logger.warning("No paid numbers for brand %s: %s", brand.pk, exc)
        return None
    if not kpis:
        return None
    return {key: _get(kpis, key) for key in PAID_KEYS}


def _links(*, brand: Brand, start: date, end: date) -> dict:
    selector = _ads_selector(*LINK_SELECTOR_NAMES)
    if selector is None:
        return {"clicks": 0, "top": []}
    return _normalise_links(selector(brand=brand, start=start, end=end))


def _get(item, key: str, default=None):
    return item.get(key, default) if isinstance(item, dict) else getattr(item, key, default)


def _normalise_links(result) -> dict:
    """Tracked-link clicks in our shape, from what the ads selector returns: either our shape
    already, a dict with per-day and per-link lists, or rows of (link, day, clicks)."""
    if not result:
        return {"clicks": 0, "top": []}
    if isinstance(result, dict):
        per_link = result.get("top") or result.get("links") or result.get("by_link") or []
        per_day = result.get("daily") or result.get("days") or []
        clicks = result.get("clicks")
        if clicks is None:
            clicks = sum(int(_get(row, "clicks", 0) or 0) for row in per_day or per_link)
        rows = per_link
    else:
        rows = list(result)
        clicks = sum(int(_get(row, "clicks", 0) or 0) for row in rows)
    by_link: dict = {}
    for row in rows:
        link = _get(row, "link")
        code = _get(row, "code") or _get(link, "code") or _get(row, "link__code") or ""
        name = _get(row, "name") or _get(link, "name") or _get(row, "link__name") or code
        if not code and not name:
            continue
        entry = by_link.setdefault(code or name, {"name": name, "code": code, "clicks": 0})
        entry["clicks"] += int(_get(row, "clicks", 0) or 0)
    top = sorted(by_link.values(), key=lambda e: -e["clicks"])[:5]
    return {"clicks": int(clicks or 0), "top": top}
