"""Fuzzing the inbound webhooks (docs/WEBHOOKS.md): Meta's GET verification and signed POSTs
(X-Hub-Signature-256), X's CRC check and signed POSTs (x-twitter-webhooks-signature).

For any body, headers and query string: the answer is 2xx or 4xx, never 5xx. A body without a
valid signature is refused with 403 and nothing is stored. A body with a valid signature is
stored (once) whatever it holds, and the drain task that ingests stored bodies never raises on
it: afterwards every such delivery is either processed or carries its failure in words, and a
body that is not a notification at all is marked unreadable and never retried.

Signatures as the platforms document them:
https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity#validating-the-signature-header
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from agency.models import Platform
from community import tasks
from community.models import Message, WebhookDelivery
from community.services import inbox
from community.services.inbox import DRAIN_KEY, _kick_client
from tests.factories import SocialAccountFactory
from tests.fuzz import fuzz_settings

APP_SECRET = "meta-app-secret-for-fuzzing"
VERIFY_TOKEN = "verify-me-please"
X_SECRET = "x-consumer-secret-for-fuzzing"
PAGE_ID = "1067280970047460"
IG_ID = "17841405822304914"
X_USER = "3001969357"
META = reverse("community:webhook-meta")
X = reverse("community:webhook-x")


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.META_APP_SECRET = APP_SECRET
    settings.META_VERIFY_TOKEN = VERIFY_TOKEN
    settings.X_CONSUMER_SECRET = X_SECRET
    settings.WEBHOOK_DRAIN_LOCAL_MS = 0
    inbox._local.update(until=0.0, deferred=False)
    client = _kick_client()
    if client is not None:
        client.delete(DRAIN_KEY)
    yield
    if client is not None:
        client.delete(DRAIN_KEY)


@pytest.fixture
def accounts(brand):
    return [
        SocialAccountFactory(brand=brand, platform=Platform.FACEBOOK, external_id=PAGE_ID),
        SocialAccountFactory(brand=brand, platform=Platform.INSTAGRAM, external_id=IG_ID),
        SocialAccountFactory(brand=brand, platform=Platform.X, external_id=X_USER),
    ]


def meta_sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def x_sign(body: bytes) -> str:
    digest = hmac.new(X_SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


# -- strategies ----------------------------------------------------------------------------------

# Header values as a WSGI server hands them to Django: latin-1 text.
header_text = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=80)
query = st.dictionaries(
    st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "crc_token", "x", ""]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    max_size=4,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from([PAGE_ID, IG_ID, X_USER, "comment", "add", "feed", "1741000000"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def _maybe(value_strategy, real):
    """Mostly the real value, sometimes anything at all."""
    return st.one_of(st.just(real), st.just(real), value_strategy)


@st.composite
def meta_payloads(draw):
    value = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "item": _maybe(json_values, "comment"),
                "verb": _maybe(json_values, "add"),
                "comment_id": _maybe(json_values, f"{PAGE_ID}_{draw(st.integers(0, 10**6))}"),
                "post_id": _maybe(json_values, f"{PAGE_ID}_555"),
                "parent_id": _maybe(json_values, f"{PAGE_ID}_555"),
                "message": _maybe(json_values, draw(st.text(max_size=40))),
                "text": _maybe(json_values, "hello"),
                "id": _maybe(json_values, str(draw(st.integers(0, 10**9)))),
                "from": _maybe(json_values, {"id": "24242424242", "name": "Lena", "username": "l"}),
                "media": _maybe(json_values, {"id": "1790000"}),
                "media_id": _maybe(json_values, "1790001"),
                "created_time": _maybe(json_values, 1741000000),
            },
        )
    )
    change = draw(
        _maybe(
            json_values,
            {
                "field": draw(
                    st.sampled_from(["feed", "comments", "live_comments", "mentions", 7])
                ),
                "value": value,
            },
        )
    )
    entry = draw(
        _maybe(
            json_values,
            {
                "id": draw(st.sampled_from([PAGE_ID, IG_ID, "0", 12, None])),
                "time": draw(_maybe(json_values, 1741000000)),
                "changes": draw(_maybe(json_values, [change])),
            },
        )
    )
    return draw(
        _maybe(
            json_values,
            {
                "object": draw(st.sampled_from(["page", "instagram", "user", None, 3])),
                "entry": draw(_maybe(json_values, [entry])),
            },
        )
    )


@st.composite
def x_payloads(draw):
    tweet = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "id_str": _maybe(json_values, str(draw(st.integers(1, 10**18)))),
                "text": _maybe(json_values, draw(st.text(max_size=40))),
                "extended_tweet": _maybe(json_values, {"full_text": "long"}),
                "user": _maybe(json_values, {"id_str": "42", "screen_name": "lena", "name": "L"}),
                "in_reply_to_status_id_str": _maybe(json_values, "1"),
                "in_reply_to_user_id_str": _maybe(json_values, X_USER),
                "created_at": _maybe(json_values, "Wed Oct 10 20:19:24 +0000 2018"),
                "timestamp_ms": _maybe(json_values, "1539202764000"),
            },
        )
    )
    dm = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "type": _maybe(json_values, "message_create"),
                "id": _maybe(json_values, str(draw(st.integers(1, 10**18)))),
                "created_timestamp": _maybe(json_values, "1539202764000"),
                "message_create": _maybe(
                    json_values,
                    {
                        "sender_id": "42",
                        "target": {"recipient_id": X_USER},
                        "message_data": {"text": "hi"},
                    },
                ),
            },
        )
    )
    return draw(
        _maybe(
            json_values,
            {
                "for_user_id": draw(_maybe(json_values, X_USER)),
                "tweet_create_events": draw(_maybe(json_values, [tweet])),
                "direct_message_events": draw(_maybe(json_values, [dm])),
                "users": draw(_maybe(json_values, {"42": {"screen_name": "lena", "name": "L"}})),
            },
        )
    )


def encode(payload) -> bytes:
    # allow_nan: Python writes NaN and Infinity, which JSON does not have; the parser must cope.
    return json.dumps(payload).encode()


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b"{}",
            b'{"object": "page"}',
            b'{"object": "page", "entry": {}}',
            b"\x00\x00",
            b'{"object": "page", "entry": [\x00]}',
            b"[" * 50_000 + b"]" * 50_000,  # deeper than Python's recursion limit
            b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            '{"object": "instagram", "entry": [{"id": "\udcff"}]}'.encode("utf-8", "surrogatepass"),
        ]
    ),
)


def _signature_cases(sign):
    """(given header for `body`, whether it is valid)."""

    def build(body: bytes, kind: str, junk: str):
        right = sign(body)
        return {
            "valid": (right, True),
            "missing": (None, False),
            "empty": ("", False),
            "junk": (junk, junk == right),
            "other_body": (sign(body + b" "), False),
            "no_prefix": (right.removeprefix("sha256="), False),
            "sha1": ("sha1=" + hashlib.sha1(body).hexdigest(), False),  # noqa: S324
            "upper": (right.upper(), right.upper() == right),
            "padded": (right + " ", False),
        }[kind]

    return build


KINDS = ["valid", "valid", "valid", "missing", "empty", "junk", "other_body", "no_prefix", "sha1"]
CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/json; charset=latin-1",
]


def post_signed(client, url, body, *, header, signature, content_type, params):
    extra = {} if signature is None else {header: signature}
    target = f"{url}?{urlencode(params)}" if params else url
    # generic(): the bytes as they are (post() would re-encode them to the content type's charset).
    return client.generic("POST", target, body, content_type=content_type, **extra)


def check_post(client, url, *, body, kind, junk, content_type, params, sign, header):
    signature, valid = _signature_cases(sign)(body, kind, junk)
    digest = hashlib.sha256(body).hexdigest()
    seen = WebhookDelivery.objects.filter(body_sha256=digest).exists()
    before = WebhookDelivery.objects.count()
    response = post_signed(
        client,
        url,
        body,
        header=header,
        signature=signature,
        content_type=content_type,
        params=params,
    )
    assert response.status_code < 500
    if not valid:
        assert response.status_code == 403
        assert WebhookDelivery.objects.count() == before
        return None
    assert response.status_code == 200, response.content
    assert WebhookDelivery.objects.count() == before + (0 if seen else 1)
    return WebhookDelivery.objects.get(body_sha256=digest)


def check_drained(delivery: WebhookDelivery) -> None:
    """The drain task runs over what was stored without raising; the delivery ends processed,
    or with its failure in words and none of its messages written."""
    messages_before = Message.objects.count()
    tasks.drain_webhooks()
    delivery.refresh_from_db()
    assert delivery.attempts >= 1
    assert delivery.processed_at is not None or delivery.error.strip(), delivery.body[:200]
    if delivery.processed_at is None:
        # Failed while storing its messages (a NUL in a comment's text, say): rolled back
        # whole, left for the sweep's retries.
        assert Message.objects.count() == messages_before
    try:
        inbox._webhook_items(delivery)
    except Exception:
        # Not a notification, or misshapen inside: said so, and never retried (the same body
        # would fail the same way).
        assert delivery.processed_at is not None
        assert delivery.error.startswith("The body could not be read: ")
        assert Message.objects.count() == messages_before


# -- Meta ----------------------------------------------------------------------------------------


@fuzz_settings(max_examples=40)
@given(params=query)
@example(params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"})
@example(params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN + "x"})
@example(params={"hub.mode": "subscribe", "hub.verify_token": "é" * 3, "hub.challenge": "<b>"})
def test_meta_verification_echoes_only_to_the_right_token(client, params):
    response = client.get(META, params)
    right = params.get("hub.mode") == "subscribe" and params.get("hub.verify_token") == VERIFY_TOKEN
    if right:
        assert response.status_code == 200
        assert response.content.decode() == params.get("hub.challenge", "")
        assert response["Content-Type"].startswith("text/plain")
    else:
        assert response.status_code == 403


@fuzz_settings(max_examples=40)
@given(
    body=raw_bodies,
    kind=st.sampled_from(KINDS),
    junk=header_text,
    content_type=st.sampled_from(CONTENT_TYPES),
    params=query,
)
def test_meta_post_of_any_bytes_is_refused_unsigned_and_survives_the_drain_signed(
    client, accounts, body, kind, junk, content_type, params
):
    delivery = check_post(
        client,
        META,
        body=body,
        kind=kind,
        junk=junk,
        content_type=content_type,
        params=params,
        sign=meta_sign,
        header="HTTP_X_HUB_SIGNATURE_256",
    )
    if delivery is not None:
        check_drained(delivery)


@fuzz_settings(max_examples=60)
@given(payload=meta_payloads(), kind=st.sampled_from(["valid", "valid", "other_body"]))
def test_meta_post_of_misshapen_notifications_is_ingested_or_failed_in_words(
    client, accounts, payload, kind
):
    body = encode(payload)
    delivery = check_post(
        client,
        META,
        body=body,
        kind=kind,
        junk="",
        content_type="application/json",
        params={},
        sign=meta_sign,
        header="HTTP_X_HUB_SIGNATURE_256",
    )
    if delivery is not None:
        check_drained(delivery)


# -- X -------------------------------------------------------------------------------------------


@fuzz_settings(max_examples=25)
@given(params=query)
@example(params={"crc_token": "challenge"})
@example(params={"crc_token": ""})
def test_x_crc_answers_the_hmac_of_any_token_or_refuses_an_empty_one(client, params):
    response = client.get(X, params)
    token = params.get("crc_token", "")
    if token:
        assert response.status_code == 200
        assert response.json() == {"response_token": x_sign(token.encode())}
    else:
        assert response.status_code == 403


@fuzz_settings(max_examples=25)
@given(
    body=raw_bodies,
    kind=st.sampled_from(KINDS),
    junk=header_text,
    content_type=st.sampled_from(CONTENT_TYPES),
    params=query,
)
def test_x_post_of_any_bytes_is_refused_unsigned_and_survives_the_drain_signed(
    client, accounts, body, kind, junk, content_type, params
):
    delivery = check_post(
        client,
        X,
        body=body,
        kind=kind,
        junk=junk,
        content_type=content_type,
        params=params,
        sign=x_sign,
        header="HTTP_X_TWITTER_WEBHOOKS_SIGNATURE",
    )
    if delivery is not None:
        check_drained(delivery)


@fuzz_settings(max_examples=60)
@given(payload=x_payloads())
def test_x_post_of_misshapen_events_is_ingested_or_failed_in_words(client, accounts, payload):
    delivery = check_post(
        client,
        X,
        body=encode(payload),
        kind="valid",
        junk="",
        content_type="application/json",
        params={},
        sign=x_sign,
        header="HTTP_X_TWITTER_WEBHOOKS_SIGNATURE",
    )
    check_drained(delivery)


def test_a_body_over_the_upload_limit_is_refused_with_400_and_not_stored(db, client, settings):
    body = b"{" + b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b"}"
    response = post_signed(
        client,
        META,
        body,
        header="HTTP_X_HUB_SIGNATURE_256",
        signature=meta_sign(body),
        content_type="application/json",
        params={},
    )
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
