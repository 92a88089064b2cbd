"""Organic metrics read from each network, against answers replayed with `responses`.

The numbers are hand-checked: each test's expected dict is the sum or pick of the replayed
values written next to it.
"""

from datetime import date

import pytest
import responses
from django.utils import timezone
from responses import matchers

from agency.models import Brand, Platform, SocialAccount
from agency.platforms.errors import AuthExpired, RateLimited
from agency.platforms.facebook import GRAPH_URL
from agency.platforms.metrics import (
    MetricsNotSupported,
    fetch_account_metrics,
    fetch_post_metrics,
)
from calendar_app.models import PostTarget

DAY = date(2025, 3, 10)
MASTODON = "https://mastodon.example"
PDS = "https://pds.example"
DID = "did:plc:abc123"


def make_account(platform, **fields):
    brand = Brand(name="Acme", time_zone="UTC")
    defaults = {"handle": "acme", "external_id": "1789", "access_token": "secret-token"}
    return SocialAccount(brand=brand, platform=platform, **(defaults | fields))


def make_target(account, external_id):
    return PostTarget(account=account, external_id=external_id)


def today():
    return timezone.localdate(timezone=timezone.get_fixed_timezone(0))


def graph_error(code, message="Error", status=400):
    return {
        "json": {"error": {"message": message, "type": "OAuthException", "code": code}},
        "status": status,
    }


# -- Facebook -----------------------------------------------------------------------------------


@responses.activate
def test_facebook_page_day_maps_page_insights():
    """https://developers.facebook.com/docs/graph-api/reference/insights (Page metrics; with
    since/until the first value holds the since day)."""
    account = make_account(Platform.FACEBOOK)

    def metric(name, value):
        return {
            "name": name,
            "period": "day",
            "values": [{"value": value, "end_time": "2025-03-11T07:00:00+0000"}],
            "id": f"1789/insights/{name}/day",
        }

    responses.get(
        f"{GRAPH_URL}/1789/insights",
        match=[
            matchers.query_param_matcher(
                {
                    "metric": "page_media_view,page_total_media_view_unique,"
                    "page_post_engagements,page_follows,page_views_total",
                    "period": "day",
                    "since": "2025-03-10",
                    "until": "2025-03-11",
                    "access_token": "secret-token",
                }
            )
        ],
        json={
            "data": [
                metric("page_media_view", 5120),
                metric("page_total_media_view_unique", 3400),
                metric("page_post_engagements", 212),
                metric("page_follows", 10450),
                # page_views_total absent: 0, as are link clicks (no Page-level metric).
            ]
        },
    )

    assert fetch_account_metrics(account, DAY) == {
        "followers": 10450,
        "impressions": 5120,
        "reach": 3400,
        "engagements": 212,
        "profile_views": 0,
        "link_clicks": 0,
    }


@responses.activate
def test_facebook_post_sums_reactions_and_clicks():
    """https://developers.facebook.com/docs/graph-api/reference/insights#post-metrics"""
    target = make_target(make_account(Platform.FACEBOOK), "1789_555")
    responses.get(
        f"{GRAPH_URL}/1789_555/insights",
        json={
            "data": [
                {"name": "post_media_view", "period": "lifetime", "values": [{"value": 900}]},
                {
                    "name": "post_total_media_view_unique",
                    "period": "lifetime",
                    "values": [{"value": 700}],
                },
                {
                    "name": "post_clicks_by_type",
                    "period": "lifetime",
                    "values": [{"value": {"link clicks": 12, "other clicks": 8}}],
                },
                {
                    "name": "post_reactions_by_type_total",
                    "period": "lifetime",
                    "values": [{"value": {"like": 30, "love": 5}}],
                },
                {"name": "post_video_views", "period": "lifetime", "values": [{"value": 0}]},
            ]
        },
    )

    # engagements: reactions 30 + 5, clicks 12 + 8 = 55; no video, so None.
    assert fetch_post_metrics(target, today()) == {
        "impressions": 900,
        "reach": 700,
        "engagements": 55,
        "link_clicks": 12,
        "video_views": None,
    }


