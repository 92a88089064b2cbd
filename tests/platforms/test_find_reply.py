"""Finding our own reply after an unknown outcome on the networks that take no idempotency key
(X, Facebook, Instagram), against replayed answers shaped as their documentation shows."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import get_adapter
from agency.platforms.errors import OutcomeUnknown, RateLimited
from agency.platforms.facebook import GRAPH_URL

X_API = "https://api.x.com/2"
X_USER = "2244994945"
PAGE = "104800001"
IG_USER = "17841400000000001"
QUEUED = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


def x_account():
    return SocialAccount(platform="x", handle="@acme", external_id=X_USER, access_token="x-token")


def fb_account():
    return SocialAccount(
        platform="facebook", handle="Acme", external_id=PAGE, access_token="page-token"
    )


def ig_account():
    return SocialAccount(
        platform="instagram", handle="@acme", external_id=IG_USER, access_token="ig-token"
    )


def answered(platform_message_id, in_reply_to=""):
    return SimpleNamespace(platform_message_id=platform_message_id, in_reply_to=in_reply_to)


# -- X -------------------------------------------------------------------------------------------


def x_post(tweet_id, text, *, replied_to=None, created_at="2025-03-03T09:31:00.000Z"):
    """A Post with referenced_tweets. https://docs.x.com/x-api/fundamentals/data-dictionary"""
    post = {
        "id": tweet_id,
        "text": text,
        "created_at": created_at,
        "conversation_id": replied_to or tweet_id,
        "edit_history_tweet_ids": [tweet_id],
    }
    if replied_to:
        post["referenced_tweets"] = [{"type": "replied_to", "id": replied_to}]
    return post


@responses.activate
def test_x_finds_our_reply_on_the_accounts_timeline_even_with_a_wrapped_link():
    """GET /2/users/:id/tweets?start_time=...&tweet.fields=referenced_tweets lists our posts,
    replies included; X wraps links in t.co and escapes &.
    https://docs.x.com/x-api/users/get-posts"""
    responses.get(
        f"{X_API}/users/{X_USER}/tweets",
        json={
            "data": [
                x_post("1896000000000000099", "Unrelated news"),
                x_post(
                    "1896000000000000050",
                    "So sorry &amp; thanks! https://t.co/AbC123",
                    replied_to="1896000000000000001",
                ),
            ],
            "meta": {"result_count": 2, "newest_id": "1896000000000000099"},
        },
        match=[
            matchers.query_param_matcher(
                {"start_time": "2025-03-03T09:25:00Z", "max_results": "100"}, strict_match=False
            ),
            matchers.header_matcher({"Authorization": "Bearer x-token"}),
        ],
    )
    found = get_adapter("x").find_reply(
        x_account(),
        answered("1896000000000000001"),
        "So sorry & thanks! https://acme.example/refund",
        idempotency_key="k",
        since=QUEUED,
    )
    assert found.external_id == "1896000000000000050"
    assert found.url == "https://x.com/acme/status/1896000000000000050"


@responses.activate
def test_x_reply_not_on_the_timeline_is_surely_not_sent():
    """https://docs.x.com/x-api/users/get-posts"""
    responses.get(
        f"{X_API}/users/{X_USER}/tweets",
        json={
            "data": [x_post("1896000000000000050", "Another answer", replied_to="18960001")],
            "meta": {"result_count": 1},
        },
    )
    assert (
        get_adapter("x").find_reply(
            x_account(), answered("1896000000000000001"), "Yes!", idempotency_key="k", since=QUEUED
        )
        is None
    )


@responses.activate
def test_x_timeline_longer_than_we_read_cannot_tell():
    """meta.next_token leads to more pages. https://docs.x.com/x-api/fundamentals/pagination"""
    responses.get(
        f"{X_API}/users/{X_USER}/tweets",
        json={"data": [x_post("1", "Other")], "meta": {"result_count": 1, "next_token": "n1"}},
    )
    with pytest.raises(OutcomeUnknown):
        get_adapter("x").find_reply(
            x_account(), answered("1896000000000000001"), "Yes!", idempotency_key="k", since=QUEUED
        )
    assert len(responses.calls) == get_adapter("x").reply_lookup_pages


@responses.activate
def test_x_throttled_lookup_is_rate_limited_not_a_verdict():
    """429 with x-rate-limit-reset. https://docs.x.com/x-api/fundamentals/rate-limits"""
    responses.get(
        f"{X_API}/users/{X_USER}/tweets",
        status=429,
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1741000000"},
    )
    with pytest.raises(RateLimited):
        get_adapter("x").find_reply(
            x_account(), answered("1896000000000000001"), "Yes!", idempotency_key="k", since=QUEUED
        )


