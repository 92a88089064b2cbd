"""Reads of paid insights: KPIs of a campaign, ad set, ad or brand, per-day series, pacing.

Every KPI read is ONE aggregate query over InsightDaily (Sum of impressions, clicks, spend,
conversions and conversion value). KPIs are Decimal; one with a zero denominator is None (shown
as "n/a"), never a division error:

    CTR = clicks / impressions            CPC = spend / clicks
    CPM = spend / impressions x 1000      CPA = spend / conversions
    conversion rate = conversions / clicks
    ROAS = conversion value / spend       ROI = (revenue - cost) / cost
    revenue = the campaign's revenue_override, else its conversion value
    cost = spend + agency_fee + other_costs (fees are whole-campaign amounts: a campaign with
           insights in the window counts them in full)

Currencies are never summed raw. How: the query annotates each row with its rate into the
requested currency (1 when the row is already in it; otherwise a Subquery for the agency's
CurrencyRate with the latest valid_from on or before the row's day) and GROUPS BY (currency,
rate). PostgreSQL only evaluates the subquery for rows in another currency (it is the ELSE of a
CASE), so a one-currency brand pays almost nothing for it. Each group's sums are then converted
in Python with exact Decimal (sum x rate, rounded to the cent once per group). A group whose rate
is NULL is a missing rate: a ValidationError in words naming the currency and the first day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from ads.models import Ad, AdSet, BudgetKind, Campaign, CurrencyRate, InsightDaily
from agency.models import Agency, Brand

__all__ = [
    "DEFAULT_CURRENCY",
    "SYNCED_PLATFORMS",
    "Kpis",
    "Pacing",
    "ad_kpis",
    "ad_set_kpis",
    "brand_campaign_kpis",
    "brand_default_currency",
    "brand_kpis",
    "campaign_daily_kpis",
    "campaign_kpis",
    "campaign_pacing",
    "campaigns_to_check_pacing",
    "campaigns_to_sync",
    "currency_rates_for_agency",
    "insights_for_campaign",
]

DEFAULT_CURRENCY = "EUR"
CENT = Decimal("0.01")
KPI_PLACES = Decimal("0.000001")
RATE_FIELD = DecimalField(max_digits=18, decimal_places=8)
SYNCED_PLATFORMS = ("meta", "linkedin")


def _ratio(numerator, denominator, *, scale: int = 1) -> Decimal | None:
    if numerator is None or denominator is None or not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(
        KPI_PLACES, rounding=ROUND_HALF_UP
    )


@dataclass
class Kpis:
    """Totals and KPIs of one object over a window, in `currency`."""

    currency: str
    impressions: int = 0
    clicks: int = 0
    spend: Decimal = Decimal("0.00")
    conversions: Decimal = Decimal("0.00")
    conversion_value: Decimal = Decimal("0.00")
    # Only campaigns (and brands, as the sum of their campaigns) have a cost beyond spend.
    revenue: Decimal | None = None
    cost: Decimal | None = None
    label: str = ""
    object_id: str = ""
    day: dt.date | None = None

    def add(self, other: Kpis) -> None:
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.spend += other.spend
        self.conversions += other.conversions
        self.conversion_value += other.conversion_value
        if other.cost is not None:
            self.cost = (self.cost or Decimal("0")) + other.cost
            self.revenue = (self.revenue or Decimal("0")) + (other.revenue or Decimal("0"))

    @property
    def ctr(self) -> Decimal | None:
        return _ratio(self.clicks, self.impressions)

    @property
    def cpc(self) -> Decimal | None:
        return _ratio(self.spend, self.clicks)

    @property
    def cpm(self) -> Decimal | None:
        return _ratio(self.spend, self.impressions, scale=1000)

    @property
    def cpa(self) -> Decimal | None:
        return _ratio(self.spend, self.conversions)

    @property
    def conversion_rate(self) -> Decimal | None:
        return _ratio(self.conversions, self.clicks)

    @property
    def roas(self) -> Decimal | None:
        return _ratio(self.conversion_value, self.spend)

    @property
    def roi(self) -> Decimal | None:
        if self.cost is None:
            return None
        return _ratio((self.revenue or Decimal("0")) - self.cost, self.cost)

    KPI_NAMES = ("ctr", "cpc", "cpm", "cpa", "conversion_rate", "roas", "roi")

    def as_dict(self) -> dict:
        data = {
            "currency": self.currency,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "spend": self.spend,
            "conversions": self.conversions,
            "conversion_value": self.conversion_value,
            "revenue": self.revenue,
            "cost": self.cost,
        }
        data.update({name: getattr(self, name) for name in self.KPI_NAMES})
        return data


# -- the one aggregate ------------------------------------------------------------------------


def _rate_for(
    *, agency_id, currency_path: str, date_path: str | None, target: str, day: dt.date | None
):
    """Per row: 1 if already in `target`, else the agency's latest rate for that row's day.

    The agency is a constant, not a join through the row's brand: that keeps the subplan's
    estimated cost low enough that PostgreSQL does not JIT-compile small reads."""
    rates = CurrencyRate.objects.filter(
        agency_id=agency_id, currency=OuterRef(currency_path), base=target
    )
    rates = rates.filter(valid_from__lte=OuterRef(date_path) if date_path else day)
    return Case(
        When(**{currency_path: target}, then=Value(Decimal("1"), output_field=RATE_FIELD)),
        default=Subquery(rates.order_by("-valid_from").values("rate")[:1], output_field=RATE_FIELD),
        output_field=RATE_FIELD,
    )


SUMS = ("impressions", "clicks", "spend", "conversions", "conversion_value")


def _grouped(
    queryset: QuerySet,
    *,
    agency_id,
    target: str,
    keys: tuple[str, ...] = (),
    extra: dict | None = None,
) -> list[dict]:
    rate = _rate_for(
        agency_id=agency_id, currency_path="currency", date_path="date", target=target, day=None
    )
    return list(
        queryset.annotate(_rate=rate)
        .values(*keys, "currency", "_rate")
        .annotate(**{name: Sum(name) for name in SUMS}, _first_day=Min("date"), **(extra or {}))
        .order_by()
    )


def _missing_rate(groups: list[dict], target: str) -> None:
    missing = sorted((g["currency"], g["_first_day"]) for g in groups if g["_rate"] is None)
    if missing:
        raise ValidationError(
            [
                f"There is no rate from {currency} to {target} on or before "
                f"{day:%d %b %Y}: add one on the currency rates page."
                for currency, day in missing
            ],
            code="missing_rate",
        )


def _fold(group: dict, into: Kpis) -> None:
    rate = group["_rate"]
    into.impressions += group["impressions"] or 0
    into.clicks += group["clicks"] or 0
    into.conversions += group["conversions"] or Decimal("0")
    into.spend += ((group["spend"] or Decimal("0")) * rate).quantize(CENT, ROUND_HALF_UP)
    into.conversion_value += ((group["conversion_value"] or Decimal("0")) * rate).quantize(
        CENT, ROUND_HALF_UP
    )


def _window(queryset: QuerySet, start: dt.date | None, end: dt.date | None) -> QuerySet:
    if start:
        queryset = queryset.filter(date__gte=start)
    if end:
        queryset = queryset.filter(date__lte=end)
    return queryset


def _agency_of_campaign(campaign: Campaign):
    """The campaign's agency id: known when its brand is loaded, else an InitPlan subquery
    (evaluated once by the database, no extra round trip)."""
    if Campaign.brand.is_cached(campaign):
        return campaign.brand.agency_id
    return Brand.objects.filter(pk=campaign.brand_id).values("agency_id")[:1]


def _totals(queryset: QuerySet, *, agency_id, target: str) -> Kpis:
    groups = _grouped(queryset, agency_id=agency_id, target=target)
    _missing_rate(groups, target)
    kpis = Kpis(currency=target)
    for group in groups:
        _fold(group, kpis)
    return kpis


def _convert_amount(
    amount: Decimal, *, agency_id, currency: str, target: str, day: dt.date
) -> Decimal:
    if currency == target or not amount:
        return amount
    rate = (
        CurrencyRate.objects.filter(
            agency_id=agency_id, currency=currency, base=target, valid_from__lte=day
        )
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise ValidationError(
            f"There is no rate from {currency} to {target} on or before {day:%d %b %Y}: "
            "add one on the currency rates page.",
            code="missing_rate",
        )
    return (amount * rate).quantize(CENT, ROUND_HALF_UP)


# -- public reads -----------------------------------------------------------------------------


def campaign_kpis(
    *,
    campaign: Campaign,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str | None = None,
) -> Kpis:
    """Totals, KPIs and ROI of a campaign (in its own currency unless told otherwise)."""
    target = currency or campaign.currency
    agency_id = _agency_of_campaign(campaign)
    kpis = _totals(_window(campaign.insights.all(), start, end), agency_id=agency_id, target=target)
    kpis.label, kpis.object_id = campaign.name, str(campaign.pk)
    if campaign.currency == target:
        convert = lambda amount: amount  # noqa: E731
    else:
        day = end or campaign.end_date or dt.date.today()  # noqa: DTZ011 - a calendar day

        def convert(amount):
            return _convert_amount(
                amount, agency_id=agency_id, currency=campaign.currency, target=target, day=day
            )

    extra = convert(campaign.agency_fee) + convert(campaign.other_costs)
    kpis.cost = kpis.spend + extra
    kpis.revenue = (
        convert(campaign.revenue_override)
        if campaign.revenue_override is not None
        else kpis.conversion_value
    )
    return kpis


def ad_set_kpis(
    *,
    ad_set: AdSet,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str | None = None,
) -> Kpis:
    target = currency or ad_set.campaign.currency
    agency_id = Brand.objects.filter(campaigns__ad_sets=ad_set).values("agency_id")[:1]
    kpis = _totals(_window(ad_set.insights.all(), start, end), agency_id=agency_id, target=target)
    kpis.label, kpis.object_id = ad_set.name, str(ad_set.pk)
    return kpis


def ad_kpis(
    *,
    ad: Ad,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str | None = None,
) -> Kpis:
    target = currency or ad.ad_set.campaign.currency
    agency_id = Brand.objects.filter(campaigns__ad_sets__ads=ad).values("agency_id")[:1]
    kpis = _totals(_window(ad.insights.all(), start, end), agency_id=agency_id, target=target)
    kpis.label, kpis.object_id = ad.name, str(ad.pk)
    return kpis


def brand_default_currency(*, brand: Brand) -> str:
    """The currency most of the brand's campaigns run in; EUR when it has none."""
    top = (
        Campaign.objects.filter(brand=brand)
        .values("currency")
        .annotate(n=Count("pk"))
        .order_by("-n", "currency")
        .first()
    )
    return top["currency"] if top else DEFAULT_CURRENCY