@responses.activate
def test_facebook_expired_token_is_auth_expired():
    """Code 190: https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.get(f"{GRAPH_URL}/1789/insights", **graph_error(190, "Session has expired", 401))
    with pytest.raises(AuthExpired) as caught:
        fetch_account_metrics(make_account(Platform.FACEBOOK), DAY)
    assert "secret-token" not in str(caught.value)


# -- Instagram ----------------------------------------------------------------------------------


@responses.activate
def test_instagram_day_reads_followers_and_total_values():
    """https://developers.facebook.com/docs/instagram-platform/api-reference/instagram-user/insights
    and https://developers.facebook.com/docs/instagram-platform/reference/instagram-user"""
    account = make_account(Platform.INSTAGRAM, external_id="17841400")
    responses.get(
        f"{GRAPH_URL}/17841400",
        match=[matchers.query_param_matcher({"fields": "followers_count"}, strict_match=False)],
        json={"followers_count": 2480, "id": "17841400"},
    )

    def total(name, value):
        return {"name": name, "period": "day", "total_value": {"value": value}, "id": name}

    responses.get(
        f"{GRAPH_URL}/17841400/insights",
        match=[matchers.query_param_matcher({"metric_type": "total_value"}, strict_match=False)],
        json={
            "data": [
                {"name": "reach", "period": "day", "values": [{"value": 640}]},
                total("views", 1100),
                total("total_interactions", 73),
            ]
        },
    )

    assert fetch_account_metrics(account, today()) == {
        "followers": 2480,
        "impressions": 1100,
        "reach": 640,
        "engagements": 73,
        # profile_views and website_clicks are no longer supported (v21.0, all versions from
        # January 8, 2025): https://developers.facebook.com/docs/graph-api/changelog/version21.0/
        "profile_views": 0,
        "link_clicks": 0,
    }
    asked = responses.calls[1].request.url
    assert "profile_views" not in asked
    assert "website_clicks" not in asked
    assert "impressions" not in asked  # retired for views (v22.0)


@responses.activate
def test_instagram_media_engagements_are_likes_comments_saves_and_shares():
    """https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights"""
    target = make_target(make_account(Platform.INSTAGRAM), "18000111")

    def metric(name, value):
        return {"name": name, "period": "lifetime", "values": [{"value": value}]}

    responses.get(
        f"{GRAPH_URL}/18000111/insights",
        json={
            "data": [
                metric("reach", 510),
                metric("views", 830),
                metric("likes", 40),
                metric("comments", 6),
                metric("saved", 3),
                metric("shares", 2),
            ]
        },
    )

    assert fetch_post_metrics(target, today()) == {
        "impressions": 830,
        "reach": 510,
        "engagements": 51,  # 40 + 6 + 3 + 2
        "link_clicks": 0,
        "video_views": None,
    }


@responses.activate
def test_instagram_media_with_too_few_viewers_counts_zero():
    """Code 10 "Not enough viewers": the limitations of
    https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights"""
    target = make_target(make_account(Platform.INSTAGRAM), "18000111")
    responses.get(
        f"{GRAPH_URL}/18000111/insights",
        **graph_error(10, "(#10) Not enough viewers for the media to show insights"),
    )
    assert fetch_post_metrics(target, today())["engagements"] == 0


@responses.activate
def test_instagram_throttling_is_rate_limited():
    """Code 4: https://developers.facebook.com/docs/graph-api/overview/rate-limiting/"""
    responses.get(
        f"{GRAPH_URL}/1789",
        headers={"Retry-After": "120"},
        **graph_error(4, "Application request limit reached", 403),
    )
    with pytest.raises(RateLimited) as caught:
        fetch_account_metrics(make_account(Platform.INSTAGRAM), today())
    assert caught.value.retry_after == 120


# -- Mastodon -----------------------------------------------------------------------------------


def mastodon_account():
    return make_account(Platform.MASTODON, external_id="109302", instance_url=MASTODON + "/")


@responses.activate
def test_mastodon_account_has_followers_and_nothing_else():
    """https://docs.joinmastodon.org/methods/accounts/#get"""
    responses.get(
        f"{MASTODON}/api/v1/accounts/109302",
        match=[matchers.header_matcher({"Authorization": "Bearer secret-token"})],
        json={"id": "109302", "username": "acme", "followers_count": 318, "following_count": 12},
    )
    assert fetch_account_metrics(mastodon_account(), today()) == {
        "followers": 318,
        "impressions": 0,
        "reach": 0,
        "engagements": 0,
        "profile_views": 0,
        "link_clicks": 0,
    }


