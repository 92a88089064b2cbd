"""MastodonAdapter against Mastodon REST API answers replayed with `responses`."""

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
from agency.platforms.mastodon import MastodonAdapter

SERVER = "https://mastodon.example"
STATUSES = f"{SERVER}/api/v1/statuses"


def make_account(**overrides):
    fields = {
        "platform": "mastodon",
        "handle": "@acme@mastodon.example",
        "external_id": "109302",
        "instance_url": SERVER + "/",
        "access_token": "mastodon-token",
    }
    fields.update(overrides)
    return SocialAccount(**fields)


def status(status_id="103704874086360371", content="<p>Hello</p>", **extra):
    return {
        "id": status_id,
        "created_at": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
        "uri": f"{SERVER}/users/acme/statuses/{status_id}",
        "url": f"{SERVER}/@acme/{status_id}",
        "content": content,
        "visibility": "public",
        "reblog": None,
        "media_attachments": [],
        **extra,
    }


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def adapter(sleeps):
    return MastodonAdapter(sleep=sleeps.append, media_poll_attempts=3, media_poll_interval=1.5)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def test_get_adapter_passes_options_to_mastodon_adapter():
    adapter = get_adapter("mastodon", media_poll_attempts=7)
    assert isinstance(adapter, MastodonAdapter)
    assert adapter.media_poll_attempts == 7
    assert adapter.rules.supports_idempotency_key is True
    assert MastodonAdapter.safe_to_retry_with_key is True


def test_publish_sends_idempotency_key_and_returns_status_url(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (Idempotency-Key header,
    status, visibility; 200 answers a Status with id and url)"""
    mocked.post(
        STATUSES,
        status=200,
        json=status(),
        match=[
            matchers.header_matcher(
                {"Authorization": "Bearer mastodon-token", "Idempotency-Key": "post-42-mastodon"}
            ),
            matchers.json_params_matcher({"status": "Hello", "visibility": "public"}),
        ],
    )
    result = adapter.publish(
        make_account(), PostPayload(text="Hello"), idempotency_key="post-42-mastodon"
    )
    assert result.external_id == "103704874086360371"
    assert result.url == f"{SERVER}/@acme/103704874086360371"


def test_publish_waits_for_media_still_processing_before_posting(adapter, mocked, sleeps, tmp_path):
    """https://docs.joinmastodon.org/methods/media/#v2 (202 with url null while processing)
    and https://docs.joinmastodon.org/methods/media/#get (206 until processed, then 200)"""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"fake mp4")
    mocked.post(
        f"{SERVER}/api/v2/media",
        status=202,
        json={"id": "22348641", "type": "video", "url": None, "preview_url": f"{SERVER}/p.png"},
    )
    mocked.get(f"{SERVER}/api/v1/media/22348641", status=206, json={"id": "22348641", "url": None})
    mocked.get(
        f"{SERVER}/api/v1/media/22348641",
        status=200,
        json={"id": "22348641", "url": f"{SERVER}/media/clip.mp4"},
    )
    mocked.post(
        STATUSES,
        status=200,
        json=status(),
        match=[
            matchers.json_params_matcher(
                {"status": "Clip", "visibility": "public", "media_ids": ["22348641"]}
            )
        ],
    )
    media = (MediaItem(path=str(video), mime_type="video/mp4", alt_text="A pour-over"),)
    adapter.publish(make_account(), PostPayload(text="Clip", media=media), idempotency_key="k")
    assert sleeps == [1.5, 1.5]
    assert b"A pour-over" in mocked.calls[0].request.body


def test_media_never_processed_is_transient_and_posts_nothing(adapter, mocked, tmp_path):
    """https://docs.joinmastodon.org/methods/media/#get (206 Partial Content: still processing)"""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"fake mp4")
    mocked.post(f"{SERVER}/api/v2/media", status=202, json={"id": "9", "url": None})
    mocked.get(f"{SERVER}/api/v1/media/9", status=206, json={"id": "9", "url": None})
    media = (MediaItem(path=str(video), mime_type="video/mp4"),)
    with pytest.raises(TransientError):
        adapter.publish(make_account(), PostPayload(text="Clip", media=media), idempotency_key="k")
    assert not [c for c in mocked.calls if c.request.url == STATUSES]
    assert len(mocked.calls) == 4  # one upload, three bounded checks


