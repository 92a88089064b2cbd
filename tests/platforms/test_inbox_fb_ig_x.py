"""Inbox polling, replies and hiding for X, Facebook Pages and Instagram, against replayed answers
shaped as each platform's documentation shows."""

from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import get_adapter
from agency.platforms.errors import AuthExpired, OutcomeUnknown, RateLimited
from agency.platforms.facebook import GRAPH_URL

X_API = "https://api.x.com/2"
X_USER = "2244994945"
PAGE = "104800001"
IG_USER = "17841400000000001"

# Graph API error bodies: https://developers.facebook.com/docs/graph-api/guides/error-handling
EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "AbCdEf",
    }
}
THROTTLED = {
    "error": {
        "message": "(#32) Page request limit reached",
        "type": "OAuthException",
        "code": 32,
        "fbtrace_id": "AbCdEf",
    }
}


def x_account():
    return SocialAccount(
        platform="x", handle="@acme", external_id=X_USER, access_token="x-user-token"
    )


def fb_account():
    return SocialAccount(
        platform="facebook", handle="Acme", external_id=PAGE, access_token="page-token"
    )


def ig_account():
    return SocialAccount(
        platform="instagram", handle="@acme", external_id=IG_USER, access_token="ig-token"
    )


def message(platform_message_id):
    return SimpleNamespace(
        platform_message_id=platform_message_id,
        conversation=SimpleNamespace(kind="comment"),
        author_handle="",
        raw={},
    )


def sent_form(call) -> dict:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def query(**params):
    return matchers.query_param_matcher(params, strict_match=False)


# -- X ------------------------------------------------------------------------------------------


def x_mention(tweet_id, *, conversation_id=None, replied_to=None, author="1234567890"):
    """A Post object of the mentions timeline with created_at, conversation_id, author_id.
    https://docs.x.com/x-api/posts/timelines/quickstart/user-mention-quickstart"""
    tweet = {
        "id": tweet_id,
        "text": "Hey @acme, is the shop open?",
        "author_id": author,
        "created_at": "2025-03-03T09:00:00.000Z",
        "conversation_id": conversation_id or tweet_id,
        "edit_history_tweet_ids": [tweet_id],
    }
    if replied_to:
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": replied_to}]
    return tweet


X_USERS = {"users": [{"id": "1234567890", "username": "lena", "name": "Lena"}]}


@responses.activate
def test_x_inbox_reads_mentions_with_their_authors_and_conversations():
    """GET /2/users/:id/mentions with expansions=author_id: data, includes.users, meta.
    https://docs.x.com/x-api/posts/timelines/quickstart/user-mention-quickstart"""
    responses.get(
        f"{X_API}/users/{X_USER}/mentions",
        match=[
            query(expansions="author_id", max_results="100"),
            matchers.header_matcher({"Authorization": "Bearer x-user-token"}),
        ],
        json={
            "data": [
                x_mention("1900000000000000003", conversation_id="1800", replied_to="1800"),
                x_mention("1900000000000000002"),
            ],
            "includes": X_USERS,
            "meta": {
                "result_count": 2,
                "newest_id": "1900000000000000003",
                "oldest_id": "1900000000000000002",
            },
        },
    )
    page = get_adapter("x").fetch_inbox(x_account(), "")
    assert "since_id" not in responses.calls[0].request.params
    assert page.next_cursor == "1900000000000000003"
    reply, mention = page.items
    assert (reply.kind, reply.thread_id, reply.in_reply_to) == ("mention", "1800", "1800")
    assert (mention.kind, mention.thread_id) == ("mention", "1900000000000000002")
    assert mention.author_handle == "@lena"
    assert mention.author_name == "Lena"
    assert mention.author_id == "1234567890"
    assert mention.text == "Hey @acme, is the shop open?"
    assert mention.sent_at.isoformat() == "2025-03-03T09:00:00+00:00"


