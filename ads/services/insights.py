"""Writes of paid insights: platform sync, CSV import, currency rates and pacing alerts.

Storing is replace-by-day: for one campaign, every row of the days being written is deleted and
the new rows inserted in ONE transaction (with the campaign row locked, so two syncs of the same
campaign queue up rather than collide on the unique constraint). A sync fetches every page
BEFORE that transaction opens, so a failure on any page (the third of five, say) writes nothing
and the days keep their previous numbers; the platform call never runs inside a transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ads.insights_sync import InsightRow, LinkedInInsightsClient, MetaInsightsClient
from ads.models import Ad, AdPlatform, AdSet, Campaign, CurrencyRate, InsightDaily, currency_code
from ads.selectors.insights import campaign_pacing
from agency.models import Agency, Brand, Platform, Role, SocialAccount
from agency.platforms.errors import secrets_scrubbed
from agency.services import audit_log, notify
from integrations import events as webhook_events

logger = logging.getLogger(__name__)

__all__ = [
    "CSV_COLUMNS",
    "ImportResult",
    "SyncResult",
    "brand_marketers",
    "campaign_pacing_alert",
    "campaign_sync_insights",
    "currency_rate_create",
    "currency_rate_delete",
    "insights_client_for",
    "insights_import_csv",
    "insights_replace",
]

# Which connected social account holds the ads token of each ad platform.
TOKEN_ACCOUNT_PLATFORM = {
    AdPlatform.META: Platform.FACEBOOK,
    AdPlatform.LINKEDIN: Platform.LINKEDIN,
}
CSV_COLUMNS = (
    "date",
    "campaign",
    "ad_set",
    "ad",
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "conversion_value",
    "currency",
)
REQUIRED_COLUMNS = frozenset(CSV_COLUMNS) - {"ad_set", "ad"}
CSV_MAX_ROWS = 100_000
CENT = Decimal("0.01")
MONEY_MAX = Decimal("999999999999.99")


@dataclass
class SyncResult:
    rows: int = 0
    days: int = 0
    unknown_ads: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: int = 0
    campaigns: int = 0
    days: int = 0


def insights_client_for(platform: str):
    if platform == AdPlatform.META:
        return MetaInsightsClient()
    if platform == AdPlatform.LINKEDIN:
        return LinkedInInsightsClient()
    return None


def _token_account_for(campaign: Campaign) -> SocialAccount:
    account_platform = TOKEN_ACCOUNT_PLATFORM.get(campaign.platform)
    label = campaign.get_platform_display()
    if account_platform is None:
        raise ValidationError(
            f"agency cannot sync insights from {label}; import them as a CSV file instead."
        )
    account = (
        SocialAccount.objects.filter(
            brand_id=campaign.brand_id,
            platform=account_platform,
            status=SocialAccount.Status.CONNECTED,
        )
        .exclude(access_token="")
        .order_by("created_at")
        .first()
    )
    if account is None or not account.access_token:
        raise ValidationError(
            f"{campaign.brand} has no connected {Platform(account_platform).label} account with "
            f"an access token, so the insights of {label} campaigns cannot be read. Connect one "
            "on the brand's page."
        )
    return account


def campaign_sync_insights(
    *, campaign: Campaign, since: dt.date, until: dt.date, by=None, client=None
) -> SyncResult:
    """Read the campaign's daily insights from its platform and replace those days.

    Ad rows are matched to our Ads by external id. A row without an ad id is stored for the
    campaign itself; a row of an ad we do not know is skipped and reported in `unknown_ads`
    (storing it at campaign level would count it twice once the ad is added and re-synced).
    Platform errors (RateLimited, TransientError, AuthExpired, Rejected) propagate to the task.
    """
    if since > until:
        raise ValidationError("The first day to sync must not be after the last.")
    if not campaign.external_id:
        raise ValidationError(
            f"“{campaign}” has no id on {campaign.get_platform_display()} yet, so there is "
            "nothing to read insights of."
        )
    account = _token_account_for(campaign)
    client = client or insights_client_for(campaign.platform)
    # The error goes on to the task's log and the account's needs-reauth reason.
    with secrets_scrubbed(account):
        fetched = list(
            client.campaign_insights(
                campaign_id=campaign.external_id,
                token=account.access_token,
                since=since,
                until=until,
                objective=campaign.objective,
            )
        )
    ads = {
        ad.external_id: ad
        for ad in Ad.objects.filter(ad_set__campaign=campaign)
        .exclude(external_id="")
        .select_related("ad_set")
    }
    merged: dict[tuple, dict] = {}
    unknown: set[str] = set()
    for row in fetched:
        if not since <= row.date <= until:
            continue
        ad = None
        if row.external_ad_id:
            ad = ads.get(row.external_ad_id)
            if ad is None:
                unknown.add(row.external_ad_id)
                continue
        key = (ad.ad_set_id if ad else None, ad.pk if ad else None, row.date)
        _merge(merged, key, row, currency=row.currency or campaign.currency)
    days = {since + dt.timedelta(days=n) for n in range((until - since).days + 1)}
    written = insights_replace(
        campaign=campaign,
        days=days,
        rows=[_insight(campaign, key, values, source="api") for key, values in merged.items()],
        by=by,
        action="campaign.insights_synced",
        data={
            "since": since.isoformat(),
            "until": until.isoformat(),
            "unknown_ads": sorted(unknown),
        },
    )
    if unknown:
        logger.warning(
            "insights of campaign %s name ads we do not know: %s", campaign.pk, sorted(unknown)
        )
    return SyncResult(rows=written, days=len(days), unknown_ads=sorted(unknown))


def _merge(merged: dict, key: tuple, row: InsightRow, *, currency: str) -> None:
    values = merged.setdefault(
        key,
        {
            "impressions": 0,
            "reach": 0,
            "clicks": 0,
            "spend": Decimal("0"),
            "conversions": Decimal("0"),
            "conversion_value": Decimal("0"),
            "currency": currency,
        },
    )
    for name in ("impressions", "reach", "clicks", "spend", "conversions", "conversion_value"):
        values[name] += getattr(row, name)


def _insight(campaign: Campaign, key: tuple, values: dict, *, source: str) -> InsightDaily:
    ad_set_id, ad_id, day = key
    return InsightDaily(
        brand_id=campaign.brand_id,
        campaign=campaign,
        ad_set_id=ad_set_id,
        ad_id=ad_id,
        date=day,
        source=source,
        **values,
    )


@transaction.atomic
def insights_replace(
    *,
    campaign: Campaign,
    days: Iterable[dt.date],
    rows: list[InsightDaily],
    by=None,
    action: str = "campaign.insights_replaced",
    data: dict | None = None,
) -> int:
    """Replace every insight of the campaign on `days` with `rows`, atomically."""
    days = sorted(set(days))
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    deleted, _ = InsightDaily.objects.filter(campaign=campaign, date__in=days).delete()
    InsightDaily.objects.bulk_create(rows, batch_size=2000)
    audit_log(
        actor=by,
        action=action,
        target=campaign,
        agency=campaign.brand.agency,
        brand=campaign.brand,
        data={
            **(data or {}),
            "days": len(days),
            "rows": len(rows),
            "replaced_rows": deleted,
        },
    )
    return len(rows)


# -- CSV import -----------------------------------------------------------------------------------


def _lookup(objects: list, value: str, what: str):
    """An object by id (UUID), external id or name (case-insensitive): exactly one, or why not."""
    value = value.strip()
    try:
        as_uuid = uuid.UUID(value)
    except ValueError:
        as_uuid = None
    for obj in objects:
        if as_uuid and obj.pk == as_uuid:
            return obj, None
    by_external = [o for o in objects if o.external_id and o.external_id == value]
    if len(by_external) == 1:
        return by_external[0], None
    by_name = [o for o in objects if o.name.strip().lower() == value.lower()]
    if len(by_name) == 1:
        return by_name[0], None
    if len(by_name) > 1:
        return None, f"{len(by_name)} {what}s are called “{value}”; use its id instead"
    return None, f"there is no {what} “{value}”"


def _parse_count(raw: str, name: str, errors: list[str]) -> int:
    raw = (raw or "").strip().replace(",", "") or "0"
    if not raw.isdigit():
        errors.append(f"{name} must be a whole number of zero or more, not “{raw}”")
        return 0
    return int(raw)


def _parse_amount(raw: str, name: str, errors: list[str]) -> Decimal:
    raw = (raw or "").strip() or "0"
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        errors.append(f"{name} must be a number such as 12.50, not “{raw}”")
        return Decimal("0")
    if not amount.is_finite() or amount < 0 or amount > MONEY_MAX:
        errors.append(f"{name} must be a number of zero or more, not “{raw}”")
        return Decimal("0")
    if amount != amount.quantize(CENT):
        errors.append(f"{name} has more than two decimals (“{raw}”)")
    return amount.quantize(CENT, ROUND_HALF_UP)


def _read_csv(file) -> tuple[list[str], list[dict]]:
    raw = file.read() if hasattr(file, "read") else file
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    reader = csv.DictReader(io.StringIO(raw))
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    return header, list(reader)


@transaction.atomic
def insights_import_csv(*, brand: Brand, file, by) -> ImportResult:
    """Import insights of the brand's campaigns from a CSV file (platforms without a sync).

    Columns: date (YYYY-MM-DD), campaign (id, platform id or name), ad_set and ad (optional,
    same), impressions, clicks, spend, conversions, conversion_value, currency. Every row is
    checked first; any error refuses the whole file with each row's problems in words and
    nothing saved. Then, per campaign, the days in the file are replaced.
    """
    header, records = _read_csv(file)
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise ValidationError(
            f"The file lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            f"Expected: {', '.join(CSV_COLUMNS)}."
        )
    if not records:
        raise ValidationError("The file has a header but no rows.")
    if len(records) > CSV_MAX_ROWS:
        raise ValidationError(
            f"The file has {len(records)} rows; split it into files of at most {CSV_MAX_ROWS}."
        )

    campaigns = list(Campaign.objects.filter(brand=brand))
    ad_sets = list(AdSet.objects.filter(campaign__brand=brand))
    ads = list(Ad.objects.filter(ad_set__campaign__brand=brand).select_related("ad_set"))
    problems: list[str] = []
    merged: dict[Campaign, dict[tuple, dict]] = {}
    seen: dict[tuple, int] = {}
    for number, record in enumerate(records, start=2):
        errors: list[str] = []
        cell = {k: (v or "").strip() for k, v in record.items() if k}
        try:
            day = dt.date.fromisoformat(cell.get("date", ""))
        except ValueError:
            errors.append(f"date must look like 2025-03-31, not “{cell.get('date', '')}”")
            day = None
        campaign, why = _lookup(campaigns, cell.get("campaign", ""), "campaign")
        if why:
            errors.append(why)
        ad_set = ad = None
        if campaign and cell.get("ad_set"):
            ad_set, why = _lookup(
                [s for s in ad_sets if s.campaign_id == campaign.pk], cell["ad_set"], "ad set"
            )
            if why:
                errors.append(f"{why} in “{campaign}”")
        if campaign and cell.get("ad"):
            pool = [
                a
                for a in ads
                if a.ad_set.campaign_id == campaign.pk
                and (ad_set is None or a.ad_set_id == ad_set.pk)
            ]
            ad, why = _lookup(pool, cell["ad"], "ad")
            if why:
                errors.append(f"{why} in “{ad_set or campaign}”")
            elif ad_set is None:
                ad_set = ad.ad_set
        values = {
            "impressions": _parse_count(cell.get("impressions", ""), "impressions", errors),
            "reach": 0,
            "clicks": _parse_count(cell.get("clicks", ""), "clicks", errors),
            "spend": _parse_amount(cell.get("spend", ""), "spend", errors),
            "conversions": _parse_amount(cell.get("conversions", ""), "conversions", errors),
            "conversion_value": _parse_amount(
                cell.get("conversion_value", ""), "conversion_value", errors
            ),
        }
        currency = cell.get("currency", "").upper() or (campaign.currency if campaign else "")
        try:
            currency_code(currency)
        except ValidationError:
            errors.append(f"currency must be a three-letter code such as EUR, not “{currency}”")
        if values["clicks"] > values["impressions"] and values["impressions"]:
            errors.append("clicks cannot be more than impressions")
        if not errors and campaign and day:
            if campaign.start_date and day < campaign.start_date - dt.timedelta(days=1):
                errors.append(
                    f"{day:%d %b %Y} is before “{campaign}” starts ({campaign.start_date:%d %b %Y})"
                )
            key = (ad_set.pk if ad_set else None, ad.pk if ad else None, day)
            if (campaign.pk, key) in seen:
                errors.append(f"it repeats row {seen[(campaign.pk, key)]} (same day and object)")
            seen[(campaign.pk, key)] = number
        if errors:
            problems.append(f"Row {number}: {'; '.join(errors)}.")
            continue
        merged.setdefault(campaign, {})[key] = {**values, "currency": currency}
    if problems:
        shown = problems[:50]
        if len(problems) > 50:
            shown.append(f"…and {len(problems) - 50} more rows with problems.")
        raise ValidationError(shown, code="invalid_rows")

    result = ImportResult()
    for campaign, rows in merged.items():
        days = {key[2] for key in rows}
        result.rows += insights_replace(
            campaign=campaign,
            days=days,
            rows=[_insight(campaign, key, values, source="csv") for key, values in rows.items()],
            by=by,
            action="campaign.insights_imported",
        )
        result.campaigns += 1
        result.days += len(days)
    return result


# -- currency rates -------------------------------------------------------------------------------


@transaction.atomic
def currency_rate_create(
    *, agency: Agency, currency: str, base: str, rate: Decimal, valid_from: dt.date, by
) -> CurrencyRate:
    currency, base = currency.strip().upper(), base.strip().upper()
    if currency == base:
        raise ValidationError({"base": ["A rate converts between two different currencies."]})
    obj = CurrencyRate(
        agency=agency, currency=currency, base=base, rate=rate, valid_from=valid_from
    )
    if rate is None or rate <= 0:
        raise ValidationError({"rate": ["The rate must be more than zero."]})
    obj.full_clean()
    obj.save()
    audit_log(
        actor=by,
        action="currency_rate.created",
        target=obj,
        agency=agency,
        data={"currency": currency, "base": base, "rate": str(rate), "valid_from": str(valid_from)},
    )
    return obj


@transaction.atomic
def currency_rate_delete(*, rate: CurrencyRate, by) -> None:
    audit_log(
        actor=by,
        action="currency_rate.deleted",
        target=rate,
        agency=rate.agency,
        data={"currency": rate.currency, "base": rate.base, "valid_from": str(rate.valid_from)},
    )
    rate.delete()


# -- pacing alerts --------------------------------------------------------------------------------


def brand_marketers(*, brand: Brand):
    """Who hears about a brand's paid campaigns: the agency's marketers and admins."""
    return (
        get_user_model()
        .objects.filter(
            memberships__agency_id=brand.agency_id,
            memberships__role__in=[Role.ADMIN, Role.MARKETER],
            is_active=True,
        )
        .distinct()
    )


def _claim(campaign: Campaign, field_name: str, now: dt.datetime, day_start: dt.datetime) -> bool:
    """Set the alert stamp unless it is already from today: True for exactly one caller."""
    claimed = (
        Campaign.objects.filter(pk=campaign.pk)
        .filter(Q(**{f"{field_name}__isnull": True}) | Q(**{f"{field_name}__lt": day_start}))
        .update(**{field_name: now})
    )
    if claimed:
        setattr(campaign, field_name, now)
    return bool(claimed)


def _money(amount: Decimal | None, currency: str) -> str:
    return "n/a" if amount is None else f"{amount:,.2f} {currency}"


@transaction.atomic
def campaign_pacing_alert(*, campaign: Campaign, now: dt.datetime | None = None) -> list[str]:
    """Tell the brand's marketers and admins when the campaign is over- or under-pacing by more
    than ADS_PACING_THRESHOLD, or its spend has passed the budget: each at most once per
    campaign and day (the brand's day). Returns the alerts sent ("over_budget", "pacing")."""
    now = now or timezone.now()
    brand = campaign.brand
    local = now.astimezone(brand.zone)
    today = local.date()
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    pacing = campaign_pacing(campaign=campaign, today=today)
    status = pacing.status
    sent = []
    url = f"/campaigns/{campaign.pk}/insights/"
    currency = campaign.currency
    if pacing.over_budget and _claim(campaign, "over_budget_alerted_at", now, day_start):
        notify(
            users=brand_marketers(brand=brand),
            brand=brand,
            title=f"“{campaign}” has spent past its budget ({brand})",
            body=f"Spend so far is {_money(pacing.actual, currency)} against a budget of "
            f"{_money(pacing.budget_total, currency)}. Pause it or raise the budget.",
            url=url,
        )
        sent.append("over_budget")
        webhook_events.campaign_over_budget(
            campaign=campaign, spent=pacing.actual, budget=pacing.budget_total, day=today
        )
    elif status in ("over", "under") and _claim(campaign, "pacing_alerted_at", now, day_start):
        words = "faster" if status == "over" else "slower"
        notify(
            users=brand_marketers(brand=brand),
            brand=brand,
            title=f"“{campaign}” is spending {words} than planned ({brand})",
            body=f"After {pacing.elapsed_days} day{'s' if pacing.elapsed_days != 1 else ''} it "
            f"has spent {_money(pacing.actual, currency)}; {_money(pacing.expected, currency)} "
            f"was expected by now ({pacing.ratio:.0%} of plan; the alert threshold is "
            f"{settings.ADS_PACING_THRESHOLD:.0%} either way).",
            url=url,
        )
        sent.append("pacing")
    if sent:
        audit_log(
            actor=None,
            action="campaign.pacing_alerted",
            target=campaign,
            agency=brand.agency,
            brand=brand,
            data={
                "alerts": sent,
                "expected": str(pacing.expected),
                "actual": str(pacing.actual),
                "budget": str(pacing.budget_total),
            },
        )
    return sent
