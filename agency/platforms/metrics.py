"""Organic metrics of accounts and published posts, one dispatch for every network.

    from agency.platforms.metrics import fetch_account_metrics, fetch_post_metrics
    fetch_account_metrics(account, day)  # {"followers", "impressions", "reach", ...} of that day
    fetch_post_metrics(target, day)      # cumulative totals of the post as of that day

Facebook, Instagram, Mastodon and Bluesky are read through their APIs, with the adapters'
HTTP plumbing (timeouts, typed errors: an expired token is AuthExpired, throttling is
RateLimited). X and LinkedIn raise MetricsNotSupported, which the sync counts as "skipped"
instead of failing the whole brand: X sells post and account metrics only on its paid API tiers,
and LinkedIn gives organization analytics only to apps approved for the Community Management
API (r_organization_social / rw_organization_admin), which this app does not hold yet.

The networks report a post's lifetime totals as they are now, not as of a past day, so
`fetch_post_metrics` stores today's totals under `day`; syncs run for the current day.

The sandbox's numbers are derived from the object's id and the date alone (no randomness that
changes between calls), so syncing the same day twice stores the same values: re-syncs,
backfills and tests are repeatable.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms import get_adapter
from agency.platforms.errors import (
    AuthExpired,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
)

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount
    from agency.platforms.base import PlatformAdapter
    from calendar_app.models import PostTarget

ACCOUNT_FIELDS = (
    "followers",
    "impressions",
    "reach",
    "engagements",
    "profile_views",
    "link_clicks",
)
POST_FIELDS = ("impressions", "reach", "engagements", "link_clicks", "video_views")

# Day zero of the sandbox's audiences: follower counts grow from here.
_EPOCH = date(2024, 1, 1)


class MetricsNotSupported(PlatformError):
    """Reading organic metrics from this network is not built yet."""


def fetch_account_metrics(account: SocialAccount, day: date) -> dict:
    """One day of an account: followers at the end of the day, and the day's impressions, reach,
    engagements, profile views and link clicks."""
    reader = _ACCOUNT_READERS.get(account.platform)
    if reader is not None:
        return reader(account, day)
    raise MetricsNotSupported(_unsupported(account.platform, "account metrics"))


def fetch_post_metrics(target: PostTarget, day: date) -> dict:
    """Cumulative impressions, reach, engagements, link clicks and video views (None when the
    post has no video) of one published target, as of the end of `day`."""
    reader = _POST_READERS.get(target.account.platform)
    if reader is not None:
        return reader(target, day)
    raise MetricsNotSupported(_unsupported(target.account.platform, "post metrics"))


def _unsupported(platform: str, what: str) -> str:
    label = Platform(platform).label if platform in Platform.values else platform
    return f"Reading {what} from {label} is not supported yet."


def _rng(*parts: object) -> random.Random:
    # sha256, not hash(): Python salts str hashes per process, which would change the numbers.
    seed = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return random.Random(int(seed[:16], 16))  # noqa: S311 - demo numbers, not security


def _sandbox_account(account: SocialAccount, day: date) -> dict:
    profile = _rng(account.pk)
    base = profile.randint(800, 6000)
    growth = profile.uniform(2.0, 15.0)  # new followers a day, on average
    days = max((day - _EPOCH).days, 0)
    today = _rng(account.pk, day.isoformat())
    followers = base + int(days * growth) + today.randint(0, int(growth))
    # Weekends are quieter; each day wobbles around the account's usual share of its audience.
    weekday_factor = 0.75 if day.weekday() >= 5 else 1.0
    impressions = int(followers * today.uniform(0.25, 0.9) * weekday_factor)
    reach = int(impressions * today.uniform(0.55, 0.85))
    engagements = int(reach * today.uniform(0.02, 0.08))
    return {
        "followers": followers,
        "impressions": impressions,
        "reach": reach,
        "engagements": engagements,
        "profile_views": int(reach * today.uniform(0.005, 0.03)),
        "link_clicks": int(engagements * today.uniform(0.05, 0.3)),
    }


def _sandbox_post(target: PostTarget, day: date) -> dict:
    published = target.published_at
    if published is None:
        return dict.fromkeys(POST_FIELDS[:-1], 0) | {"video_views": None}
    age = (day - published.astimezone(target.account.brand.zone).date()).days
    if age < 0:
        return dict.fromkeys(POST_FIELDS[:-1], 0) | {"video_views": None}
    post = _rng(target.pk)
    final_impressions = post.randint(300, 8000)
    reach_share = post.uniform(0.5, 0.85)
    engagement_share = post.uniform(0.01, 0.12)
    click_share = post.uniform(0.05, 0.25)
    # Most of a post's audience arrives in its first days: the share seen so far saturates.
    seen = 1 - 0.45 ** (age + 1)
    impressions = int(final_impressions * seen)
    reach = int(impressions * reach_share)
    engagements = int(reach * engagement_share)
    return {
        "impressions": impressions,
        "reach": reach,
        "engagements": engagements,
        "link_clicks": int(engagements * click_share),
        "video_views": None,
    }


# -- the networks ----------------------------------------------------------------------------------


def _zeros(fields: tuple[str, ...]) -> dict:
    values = dict.fromkeys(fields, 0)
    if "video_views" in values:
        values["video_views"] = None
    return values


def _today_only(account: SocialAccount, day: date, what: str) -> None:
    """Refuse a past day where the network only tells the state as it is now: storing today's
    number under an old date would fake a history (a backfill skips these instead)."""
    from django.utils import timezone

    if day != timezone.localdate(timezone=account.brand.zone):
        label = Platform(account.platform).label
        raise MetricsNotSupported(f"{label} gives only current {what}, not those of {day}.")


def _raise_for(adapter: PlatformAdapter, response: requests.Response) -> None:
    """The typed error of a failed read (Mastodon, Bluesky): nothing was changed, so a 5xx is
    worth another try rather than an unknown outcome."""
    status = response.status_code
    if status < 400:
        return
    label = getattr(adapter, "display_name", adapter.name)
    excerpt = response.text
    if status == 429:
        # Each network words its reset time its own way; the adapters' readers know how.
        from agency.platforms import bluesky, mastodon

        reader = mastodon._retry_after if adapter.name == "mastodon" else bluesky._retry_after
        raise RateLimited(
            reader(response),
            message=f"{label} is throttling metrics reads.",
            status=status,
            excerpt=excerpt,
        )
    if status == 401:
        raise AuthExpired(
            f"{label} no longer accepts this account's token.", status=status, excerpt=excerpt
        )
    if status >= 500:
        raise TransientError(f"{label} failed with {status}.", status=status, excerpt=excerpt)
    raise Rejected(
        f"{label} refused the metrics read (HTTP {status}).", status=status, excerpt=excerpt
    )


def _json_object(adapter: PlatformAdapter, response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        label = getattr(adapter, "display_name", adapter.name)
        raise TransientError(
            f"{label} answered with a body that is not a JSON object.",
            status=response.status_code,
            excerpt=response.text,
        )
    return body


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


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


def _summed(value) -> int:
    if isinstance(value, dict):
        return sum(_int(part) for part in value.values())
    return _int(value)


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
# answer only with metric_type=total_value.
INSTAGRAM_ACCOUNT_METRICS = (
    "reach",
    "views",
    "total_interactions",
    "profile_views",
    "website_clicks",
)
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
        "profile_views": _int(found.get("profile_views")),
        "link_clicks": _int(found.get("website_clicks")),
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


def _mastodon_account(account: SocialAccount, day: date) -> dict:
    """Mastodon counts followers and nothing else: no impressions or reach exist there.
    https://docs.joinmastodon.org/methods/accounts/#get"""
    _today_only(account, day, "follower counts")
    adapter = get_adapter(Platform.MASTODON)
    base, headers = adapter._server(account), adapter._auth(account)
    response = adapter._request(
        "GET",
        f"{base}/api/v1/accounts/{account.external_id}",
        headers=headers,
        sent_is_unknown=False,
    )
    _raise_for(adapter, response)
    body = _json_object(adapter, response)
    return _zeros(ACCOUNT_FIELDS) | {"followers": _int(body.get("followers_count"))}


