"""Facebook Pages and Instagram, through the Graph API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms import get_adapter
from agency.platforms.errors import AuthExpired
from agency.platforms.metrics.common import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    _int,
    _summed,
    _today_only,
    _zeros,
)

if TYPE_CHECKING:
    from agency.models import SocialAccount
    from calendar_app.models import PostTarget


def _graph_values(body: dict) -> dict:
    """{metric name: value} of a Graph API insights answer.

    A metric comes either as `values` (one per period; with since/until the first one is the
    since day's) or, for Instagram's metric_type=total_value, as `total_value.value`. Missing
    metrics are absent; a value may be a number or a {breakdown: number} object.
    """
    found = {}
    for entry in body.get("data") or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        if isinstance(entry.get("total_value"), dict):
            found[entry["name"]] = entry["total_value"].get("value")
        elif entry.get("values"):
            first = entry["values"][0]
            found[entry["name"]] = first.get("value") if isinstance(first, dict) else None
    return found


def _graph_token(account: SocialAccount) -> tuple[str, str]:
    if not account.access_token or not account.external_id:
        label = Platform(account.platform).label
        raise AuthExpired(f"{label}: the account is not connected (no id or token).")
    return account.access_token, account.external_id


def _day_window(day: date) -> dict:
    # Graph API: "the first end_time value will be the date specified by since plus 1", i.e. the
    # first value returned holds the `since` day.
    return {
        "period": "day",
        "since": day.isoformat(),
        "until": (day + timedelta(days=1)).isoformat(),
    }


# Facebook retired page_impressions, page_impressions_unique and page_fans (November 2025) for
# the media-view metrics and page_follows. There is no page-level link click metric any more.
# Checked against https://developers.facebook.com/docs/platforminsights/page/deprecated-metrics
# and the changelogs up to v25.0 (which retires more reach and impression metrics with v26.0,
# none of the names below).
FACEBOOK_PAGE_METRICS = (
    "page_media_view",
    "page_total_media_view_unique",
    "page_post_engagements",
    "page_follows",
    "page_views_total",
)
FACEBOOK_POST_METRICS = (
    "post_media_view",
    "post_total_media_view_unique",
    "post_clicks_by_type",
    "post_reactions_by_type_total",
    "post_video_views",
)


def _facebook_account(account: SocialAccount, day: date) -> dict:
    """Page Insights of one day, with the Page token.
    https://developers.facebook.com/docs/graph-api/reference/insights"""
    token, page_id = _graph_token(account)
    adapter = get_adapter(Platform.FACEBOOK)
    body = adapter._graph(
        "GET",
        f"{page_id}/insights",
        token=token,
        write=False,
        params={"metric": ",".join(FACEBOOK_PAGE_METRICS), **_day_window(day)},
    )
    found = _graph_values(body)
    return _zeros(ACCOUNT_FIELDS) | {
        "followers": _int(found.get("page_follows")),
        "impressions": _int(found.get("page_media_view")),
        "reach": _int(found.get("page_total_media_view_unique")),
        "engagements": _int(found.get("page_post_engagements")),
        "profile_views": _int(found.get("page_views_total")),
    }


def _facebook_post(target: PostTarget, day: date) -> dict:
    """Lifetime insights of a Page post: engagements are its reactions plus its clicks.
    https://developers.facebook.com/docs/graph-api/reference/insights#post-metrics"""
    account = target.account
    _today_only(account, day, "post totals")
    token, _ = _graph_token(account)
    if not target.external_id:
        return _zeros(POST_FIELDS)
    body = get_adapter(Platform.FACEBOOK)._graph(
        "GET",
        f"{target.external_id}/insights",
        token=token,
        write=False,
        params={"metric": ",".join(FACEBOOK_POST_METRICS), "period": "lifetime"},
    )
    found = _graph_values(body)
    clicks = found.get("post_clicks_by_type")
    link_clicks = clicks.get("link clicks") if isinstance(clicks, dict) else None
    video_views = found.get("post_video_views")
    return {
        "impressions": _int(found.get("post_media_view")),
        "reach": _int(found.get("post_total_media_view_unique")),
        "engagements": _summed(found.get("post_reactions_by_type_total")) + _summed(clicks),
        "link_clicks": _int(link_clicks),
        # A post without a video has no video views rather than zero of them.
        "video_views": _int(video_views) if video_views else None,
    }


# Instagram retired `impressions` (April 2025) for `views`; the account metrics other than reach
# answer only with metric_type=total_value. profile_views and website_clicks are no longer
# supported (v21.0, all versions from January 8, 2025), and one invalid metric fails the whole
# request, so they are not asked for: profile views and link clicks are 0 for Instagram. Its
# profile_links_taps counts the contact buttons (call, email, directions), not the website link.
# https://developers.facebook.com/docs/graph-api/changelog/version21.0/
# https://developers.facebook.com/docs/graph-api/changelog/version22.0
INSTAGRAM_ACCOUNT_METRICS = ("reach", "views", "total_interactions")
INSTAGRAM_MEDIA_METRICS = ("reach", "views", "likes", "comments", "saved", "shares")
# "(#10) Not enough viewers for the media to show insights": no numbers yet, not a lost permission.
NOT_ENOUGH_VIEWERS = "not enough viewers"


def _instagram_account(account: SocialAccount, day: date) -> dict:
    """Followers from the IG User, the day's numbers from its insights.
    https://developers.facebook.com/docs/instagram-platform/api-reference/instagram-user/insights
    https://developers.facebook.com/docs/instagram-platform/reference/instagram-user"""
    _today_only(account, day, "follower counts")
    token, user_id = _graph_token(account)
    adapter = get_adapter(Platform.INSTAGRAM)
    user = adapter._graph(
        "GET", user_id, token=token, write=False, params={"fields": "followers_count"}
    )
    body = adapter._graph(
        "GET",
        f"{user_id}/insights",
        token=token,
        write=False,
        params={
            "metric": ",".join(INSTAGRAM_ACCOUNT_METRICS),
            "metric_type": "total_value",
            **_day_window(day),
        },
    )
    found = _graph_values(body)
    return {
        "followers": _int(user.get("followers_count")),
        "impressions": _int(found.get("views")),
        "reach": _int(found.get("reach")),
        "engagements": _int(found.get("total_interactions")),
        "profile_views": 0,
        "link_clicks": 0,
    }


def _instagram_post(target: PostTarget, day: date) -> dict:
    """Lifetime insights of one media; engagements are likes, comments, saves and shares.
    https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights"""
    account = target.account
    _today_only(account, day, "post totals")
    token, _ = _graph_token(account)
    if not target.external_id:
        return _zeros(POST_FIELDS)
    try:
        body = get_adapter(Platform.INSTAGRAM)._graph(
            "GET",
            f"{target.external_id}/insights",
            token=token,
            write=False,
            params={"metric": ",".join(INSTAGRAM_MEDIA_METRICS)},
        )
    except AuthExpired as exc:
        if NOT_ENOUGH_VIEWERS in exc.message.lower():
            return _zeros(POST_FIELDS)
        raise
    found = _graph_values(body)
    return {
        "impressions": _int(found.get("views")),
        "reach": _int(found.get("reach")),
        "engagements": sum(
            _int(found.get(name)) for name in ("likes", "comments", "saved", "shares")
        ),
        # Instagram reports no link clicks per media, and retired video_views for `views`.
        "link_clicks": 0,
        "video_views": None,
    }