CAMPAIGN_FIELDS = ("name", "currency", "agency_fee", "other_costs", "revenue_override")


def _rates_on(*, agency_id, currencies: set[str], target: str, day: dt.date) -> dict:
    """The latest rate on or before `day` of each currency into `target` (1 for itself)."""
    found = {target: Decimal("1")}
    wanted = currencies - {target}
    if wanted:
        for row in (
            CurrencyRate.objects.filter(
                agency_id=agency_id, currency__in=wanted, base=target, valid_from__lte=day
            )
            .order_by("currency", "-valid_from")
            .values("currency", "rate")
        ):
            found.setdefault(row["currency"], row["rate"])
    missing = sorted(currencies - set(found))
    if missing:
        raise ValidationError(
            [
                f"There is no rate from {c} to {target} on or before {day:%d %b %Y}: add one "
                "on the currency rates page."
                for c in missing
            ],
            code="missing_rate",
        )
    return found


def brand_campaign_kpis(
    *, brand: Brand, start: dt.date, end: dt.date, currency: str | None = None
) -> list[Kpis]:
    """KPIs and ROI of each campaign of the brand with insights in the window, in ONE aggregate
    query grouped by (campaign, currency, rate); the campaign's own fields ride along as Max()
    (one value per campaign), so they do not widen the grouping.

    The campaign's own money (fees, costs, revenue override) is in its currency and converted
    at the rate valid on the window's last day: a small lookup of those few rates, made only
    when a campaign runs in another currency than the one asked for.
    """
    target = currency or brand_default_currency(brand=brand)
    queryset = _window(InsightDaily.objects.filter(brand=brand), start, end)
    groups = _grouped(
        queryset,
        agency_id=brand.agency_id,
        target=target,
        keys=("campaign_id",),
        extra={f"_c_{f}": Max(f"campaign__{f}") for f in CAMPAIGN_FIELDS},
    )
    _missing_rate(groups, target)
    fee_rates = _rates_on(
        agency_id=brand.agency_id,
        currencies={g["_c_currency"] for g in groups},
        target=target,
        day=end,
    )
    by_campaign: dict = {}
    for group in groups:
        kpis = by_campaign.get(group["campaign_id"])
        if kpis is None:
            fee_rate = fee_rates[group["_c_currency"]]

            def money(value, rate=fee_rate):
                return (value * rate).quantize(CENT, ROUND_HALF_UP)

            kpis = Kpis(
                currency=target,
                label=group["_c_name"],
                object_id=str(group["campaign_id"]),
                cost=money(group["_c_agency_fee"] + group["_c_other_costs"]),
            )
            override = group["_c_revenue_override"]
            kpis.revenue = money(override) if override is not None else None
            by_campaign[group["campaign_id"]] = kpis
        _fold(group, kpis)
    rows = list(by_campaign.values())
    for kpis in rows:
        kpis.cost = (kpis.cost or Decimal("0")) + kpis.spend
        if kpis.revenue is None:
            kpis.revenue = kpis.conversion_value
    rows.sort(key=lambda k: k.label.lower())
    return rows


