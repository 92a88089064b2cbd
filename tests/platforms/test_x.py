"""XAdapter against X API v2 answers replayed with `responses`, shaped as X documents them."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import MediaItem, PostPayload, get_adapter
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TransientError,
)
from agency.platforms.x import DuplicateContent, XAdapter

TWEETS = "https://api.x.com/2/tweets"
UPLOAD = "https://api.x.com/2/media/upload"
TOKEN = "https://api.x.com/2/oauth2/token"


def make_account(**overrides):
    fields = {
        "platform": "x",
        "handle": "@acmecoffee",
        "external_id": "2244994945",
        "access_token": "user-access-token",
        "refresh_token": "old-refresh-token",
    }
    fields.update(overrides)
    return SocialAccount(**fields)


@pytest.fixture
def adapter():
    return XAdapter()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def created(tweet_id="1445880548472328192", text="Hello"):
    return {"data": {"id": tweet_id, "text": text}}


def test_get_adapter_returns_x_adapter():
    adapter = get_adapter("x")
    assert isinstance(adapter, XAdapter)
    assert adapter.display_name == "X"


def test_publish_posts_text_with_bearer_token_and_returns_status_url(adapter, mocked):
    """https://docs.x.com/x-api/posts/manage-tweets/quickstart (POST /2/tweets, 201 data.id)"""
    mocked.post(
        TWEETS,
        status=201,
        json=created(text="Hello from the X API!"),
        match=[
            matchers.header_matcher({"Authorization": "Bearer user-access-token"}),
            matchers.json_params_matcher({"text": "Hello from the X API!"}),
        ],
    )
    result = adapter.publish(
        make_account(), PostPayload(text="Hello from the X API!"), idempotency_key="k1"
    )
    assert result.external_id == "1445880548472328192"
    assert result.url == "https://x.com/acmecoffee/status/1445880548472328192"


