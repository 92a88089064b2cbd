"""BlueskyAdapter against AT Protocol XRPC answers replayed with `responses`."""

import json
import re
import time

import pytest
import requests
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import MediaItem, PostPayload, get_adapter
from agency.platforms.bluesky import BlueskyAdapter, link_facets, record_key
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TransientError,
)

PDS = "https://pds.example"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
SESSION = f"{PDS}/xrpc/com.atproto.server.createSession"
CREATE = f"{PDS}/xrpc/com.atproto.repo.createRecord"
GET = f"{PDS}/xrpc/com.atproto.repo.getRecord"
CID = "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q"


def make_account(**overrides):
    fields = {
        "platform": "bluesky",
        "handle": "@acme.bsky.social",
        "external_id": DID,
        "instance_url": PDS,
        "access_token": "abcd-efgh-ijkl-mnop",
    }
    fields.update(overrides)
    return SocialAccount(**fields)


def session_ok(rsps, jwt="jwt-1"):
    rsps.post(
        SESSION,
        status=200,
        json={
            "accessJwt": jwt,
            "refreshJwt": "refresh-jwt",
            "handle": "acme.bsky.social",
            "did": DID,
        },
        match=[
            matchers.json_params_matcher({"identifier": DID, "password": "abcd-efgh-ijkl-mnop"})
        ],
    )


def created(rkey):
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "cid": CID,
        "commit": {"cid": "bafyreib2rxk3rw6", "rev": "3lu3k7vikye2m"},
        "validationStatus": "valid",
    }


@pytest.fixture
def adapter():
    return BlueskyAdapter()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def test_get_adapter_returns_bluesky_adapter():
    adapter = get_adapter("bluesky")
    assert isinstance(adapter, BlueskyAdapter)
    assert adapter.display_name == "Bluesky"


def test_record_key_is_a_valid_tid_and_deterministic():
    """https://atproto.com/specs/record-key (record key syntax; app.bsky.feed.post uses tid) and
    https://atproto.com/specs/tid (13 base32-sortable characters, top bit zero)"""
    key = record_key("post-42-bluesky")
    assert key == record_key("post-42-bluesky")
    assert key != record_key("post-43-bluesky")
    assert re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", key)


def test_publish_creates_the_record_under_the_derived_key(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session and
    https://docs.bsky.app/docs/api/com-atproto-repo-create-record (repo, collection, rkey,
    record; answers uri and cid)"""
    rkey = record_key("post-42")
    session_ok(mocked)
    mocked.post(
        CREATE,
        status=200,
        json=created(rkey),
        match=[matchers.header_matcher({"Authorization": "Bearer jwt-1"})],
    )
    result = adapter.publish(make_account(), PostPayload(text="Hello"), idempotency_key="post-42")
    body = mocked.calls[1].request.body

    sent = json.loads(body)
    assert sent["repo"] == DID
    assert sent["collection"] == "app.bsky.feed.post"
    assert sent["rkey"] == rkey
    assert sent["record"]["$type"] == "app.bsky.feed.post"
    assert sent["record"]["text"] == "Hello"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sent["record"]["createdAt"])
    assert "facets" not in sent["record"]
    assert result.external_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert result.url == f"https://bsky.app/profile/acme.bsky.social/post/{rkey}"


def test_link_facets_use_utf8_byte_offsets_after_an_emoji():
    """https://docs.bsky.app/docs/advanced-guides/post-richtext (byteStart inclusive, byteEnd
    exclusive, counted in UTF-8 bytes)"""
    text = "🎉 New menu: https://acme.example/menu. #coffee"
    facets = link_facets(text)
    link, tag = facets
    encoded = text.encode("utf-8")
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert (start, end) == (15, 40)  # the emoji is 4 bytes, not 1 character
    assert encoded[start:end] == b"https://acme.example/menu"
    assert link["features"] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example/menu"}
    ]
    assert encoded[tag["index"]["byteStart"] : tag["index"]["byteEnd"]] == b"#coffee"
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "coffee"}]


def test_publish_sends_link_facets_with_the_record(adapter, mocked):
    """https://docs.bsky.app/docs/advanced-guides/post-richtext (facets on the post record)"""
    session_ok(mocked)
    mocked.post(CREATE, status=200, json=created(record_key("k")))
    adapter.publish(
        make_account(),
        PostPayload(text="Café ☕", link="https://acme.example"),
        idempotency_key="k",
    )

    record = json.loads(mocked.calls[1].request.body)["record"]
    assert record["text"] == "Café ☕ https://acme.example"
    assert record["facets"][0]["index"] == {"byteStart": 10, "byteEnd": 30}


