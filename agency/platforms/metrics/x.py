"""X: follower counts and per-post metrics, many posts a request."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms import get_adapter
from agency.platforms.metrics.common import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    _int,
    _json_object,
    _today_only,
    _zeros,
)

if TYPE_CHECKING:
    from agency.models import SocialAccount

# Followers: GET /2/users/me?user.fields=public_metrics.
# https://docs.x.com/x-api/users/get-my-user
# Posts: GET /2/tweets?ids=...&tweet.fields=public_metrics,non_public_metrics (up to 100 ids).
# Non-public metrics (the author's impressions, link and profile clicks) exist for the account's
# own posts of the last 30 days only, so older posts are asked for public metrics alone.
# https://docs.x.com/x-api/fundamentals/metrics
X_POSTS_PER_REQUEST = 100
X_NON_PUBLIC_DAYS = 29


def _x_get(account: SocialAccount, path: str, params: dict) -> dict:
    from agency.platforms import x

    adapter = get_adapter(Platform.X)
    response = adapter._request(
        "GET",
        f"{x.API}/{path}",
        params=params,
        headers=adapter._auth(account),
        sent_is_unknown=False,
    )
    if response.status_code != 200:
        adapter._raise_for(response, sent=False)
    return _json_object(adapter, response)


def _x_account(account: SocialAccount, day: date) -> dict:
    """X counts followers; it has no account-level impressions or reach in its API."""
    _today_only(account, day, "follower counts")
    body = _x_get(account, "users/me", {"user.fields": "public_metrics"})
    metrics = (body.get("data") or {}).get("public_metrics") or {}
    return _zeros(ACCOUNT_FIELDS) | {"followers": _int(metrics.get("followers_count"))}


def _x_posts(targets: list, day: date) -> dict:
    """Totals of one account's posts: impressions from the non-public metrics where X gives them
    (else the public impression_count), engagements are likes, reposts, replies, quotes,
    bookmarks and link clicks."""
    from django.utils import timezone

    account = targets[0].account
    _today_only(account, day, "post totals")
    results: dict = {}
    by_id = {}
    for target in targets:
        if target.external_id:
            by_id.setdefault(target.external_id, []).append(target)
        else:
            results[target.pk] = _zeros(POST_FIELDS)
    recent_since = timezone.now() - timedelta(days=X_NON_PUBLIC_DAYS)
    recent = [i for i, ts in by_id.items() if (ts[0].published_at or recent_since) >= recent_since]
    older = [i for i in by_id if i not in recent]
    found: dict = {}
    for ids, fields in ((recent, "public_metrics,non_public_metrics"), (older, "public_metrics")):
        for start in range(0, len(ids), X_POSTS_PER_REQUEST):
            chunk = ids[start : start + X_POSTS_PER_REQUEST]
            body = _x_get(account, "tweets", {"ids": ",".join(chunk), "tweet.fields": fields})
            for post in body.get("data") or []:
                if isinstance(post, dict) and post.get("id"):
                    found[str(post["id"])] = post
    for post_id, group in by_id.items():
        post = found.get(post_id)
        values = _zeros(POST_FIELDS) if post is None else _x_post_values(post)
        for target in group:
            # A deleted post is listed under `errors`, not `data`: it has nothing any more.
            results[target.pk] = values
    return results


def _x_post_values(post: dict) -> dict:
    public = post.get("public_metrics") or {}
    private = post.get("non_public_metrics") or {}
    link_clicks = _int(private.get("url_link_clicks"))
    engagements = link_clicks + sum(
        _int(public.get(name))
        for name in ("like_count", "retweet_count", "reply_count", "quote_count", "bookmark_count")
    )
    return _zeros(POST_FIELDS) | {
        "impressions": _int(private.get("impression_count") or public.get("impression_count")),
        "engagements": engagements,
        "link_clicks": link_clicks,
    }