def test_publish_appends_link_missing_from_text(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (request body: text)"""
    mocked.post(
        TWEETS,
        status=201,
        json=created(),
        match=[matchers.json_params_matcher({"text": "New menu https://acme.example/menu"})],
    )
    adapter.publish(
        make_account(),
        PostPayload(text="New menu", link="https://acme.example/menu"),
        idempotency_key="k1",
    )


def test_publish_uploads_images_first_and_attaches_their_media_ids(adapter, mocked, tmp_path):
    """https://docs.x.com/x-api/media/upload-media (simple upload, data.id) and
    https://docs.x.com/x-api/posts/creation-of-a-post (media.media_ids)"""
    image = tmp_path / "latte.png"
    image.write_bytes(b"\x89PNG fake")
    mocked.post(
        UPLOAD,
        status=200,
        json={"data": {"id": "1880028106020515840", "media_key": "3_1880028106020515840"}},
        match=[matchers.header_matcher({"Authorization": "Bearer user-access-token"})],
    )
    mocked.post(
        TWEETS,
        status=201,
        json=created(),
        match=[
            matchers.json_params_matcher(
                {"text": "Latte art", "media": {"media_ids": ["1880028106020515840"]}}
            )
        ],
    )
    adapter.publish(
        make_account(),
        PostPayload(text="Latte art", media=(MediaItem(path=str(image), mime_type="image/png"),)),
        idempotency_key="k1",
    )
    upload = mocked.calls[0].request
    assert b"tweet_image" in upload.body
    assert b"\x89PNG fake" in upload.body


def test_throttled_publish_raises_rate_limited_until_the_documented_reset(adapter, mocked):
    """https://docs.x.com/fundamentals/rate-limits (429, x-rate-limit-reset epoch seconds)"""
    reset = int(time.time()) + 120
    mocked.post(
        TWEETS,
        status=429,
        json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
        headers={
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        },
    )
    with pytest.raises(RateLimited) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert 100 < caught.value.retry_after <= 120
    assert "Rate limit exceeded" in str(caught.value)


def test_throttle_without_reset_header_uses_retry_after(adapter, mocked):
    """https://docs.x.com/fundamentals/rate-limits (429 Too Many Requests)"""
    mocked.post(
        TWEETS, status=429, json={"title": "Too Many Requests"}, headers={"Retry-After": "30"}
    )
    with pytest.raises(RateLimited) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert caught.value.retry_after == 30


def test_exhausted_rate_limit_on_success_is_noted_in_the_result(adapter, mocked):
    """https://docs.x.com/fundamentals/rate-limits (x-rate-limit-remaining on every response)"""
    mocked.post(
        TWEETS,
        status=201,
        json=created(),
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1705420800"},
    )
    result = adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert result.raw["rate_limit"] == {"remaining": 0, "reset": 1705420800}


def test_expired_token_raises_auth_expired(adapter, mocked):
    """https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code (tokens last
    two hours; an expired one is answered 401 Unauthorized)"""
    mocked.post(
        TWEETS,
        status=401,
        json={
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        },
    )
    with pytest.raises(AuthExpired):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")


def test_duplicate_content_is_rejected_as_duplicate(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (errors are problems: title, detail)"""
    mocked.post(
        TWEETS,
        status=403,
        json={
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        },
    )
    with pytest.raises(DuplicateContent) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert isinstance(caught.value, Rejected)
    assert caught.value.duplicate is True
    assert caught.value.status == 403


def test_other_client_errors_are_rejected_with_the_api_detail(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (errors: title, detail)"""
    mocked.post(
        TWEETS,
        status=400,
        json={
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )
    with pytest.raises(Rejected) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert not isinstance(caught.value, DuplicateContent)
    assert "One or more parameters to your request was invalid." in str(caught.value)


def test_timeout_after_sending_is_outcome_unknown(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (POST /2/tweets is not idempotent)"""
    mocked.post(TWEETS, body=requests.exceptions.ReadTimeout())
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")


def test_refused_connection_is_transient(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (nothing reached POST /2/tweets)"""
    mocked.post(TWEETS, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(TransientError):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")


def test_server_error_after_sending_is_outcome_unknown(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (a 5xx may follow a created post)"""
    mocked.post(TWEETS, status=503, json={"title": "Service Unavailable"})
    with pytest.raises(OutcomeUnknown) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")
    assert caught.value.status == 503


def test_malformed_created_answer_is_outcome_unknown(adapter, mocked):
    """https://docs.x.com/x-api/posts/creation-of-a-post (201 carries data.id)"""
    mocked.post(TWEETS, status=201, body="<html>upstream glitch</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k1")


def test_first_comment_is_a_reply_to_the_new_post(adapter, mocked):
    """https://docs.x.com/x-api/posts/manage-tweets/quickstart (reply.in_reply_to_tweet_id)"""
    mocked.post(
        TWEETS,
        status=201,
        json=created("111"),
        match=[matchers.json_params_matcher({"text": "Main"})],
    )
    mocked.post(
        TWEETS,
        status=201,
        json=created("222"),
        match=[
            matchers.json_params_matcher(
                {"text": "Link in bio", "reply": {"in_reply_to_tweet_id": "111"}}
            )
        ],
    )
    result = adapter.publish(
        make_account(), PostPayload(text="Main", first_comment="Link in bio"), idempotency_key="k"
    )
    assert result.external_id == "111"
    assert result.raw["first_comment_id"] == "222"


def test_failed_first_comment_never_fails_the_publish(adapter, mocked):
    """https://docs.x.com/x-api/posts/manage-tweets/quickstart (reply is a second POST)"""
    mocked.post(TWEETS, status=201, json=created("111"))
    mocked.post(TWEETS, status=503, json={"title": "Service Unavailable"})
    result = adapter.publish(
        make_account(), PostPayload(text="Main", first_comment="Link in bio"), idempotency_key="k"
    )
    assert result.external_id == "111"
    assert "OutcomeUnknown" in result.raw["first_comment_error"]


def test_refresh_returns_the_rotated_refresh_token(adapter, mocked, settings):
    """https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code
    (POST /2/oauth2/token, grant_type=refresh_token)"""
    settings.X_CLIENT_ID = "client-123"
    settings.X_CLIENT_SECRET = ""
    mocked.post(
        TOKEN,
        status=200,
        json={
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": "new-access-token",
            "scope": "tweet.write users.read tweet.read offline.access",
            "refresh_token": "new-refresh-token",
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "old-refresh-token",
                    "client_id": "client-123",
                }
            )
        ],
    )
    before = datetime.now(tz=UTC)
    tokens = adapter.refresh_credentials(make_account())
    assert tokens["access_token"] == "new-access-token"
    assert tokens["refresh_token"] == "new-refresh-token"
    assert (
        before + timedelta(seconds=7190)
        < tokens["expires_at"]
        <= datetime.now(tz=UTC) + timedelta(seconds=7200)
    )
    assert "Authorization" not in mocked.calls[0].request.headers


def test_confidential_client_refresh_authenticates_with_basic_auth(adapter, mocked, settings):
    """https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code
    (confidential clients send their client id and secret as Basic auth)"""
    settings.X_CLIENT_ID = "client-123"
    settings.X_CLIENT_SECRET = "shh"
    mocked.post(
        TOKEN,
        status=200,
        json={
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": "a",
            "refresh_token": "r",
        },
        match=[matchers.header_matcher({"Authorization": "Basic Y2xpZW50LTEyMzpzaGg="})],
    )
    assert adapter.refresh_credentials(make_account())["refresh_token"] == "r"


def test_refresh_with_a_spent_refresh_token_raises_auth_expired(adapter, mocked, settings):
    """https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code
    (an invalid refresh token is refused with an OAuth error)"""
    settings.X_CLIENT_ID = "client-123"
    mocked.post(
        TOKEN,
        status=400,
        json={
            "error": "invalid_grant",
            "error_description": "Value passed for the token was invalid.",
        },
    )
    with pytest.raises(AuthExpired) as caught:
        adapter.refresh_credentials(make_account())
    assert "old-refresh-token" not in str(caught.value)


def test_validate_refuses_281_characters(adapter):
    """https://docs.x.com/fundamentals/counting-characters (280 weighted characters)"""
    assert adapter.validate(PostPayload(text="a" * 280)) == []
    problems = adapter.validate(PostPayload(text="a" * 281))
    assert problems == ["X: the text is 281 characters long; the limit is 280."]


def test_validate_counts_a_long_url_as_23_characters(adapter):
    """https://docs.x.com/fundamentals/counting-characters (t.co links count 23; like X,
    twitter-text only counts a URL with a known top-level domain as a link)"""
    url = "https://www.acmecoffee.com/" + "very-long-path/" * 20
    text = "a" * 256 + " " + url
    assert adapter.count_chars(text) == 280
    assert adapter.validate(PostPayload(text=text)) == []


def test_validate_counts_cjk_characters_twice(adapter):
    """https://docs.x.com/fundamentals/counting-characters (CJK glyphs weigh 2)"""
    assert adapter.count_chars("日本語") == 6
    assert adapter.validate(PostPayload(text="日" * 141))[0].startswith("X: the text is 282")


def test_validate_refuses_a_video_with_other_media(adapter):
    """https://docs.x.com/x-api/media/quickstart/best-practices (4 photos, 1 GIF or 1 video)"""
    media = (
        MediaItem(path="a.mp4", mime_type="video/mp4"),
        MediaItem(path="b.png", mime_type="image/png"),
    )
    problems = adapter.validate(PostPayload(text="Hi", media=media))
    assert "X: a post has up to 4 images or 1 video alone." in problems


def test_unreadable_refresh_answer_is_transient_and_keeps_no_excerpt(adapter, mocked, settings):
    """https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code"""
    settings.X_CLIENT_ID = "client-123"
    mocked.post(TOKEN, status=200, body="not json")
    with pytest.raises(TransientError) as caught:
        adapter.refresh_credentials(make_account())
    assert caught.value.excerpt == ""
    assert "refresh-token" not in caught.value.message
