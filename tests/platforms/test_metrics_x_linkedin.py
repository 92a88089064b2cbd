"""Organic metrics of X and LinkedIn, against answers replayed with `responses` in the shapes
their documentation shows. Expected numbers are the sums or picks of the replayed values."""

from datetime import UTC, date, datetime, timedelta

import pytest
import responses
from django.utils import timezone
from responses import matchers

from agency.models import Brand, Platform, SocialAccount
from agency.platforms.errors import AuthExpired, RateLimited
from agency.platforms.linkedin import LINKEDIN_VERSION
from agency.platforms.metrics import (
    fetch_account_metrics,
    fetch_post_metrics,
    fetch_posts_metrics,
)
from calendar_app.models import PostTarget

X_API = "https://api.x.com/2"
LI_API = "https://api.linkedin.com/rest"
ORG = "urn%3Ali%3Aorganization%3A2414183"


def account(platform, **fields):
    brand = Brand(name="Acme", time_zone="UTC")
    defaults = {"handle": "acme", "external_id": "2414183", "access_token": "secret-token"}
    return SocialAccount(brand=brand, platform=platform, **(defaults | fields))


_pk = iter(range(1, 10**6))


def target(acc, external_id, *, age_days=2):
    return PostTarget(
        pk=next(_pk),
        account=acc,
        external_id=external_id,
        published_at=timezone.now() - timedelta(days=age_days),
    )


def today():
    return timezone.localdate(timezone=UTC)


# -- X -------------------------------------------------------------------------------------------


@responses.activate
def test_x_followers_come_from_the_users_public_metrics():
    """GET /2/users/me?user.fields=public_metrics.
    https://docs.x.com/x-api/users/get-my-user"""
    responses.get(
        f"{X_API}/users/me",
        match=[
            matchers.query_param_matcher({"user.fields": "public_metrics"}),
            matchers.header_matcher({"Authorization": "Bearer secret-token"}),
        ],
        json={
            "data": {
                "id": "2244994945",
                "name": "Acme",
                "username": "acme",
                "public_metrics": {
                    "followers_count": 5120,
                    "following_count": 210,
                    "tweet_count": 3400,
                    "listed_count": 12,
                    "like_count": 880,
                },
            }
        },
    )
    assert fetch_account_metrics(account(Platform.X), today()) == {
        "followers": 5120,
        "impressions": 0,  # X has no account-level impressions or reach in its API
        "reach": 0,
        "engagements": 0,
        "profile_views": 0,
        "link_clicks": 0,
    }


def x_post(post_id, *, public, non_public=None):
    """A Post with public_metrics (and non_public_metrics for the author's recent posts).
    https://docs.x.com/x-api/fundamentals/metrics"""
    post = {"id": post_id, "text": "Spring menu", "edit_history_tweet_ids": [post_id]}
    post["public_metrics"] = public
    if non_public is not None:
        post["non_public_metrics"] = non_public
    return post


PUBLIC = {
    "retweet_count": 4,
    "reply_count": 3,
    "like_count": 40,
    "quote_count": 1,
    "bookmark_count": 2,
    "impression_count": 1500,
}