def test_publish_uploads_images_as_blobs_and_embeds_them(adapter, mocked, tmp_path):
    """https://docs.bsky.app/docs/advanced-guides/posts#images-embeds (uploadBlob, then an
    app.bsky.embed.images embed with alt text)"""
    image = tmp_path / "latte.png"
    image.write_bytes(b"\x89PNG fake")
    blob = {
        "$type": "blob",
        "ref": {"$link": "bafkreibabalobzn6"},
        "mimeType": "image/png",
        "size": 9,
    }
    session_ok(mocked)
    mocked.post(
        f"{PDS}/xrpc/com.atproto.repo.uploadBlob",
        status=200,
        json={"blob": blob},
        match=[
            matchers.header_matcher({"Content-Type": "image/png", "Authorization": "Bearer jwt-1"})
        ],
    )
    mocked.post(CREATE, status=200, json=created(record_key("k")))
    media = (
        MediaItem(path=str(image), mime_type="image/png", alt_text="Latte", width=4, height=3),
    )
    adapter.publish(make_account(), PostPayload(text="Art", media=media), idempotency_key="k")

    embed = json.loads(mocked.calls[2].request.body)["record"]["embed"]
    assert embed == {
        "$type": "app.bsky.embed.images",
        "images": [{"alt": "Latte", "image": blob, "aspectRatio": {"width": 4, "height": 3}}],
    }