def test_throttle_raises_rate_limited_until_reset_time(adapter, mocked):
    """https://docs.joinmastodon.org/api/rate-limits/ (429, X-RateLimit-Reset ISO 8601)"""
    reset = (datetime.now(tz=UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    mocked.post(
        STATUSES,
        status=429,
        json={"error": "Too many requests"},
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        },
    )
    with pytest.raises(RateLimited) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert 290 < caught.value.retry_after <= 300


def test_expired_token_raises_auth_expired(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (401 Unauthorized)"""
    mocked.post(STATUSES, status=401, json={"error": "The access token is invalid"})
    with pytest.raises(AuthExpired) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert "mastodon-token" not in str(caught.value)


def test_unprocessable_status_is_rejected_with_the_error_text(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (422 Unprocessable entity)"""
    mocked.post(STATUSES, status=422, json={"error": "Validation failed: Text can't be blank"})
    with pytest.raises(Rejected) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert "Validation failed: Text can't be blank" in str(caught.value)


def test_server_error_after_sending_is_outcome_unknown(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (no answer documented for 5xx)"""
    mocked.post(STATUSES, status=502, body="Bad Gateway")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_timeout_after_sending_is_outcome_unknown(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create"""
    mocked.post(STATUSES, body=requests.exceptions.ReadTimeout())
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_refused_connection_is_transient(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create"""
    mocked.post(STATUSES, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(TransientError):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_malformed_status_answer_is_outcome_unknown(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (200 answers a Status)"""
    mocked.post(STATUSES, status=200, body="<html>maintenance</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_failed_first_comment_never_fails_the_publish(adapter, mocked):
    """https://docs.joinmastodon.org/methods/statuses/#create (in_reply_to_id)"""
    mocked.post(STATUSES, status=200, json=status("1"))
    mocked.post(
        STATUSES,
        status=422,
        json={"error": "Validation failed"},
        match=[matchers.header_matcher({"Idempotency-Key": "k:comment"})],
    )
    result = adapter.publish(
        make_account(), PostPayload(text="Hi", first_comment="More"), idempotency_key="k"
    )
    assert result.external_id == "1"
    assert "Validation failed" in result.raw["first_comment_error"]


def test_find_published_matches_exact_text_among_recent_statuses(adapter, mocked):
    """https://docs.joinmastodon.org/methods/accounts/#statuses (limit=40, Status.content HTML)"""
    mocked.get(
        f"{SERVER}/api/v1/accounts/109302/statuses",
        status=200,
        json=[
            status("3", content="<p>Something else</p>"),
            status(
                "2",
                content='<p>New menu &amp; more<br />see <a href="https://acme.example/menu">'
                '<span class="invisible">https://</span><span class="">acme.example/menu</span>'
                "</a></p>",
            ),
        ],
        match=[matchers.query_param_matcher({"limit": "40"})],
    )
    found = adapter.find_published(
        make_account(),
        idempotency_key="k",
        payload=PostPayload(text="New menu & more\nsee https://acme.example/menu"),
    )
    assert found is not None
    assert found.external_id == "2"


def test_find_published_ignores_old_statuses_with_the_same_text(adapter, mocked):
    """https://docs.joinmastodon.org/methods/accounts/#statuses (Status.created_at)"""
    old = (datetime.now(tz=UTC) - timedelta(days=30)).isoformat()
    mocked.get(
        f"{SERVER}/api/v1/accounts/109302/statuses",
        status=200,
        json=[status("1", content="<p>Hi</p>", created_at=old)],
    )
    found = adapter.find_published(
        make_account(), idempotency_key="k", payload=PostPayload(text="Hi")
    )
    assert found is None


def test_find_published_for_unknown_account_cannot_tell(adapter, mocked):
    """https://docs.joinmastodon.org/methods/accounts/#statuses (404 Record not found)"""
    mocked.get(
        f"{SERVER}/api/v1/accounts/109302/statuses", status=404, json={"error": "Record not found"}
    )
    with pytest.raises(OutcomeUnknown):
        adapter.find_published(make_account(), idempotency_key="k", payload=PostPayload(text="Hi"))


def test_find_published_without_payload_cannot_tell(adapter):
    """https://docs.joinmastodon.org/methods/statuses/#create (the key is not shown on a Status)"""
    with pytest.raises(OutcomeUnknown):
        adapter.find_published(make_account(), idempotency_key="k")


def test_validate_counts_urls_as_23_and_refuses_501_characters(adapter):
    """https://docs.joinmastodon.org/user/posting/#text (500 characters, links count 23)"""
    url = "https://acme.example/" + "x" * 200
    assert adapter.count_chars(f"Menu {url}") == 5 + 23
    problems = adapter.validate(PostPayload(text="a" * 501))
    assert problems == ["Mastodon: the text is 501 characters long; the limit is 500."]


def test_validate_counts_remote_mentions_by_username_only(adapter):
    """https://docs.joinmastodon.org/user/posting/ (a mention counts its username only)"""
    assert adapter.count_chars("hi @alice@example.social") == len("hi @alice")
