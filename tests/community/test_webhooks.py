"""Meta and X webhooks: verified over the raw body, stored once, ingested by a drain task."""

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from agency.models import Platform
from community import tasks
from community.models import Conversation, Message, WebhookDelivery
from community.services import inbox, webhook_drain, webhook_process
from community.services.inbox import DRAIN_KEY, _kick_client, webhook_drain_kick
from tests.factories import SocialAccountFactory

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"
X_SECRET = "x-consumer-secret-for-tests"
PAGE_ID = "1067280970047460"
IG_ID = "17841405822304914"
X_USER = "3001969357"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.META_APP_SECRET = APP_SECRET
    settings.META_VERIFY_TOKEN = VERIFY_TOKEN
    settings.X_CONSUMER_SECRET = X_SECRET


@pytest.fixture(autouse=True)
def _no_drain_kicked_yet(settings):
    """The kick key lives in the test run's Redis: start every test without one, and without
    the per-process window (tested on its own below)."""
    settings.WEBHOOK_DRAIN_LOCAL_MS = 0
    inbox._local.update(until=0.0, deferred=False)
    client = _kick_client()
    if client is not None:
        client.delete(DRAIN_KEY)
    yield
    if client is not None:
        client.delete(DRAIN_KEY)


@pytest.fixture
def kick_key():
    """The once-per-window kick lives in the broker's Redis; without it (the SQLite and
    file-broker mode of a developer's laptop) every delivery enqueues its own drain."""
    if _kick_client() is None:
        pytest.skip("needs the Redis broker that holds the kick key")


@pytest.fixture
def page(brand):
    return SocialAccountFactory(
        brand=brand, platform=Platform.FACEBOOK, handle="Acme Coffee", external_id=PAGE_ID
    )


@pytest.fixture
def instagram(brand):
    return SocialAccountFactory(
        brand=brand, platform=Platform.INSTAGRAM, handle="@acmecoffee", external_id=IG_ID
    )


@pytest.fixture
def x_account(brand):
    return SocialAccountFactory(
        brand=brand, platform=Platform.X, handle="@acmecoffee", external_id=X_USER
    )


