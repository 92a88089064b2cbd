"""LinkedIn organization pages: follower counts and share statistics."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms import get_adapter
from agency.platforms.errors import AuthExpired
from agency.platforms.metrics.common import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    MetricsNotSupported,
    _int,
    _today_only,
    _zeros,
)

if TYPE_CHECKING:
    from agency.models import SocialAccount

# Organization pages only, through the Community Management API, with the LinkedIn-Version and
# X-Restli-Protocol-Version 2.0.0 headers of the adapter. Rest.li 2.0 wants URNs percent-encoded
# inside List(...) and the List syntax itself left as it is, so those query strings are built here
# rather than by requests.
# Followers: GET /rest/networkSizes/{organization urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER.
# https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
# Share statistics: GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&...,
# per day with timeIntervals, per post with shares=List(...) / ugcPosts=List(...); the last 12
# months only.
# https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics
LINKEDIN_POSTS_PER_REQUEST = 20


def _linkedin_org(account: SocialAccount) -> str:
    from agency.platforms.linkedin import author_urn

    if not account.access_token or not account.external_id:
        raise AuthExpired("LinkedIn: the account is not connected (no id or token).")
    urn = author_urn(account)
    if not urn.startswith("urn:li:organization:"):
        raise MetricsNotSupported(
            "LinkedIn gives analytics for organization pages only, not for a member's profile."
        )
    return urn


def _linkedin_get(account: SocialAccount, path_and_query: str) -> dict:
    from agency.platforms import linkedin

    adapter = get_adapter(Platform.LINKEDIN)
    response = adapter._call(
        "GET", f"{linkedin.API_URL}/{path_and_query}", account.access_token, write=False
    )
    return linkedin._json(response)


def _urn(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _share_totals(element: dict) -> dict:
    stats = element.get("totalShareStatistics") or {}
    clicks = _int(stats.get("clickCount"))
    return {
        "impressions": _int(stats.get("impressionCount")),
        "reach": _int(stats.get("uniqueImpressionsCount")),
        "engagements": clicks
        + sum(_int(stats.get(name)) for name in ("likeCount", "commentCount", "shareCount")),
        "link_clicks": clicks,
    }


def _linkedin_account(account: SocialAccount, day: date) -> dict:
    """The day's share statistics of the page (any day of the last 12 months, in UTC days);
    followers only for today, since LinkedIn tells the count as it is now."""
    from datetime import UTC, datetime

    from django.utils import timezone

    org = _linkedin_org(account)
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    end = start + 24 * 3600 * 1000
    body = _linkedin_get(
        account,
        "organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={_urn(org)}"
        f"&timeIntervals=(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)",
    )
    elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
    totals = _share_totals(elements[0]) if elements else _share_totals({})
    followers = None
    if day == timezone.localdate(timezone=account.brand.zone):
        size = _linkedin_get(
            account, f"networkSizes/{_urn(org)}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
        )
        followers = _int(size.get("firstDegreeSize"))
    return _zeros(ACCOUNT_FIELDS) | totals | {"followers": followers}


def _linkedin_posts(targets: list, day: date) -> dict:
    """Lifetime totals of one page's posts: impressions, unique impressions as reach, likes,
    comments, reshares and clicks as engagements, clicks as link clicks."""
    account = targets[0].account
    _today_only(account, day, "post totals")
    org = _linkedin_org(account)
    results: dict = {}
    urns: dict = {}
    for target in targets:
        if target.external_id.startswith(("urn:li:share:", "urn:li:ugcPost:")):
            urns.setdefault(target.external_id, []).append(target)
        else:
            results[target.pk] = _zeros(POST_FIELDS)
    found: dict = {}
    ids = list(urns)
    for begin in range(0, len(ids), LINKEDIN_POSTS_PER_REQUEST):
        chunk = ids[begin : begin + LINKEDIN_POSTS_PER_REQUEST]
        query = (
            "organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={_urn(org)}"
        )
        shares = [u for u in chunk if u.startswith("urn:li:share:")]
        ugc = [u for u in chunk if u.startswith("urn:li:ugcPost:")]
        if shares:
            query += f"&shares=List({','.join(_urn(u) for u in shares)})"
        if ugc:
            query += f"&ugcPosts=List({','.join(_urn(u) for u in ugc)})"
        for element in _linkedin_get(account, query).get("elements") or []:
            if isinstance(element, dict):
                urn = element.get("share") or element.get("ugcPost")
                if urn:
                    found[str(urn)] = element
    for urn, group in urns.items():
        element = found.get(urn)
        values = _zeros(POST_FIELDS) | (_share_totals(element) if element else {})
        for target in group:
            results[target.pk] = values
    return results