def test_retry_after_unknown_outcome_returns_the_existing_record(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record (a taken rkey is refused;
    the reference PDS answers 500, see bluesky-social/atproto#3718) and
    https://docs.bsky.app/docs/api/com-atproto-repo-get-record (uri, cid, value)"""
    rkey = record_key("post-42")
    session_ok(mocked)
    mocked.post(
        CREATE,
        status=500,
        json={"error": "InternalServerError", "message": "Internal Server Error"},
    )
    mocked.get(
        GET,
        status=200,
        json={"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": CID, "value": {"text": "Hi"}},
        match=[
            matchers.query_param_matcher(
                {"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey}
            )
        ],
    )
    result = adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="post-42")
    assert result.external_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert result.raw["existing"] is True


def test_conflict_answer_for_a_taken_key_returns_the_existing_record(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record (explicit error for an
    existing record, bluesky-social/atproto#4728)"""
    rkey = record_key("post-42")
    session_ok(mocked)
    mocked.post(CREATE, status=409, json={"error": "RecordAlreadyExists", "message": "exists"})
    mocked.get(GET, status=200, json={"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": CID})
    result = adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="post-42")
    assert result.url.endswith(f"/post/{rkey}")


def test_server_error_with_no_record_is_outcome_unknown(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-get-record (400 RecordNotFound)"""
    session_ok(mocked)
    mocked.post(CREATE, status=502, body="Bad Gateway")
    mocked.get(
        GET, status=400, json={"error": "RecordNotFound", "message": "Could not locate record"}
    )
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_find_published_fetches_the_record_by_its_derived_key(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-get-record"""
    rkey = record_key("post-7")
    mocked.get(
        GET,
        status=200,
        json={"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": CID, "value": {}},
        match=[
            matchers.query_param_matcher(
                {"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey}
            )
        ],
    )
    found = adapter.find_published(make_account(), idempotency_key="post-7")
    assert found.external_id == f"at://{DID}/app.bsky.feed.post/{rkey}"


def test_find_published_returns_none_when_the_record_is_not_found(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-get-record (RecordNotFound)"""
    mocked.get(
        GET, status=400, json={"error": "RecordNotFound", "message": "Could not locate record"}
    )
    assert adapter.find_published(make_account(), idempotency_key="post-7") is None


def test_find_published_refused_lookup_cannot_tell(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-get-record (400 InvalidRequest)"""
    mocked.get(GET, status=400, json={"error": "InvalidRequest", "message": "Error: repo must be"})
    with pytest.raises(OutcomeUnknown):
        adapter.find_published(make_account(external_id="not-a-did"), idempotency_key="post-7")


def test_expired_token_retries_once_with_a_fresh_session(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-server-refresh-session (ExpiredToken) and
    https://docs.bsky.app/docs/api/com-atproto-server-create-session"""
    session_ok(mocked, jwt="jwt-old")
    adapter._session(make_account(), PDS)  # an earlier publish left a cached session
    mocked.post(
        CREATE,
        status=400,
        json={"error": "ExpiredToken", "message": "Token has expired"},
        match=[matchers.header_matcher({"Authorization": "Bearer jwt-old"})],
    )
    session_ok(mocked, jwt="jwt-new")
    mocked.post(
        CREATE,
        status=200,
        json=created(record_key("k")),
        match=[matchers.header_matcher({"Authorization": "Bearer jwt-new"})],
    )
    result = adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert result.external_id.endswith(record_key("k"))


def test_token_refused_twice_raises_auth_expired(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record (401 Unauthorized)"""
    session_ok(mocked)
    mocked.post(
        CREATE, status=401, json={"error": "AuthenticationRequired", "message": "Bad token"}
    )
    session_ok(mocked)
    mocked.post(
        CREATE, status=401, json={"error": "AuthenticationRequired", "message": "Bad token"}
    )
    with pytest.raises(AuthExpired):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_revoked_app_password_raises_auth_expired(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session (401)"""
    mocked.post(
        SESSION,
        status=401,
        json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
    )
    with pytest.raises(AuthExpired) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert "abcd-efgh-ijkl-mnop" not in str(caught.value)


def test_throttle_raises_rate_limited_until_ratelimit_reset(adapter, mocked):
    """https://docs.bsky.app/docs/advanced-guides/rate-limits (429, ratelimit-reset headers)"""
    reset = int(time.time()) + 600
    session_ok(mocked)
    mocked.post(
        CREATE,
        status=429,
        json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers={
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(reset),
        },
    )
    with pytest.raises(RateLimited) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert 590 < caught.value.retry_after <= 600


def test_invalid_record_is_rejected_with_the_message(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record (400 InvalidRequest)"""
    session_ok(mocked)
    mocked.post(
        CREATE,
        status=400,
        json={
            "error": "InvalidRequest",
            "message": "Invalid app.bsky.feed.post record: text too long",
        },
    )
    with pytest.raises(Rejected) as caught:
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")
    assert "text too long" in str(caught.value)


def test_timeout_after_sending_is_outcome_unknown(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record"""
    session_ok(mocked)
    mocked.post(CREATE, body=requests.exceptions.ReadTimeout())
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_refused_connection_is_transient(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session"""
    mocked.post(SESSION, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(TransientError):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_malformed_create_answer_is_outcome_unknown(adapter, mocked):
    """https://docs.bsky.app/docs/api/com-atproto-repo-create-record (200 answers uri and cid)"""
    session_ok(mocked)
    mocked.post(CREATE, status=200, body="<html>proxy page</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(make_account(), PostPayload(text="Hi"), idempotency_key="k")


def test_failed_first_comment_never_fails_the_publish(adapter, mocked):
    """https://docs.bsky.app/docs/advanced-guides/posts#replies (reply with root and parent)"""
    session_ok(mocked)
    mocked.post(CREATE, status=200, json=created(record_key("k")))
    mocked.post(CREATE, status=400, json={"error": "InvalidRequest", "message": "nope"})
    result = adapter.publish(
        make_account(), PostPayload(text="Hi", first_comment="More"), idempotency_key="k"
    )
    assert result.external_id.endswith(record_key("k"))
    assert "nope" in result.raw["first_comment_error"]

    reply = json.loads(mocked.calls[2].request.body)
    assert reply["rkey"] == record_key("k:comment")
    ref = {"uri": f"at://{DID}/app.bsky.feed.post/{record_key('k')}", "cid": CID}
    assert reply["record"]["reply"] == {"root": ref, "parent": ref}


def test_validate_allows_300_graphemes_of_emoji_and_refuses_301(adapter):
    """https://docs.bsky.app/docs/advanced-guides/post-richtext (text: 300 graphemes max,
    lexicon maxGraphemes 300)"""
    family = "👨‍👩‍👧‍👦"  # one grapheme, eleven bytes in UTF-8 per code point group
    assert adapter.validate(PostPayload(text=family * 300)) == []
    problems = adapter.validate(PostPayload(text=family * 300 + "!"))
    assert problems == ["Bluesky: the text is 301 characters long; the limit is 300."]


def test_validate_counts_a_link_by_its_full_length(adapter):
    """https://docs.bsky.app/docs/advanced-guides/post-richtext (links are plain text + facet)"""
    link = "https://acme.example/" + "x" * 280
    problems = adapter.validate(PostPayload(text="Menu", link=link))
    assert problems == ["Bluesky: the text is 306 characters long; the limit is 300."]