def brand_kpis(*, brand: Brand, start: dt.date, end: dt.date, currency: str | None = None) -> Kpis:
    """The brand's totals, KPIs and ROI over the window: the sum of its campaigns."""
    target = currency or brand_default_currency(brand=brand)
    total = Kpis(currency=target, label=brand.name, object_id=str(brand.pk))
    for kpis in brand_campaign_kpis(brand=brand, start=start, end=end, currency=target):
        total.add(kpis)
    return total


def campaign_daily_kpis(
    *,
    campaign: Campaign,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str | None = None,
) -> list[Kpis]:
    """One Kpis per day with insights, oldest first (one query)."""
    target = currency or campaign.currency
    groups = _grouped(
        _window(campaign.insights.all(), start, end),
        agency_id=_agency_of_campaign(campaign),
        target=target,
        keys=("date",),
    )
    _missing_rate(groups, target)
    days: dict[dt.date, Kpis] = defaultdict(lambda: Kpis(currency=target))
    for group in groups:
        kpis = days[group["date"]]
        kpis.day = group["date"]
        _fold(group, kpis)
    return [days[d] for d in sorted(days)]


def insights_for_campaign(*, campaign: Campaign) -> QuerySet[InsightDaily]:
    return campaign.insights.select_related("ad_set", "ad").order_by("-date", "ad_set", "ad")


