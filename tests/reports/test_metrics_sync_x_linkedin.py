"""The brand's daily metrics sync on X and LinkedIn accounts, with replayed platform answers: one
request reads all of an account's recent posts, and the snapshots land per post and day."""

from datetime import UTC, datetime, timedelta

import responses
from django.utils import timezone

from agency.models import Platform
from reports.models import AccountMetricsDaily, PostMetricsDaily
from reports.services import metrics_sync_brand
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

X_API = "https://api.x.com/2"


def published(account, tweet_id, days_ago):
    return PostTargetFactory(
        post=PostFactory(brand=account.brand),
        account=account,
        state="published",
        external_id=tweet_id,
        published_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


@responses.activate
def test_x_brand_sync_reads_every_recent_post_in_one_request_and_stores_today(brand):
    """GET /2/users/me (public_metrics) and GET /2/tweets?ids=... (public and non-public
    metrics). https://docs.x.com/x-api/users/get-my-user
    https://docs.x.com/x-api/fundamentals/metrics"""
    brand.time_zone = "UTC"
    brand.save()
    x = SocialAccountFactory(brand=brand, platform=Platform.X, access_token="x-token")
    first = published(x, "1900000000000000001", days_ago=3)
    second = published(x, "1900000000000000002", days_ago=1)
    responses.get(
        f"{X_API}/users/me",
        json={"data": {"id": "1", "username": "acme", "public_metrics": {"followers_count": 77}}},
    )

    def post(post_id, likes):
        return {
            "id": post_id,
            "text": "Hello",
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": likes,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 100,
            },
            "non_public_metrics": {
                "impression_count": 120,
                "url_link_clicks": 2,
                "user_profile_clicks": 1,
            },
        }

    responses.get(
        f"{X_API}/tweets",
        json={
            "data": [post("1900000000000000001", 5), post("1900000000000000002", 9)],
        },
    )

    counts = metrics_sync_brand(brand=brand, days=[timezone.localdate(timezone=UTC)])

    assert counts == {"accounts": 1, "posts": 2, "skipped": 0}
    tweets_calls = [c for c in responses.calls if "/2/tweets" in c.request.url]
    assert len(tweets_calls) == 1
    assert AccountMetricsDaily.objects.get(account=x).followers == 77
    assert PostMetricsDaily.objects.get(target=first).engagements == 7  # 5 likes + 2 clicks
    assert PostMetricsDaily.objects.get(target=second).impressions == 120


def test_yesterday_of_x_is_skipped_not_faked(brand):
    """X tells totals as they are now; storing them under yesterday would fake a history."""
    brand.time_zone = "UTC"
    brand.save()
    x = SocialAccountFactory(brand=brand, platform=Platform.X)
    published(x, "1900000000000000001", days_ago=3)
    yesterday = timezone.localdate(timezone=UTC) - timedelta(days=1)

    counts = metrics_sync_brand(brand=brand, days=[yesterday])

    assert counts == {"accounts": 0, "posts": 0, "skipped": 2}
    assert not PostMetricsDaily.objects.exists()