@responses.activate
def test_x_inbox_follows_next_token_and_asks_only_since_the_cursor():
    """since_id and pagination_token; meta.next_token names the next page.
    https://docs.x.com/x-api/posts/timelines/quickstart/user-mention-quickstart"""
    url = f"{X_API}/users/{X_USER}/mentions"
    responses.get(
        url,
        match=[query(since_id="1900000000000000001", pagination_token="7140dibdnow9c7btw4")],
        json={"data": [x_mention("1900000000000000002")], "includes": X_USERS, "meta": {}},
    )
    responses.get(
        url,
        match=[query(since_id="1900000000000000001")],
        json={
            "data": [x_mention("1900000000000000005")],
            "includes": X_USERS,
            "meta": {"result_count": 1, "next_token": "7140dibdnow9c7btw4"},
        },
    )
    page = get_adapter("x").fetch_inbox(x_account(), "1900000000000000001")
    assert [item.message_id for item in page.items] == [
        "1900000000000000005",
        "1900000000000000002",
    ]
    assert page.next_cursor == "1900000000000000005"

    # The next poll asks with the cursor it was given, for newer posts only.
    responses.get(
        url, match=[query(since_id="1900000000000000005")], json={"meta": {"result_count": 0}}
    )
    again = get_adapter("x").fetch_inbox(x_account(), page.next_cursor)
    assert again.items == ()
    assert again.next_cursor == "1900000000000000005"


@responses.activate
def test_x_inbox_throttled_is_rate_limited_until_the_reset():
    """429 with x-rate-limit-reset. https://docs.x.com/x-api/fundamentals/rate-limits"""
    responses.get(
        f"{X_API}/users/{X_USER}/mentions",
        status=429,
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "4102444800"},
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
    )
    with pytest.raises(RateLimited) as caught:
        get_adapter("x").fetch_inbox(x_account(), "")
    assert caught.value.retry_after > 0


@responses.activate
def test_x_inbox_with_an_expired_token_is_auth_expired():
    """401 problem. https://docs.x.com/x-api/fundamentals/response-codes-and-errors"""
    responses.get(
        f"{X_API}/users/{X_USER}/mentions",
        status=401,
        json={"title": "Unauthorized", "type": "about:blank", "status": 401},
    )
    with pytest.raises(AuthExpired):
        get_adapter("x").fetch_inbox(x_account(), "")


@responses.activate
def test_x_reply_is_a_post_in_reply_to_the_mention():
    """POST /2/tweets with reply.in_reply_to_tweet_id; 201 {data: {id, text}}.
    https://docs.x.com/x-api/posts/create-post"""
    responses.post(
        f"{X_API}/tweets",
        status=201,
        match=[
            matchers.json_params_matcher(
                {"text": "Open till six!", "reply": {"in_reply_to_tweet_id": "1900"}}
            )
        ],
        json={"data": {"id": "1901", "text": "Open till six!"}},
    )
    result = get_adapter("x").reply(
        x_account(), message("1900"), "Open till six!", idempotency_key="k"
    )
    assert result.external_id == "1901"
    assert result.url == "https://x.com/acme/status/1901"


@responses.activate
@pytest.mark.parametrize(
    ("status", "error"),
    [(429, RateLimited), (401, AuthExpired), (503, OutcomeUnknown)],
)
def test_x_reply_errors_map_as_publishing_does(status, error):
    """https://docs.x.com/x-api/fundamentals/response-codes-and-errors"""
    responses.post(f"{X_API}/tweets", status=status, json={"title": "Error", "status": status})
    with pytest.raises(error):
        get_adapter("x").reply(x_account(), message("1900"), "Hi", idempotency_key="k")


# -- Facebook -----------------------------------------------------------------------------------


def fb_comment(comment_id, created, *, parent=None, author=("5550001", "Lena Park")):
    """A Comment with id, message, from, created_time, parent.
    https://developers.facebook.com/docs/graph-api/reference/comment/"""
    comment = {
        "id": comment_id,
        "message": "Is the shop open?",
        "from": {"id": author[0], "name": author[1]},
        "created_time": created,
    }
    if parent:
        comment["parent"] = {"id": parent}
    return comment