def test_x_direct_message_replies_cannot_be_looked_up():
    with pytest.raises(OutcomeUnknown):
        get_adapter("x").find_reply(
            x_account(), answered("dm:954491830116155396"), "Hi", idempotency_key="k", since=QUEUED
        )


# -- Facebook ------------------------------------------------------------------------------------


def fb_comment(comment_id, message, *, author, created="2025-03-03T09:31:00+0000"):
    """A Comment with from{id,name}. https://developers.facebook.com/docs/graph-api/reference/comment/"""
    return {
        "id": comment_id,
        "message": message,
        "from": {"id": author, "name": "Acme" if author == PAGE else "Lena"},
        "created_time": created,
    }


@responses.activate
def test_facebook_finds_the_pages_reply_among_the_comments_on_the_comment():
    """GET /{comment-id}/comments lists the replies.
    https://developers.facebook.com/docs/graph-api/reference/object/comments"""
    responses.get(
        f"{GRAPH_URL}/901_2/comments",
        json={
            "data": [
                fb_comment("901_7", "Yes we do!", author="24242424242"),  # someone else
                fb_comment("901_5", "Yes we do!", author=PAGE, created="2025-03-01T08:00:00+0000"),
                fb_comment("901_9", "Yes  we do!", author=PAGE),
            ],
            "paging": {"cursors": {"before": "b", "after": "a"}},
        },
        match=[
            matchers.query_param_matcher(
                {"order": "reverse_chronological", "access_token": "page-token"},
                strict_match=False,
            )
        ],
    )
    found = get_adapter("facebook").find_reply(
        fb_account(), answered("901_2"), "Yes we do!", idempotency_key="k", since=QUEUED
    )
    # Not the other person's, not the Page's same words from two days before.
    assert found.external_id == "901_9"


@responses.activate
def test_facebook_reply_not_among_the_comments_is_surely_not_sent():
    """https://developers.facebook.com/docs/graph-api/reference/object/comments"""
    responses.get(
        f"{GRAPH_URL}/901_2/comments",
        json={"data": [fb_comment("901_7", "Thanks", author="24242424242")], "paging": {}},
    )
    assert (
        get_adapter("facebook").find_reply(
            fb_account(), answered("901_2"), "Yes we do!", idempotency_key="k", since=QUEUED
        )
        is None
    )


@responses.activate
def test_facebook_refused_lookup_cannot_tell():
    """(#100) on a deleted comment. https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.get(
        f"{GRAPH_URL}/901_2/comments",
        status=400,
        json={
            "error": {
                "message": "Unsupported get request. Object with ID '901_2' does not exist",
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
                "fbtrace_id": "AbC",
            }
        },
    )
    with pytest.raises(OutcomeUnknown):
        get_adapter("facebook").find_reply(
            fb_account(), answered("901_2"), "Yes we do!", idempotency_key="k", since=QUEUED
        )


# -- Instagram -----------------------------------------------------------------------------------


@responses.activate
def test_instagram_finds_our_reply_under_the_top_level_comment():
    """GET /{ig-comment-id}/replies; a reply to a reply is added to the top-level comment.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies
    """
    responses.get(
        f"{GRAPH_URL}/17870913679156914/replies",
        json={
            "data": [
                {
                    "id": "17873440459141021",
                    "text": "@lena.brews thank you!",
                    "timestamp": "2025-03-03T09:31:00+0000",
                    "username": "acme",
                    "from": {"id": IG_USER, "username": "acme"},
                }
            ]
        },
    )
    # The message we answered is itself a reply to 17870913679156914.
    found = get_adapter("instagram").find_reply(
        ig_account(),
        answered("17900000000000001", in_reply_to="17870913679156914"),
        "@lena.brews thank you!",
        idempotency_key="k",
        since=QUEUED,
    )
    assert found.external_id == "17873440459141021"


@responses.activate
def test_instagram_reply_lookup_never_reads_captions_of_posts():
    """The replies edge, not the media list: a post with the same caption is not our reply.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies
    """
    responses.get(f"{GRAPH_URL}/17870913679156914/replies", json={"data": []})
    assert (
        get_adapter("instagram").find_reply(
            ig_account(),
            answered("17870913679156914"),
            "Thank you!",
            idempotency_key="k",
            since=QUEUED,
        )
        is None
    )
    assert [c.request.path_url.split("?")[0] for c in responses.calls] == [
        "/v24.0/17870913679156914/replies"
    ]
