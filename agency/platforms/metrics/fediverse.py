"""Mastodon and Bluesky: follower counts and public engagement counts, nothing per day."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms import get_adapter
from agency.platforms.metrics.common import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    _int,
    _json_object,
    _raise_for,
    _today_only,
    _zeros,
)

if TYPE_CHECKING:
    from agency.models import SocialAccount
    from calendar_app.models import PostTarget


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