def fb_feed(*post_ids):
    """GET /{page-id}/feed. https://developers.facebook.com/docs/graph-api/reference/page/feed/"""
    responses.get(
        f"{GRAPH_URL}/{PAGE}/feed",
        match=[query(fields="id", access_token="page-token")],
        json={"data": [{"id": post_id} for post_id in post_ids]},
    )


@responses.activate
def test_facebook_inbox_reads_comments_and_replies_on_recent_posts():
    """GET /{post-id}/comments with filter=stream; paging.cursors.after for the next page.
    https://developers.facebook.com/docs/graph-api/reference/object/comments"""
    post = f"{PAGE}_901"
    fb_feed(post, f"{PAGE}_900")
    responses.get(
        f"{GRAPH_URL}/{post}/comments",
        match=[query(after="QVFIUk1")],
        json={"data": [fb_comment("901_1", "2025-03-03T09:00:00+0000")], "paging": {}},
    )
    responses.get(
        f"{GRAPH_URL}/{post}/comments",
        match=[query(filter="stream", order="reverse_chronological")],
        json={
            "data": [
                fb_comment("901_3", "2025-03-03T09:10:00+0000", parent="901_1"),
                fb_comment("901_2", "2025-03-03T09:05:00+0000"),
            ],
            "paging": {
                "cursors": {"before": "QVFIUmx", "after": "QVFIUk1"},
                "next": f"{GRAPH_URL}/{post}/comments?after=QVFIUk1",
            },
        },
    )
    responses.get(f"{GRAPH_URL}/{PAGE}_900/comments", json={"data": []})
    page = get_adapter("facebook").fetch_inbox(fb_account(), "")
    assert "since" not in responses.calls[1].request.params
    assert [item.message_id for item in page.items] == ["901_3", "901_2", "901_1"]
    assert page.next_cursor == "2025-03-03T09:10:00+00:00"
    reply = page.items[0]
    assert (reply.kind, reply.thread_id, reply.post_external_id) == ("comment", post, post)
    assert reply.in_reply_to == "901_1"
    assert (reply.author_name, reply.author_id) == ("Lena Park", "5550001")
    assert page.items[1].in_reply_to == ""


@responses.activate
def test_facebook_second_poll_asks_since_the_newest_comment_seen():
    """`since` is a time-based paging parameter.
    https://developers.facebook.com/docs/graph-api/results/"""
    post = f"{PAGE}_901"
    fb_feed(post)
    responses.get(
        f"{GRAPH_URL}/{post}/comments",
        match=[query(since="2025-03-03T09:10:00+00:00")],
        json={
            "data": [
                fb_comment("901_4", "2025-03-03T10:00:00+0000"),
                # Older than the cursor: a platform that ignores `since` still yields nothing old.
                fb_comment("901_2", "2025-03-03T09:05:00+0000"),
            ]
        },
    )
    page = get_adapter("facebook").fetch_inbox(fb_account(), "2025-03-03T09:10:00+00:00")
    assert [item.message_id for item in page.items] == ["901_4"]
    assert page.next_cursor == "2025-03-03T10:00:00+00:00"


@responses.activate
def test_facebook_inbox_with_nothing_new_keeps_the_cursor():
    """https://developers.facebook.com/docs/graph-api/reference/object/comments"""
    fb_feed(f"{PAGE}_901")
    responses.get(f"{GRAPH_URL}/{PAGE}_901/comments", json={"data": []})
    page = get_adapter("facebook").fetch_inbox(fb_account(), "2025-03-03T09:10:00+00:00")
    assert page.items == ()
    assert page.next_cursor == "2025-03-03T09:10:00+00:00"


