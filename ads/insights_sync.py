"""Clients that read daily paid insights from the ad platforms, on the adapter HTTP conventions.

Each client returns plain `InsightRow`s (numbers already Decimal or int); storing them is the
job of `ads.services.insights`. Every request goes through `PlatformAdapter._request` (timeouts,
typed errors) and a platform error becomes RateLimited / TransientError / AuthExpired / Rejected,
so the Celery task decides retries in one place.

Meta: `GET https://graph.facebook.com/{version}/{campaign-id}/insights` with level=ad and
time_increment=1 (one row per ad and day), following `paging.next` by its `after` cursor. Numbers
arrive as strings. Docs: https://developers.facebook.com/docs/marketing-api/insights,
https://developers.facebook.com/docs/marketing-api/insights/parameters,
https://developers.facebook.com/docs/marketing-api/overview/rate-limiting

LinkedIn: `GET https://api.linkedin.com/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&
timeGranularity=DAILY` (one row per campaign and day; the endpoint has no pagination). Docs:
https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import parse_qs, quote, urlsplit

from agency.platforms.base import PlatformAdapter
from agency.platforms.errors import TransientError
from agency.platforms.graph import GRAPH_URL, GraphClientMixin
from agency.platforms.linkedin import API_URL, LINKEDIN_VERSION, linkedin_error
from agency.platforms.linkedin import _json as linkedin_json

__all__ = [
    "CONVERSION_ACTIONS",
    "InsightRow",
    "LinkedInInsightsClient",
    "MetaInsightsClient",
    "conversion_families",
]

CENT = Decimal("0.01")
META_FIELDS = (
    "ad_id",
    "adset_id",
    "spend",
    "impressions",
    "clicks",
    "reach",
    "actions",
    "action_values",
    "purchase_roas",
    "account_currency",
)
# A runaway cursor loop (a platform bug) must not keep a worker busy forever.
MAX_PAGES = 500

# What counts as a conversion, per family. Meta reports the same purchase several times under
# overlapping action types (the pixel's, the app's, the omnichannel roll-up), so within a family
# only the FIRST type present is taken, never their sum: `purchase` and `lead` are Meta's own
# de-duplicated totals, the others are fallbacks for accounts that only report those.
CONVERSION_ACTIONS: dict[str, tuple[str, ...]] = {
    "purchase": (
        "purchase",
        "omni_purchase",
        "offsite_conversion.fb_pixel_purchase",
        "onsite_web_purchase",
    ),
    "lead": (
        "lead",
        "onsite_conversion.lead_grouped",
        "offsite_conversion.fb_pixel_lead",
    ),
}


def conversion_families(objective: str) -> tuple[str, ...]:
    """The conversion families a campaign's objective counts: a sales campaign counts
    purchases, a leads campaign leads, and every other objective (awareness, traffic,
    engagement) counts both, since either is a result the brand pays for."""
    if objective == "sales":
        return ("purchase",)
    if objective == "leads":
        return ("lead",)
    return ("purchase", "lead")


@dataclass(frozen=True)
class InsightRow:
    """One day of one ad (`external_ad_id`), or of the campaign itself when it is ""."""

    date: dt.date
    external_ad_id: str = ""
    impressions: int = 0
    reach: int = 0
    clicks: int = 0
    spend: Decimal = Decimal("0")
    conversions: Decimal = Decimal("0")
    conversion_value: Decimal = Decimal("0")
    currency: str = ""


def _decimal(value, *, field: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise TransientError(
            f"The platform sent {field}={value!r}, which is not a number."
        ) from None
    if not number.is_finite():
        raise TransientError(f"The platform sent {field}={value!r}, which is not a number.")
    return number


def _int(value, *, field: str) -> int:
    return int(_decimal(value, field=field).to_integral_value(rounding=ROUND_HALF_UP))


def _money(value, *, field: str) -> Decimal:
    return _decimal(value, field=field).quantize(CENT, rounding=ROUND_HALF_UP)


def _first_of_family(entries, types: tuple[str, ...], *, field: str) -> Decimal:
    by_type = {e.get("action_type"): e.get("value") for e in entries or () if isinstance(e, dict)}
    for action_type in types:
        if action_type in by_type:
            return _decimal(by_type[action_type], field=field)
    return Decimal("0")


class MetaInsightsClient(GraphClientMixin, PlatformAdapter):
    name = "meta"
    display_name = "Meta Ads"
    graph_url = GRAPH_URL

    def campaign_insights(
        self, *, campaign_id: str, token: str, since: dt.date, until: dt.date, objective: str
    ) -> Iterator[InsightRow]:
        """Every ad-day row of the campaign in [since, until], page after page."""
        families = conversion_families(objective)
        params: dict = {
            "fields": ",".join(META_FIELDS),
            "level": "ad",
            "time_increment": "1",
            "time_range": f'{{"since":"{since.isoformat()}","until":"{until.isoformat()}"}}',
            "limit": "500",
        }
        for _page in range(MAX_PAGES):
            body = self._graph(
                "GET", f"{campaign_id}/insights", token=token, write=False, params=params
            )
            for item in body.get("data") or ():
                yield self._row(item, families)
            paging = body.get("paging") or {}
            after = _after_cursor(paging)
            if not paging.get("next") or not after:
                return
            # The cursor, not the `next` URL itself: that URL carries our token, and following
            # it blindly would send the token wherever the body pointed.
            params = {**params, "after": after}
        raise TransientError(f"Meta kept paging past {MAX_PAGES} pages; try a shorter range.")

    def _row(self, item: dict, families: tuple[str, ...]) -> InsightRow:
        try:
            day = dt.date.fromisoformat(item["date_start"])
        except (KeyError, TypeError, ValueError):
            raise TransientError("Meta sent an insights row without a valid date_start.") from None
        conversions = sum(
            (
                _first_of_family(item.get("actions"), CONVERSION_ACTIONS[f], field="actions")
                for f in families
            ),
            Decimal("0"),
        )
        value = sum(
            (
                _first_of_family(item.get("action_values"), CONVERSION_ACTIONS[f], field="values")
                for f in families
            ),
            Decimal("0"),
        )
        spend = _money(item.get("spend"), field="spend")
        reported = {
            e.get("action_type") for e in item.get("action_values") or () if isinstance(e, dict)
        }
        if (
            "purchase" in families
            and item.get("purchase_roas")
            and not reported & set(CONVERSION_ACTIONS["purchase"])
        ):
            # No purchase value reported, but a return on ad spend is: value = ROAS x spend.
            roas = _first_of_family(
                item["purchase_roas"], CONVERSION_ACTIONS["purchase"], field="purchase_roas"
            )
            value = roas * spend
        return InsightRow(
            date=day,
            external_ad_id=str(item.get("ad_id") or ""),
            impressions=_int(item.get("impressions"), field="impressions"),
            reach=_int(item.get("reach"), field="reach"),
            clicks=_int(item.get("clicks"), field="clicks"),
            spend=spend,
            conversions=conversions.quantize(CENT, rounding=ROUND_HALF_UP),
            conversion_value=value.quantize(CENT, rounding=ROUND_HALF_UP),
            currency=str(item.get("account_currency") or ""),
        )


def _after_cursor(paging: dict) -> str:
    cursors = paging.get("cursors") or {}
    if cursors.get("after"):
        return str(cursors["after"])
    # Some edges give only `next`; its `after` parameter is the same cursor.
    values = parse_qs(urlsplit(str(paging.get("next") or "")).query).get("after")
    return values[0] if values else ""


LINKEDIN_FIELDS = (
    "dateRange",
    "pivotValues",
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
)


def _restli_date(day: dt.date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


class LinkedInInsightsClient(PlatformAdapter):
    name = "linkedin"
    display_name = "LinkedIn Ads"

    def campaign_insights(
        self, *, campaign_id: str, token: str, since: dt.date, until: dt.date, objective: str
    ) -> Iterator[InsightRow]:
        urn = (
            campaign_id
            if campaign_id.startswith("urn:")
            else (f"urn:li:sponsoredCampaign:{campaign_id}")
        )
        # Rest.li 2.0 syntax: the parentheses and commas must reach LinkedIn as they are, and
        # only the URN inside List(...) is encoded, so the query string is built by hand.
        query = "&".join(
            [
                "q=analytics",
                "pivot=CAMPAIGN",
                "timeGranularity=DAILY",
                f"dateRange=(start:{_restli_date(since)},end:{_restli_date(until)})",
                f"campaigns=List({quote(urn, safe='')})",
                f"fields={','.join(LINKEDIN_FIELDS)}",
            ]
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        response = self._request(
            "GET", f"{API_URL}/adAnalytics?{query}", sent_is_unknown=False, headers=headers
        )
        if response.status_code >= 400:
            raise linkedin_error(response, write=False)
        for item in linkedin_json(response).get("elements") or ():
            start = (item.get("dateRange") or {}).get("start") or {}
            try:
                day = dt.date(int(start["year"]), int(start["month"]), int(start["day"]))
            except (KeyError, TypeError, ValueError):
                raise TransientError("LinkedIn sent an analytics row without a date.") from None
            yield InsightRow(
                date=day,
                impressions=_int(item.get("impressions"), field="impressions"),
                clicks=_int(item.get("clicks"), field="clicks"),
                spend=_money(item.get("costInLocalCurrency"), field="costInLocalCurrency"),
                conversions=_money(
                    item.get("externalWebsiteConversions"), field="externalWebsiteConversions"
                ),
                conversion_value=_money(
                    item.get("conversionValueInLocalCurrency"),
                    field="conversionValueInLocalCurrency",
                ),
            )