def currency_rates_for_agency(*, agency: Agency) -> QuerySet[CurrencyRate]:
    return CurrencyRate.objects.filter(agency=agency).order_by("currency", "base", "-valid_from")


# -- sweeps ------------------------------------------------------------------------------------


def campaigns_to_sync(*, today: dt.date) -> QuerySet[Campaign]:
    """Active campaigns on a network with an insights integration, linked to it, in flight
    (or ended within the last days, whose numbers still settle)."""
    return (
        Campaign.objects.filter(
            status__in=[Campaign.Status.ACTIVE, Campaign.Status.ENDED],
            platform__in=SYNCED_PLATFORMS,
            start_date__lte=today,
        )
        .filter(
            Q(end_date__isnull=True)
            | Q(end_date__gte=today - dt.timedelta(days=settings.ADS_INSIGHTS_LOOKBACK_DAYS))
        )
        .exclude(external_id="")
    )


def campaigns_to_check_pacing(*, today: dt.date) -> QuerySet[Campaign]:
    return Campaign.objects.filter(
        status=Campaign.Status.ACTIVE, start_date__lte=today, budget_amount__gt=0
    ).select_related("brand")


# -- pacing ------------------------------------------------------------------------------------


@dataclass
class Pacing:
    """How a campaign's spend compares with its budget on `today`.

    Only complete days count: `elapsed_days` are the flight's days before `today`, and
    `actual` is the spend on them (today's numbers are still coming in).
    """

    campaign: Campaign
    today: dt.date
    elapsed_days: int
    flight_days: int | None
    budget_total: Decimal | None
    expected: Decimal | None
    actual: Decimal
    threshold: Decimal = field(default_factory=lambda: Decimal(str(settings.ADS_PACING_THRESHOLD)))

    @property
    def ratio(self) -> Decimal | None:
        return _ratio(self.actual, self.expected)

    @property
    def over_budget(self) -> bool:
        return self.budget_total is not None and self.actual > self.budget_total

    @property
    def status(self) -> str:
        """over_budget, over, under, on_track or unknown (nothing to compare with yet)."""
        if self.over_budget:
            return "over_budget"
        ratio = self.ratio
        if ratio is None:
            return "unknown"
        if ratio > 1 + self.threshold:
            return "over"
        if ratio < 1 - self.threshold:
            return "under"
        return "on_track"


def campaign_pacing(*, campaign: Campaign, today: dt.date) -> Pacing:
    """Expected spend to date: daily budget x elapsed days, or the lifetime budget x the elapsed
    fraction of the flight (a lifetime budget without an end date has no expectation, only a
    ceiling). Spend passes the budget when it exceeds the lifetime budget, or daily budget x
    flight days for a daily budget with an end date."""
    last_day = today - dt.timedelta(days=1)
    if campaign.end_date and campaign.end_date < last_day:
        last_day = campaign.end_date
    elapsed = max((last_day - campaign.start_date).days + 1, 0)
    flight = (campaign.end_date - campaign.start_date).days + 1 if campaign.end_date else None
    budget = campaign.budget_amount
    if campaign.budget_kind == BudgetKind.DAILY:
        expected = (budget * elapsed).quantize(CENT)
        total = (budget * flight).quantize(CENT) if flight else None
    else:
        expected = (budget * elapsed / flight).quantize(CENT, ROUND_HALF_UP) if flight else None
        total = budget
    actual = (
        campaign_kpis(campaign=campaign, start=campaign.start_date, end=last_day).spend
        if elapsed
        else Decimal("0.00")
    )
    return Pacing(
        campaign=campaign,
        today=today,
        elapsed_days=elapsed,
        flight_days=flight,
        budget_total=total,
        expected=expected,
        actual=actual,
    )