@responses.activate
@pytest.mark.parametrize(("body", "error"), [(THROTTLED, RateLimited), (EXPIRED, AuthExpired)])
def test_facebook_inbox_errors_are_typed(body, error):
    """Code 32 is the Pages rate limit, 190 an invalid token.
    https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.get(f"{GRAPH_URL}/{PAGE}/feed", status=400, json=body)
    with pytest.raises(error):
        get_adapter("facebook").fetch_inbox(fb_account(), "")


@responses.activate
def test_facebook_reply_comments_on_the_comment():
    """POST /{comment-id}/comments with message; answers {id}.
    https://developers.facebook.com/docs/graph-api/reference/object/comments#publish"""
    responses.post(f"{GRAPH_URL}/901_2/comments", json={"id": "901_5"})
    result = get_adapter("facebook").reply(
        fb_account(), message("901_2"), "Open till six!", idempotency_key="k"
    )
    assert result.external_id == "901_5"
    assert sent_form(responses.calls[0]) == {
        "message": "Open till six!",
        "access_token": "page-token",
    }


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(400, THROTTLED, RateLimited), (400, EXPIRED, AuthExpired), (500, {}, OutcomeUnknown)],
)
def test_facebook_reply_errors_are_typed(status, body, error):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.post(f"{GRAPH_URL}/901_2/comments", status=status, json=body)
    with pytest.raises(error):
        get_adapter("facebook").reply(fb_account(), message("901_2"), "Hi", idempotency_key="k")


@responses.activate
@pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
def test_facebook_hides_and_shows_a_comment(hidden, sent):
    """POST /{comment-id} with is_hidden; answers {success: true}.
    https://developers.facebook.com/docs/graph-api/reference/comment/#updating"""
    responses.post(f"{GRAPH_URL}/901_2", json={"success": True})
    adapter = get_adapter("facebook")
    assert adapter.supports_hide is True
    adapter.set_hidden(fb_account(), "901_2", hidden)
    assert sent_form(responses.calls[0])["is_hidden"] == sent


@responses.activate
def test_facebook_hide_with_an_expired_token_is_auth_expired():
    """https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.post(f"{GRAPH_URL}/901_2", status=400, json=EXPIRED)
    with pytest.raises(AuthExpired):
        get_adapter("facebook").set_hidden(fb_account(), "901_2", True)


# -- Instagram ----------------------------------------------------------------------------------


def ig_comment(comment_id, timestamp, *, replies=()):
    """An IG Comment with id, text, timestamp, username, from.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment"""
    comment = {
        "id": comment_id,
        "text": "Love this!",
        "timestamp": timestamp,
        "username": "lena",
        "from": {"id": "17841405309211844", "username": "lena"},
    }
    if replies:
        comment["replies"] = {"data": list(replies)}
    return comment


def ig_media(*media_ids):
    """GET /{ig-user-id}/media.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media"""
    responses.get(
        f"{GRAPH_URL}/{IG_USER}/media",
        match=[query(fields="id,timestamp", access_token="ig-token")],
        json={"data": [{"id": media_id} for media_id in media_ids]},
    )


@responses.activate
def test_instagram_inbox_reads_comments_and_replies_on_recent_media():
    """GET /{ig-media-id}/comments, paged with paging.cursors.after.
    https://developers.facebook.com/docs/instagram-api/guides/comment-moderation"""
    ig_media("17895695668004550", "17895695668004549")
    url = f"{GRAPH_URL}/17895695668004550/comments"
    responses.get(
        url,
        match=[query(after="QVFIUjZA")],
        json={"data": [ig_comment("17870913679156914", "2017-08-31T19:16:02+0000")]},
    )
    responses.get(
        url,
        json={
            "data": [
                ig_comment(
                    "17873440459141021",
                    "2017-08-31T18:10:30+0000",
                    replies=[
                        {
                            "id": "17873440459141022",
                            "text": "Thanks!",
                            "timestamp": "2017-08-31T20:00:00+0000",
                            "username": "acme",
                        }
                    ],
                )
            ],
            "paging": {"cursors": {"after": "QVFIUjZA"}, "next": f"{url}?after=QVFIUjZA"},
        },
    )
    responses.get(f"{GRAPH_URL}/17895695668004549/comments", json={"data": []})
    page = get_adapter("instagram").fetch_inbox(ig_account(), "")
    ids = [item.message_id for item in page.items]
    assert ids == ["17873440459141021", "17873440459141022", "17870913679156914"]
    assert page.next_cursor == "2017-08-31T20:00:00+00:00"
    first, reply, _ = page.items
    assert (first.kind, first.thread_id, first.post_external_id) == (
        "comment",
        "17895695668004550",
        "17895695668004550",
    )
    assert (first.author_handle, first.author_id, first.text) == (
        "lena",
        "17841405309211844",
        "Love this!",
    )
    assert (reply.in_reply_to, reply.author_handle) == ("17873440459141021", "acme")