def _mastodon_post(target: PostTarget, day: date) -> dict:
    """Favourites, boosts and replies of a status are its engagements.
    https://docs.joinmastodon.org/methods/statuses/#get"""
    account = target.account
    _today_only(account, day, "post totals")
    if not target.external_id:
        return _zeros(POST_FIELDS)
    adapter = get_adapter(Platform.MASTODON)
    base, headers = adapter._server(account), adapter._auth(account)
    response = adapter._request(
        "GET",
        f"{base}/api/v1/statuses/{target.external_id}",
        headers=headers,
        sent_is_unknown=False,
    )
    _raise_for(adapter, response)
    body = _json_object(adapter, response)
    engagements = sum(
        _int(body.get(name)) for name in ("favourites_count", "reblogs_count", "replies_count")
    )
    return _zeros(POST_FIELDS) | {"engagements": engagements}


def _bluesky_get(account: SocialAccount, nsid: str, params: dict) -> dict:
    """An authenticated XRPC read through the account's PDS (which proxies app.bsky.* to the
    AppView); the adapter opens the session and renews it once when it expired."""
    adapter = get_adapter(Platform.BLUESKY)
    pds = adapter._pds(account)
    response = adapter._call(account, pds, "GET", nsid, params=params, sent_is_unknown=False)
    _raise_for(adapter, response)
    return _json_object(adapter, response)