def meta_sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def x_sign(body: bytes) -> str:
    digest = hmac.new(X_SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def page_comment_body(comment_id="1067280970047460_118", message="Is this vegan?") -> bytes:
    """A Page feed comment as Webhooks for Pages sends it (field feed, item comment, verb add).
    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1741000000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": "24242424242", "name": "Lena Weber"},
                            "post": {"status_type": "added_photos", "id": f"{PAGE_ID}_555"},
                            "message": message,
                            "post_id": f"{PAGE_ID}_555",
                            "comment_id": comment_id,
                            "created_time": 1741000000,
                            "item": "comment",
                            "parent_id": f"{PAGE_ID}_555",
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def post_meta(client, body: bytes, signature: str | None = None, **extra):
    headers = {} if signature == "" else {"HTTP_X_HUB_SIGNATURE_256": signature or meta_sign(body)}
    return client.post(
        reverse("community:webhook-meta"),
        data=body,
        content_type="application/json",
        **headers,
        **extra,
    )


def receive_and_process(client, body, django_capture_on_commit_callbacks, *, post=post_meta):
    with (
        mock.patch.object(tasks.drain_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(client, body)
    assert response.status_code == 200
    delay.assert_called_once_with()
    result = webhook_drain()
    assert result["done"] is True
    return WebhookDelivery.objects.latest("pk")


# -- Meta verification ---------------------------------------------------------------------------


def test_meta_handshake_echoes_the_challenge_to_the_right_token(client):
    """GET with hub.mode=subscribe, hub.challenge and hub.verify_token; answer the challenge.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests
    """
    response = client.get(
        reverse("community:webhook-meta"),
        {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY_TOKEN},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    ("mode", "token"),
    [("subscribe", "wrong-token"), ("unsubscribe", VERIFY_TOKEN), ("subscribe", "")],
)
def test_meta_handshake_is_refused_otherwise(client, mode, token):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests"""
    response = client.get(
        reverse("community:webhook-meta"),
        {"hub.mode": mode, "hub.challenge": "1158201444", "hub.verify_token": token},
    )
    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_meta_handshake_is_refused_when_no_token_is_configured(client, settings):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests"""
    settings.META_VERIFY_TOKEN = ""
    response = client.get(
        reverse("community:webhook-meta"),
        {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": ""},
    )
    assert response.status_code == 403


# -- Meta event notifications --------------------------------------------------------------------


def test_signed_page_comment_is_stored_then_processed_into_the_inbox(
    client, page, django_capture_on_commit_callbacks
):
    """X-Hub-Signature-256: sha256=<HMAC-SHA256 of the payload with the app secret>.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications
    """
    delivery = receive_and_process(client, page_comment_body(), django_capture_on_commit_callbacks)
    assert delivery.processed_at is not None
    assert delivery.error == ""
    assert delivery.platform == Platform.FACEBOOK
    message = Message.objects.get()
    assert message.account == page
    assert message.platform_message_id == "1067280970047460_118"
    assert message.text == "Is this vegan?"
    assert message.author_name == "Lena Weber"
    assert message.direction == Message.Direction.INBOUND
    conversation = message.conversation
    assert conversation.kind == Conversation.Kind.COMMENT
    assert conversation.external_thread_id == f"{PAGE_ID}_555"
    assert conversation.first_inbound_at.timestamp() == 1741000000


def test_missing_or_invalid_signature_is_refused_logged_without_body_and_not_stored(
    client, page, caplog
):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    body = page_comment_body(message="secret-looking customer words")
    with caplog.at_level(logging.WARNING, logger="community.views.webhooks"):
        missing = post_meta(client, body, signature="")
        invalid = post_meta(client, body, signature="sha256=" + "0" * 64)
    assert missing.status_code == 403
    assert invalid.status_code == 403
    assert WebhookDelivery.objects.count() == 0
    assert "missing signature" in caplog.text
    assert "invalid signature" in caplog.text
    assert "secret-looking customer words" not in caplog.text


def test_body_re_encoded_after_signing_fails_the_signature(client, page):
    """The signature covers the raw bytes, not the JSON they mean.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads"""
    body = page_comment_body()
    reencoded = json.dumps(json.loads(body), indent=2).encode()
    assert json.loads(reencoded) == json.loads(body)
    response = post_meta(client, reencoded, signature=meta_sign(body))
    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_replayed_delivery_is_acknowledged_but_stored_once(
    client, page, django_capture_on_commit_callbacks
):
    """Meta retries a delivery it thinks failed; a captured body may be replayed.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    body = page_comment_body()
    with (
        mock.patch.object(tasks.drain_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = post_meta(client, body)
        replayed = post_meta(client, body)
    assert first.status_code == replayed.status_code == 200
    assert WebhookDelivery.objects.count() == 1
    assert delay.call_count == 1


def test_same_body_replayed_a_day_later_is_still_stored_once(
    client, page, django_capture_on_commit_callbacks
):
    """The same bytes are the same event however late they come back; the unique hash makes
    that race-free. https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    body = page_comment_body()
    with (
        mock.patch.object(tasks.drain_webhooks, "delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert post_meta(client, body).status_code == 200
        WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(hours=25))
        assert post_meta(client, body).status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_instagram_comment_and_mention_reach_the_instagram_account(
    client, instagram, django_capture_on_commit_callbacks
):
    """Comments: value {id, from {id, username}, text, media {id, media_product_type}};
    mentions: value {media_id, comment_id}.
    https://developers.facebook.com/docs/instagram-platform/webhooks/examples/
    https://developers.facebook.com/docs/graph-api/webhooks/reference/instagram"""
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_ID,
                "time": 1741000100,
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "id": "17865799348089039",
                            "from": {"id": "1789012", "username": "lena.brews"},
                            "text": "Where can I buy this? Love it!",
                            "media": {"id": "17887498072083520", "media_product_type": "FEED"},
                        },
                    },
                    {
                        "field": "mentions",
                        "value": {"media_id": "17918195224117851", "comment_id": "17894227972"},
                    },
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    delivery = receive_and_process(client, body, django_capture_on_commit_callbacks)
    assert delivery.platform == Platform.INSTAGRAM
    comment = Message.objects.get(platform_message_id="17865799348089039")
    assert comment.account == instagram
    assert comment.author_handle == "lena.brews"
    assert comment.sentiment == "positive"
    assert comment.conversation.external_thread_id == "17887498072083520"
    mention = Conversation.objects.get(kind=Conversation.Kind.MENTION)
    assert mention.external_thread_id == "17894227972"
    assert mention.account == instagram


def test_unknown_account_is_skipped_and_noted(client, page, django_capture_on_commit_callbacks):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    body = page_comment_body().replace(PAGE_ID.encode(), b"999000999")
    delivery = receive_and_process(client, body, django_capture_on_commit_callbacks)
    assert Message.objects.count() == 0
    assert delivery.processed_at is not None
    assert "999000999" in delivery.error


def test_malformed_json_is_marked_with_the_error_not_retried(
    client, page, django_capture_on_commit_callbacks
):
    """The view answered 200 after verifying; the task records what went wrong.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    delivery = receive_and_process(
        client, b'{"object": "page", "entry": [', django_capture_on_commit_callbacks
    )
    assert delivery.processed_at is not None
    assert "could not be read" in delivery.error
    assert webhook_process(delivery_id=delivery.pk) == 0
    assert Message.objects.count() == 0


def test_processing_a_delivery_twice_stores_its_messages_once(
    client, page, django_capture_on_commit_callbacks
):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    delivery = receive_and_process(client, page_comment_body(), django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(processed_at=None)
    assert webhook_process(delivery_id=delivery.pk) == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(processed_at=None, attempts=0)
    assert webhook_drain()["new"] == 0
    assert Message.objects.count() == 1


def test_many_deliveries_in_a_window_kick_one_drain_that_ingests_them_all(
    client, page, kick_key, django_capture_on_commit_callbacks
):
    """Each event is one signed POST; the accept path stores it and kicks at most one drain
    per window. https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications
    """
    with (
        mock.patch.object(tasks.drain_webhooks, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for n in range(12):
            body = page_comment_body(comment_id=f"{PAGE_ID}_{200 + n}", message=f"Question {n}")
            assert post_meta(client, body).status_code == 200
    assert delay.call_count == 1
    assert WebhookDelivery.objects.count() == 12

    result = webhook_drain()

    assert result == {"claimed": 12, "new": 12, "done": True}
    assert Message.objects.count() == 12
    assert not WebhookDelivery.objects.filter(processed_at__isnull=True).exists()


def test_a_drain_that_found_nothing_left_lets_the_next_delivery_kick_again(
    client, page, kick_key, django_capture_on_commit_callbacks, settings
):
    """https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    settings.WEBHOOK_DRAIN_KICK_MS = 60_000  # the window alone would not let a second kick by
    with mock.patch.object(tasks.drain_webhooks, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            post_meta(client, page_comment_body(comment_id=f"{PAGE_ID}_301"))
            post_meta(client, page_comment_body(comment_id=f"{PAGE_ID}_302"))
        assert delay.call_count == 1
        webhook_drain()
        with django_capture_on_commit_callbacks(execute=True):
            post_meta(client, page_comment_body(comment_id=f"{PAGE_ID}_303"))
    assert delay.call_count == 2
    assert Message.objects.count() == 2  # the third waits for the drain just kicked


def test_a_delivery_stored_while_the_drain_finishes_is_seen_by_its_last_look(page):
    """The drain clears the kick key and looks once more: a body stored just before the key went
    away (whose own kick found the key still set) is not left behind."""
    stored_late = []

    def clear_and_store_one(*args, **kwargs):
        # The request's INSERT lands between the drain's empty batch and its clearing the key.
        if stored_late:
            return real_done()
        stored_late.append(
            WebhookDelivery.objects.create(
                platform=Platform.FACEBOOK,
                body=page_comment_body(comment_id=f"{PAGE_ID}_401").decode(),
                body_sha256="late",
            )
        )
        real_done()

    real_done = inbox._drain_kick_done
    with mock.patch.object(inbox, "_drain_kick_done", side_effect=clear_and_store_one):
        result = webhook_drain()
    assert result["claimed"] == 1
    assert Message.objects.filter(platform_message_id=f"{PAGE_ID}_401").exists()
    stored_late[0].refresh_from_db()
    assert stored_late[0].processed_at is not None


def test_a_web_process_asks_redis_once_per_window_and_kicks_again_at_its_end(settings):
    """Deliveries inside the window skip the Redis call; one deferred kick follows them, so a
    body stored there is never left waiting for the sweep."""
    settings.WEBHOOK_DRAIN_LOCAL_MS = 100
    with mock.patch.object(inbox, "_kick_now", return_value=True) as kick:
        assert webhook_drain_kick() is True
        assert webhook_drain_kick() is False
        assert webhook_drain_kick() is False
        assert kick.call_count == 1
        deadline = time.monotonic() + 5
        while kick.call_count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert kick.call_count == 2
        time.sleep(0.2)
    assert kick.call_count == 2  # one deferred kick for the whole window, not one per call


def test_a_crash_between_insert_and_kick_is_drained_by_the_sweep(
    client, page, django_capture_on_commit_callbacks, settings
):
    """The body is stored before the kick: if the kick never happens (the process dies, Redis
    or the broker is down), the request still answers 200 and the sweep drains the body.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    with (
        mock.patch(
            "community.services.inbox._kick_client", side_effect=ConnectionError("Redis down")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_meta(client, page_comment_body())
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at is None

    with mock.patch.object(tasks.drain_webhooks, "delay") as delay:
        assert tasks.sweep_webhooks() == 0  # not yet: a kick may still be on its way
        WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=1))
        assert tasks.sweep_webhooks() == 1
    delay.assert_called_once_with(settings.WEBHOOK_SWEEP_AFTER_SECONDS)

    assert tasks.drain_webhooks(settings.WEBHOOK_SWEEP_AFTER_SECONDS) == 1
    delivery.refresh_from_db()
    assert delivery.processed_at is not None
    assert Message.objects.count() == 1


def test_a_failing_delivery_does_not_undo_the_rest_of_its_batch(page):
    """A delivery whose ingestion fails (a database error, a bug past the parser) rolls back
    alone and waits for the sweep's retry; the others are stored."""
    bodies = [page_comment_body(comment_id=f"{PAGE_ID}_5{n}") for n in range(3)]
    for n, body in enumerate(bodies):
        WebhookDelivery.objects.create(
            platform=Platform.FACEBOOK, body=body.decode(), body_sha256=str(n)
        )
    real = inbox.inbound_ingest

    def ingest(*, account, item, source):
        if item.message_id == f"{PAGE_ID}_51":
            raise RuntimeError("the database went away")
        return real(account=account, item=item, source=source)

    with mock.patch.object(inbox, "inbound_ingest", side_effect=ingest):
        result = webhook_drain()
    assert result["new"] == 2
    failed = WebhookDelivery.objects.get(body_sha256="1")
    assert failed.processed_at is None
    assert failed.attempts == 1
    assert "the database went away" in failed.error
    # A kicked drain leaves it to the sweep's retry instead of failing it again at once.
    assert webhook_drain()["claimed"] == 0
    WebhookDelivery.objects.filter(pk=failed.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    assert webhook_drain(older_than=timedelta(seconds=30))["new"] == 1


def test_sweeper_drains_deliveries_left_unprocessed_for_a_while(db, settings):
    old = WebhookDelivery.objects.create(platform=Platform.FACEBOOK, body="{}", body_sha256="a")
    WebhookDelivery.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    WebhookDelivery.objects.create(platform=Platform.FACEBOOK, body="{}", body_sha256="b")
    done = WebhookDelivery.objects.create(
        platform=Platform.FACEBOOK, body="{}", body_sha256="c", processed_at=timezone.now()
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    with mock.patch.object(tasks.drain_webhooks, "delay") as delay:
        assert tasks.sweep_webhooks() == 1
    delay.assert_called_once_with(settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    result = webhook_drain(older_than=timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS))
    assert result["claimed"] == 1
    old.refresh_from_db()
    assert old.processed_at is not None


def test_a_drain_out_of_time_hands_over_to_the_next(page):
    for n in range(3):
        WebhookDelivery.objects.create(
            platform=Platform.FACEBOOK,
            body=page_comment_body(comment_id=f"{PAGE_ID}_6{n}").decode(),
            body_sha256=str(n),
        )
    with (
        mock.patch("community.tasks.webhook_drain") as drain,
        mock.patch.object(tasks.drain_webhooks, "delay") as delay,
    ):
        drain.return_value = {"claimed": 1, "new": 1, "done": False}
        tasks.drain_webhooks()
    delay.assert_called_once_with(None)
    assert webhook_drain(budget_seconds=0)["done"] is False


def test_a_failing_delivery_is_given_up_after_max_attempts(page, settings):
    settings.INBOUND_WEBHOOK_MAX_ATTEMPTS = 2
    delivery = WebhookDelivery.objects.create(
        platform=Platform.FACEBOOK, body=page_comment_body().decode(), body_sha256="x"
    )
    with mock.patch.object(inbox, "inbound_ingest", side_effect=RuntimeError("bug")):
        for _ in range(2):
            with pytest.raises(RuntimeError):
                webhook_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.processed_at is not None
    assert "bug" in delivery.error


# -- X Account Activity API ----------------------------------------------------------------------


def test_x_crc_answers_with_the_base64_hmac_of_the_token(client):
    """response_token = "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token)).
    https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks
    """
    response = client.get(reverse("community:webhook-x"), {"crc_token": "9b4507b3-9040-4669"})
    assert response.status_code == 200
    expected = base64.b64encode(
        hmac.new(X_SECRET.encode(), b"9b4507b3-9040-4669", hashlib.sha256).digest()
    ).decode()
    assert response.json() == {"response_token": f"sha256={expected}"}


def test_x_crc_without_a_token_or_secret_is_refused(client, settings):
    """https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks"""
    assert client.get(reverse("community:webhook-x")).status_code == 403
    settings.X_CONSUMER_SECRET = ""
    assert client.get(reverse("community:webhook-x"), {"crc_token": "abc"}).status_code == 403


def post_x(client, body: bytes, signature: str | None = None):
    return client.post(
        reverse("community:webhook-x"),
        data=body,
        content_type="application/json",
        HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body) if signature is None else signature,
    )


def x_events_body() -> bytes:
    """tweet_create_events (a reply to our post, a mention, our own reply) and
    direct_message_events, as the Account Activity API delivers them.
    https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/account-activity-data-objects
    """
    user = {"id_str": "6253282", "screen_name": "lena_w", "name": "Lena"}
    payload = {
        "for_user_id": X_USER,
        "tweet_create_events": [
            {
                "created_at": "Mon Mar 03 09:00:00 +0000 2025",
                "id_str": "1896000000000000001",
                "text": "@acmecoffee my latte was cold today, not happy",
                "in_reply_to_status_id_str": "1895000000000000000",
                "in_reply_to_user_id_str": X_USER,
                "user": user,
            },
            {
                "created_at": "Mon Mar 03 09:05:00 +0000 2025",
                "id_str": "1896000000000000002",
                "text": "Best flat white in town at @acmecoffee",
                "in_reply_to_status_id_str": None,
                "in_reply_to_user_id_str": None,
                "user": {"id_str": "777", "screen_name": "tom_k", "name": "Tom"},
            },
            {
                "created_at": "Mon Mar 03 09:30:00 +0000 2025",
                "id_str": "1896000000000000003",
                "text": "@lena_w so sorry, next one is on us!",
                "in_reply_to_status_id_str": "1896000000000000001",
                "in_reply_to_user_id_str": "6253282",
                "user": {"id_str": X_USER, "screen_name": "acmecoffee", "name": "Acme"},
            },
        ],
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "954491830116155396",
                "created_timestamp": "1740992400000",
                "message_create": {
                    "target": {"recipient_id": X_USER},
                    "sender_id": "6253282",
                    "message_data": {"text": "Do you deliver?", "entities": {}},
                },
            }
        ],
        "users": {"6253282": {"id": "6253282", "name": "Lena", "screen_name": "lena_w"}},
    }
    return json.dumps(payload).encode()


def test_x_events_become_replies_mentions_direct_messages_and_our_echo(
    client, x_account, django_capture_on_commit_callbacks
):
    """https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/account-activity-data-objects"""
    receive_and_process(client, x_events_body(), django_capture_on_commit_callbacks, post=post_x)
    reply = Message.objects.get(platform_message_id="1896000000000000001")
    assert reply.conversation.kind == Conversation.Kind.COMMENT
    assert reply.conversation.external_thread_id == "1895000000000000000"
    assert reply.sentiment == "negative"
    mention = Message.objects.get(platform_message_id="1896000000000000002")
    assert mention.conversation.kind == Conversation.Kind.MENTION
    ours = Message.objects.get(platform_message_id="1896000000000000003")
    assert ours.direction == Message.Direction.OUTBOUND
    dm = Message.objects.get(platform_message_id="dm:954491830116155396")
    assert dm.conversation.kind == Conversation.Kind.DIRECT
    assert dm.conversation.external_thread_id == "dm:6253282"
    assert dm.author_handle == "@lena_w"


def test_x_post_with_a_wrong_signature_is_refused(client, x_account):
    """https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks"""
    body = x_events_body()
    assert post_x(client, body, signature="sha256=bm9wZQ==").status_code == 403
    assert post_x(client, body, signature="").status_code == 403
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_ingest_every_delivery_exactly_once(brand):
    """Drains claim deliveries with SKIP LOCKED: run side by side (two worker threads, two
    database connections) they share the work and store each message once.
    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is what shares the work; SQLite has none")
    SocialAccountFactory(
        brand=brand, platform=Platform.FACEBOOK, handle="Acme Coffee", external_id=PAGE_ID
    )
    for n in range(40):
        WebhookDelivery.objects.create(
            platform=Platform.FACEBOOK,
            body=page_comment_body(comment_id=f"{PAGE_ID}_7{n:02d}").decode(),
            body_sha256=f"c{n}",
        )
    results, errors = [], []

    def drain():
        try:
            results.append(webhook_drain())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert sum(r["claimed"] for r in results) == 40
    assert Message.objects.count() == 40
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}