@responses.activate
def test_instagram_second_poll_returns_only_comments_newer_than_the_cursor():
    """The comments edge has no time filter; the cursor is applied to what it lists.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments"""
    ig_media("17895695668004550")
    responses.get(
        f"{GRAPH_URL}/17895695668004550/comments",
        json={
            "data": [
                ig_comment("17870913679156999", "2017-09-01T08:00:00+0000"),
                ig_comment("17870913679156914", "2017-08-31T19:16:02+0000"),
            ]
        },
    )
    page = get_adapter("instagram").fetch_inbox(ig_account(), "2017-08-31T20:00:00+00:00")
    assert [item.message_id for item in page.items] == ["17870913679156999"]
    assert page.next_cursor == "2017-09-01T08:00:00+00:00"


@responses.activate
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"error": {"message": "(#4) Application request limit reached", "code": 4}}, RateLimited),
        (EXPIRED, AuthExpired),
    ],
)
def test_instagram_inbox_errors_are_typed(body, error):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.get(f"{GRAPH_URL}/{IG_USER}/media", status=400, json=body)
    with pytest.raises(error):
        get_adapter("instagram").fetch_inbox(ig_account(), "")


@responses.activate
def test_instagram_reply_posts_to_the_comments_replies():
    """POST /{ig-comment-id}/replies?message=; answers {id}.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies"""
    responses.post(f"{GRAPH_URL}/17870913679156914/replies", json={"id": "17873440459141021"})
    result = get_adapter("instagram").reply(
        ig_account(), message("17870913679156914"), "*sniff*", idempotency_key="k"
    )
    assert result.external_id == "17873440459141021"
    assert sent_form(responses.calls[0]) == {"message": "*sniff*", "access_token": "ig-token"}


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(400, THROTTLED, RateLimited), (400, EXPIRED, AuthExpired), (502, {}, OutcomeUnknown)],
)
def test_instagram_reply_errors_are_typed(status, body, error):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.post(f"{GRAPH_URL}/1787/replies", status=status, json=body)
    with pytest.raises(error):
        get_adapter("instagram").reply(ig_account(), message("1787"), "Hi", idempotency_key="k")


@responses.activate
@pytest.mark.parametrize(("hidden", "sent"), [(True, "true"), (False, "false")])
def test_instagram_hides_and_shows_a_comment(hidden, sent):
    """POST /{ig-comment-id}?hide=true; answers {success: true}.
    https://developers.facebook.com/docs/instagram-api/guides/comment-moderation"""
    responses.post(f"{GRAPH_URL}/17870913679156914", json={"success": True})
    adapter = get_adapter("instagram")
    assert adapter.supports_hide is True
    adapter.set_hidden(ig_account(), "17870913679156914", hidden)
    assert sent_form(responses.calls[0])["hide"] == sent


@responses.activate
def test_instagram_hide_throttled_is_rate_limited():
    """https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.post(f"{GRAPH_URL}/1787", status=400, json=THROTTLED)
    with pytest.raises(RateLimited):
        get_adapter("instagram").set_hidden(ig_account(), "1787", True)


def test_the_three_networks_are_polled():
    assert all(get_adapter(name).supports_inbox_polling for name in ("x", "facebook", "instagram"))
