"""Reads of tracked links, their clicks per day, and the brands' UTM presets."""

from __future__ import annotations

from datetime import date

from django.db.models import OuterRef, PositiveBigIntegerField, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ads.models import LinkClickDaily, TrackedLink, UtmPreset
from agency.models import Brand

__all__ = [
    "clicks_per_link_per_day",
    "link_clicks_daily",
    "tracked_link_for_redirect",
    "tracked_links_for_brand",
    "tracked_links_with_clicks",
    "utm_presets_for_brand",
]


def tracked_links_with_clicks(queryset: QuerySet[TrackedLink]) -> QuerySet[TrackedLink]:
    """Each link with `total_clicks` and `total_unique_visitors`, in the same query."""
    daily = LinkClickDaily.objects.filter(link=OuterRef("pk")).order_by().values("link")
    number = PositiveBigIntegerField()
    return queryset.select_related("campaign", "created_by").annotate(
        total_clicks=Coalesce(
            Subquery(daily.annotate(n=Sum("clicks")).values("n"), output_field=number), Value(0)
        ),
        total_unique_visitors=Coalesce(
            Subquery(daily.annotate(n=Sum("unique_visitors")).values("n"), output_field=number),
            Value(0),
        ),
    )


def tracked_links_for_brand(*, brand: Brand) -> QuerySet[TrackedLink]:
    return tracked_links_with_clicks(TrackedLink.objects.filter(brand=brand)).order_by(
        "-created_at", "pk"
    )


def link_clicks_daily(
    *, link: TrackedLink, start: date | None = None, end: date | None = None
) -> QuerySet[LinkClickDaily]:
    """The link's days with clicks, oldest first; `start` and `end` are inclusive UTC dates."""
    rows = LinkClickDaily.objects.filter(link=link)
    if start is not None:
        rows = rows.filter(date__gte=start)
    if end is not None:
        rows = rows.filter(date__lte=end)
    return rows.order_by("date")


def clicks_per_link_per_day(*, brand: Brand, start: date, end: date) -> QuerySet[LinkClickDaily]:
    """Every (link, day) of the brand with clicks between `start` and `end` inclusive, for the
    reports: rows carry `link__code`, `link__name`, `link__destination` without further
    queries."""
    return (
        LinkClickDaily.objects.filter(link__brand=brand, date__gte=start, date__lte=end)
        .select_related("link")
        .order_by("date", "link__code")
    )


def tracked_link_for_redirect(*, code: str) -> TrackedLink | None:
    return TrackedLink.objects.only("pk", "code", "destination").filter(code=code).first()


def utm_presets_for_brand(*, brand: Brand) -> QuerySet[UtmPreset]:
    return UtmPreset.objects.filter(brand=brand).order_by("name", "pk")