@responses.activate
def test_x_reads_many_posts_in_one_request_with_non_public_metrics_for_recent_ones():
    """GET /2/tweets?ids=...&tweet.fields=public_metrics,non_public_metrics; non-public metrics
    exist for the last 30 days only. https://docs.x.com/x-api/fundamentals/metrics
    https://docs.x.com/x-api/posts/get-posts-by-ids"""
    acc = account(Platform.X)
    recent = [target(acc, "1900000000000000001"), target(acc, "1900000000000000002")]
    old = target(acc, "1800000000000000009", age_days=45)
    responses.get(
        f"{X_API}/tweets",
        match=[
            matchers.query_param_matcher(
                {
                    "ids": "1900000000000000001,1900000000000000002",
                    "tweet.fields": "public_metrics,non_public_metrics",
                }
            )
        ],
        json={
            "data": [
                x_post(
                    "1900000000000000001",
                    public=PUBLIC,
                    non_public={
                        "impression_count": 1620,
                        "url_link_clicks": 35,
                        "user_profile_clicks": 9,
                    },
                )
            ],
            # A deleted post comes back as an error, not as data.
            "errors": [
                {
                    "value": "1900000000000000002",
                    "detail": "Could not find tweet with ids: [1900000000000000002].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": "1900000000000000002",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ],
        },
    )
    responses.get(
        f"{X_API}/tweets",
        match=[
            matchers.query_param_matcher(
                {"ids": "1800000000000000009", "tweet.fields": "public_metrics"}
            )
        ],
        json={"data": [x_post("1800000000000000009", public=PUBLIC)]},
    )

    found = fetch_posts_metrics([*recent, old], today())

    assert len(responses.calls) == 2
    assert found[recent[0].pk] == {
        "impressions": 1620,  # the author's own count where X gives it
        "reach": 0,
        "engagements": 85,  # 40 + 4 + 3 + 1 + 2 + 35 link clicks
        "link_clicks": 35,
        "video_views": None,
    }
    assert found[recent[1].pk]["impressions"] == 0
    assert found[old.pk] == {
        "impressions": 1500,
        "reach": 0,
        "engagements": 50,  # 40 + 4 + 3 + 1 + 2
        "link_clicks": 0,
        "video_views": None,
    }


@responses.activate
def test_x_post_totals_one_at_a_time_use_the_same_reader():
    """https://docs.x.com/x-api/fundamentals/metrics"""
    acc = account(Platform.X)
    responses.get(
        f"{X_API}/tweets",
        json={"data": [x_post("1900000000000000001", public=PUBLIC)]},
    )
    assert fetch_post_metrics(target(acc, "1900000000000000001"), today())["engagements"] == 50


@responses.activate
def test_x_throttled_metrics_read_is_reported_per_target_not_raised():
    """429 with x-rate-limit-reset. https://docs.x.com/x-api/fundamentals/rate-limits"""
    acc = account(Platform.X)
    posts = [target(acc, "1900000000000000001"), target(acc, "1900000000000000002")]
    responses.get(
        f"{X_API}/tweets",
        status=429,
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1900000000"},
    )
    found = fetch_posts_metrics(posts, today())
    assert all(isinstance(found[p.pk], RateLimited) for p in posts)


# -- LinkedIn ------------------------------------------------------------------------------------

LI_HEADERS = matchers.header_matcher(
    {
        "Authorization": "Bearer secret-token",
        "LinkedIn-Version": LINKEDIN_VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
)


def share_statistics(**stats):
    """totalShareStatistics of an organizationalEntityShareStatistics element.
    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics
    """
    base = {
        "uniqueImpressionsCount": 0,
        "shareCount": 0,
        "engagement": 0.0,
        "clickCount": 0,
        "likeCount": 0,
        "impressionCount": 0,
        "commentCount": 0,
    }
    return base | stats


@responses.activate
def test_linkedin_page_day_has_the_days_share_statistics_and_todays_followers():
    """Time-bound share statistics (timeIntervals, DAY) and the follower count from
    networkSizes. https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics
    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    """
    day = today()
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    end = start + 86_400_000
    responses.get(
        f"{LI_API}/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={ORG}"
        f"&timeIntervals=(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)",
        match=[LI_HEADERS],
        json={
            "paging": {"count": 10, "start": 0, "links": []},
            "elements": [
                {
                    "organizationalEntity": "urn:li:organization:2414183",
                    "timeRange": {"start": start, "end": end},
                    "totalShareStatistics": share_statistics(
                        uniqueImpressionsCount=910,
                        shareCount=3,
                        engagement=0.05,
                        clickCount=48,
                        likeCount=37,
                        impressionCount=1490,
                        commentCount=6,
                    ),
                }
            ],
        },
    )
    responses.get(
        f"{LI_API}/networkSizes/{ORG}?edgeType=COMPANY_FOLLOWED_BY_MEMBER",
        match=[LI_HEADERS],
        json={"firstDegreeSize": 18446},
    )

    assert fetch_account_metrics(account(Platform.LINKEDIN), day) == {
        "followers": 18446,
        "impressions": 1490,
        "reach": 910,
        "engagements": 94,  # 37 likes + 6 comments + 3 reshares + 48 clicks
        "profile_views": 0,
        "link_clicks": 48,
    }
    # The Rest.li query went out exactly as built: URNs encoded, the List syntax left alone.
    assert "timeIntervals=(timeRange:(start:" in responses.calls[0].request.url


@responses.activate
def test_linkedin_past_day_keeps_its_statistics_without_a_follower_count():
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics"""
    responses.get(
        f"{LI_API}/organizationalEntityShareStatistics",
        json={"elements": [{"totalShareStatistics": share_statistics(impressionCount=700)}]},
    )
    day = today() - timedelta(days=3)
    values = fetch_account_metrics(account(Platform.LINKEDIN), day)
    assert values["impressions"] == 700
    assert values["followers"] is None  # LinkedIn tells the count as it is now only
    assert len(responses.calls) == 1


@responses.activate
def test_linkedin_posts_are_read_in_one_request_by_share_and_ugc_post_urn():
    """shares=List(...) and ugcPosts=List(...) of encoded URNs; one element per post.
    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics
    """
    acc = account(Platform.LINKEDIN)
    share = target(acc, "urn:li:share:7015970832908775123")
    ugc = target(acc, "urn:li:ugcPost:7016000000000000000")
    responses.get(
        f"{LI_API}/organizationalEntityShareStatistics?q=organizationalEntity"
        f"&organizationalEntity={ORG}"
        "&shares=List(urn%3Ali%3Ashare%3A7015970832908775123)"
        "&ugcPosts=List(urn%3Ali%3AugcPost%3A7016000000000000000)",
        match=[LI_HEADERS],
        json={
            "paging": {"count": 10, "start": 0, "links": []},
            "elements": [
                {
                    "organizationalEntity": "urn:li:organization:2414183",
                    "share": "urn:li:share:7015970832908775123",
                    "totalShareStatistics": share_statistics(
                        uniqueImpressionsCount=420,
                        clickCount=12,
                        likeCount=20,
                        impressionCount=610,
                        commentCount=2,
                        shareCount=1,
                    ),
                },
                {
                    "organizationalEntity": "urn:li:organization:2414183",
                    "ugcPost": "urn:li:ugcPost:7016000000000000000",
                    "totalShareStatistics": share_statistics(impressionCount=90),
                },
            ],
        },
    )

    found = fetch_posts_metrics([share, ugc], today())

    assert len(responses.calls) == 1
    assert found[share.pk] == {
        "impressions": 610,
        "reach": 420,
        "engagements": 35,  # 20 + 2 + 1 + 12 clicks
        "link_clicks": 12,
        "video_views": None,
    }
    assert found[ugc.pk]["impressions"] == 90


@responses.activate
def test_linkedin_without_the_admin_permission_asks_to_reconnect():
    """403 for a member who is not an ADMINISTRATOR of the page.
    https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling"""
    responses.get(
        f"{LI_API}/organizationalEntityShareStatistics",
        status=403,
        json={"status": 403, "serviceErrorCode": 100, "message": "Not enough permissions"},
    )
    with pytest.raises(AuthExpired):
        fetch_account_metrics(account(Platform.LINKEDIN), date(2025, 3, 10))