def _bluesky_account(account: SocialAccount, day: date) -> dict:
    """https://docs.bsky.app/docs/api/app-bsky-actor-get-profile"""
    _today_only(account, day, "follower counts")
    actor = account.external_id or account.handle.lstrip("@")
    body = _bluesky_get(account, "app.bsky.actor.getProfile", {"actor": actor})
    return _zeros(ACCOUNT_FIELDS) | {"followers": _int(body.get("followersCount"))}


def _bluesky_post(target: PostTarget, day: date) -> dict:
    """Likes, reposts, replies and quotes of the post are its engagements.
    https://docs.bsky.app/docs/api/app-bsky-feed-get-posts"""
    account = target.account
    _today_only(account, day, "post totals")
    if not target.external_id:
        return _zeros(POST_FIELDS)
    body = _bluesky_get(account, "app.bsky.feed.getPosts", {"uris": [target.external_id]})
    posts = [post for post in body.get("posts") or [] if isinstance(post, dict)]
    if not posts:
        # Deleted, or hidden by moderation: Bluesky lists nothing rather than failing.
        return _zeros(POST_FIELDS)
    post = posts[0]
    engagements = sum(
        _int(post.get(name)) for name in ("likeCount", "repostCount", "replyCount", "quoteCount")
    )
    return _zeros(POST_FIELDS) | {"engagements": engagements}


# X and LinkedIn are absent on purpose; see the module docstring.
_ACCOUNT_READERS: dict[str, Callable[[SocialAccount, date], dict]] = {
    Platform.SANDBOX: _sandbox_account,
    Platform.FACEBOOK: _facebook_account,
    Platform.INSTAGRAM: _instagram_account,
    Platform.MASTODON: _mastodon_account,
    Platform.BLUESKY: _bluesky_account,
}
_POST_READERS: dict[str, Callable[[PostTarget, date], dict]] = {
    Platform.SANDBOX: _sandbox_post,
    Platform.FACEBOOK: _facebook_post,
    Platform.INSTAGRAM: _instagram_post,
    Platform.MASTODON: _mastodon_post,
    Platform.BLUESKY: _bluesky_post,
}


__all__ = [
    "ACCOUNT_FIELDS",
    "POST_FIELDS",
    "MetricsNotSupported",
    "fetch_account_metrics",
    "fetch_post_metrics",
]