@responses.activate
def test_mastodon_status_engagements_are_favourites_boosts_and_replies():
    """https://docs.joinmastodon.org/methods/statuses/#get"""
    responses.get(
        f"{MASTODON}/api/v1/statuses/1037",
        json={"id": "1037", "favourites_count": 14, "reblogs_count": 5, "replies_count": 2},
    )
    target = make_target(mastodon_account(), "1037")
    assert fetch_post_metrics(target, today()) == {
        "impressions": 0,
        "reach": 0,
        "engagements": 21,  # 14 + 5 + 2
        "link_clicks": 0,
        "video_views": None,
    }


@responses.activate
def test_mastodon_revoked_token_is_auth_expired():
    """401: https://docs.joinmastodon.org/methods/accounts/#get (Unauthorized)"""
    responses.get(
        f"{MASTODON}/api/v1/accounts/109302",
        json={"error": "The access token is invalid"},
        status=401,
    )
    with pytest.raises(AuthExpired):
        fetch_account_metrics(mastodon_account(), today())


def test_mastodon_refuses_a_past_day_instead_of_faking_history():
    """Mastodon has only the current count; a backfill must skip, not copy it backwards."""
    with pytest.raises(MetricsNotSupported, match="only current"):
        fetch_account_metrics(mastodon_account(), DAY)


# -- Bluesky ------------------------------------------------------------------------------------


def bluesky_account():
    return make_account(
        Platform.BLUESKY, external_id=DID, handle="@acme.bsky.social", instance_url=PDS
    )


def bluesky_session():
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session"""
    responses.post(
        f"{PDS}/xrpc/com.atproto.server.createSession",
        json={"accessJwt": "jwt-1", "refreshJwt": "r-1", "did": DID, "handle": "acme.bsky.social"},
    )


@responses.activate
def test_bluesky_profile_gives_followers():
    """https://docs.bsky.app/docs/api/app-bsky-actor-get-profile"""
    bluesky_session()
    responses.get(
        f"{PDS}/xrpc/app.bsky.actor.getProfile",
        match=[
            matchers.query_param_matcher({"actor": DID}),
            matchers.header_matcher({"Authorization": "Bearer jwt-1"}),
        ],
        json={"did": DID, "handle": "acme.bsky.social", "followersCount": 927, "postsCount": 40},
    )
    assert fetch_account_metrics(bluesky_account(), today())["followers"] == 927


@responses.activate
def test_bluesky_post_engagements_are_likes_reposts_replies_and_quotes():
    """https://docs.bsky.app/docs/api/app-bsky-feed-get-posts"""
    uri = f"at://{DID}/app.bsky.feed.post/3kabc"
    bluesky_session()
    responses.get(
        f"{PDS}/xrpc/app.bsky.feed.getPosts",
        match=[matchers.query_param_matcher({"uris": uri})],
        json={
            "posts": [
                {
                    "uri": uri,
                    "cid": "bafy",
                    "likeCount": 31,
                    "repostCount": 7,
                    "replyCount": 4,
                    "quoteCount": 1,
                }
            ]
        },
    )
    assert fetch_post_metrics(make_target(bluesky_account(), uri), today()) == {
        "impressions": 0,
        "reach": 0,
        "engagements": 43,  # 31 + 7 + 4 + 1
        "link_clicks": 0,
        "video_views": None,
    }


@responses.activate
def test_bluesky_throttling_is_rate_limited():
    """429 with ratelimit-* headers: https://docs.bsky.app/docs/advanced-guides/rate-limits"""
    bluesky_session()
    responses.get(
        f"{PDS}/xrpc/app.bsky.actor.getProfile",
        json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        status=429,
        headers={"retry-after": "60"},
    )
    with pytest.raises(RateLimited) as caught:
        fetch_account_metrics(bluesky_account(), today())
    assert caught.value.retry_after == 60


# -- networks without some metrics --------------------------------------------------------------


def test_a_linkedin_member_profile_has_no_analytics():
    with pytest.raises(MetricsNotSupported, match="organization pages only"):
        fetch_account_metrics(make_account(Platform.LINKEDIN, external_id="urn:li:person:abc"), DAY)


def test_x_gives_followers_only_as_they_are_now():
    with pytest.raises(MetricsNotSupported, match="only current"):
        fetch_account_metrics(make_account(Platform.X), DAY)
