"""The sandbox's numbers: derived from the object's id and the date alone (no randomness that
changes between calls), so syncing the same day twice stores the same values."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import TYPE_CHECKING

from agency.platforms.metrics.common import POST_FIELDS

if TYPE_CHECKING:
    from agency.models import SocialAccount
    from calendar_app.models import PostTarget

# Day zero of the sandbox's audiences: follower counts grow from here.
_EPOCH = date(2024, 1, 1)


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
