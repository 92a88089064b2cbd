"""Reads of listening: a brand's rules, its mention feed and the daily volume of each rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from agency.models import Brand
from community.models import ListeningRule, Mention, SpikeAlert

__all__ = [
    "DayVolume",
    "RuleVolume",
    "listening_rules_for_brand",
    "mention_volume",
    "mentions_for_feed",
    "spike_alerts_for_brand",
]

VOLUME_DAYS = 30


def listening_rules_for_brand(*, brand: Brand) -> QuerySet[ListeningRule]:
    return ListeningRule.objects.filter(brand=brand).annotate(mention_count=Count("mentions"))


def mentions_for_feed(
    *,
    brand: Brand,
    rule_id=None,
    sentiment: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Mention]:
    """The brand's mentions, newest first; `start` and `end` are days (inclusive) in the brand's
    time zone."""
    qs = Mention.objects.filter(brand=brand).select_related("rule", "found_via")
    if rule_id:
        qs = qs.filter(rule_id=rule_id)
    if sentiment:
        qs = qs.filter(sentiment=sentiment)
    zone = brand.zone
    if start:
        qs = qs.filter(posted_at__gte=datetime.combine(start, time.min, tzinfo=zone))
    if end:
        qs = qs.filter(
            posted_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        )
    return qs.order_by("-posted_at", "-created_at")


def spike_alerts_for_brand(*, brand: Brand, limit: int = 10) -> list[SpikeAlert]:
    return list(
        SpikeAlert.objects.filter(rule__brand=brand).select_related("rule").order_by("-day")[:limit]
    )


CHART_HEIGHT = 60  # the bar chart's viewBox is 10 units per day wide and this high
BAR_WIDTH = 8


@dataclass(frozen=True)
class DayVolume:
    day: date
    count: int
    index: int
    height: float  # share of the busiest day of the rule, 0..1

    @property
    def x(self) -> int:
        return self.index * 10 + 1

    @property
    def bar_height(self) -> str:
        # A day with mentions always shows, however quiet next to the peak.
        return f"{max(self.height * CHART_HEIGHT, 1.5 if self.count else 0):.1f}"

    @property
    def y(self) -> str:
        return f"{CHART_HEIGHT - float(self.bar_height):.1f}"


@dataclass
class RuleVolume:
    rule: ListeningRule
    days: list[DayVolume] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(d.count for d in self.days)

    @property
    def peak(self) -> int:
        return max((d.count for d in self.days), default=0)


def mention_volume(
    *, brand: Brand, days: int = VOLUME_DAYS, today: date | None = None
) -> list[RuleVolume]:
    """Mentions per rule and day for the last `days` days (today included) in the brand's time
    zone: one aggregate query for the counts, one for the rules."""
    zone = brand.zone
    today = today or timezone.now().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    counts = {
        (row["rule_id"], row["day"]): row["n"]
        for row in Mention.objects.filter(brand=brand, posted_at__gte=start, posted_at__lt=end)
        .annotate(day=TruncDate("posted_at", tzinfo=zone))
        .values("rule_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    }
    result = []
    for rule in ListeningRule.objects.filter(brand=brand).order_by("name"):
        series = [counts.get((rule.pk, first + timedelta(days=i)), 0) for i in range(days)]
        peak = max(series) or 1
        result.append(
            RuleVolume(
                rule=rule,
                days=[
                    DayVolume(day=first + timedelta(days=i), count=n, index=i, height=n / peak)
                    for i, n in enumerate(series)
                ],
            )
        )
    return result
