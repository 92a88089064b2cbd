"""Organic metrics of accounts and published posts, one dispatch for every network.

    from agency.platforms.metrics import fetch_account_metrics, fetch_post_metrics
    fetch_account_metrics(account, day)  # {"followers", "impressions", "reach", ...} of that day
    fetch_post_metrics(target, day)      # cumulative totals of the post as of that day

Every network is read through its API, with the adapters' HTTP plumbing (timeouts, typed
errors: an expired token is AuthExpired, throttling is RateLimited). What a network cannot give
raises MetricsNotSupported, which the sync counts as "skipped" instead of failing the brand.
Every read here runs under `secrets_scrubbed`: a sync stores, logs and audits the errors' words,
and platforms echo the request's token in them. What a network cannot give, in short:
- X gives follower counts and per-post public metrics (non-public ones, with link clicks and the
  author's own impressions, for posts of the last 30 days), but no account-level day totals; its
  read endpoints need a paid API tier.
- LinkedIn gives organization pages' follower counts and share statistics (the Community
  Management API, rw_organization_admin as an ADMINISTRATOR of the page); a member's own
  profile has no analytics there.

`fetch_posts_metrics` reads many posts at once where the network allows it (X: 100 ids a request,
LinkedIn: a List of share URNs), so a brand's daily sync costs one request per account, not one
per post.

The networks report a post's lifetime totals as they are now, not as of a past day, so
`fetch_post_metrics` stores today's totals under `day`; syncs run for the current day.

The sandbox's numbers are derived from the object's id and the date alone (no randomness that
changes between calls), so syncing the same day twice stores the same values: re-syncs,
backfills and tests are repeatable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms.errors import PlatformError, secrets_scrubbed
from agency.platforms.metrics.common import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    MetricsNotSupported,
    _unsupported,
)
from agency.platforms.metrics.fediverse import (
    _bluesky_account,
    _bluesky_post,
    _mastodon_account,
    _mastodon_post,
)
from agency.platforms.metrics.linkedin import _linkedin_account, _linkedin_posts
from agency.platforms.metrics.meta import (
    _facebook_account,
    _facebook_post,
    _instagram_account,
    _instagram_post,
)
from agency.platforms.metrics.sandbox import _sandbox_account, _sandbox_post
from agency.platforms.metrics.x import _x_account, _x_posts

if TYPE_CHECKING:
    from agency.models import SocialAccount
    from calendar_app.models import PostTarget


def fetch_account_metrics(account: SocialAccount, day: date) -> dict:
    """One day of an account: followers at the end of the day, and the day's impressions, reach,
    engagements, profile views and link clicks."""
    reader = _ACCOUNT_READERS.get(account.platform)
    if reader is not None:
        with secrets_scrubbed(account):
            return reader(account, day)
    raise MetricsNotSupported(_unsupported(account.platform, "account metrics"))


def fetch_post_metrics(target: PostTarget, day: date) -> dict:
    """Cumulative impressions, reach, engagements, link clicks and video views (None when the
    post has no video) of one published target, as of the end of `day`."""
    reader = _POST_READERS.get(target.account.platform)
    if reader is not None:
        with secrets_scrubbed(target.account):
            return reader(target, day)
    if target.account.platform in _POST_BATCH_READERS:
        found = fetch_posts_metrics([target], day)[target.pk]
        if isinstance(found, PlatformError):
            raise found
        return found
    raise MetricsNotSupported(_unsupported(target.account.platform, "post metrics"))


def fetch_posts_metrics(targets, day: date) -> dict:
    """{target pk: totals dict, or the PlatformError that target got} for many published
    targets at once: one request per account and batch where the network reads posts in bulk,
    one per target elsewhere. A failure is reported per target, never raised."""
    results: dict = {}
    groups: dict = {}
    for target in targets:
        groups.setdefault((target.account.platform, target.account_id), []).append(target)
    for (platform, _), group in groups.items():
        batch = _POST_BATCH_READERS.get(platform)
        if batch is not None:
            try:
                with secrets_scrubbed(group[0].account):
                    results.update(batch(group, day))
            except PlatformError as exc:
                results.update(dict.fromkeys((t.pk for t in group), exc))
            continue
        for target in group:
            try:
                results[target.pk] = fetch_post_metrics(target, day)
            except PlatformError as exc:
                results[target.pk] = exc
    return results


_ACCOUNT_READERS: dict[str, Callable[[SocialAccount, date], dict]] = {
    Platform.SANDBOX: _sandbox_account,
    Platform.FACEBOOK: _facebook_account,
    Platform.INSTAGRAM: _instagram_account,
    Platform.MASTODON: _mastodon_account,
    Platform.BLUESKY: _bluesky_account,
    Platform.X: _x_account,
    Platform.LINKEDIN: _linkedin_account,
}
_POST_READERS: dict[str, Callable[[PostTarget, date], dict]] = {
    Platform.SANDBOX: _sandbox_post,
    Platform.FACEBOOK: _facebook_post,
    Platform.INSTAGRAM: _instagram_post,
    Platform.MASTODON: _mastodon_post,
    Platform.BLUESKY: _bluesky_post,
}
# Networks that read many posts of one account in one request: (targets of one account, day)
# -> {target pk: totals}.
_POST_BATCH_READERS: dict[str, Callable[[list, date], dict]] = {
    Platform.X: _x_posts,
    Platform.LINKEDIN: _linkedin_posts,
}


__all__ = [
    "ACCOUNT_FIELDS",
    "POST_FIELDS",
    "MetricsNotSupported",
    "fetch_account_metrics",
    "fetch_post_metrics",
    "fetch_posts_metrics",
]
