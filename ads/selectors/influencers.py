"""Reads of the influencer directory and the brands' collaborations: revenue and ROI per
collaboration, late deliverables, attributed sales.

Revenue is summed per currency and never converted here. A collaboration's ROI uses only the
sales in its fee's currency; sales in other currencies are listed beside it
(`other_revenue`), so the page can say they are left out instead of adding them up raw.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ads.models import MONEY, AttributedSale, Collaboration, Deliverable, Influencer
from agency.models import Agency, Brand, Membership
from agency.permissions import WRITERS, Area

__all__ = [
    "attach_revenue_by_currency",
    "collaboration_roi",
    "collaborations_for_brand",
    "collaborations_for_influencer",
    "collaborations_with_revenue",
    "deliverables_for_collaboration",
    "deliverables_late",
    "influencer_agencies_for_user",
    "influencers_for_user",
    "sales_for_collaboration",
    "staff_brands_for_user",
    "today_utc",
]

_ROI_PLACES = Decimal("0.0001")
_CENTS = Decimal("0.01")


def today_utc() -> date:
    return timezone.now().date()


def influencer_agencies_for_user(*, user, write: bool = False) -> QuerySet[Agency]:
    """Agencies whose influencer directory the user reads (staff) or, with `write`, changes
    (the roles that write the ads side)."""
    if not user.is_authenticated:
        return Agency.objects.none()
    memberships = Membership.objects.filter(user=user)
    if write:
        memberships = memberships.filter(role__in=WRITERS[Area.ADS])
    return Agency.objects.filter(pk__in=memberships.values("agency"))


def staff_brands_for_user(*, user) -> QuerySet[Brand]:
    """Brands the user works on as staff (the ads side is not shown to clients)."""
    if not user.is_authenticated:
        return Brand.objects.none()
    return Brand.objects.filter(agency__in=Membership.objects.filter(user=user).values("agency"))


def influencers_for_user(*, user) -> QuerySet[Influencer]:
    return (
        Influencer.objects.filter(agency__in=influencer_agencies_for_user(user=user).values("pk"))
        .select_related("agency")
        .annotate(collaboration_count=Count("collaborations"))
        .order_by("name", "pk")
    )


def collaboration_roi(*, revenue: Decimal | None, fee: Decimal | None) -> Decimal | None:
    """(revenue - fee) / fee, to four places; None when there is no fee to divide by."""
    if not fee:
        return None
    return ((Decimal(revenue or 0) - fee) / fee).quantize(_ROI_PLACES)


def collaborations_with_revenue(queryset: QuerySet[Collaboration]) -> QuerySet[Collaboration]:
    """Each collaboration with `revenue` (its sales in the fee's currency), `other_sales`
    (how many sales are in another currency) and `late_deliverables`, in the same query."""
    sales = AttributedSale.objects.filter(collaboration=OuterRef("pk")).order_by()
    same = (
        sales.filter(currency=OuterRef("currency"))
        .values("collaboration")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    other = (
        sales.exclude(currency=OuterRef("currency"))
        .values("collaboration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    late = (
        Deliverable.objects.filter(collaboration=OuterRef("pk"), due_date__lt=today_utc())
        .exclude(status=Deliverable.Status.PUBLISHED)
        .order_by()
        .values("collaboration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    money = DecimalField(**MONEY)
    return queryset.select_related("influencer", "tracked_link").annotate(
        revenue=Coalesce(
            Subquery(same, output_field=money), Value(Decimal("0")), output_field=money
        ),
        other_sales=Coalesce(Subquery(other), Value(0)),
        late_deliverables=Coalesce(Subquery(late), Value(0)),
    )


def attach_revenue_by_currency(collaborations: Iterable[Collaboration]) -> list[Collaboration]:
    """Set `other_revenue` ({currency: total} of sales not in the fee's currency) and `roi` on
    each collaboration, with one query for all of them."""
    collaborations = list(collaborations)
    needing = [c.pk for c in collaborations if getattr(c, "other_sales", 1)]
    totals: dict = {}
    if needing:
        rows = (
            AttributedSale.objects.filter(collaboration__in=needing)
            .order_by()
            .values("collaboration", "currency")
            .annotate(total=Sum("amount"))
        )
        for row in rows:
            totals.setdefault(row["collaboration"], {})[row["currency"]] = row["total"]
    for c in collaborations:
        by_currency = totals.get(c.pk, {})
        # Sums come back as 250 or 250.00 depending on the database; money shows two places.
        c.other_revenue = {
            cur: Decimal(total).quantize(_CENTS)
            for cur, total in sorted(by_currency.items())
            if cur != c.currency
        }
        revenue = c.revenue if hasattr(c, "revenue") else by_currency.get(c.currency)
        c.revenue = Decimal(revenue or 0).quantize(_CENTS)
        c.roi = collaboration_roi(revenue=c.revenue, fee=c.fee)
    return collaborations


def collaborations_for_brand(*, brand: Brand) -> list[Collaboration]:
    """The brand's collaborations, newest first, with revenue, ROI and late deliverables: two
    queries whatever their number."""
    return attach_revenue_by_currency(
        collaborations_with_revenue(Collaboration.objects.filter(brand=brand))
    )


def collaborations_for_influencer(*, influencer: Influencer) -> list[Collaboration]:
    return attach_revenue_by_currency(
        collaborations_with_revenue(
            Collaboration.objects.filter(influencer=influencer).select_related("brand")
        )
    )


def deliverables_for_collaboration(*, collaboration: Collaboration) -> QuerySet[Deliverable]:
    """The deliverables, each with `is_late`: past its due date (UTC) and not published."""
    return Deliverable.objects.filter(collaboration=collaboration).annotate(
        is_late=Case(
            When(
                Q(due_date__lt=today_utc()) & ~Q(status=Deliverable.Status.PUBLISHED),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def deliverables_late(*, brand: Brand | None = None, today: date | None = None):
    """Deliverables past their due date and not published, oldest first (for reminders and
    the brand's overview)."""
    late = (
        Deliverable.objects.filter(due_date__lt=today or today_utc())
        .exclude(status=Deliverable.Status.PUBLISHED)
        .select_related("collaboration__influencer", "collaboration__brand")
        .order_by("due_date", "pk")
    )
    return late.filter(collaboration__brand=brand) if brand is not None else late


def sales_for_collaboration(*, collaboration: Collaboration) -> QuerySet[AttributedSale]:
    return AttributedSale.objects.filter(collaboration=collaboration).order_by("-date", "order_ref")
