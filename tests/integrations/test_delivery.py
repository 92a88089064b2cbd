"""Delivering outgoing webhooks to a real receiver on loopback: signature, retries, exactly one
successful send, replay, the sweep, and emitting inside the caller's transaction.

The Celery task is called directly here (tests/integrations/test_live_worker.py runs it on a
real worker); only the hand-over to the broker is recorded instead of sent (`enqueued`).
"""

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from agency.models import AuditEvent
from integrations import services
from integrations.models import Delivery, DeliveryAttempt, EventType
from integrations.services import deliveries_sweep, delivery_replay, webhook_event_emit
from integrations.tasks import deliver_webhook

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"
S = Delivery.State


def doc_verifier():
    """The receiver's check exactly as docs/WEBHOOKS.md prints it (its Python block, run as is)."""
    section = DOC.read_text().split("## Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation's example
    return namespace["verify_agency_webhook"]


def emit(brand, django_capture_on_commit_callbacks, event_type=EventType.POST_PUBLISHED, **kw):
    with django_capture_on_commit_callbacks(execute=True):
        return webhook_event_emit(
            event_type=event_type, brand=brand, data=kw.pop("data", {"n": 1}), **kw
        )


def make_due(delivery):
    """The backoff has passed."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_signature_verifies_with_the_receiver_written_from_the_docs(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks
):
    _endpoint, secret = make_endpoint(receiver.url)
    [delivery] = emit(
        brand, django_capture_on_commit_callbacks, data={"text": "Grüße ☕", "amount": "1.50"}
    )
    assert enqueued.now == [str(delivery.pk)]

    assert deliver_webhook(str(delivery.pk)) == S.SUCCEEDED

    [request] = receiver.requests
    verify = doc_verifier()
    assert verify(secret, request.headers, request.body)
    assert request.headers["X-Agency-Event"] == "post.published"
    assert request.headers["X-Agency-Delivery"] == str(delivery.pk)
    assert request.headers["X-Agency-Signature"].startswith("v1=")
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["type"] == "post.published" and body["id"] == str(delivery.event_id)
    assert body["brand"] == {"id": str(brand.pk), "name": brand.name, "slug": brand.slug}
    assert body["data"] == {"text": "Grüße ☕", "amount": "1.50"}
    # What the receiver must refuse: another body, another secret, a request replayed later.
    assert not verify(secret, request.headers, request.body.replace(b"1.50", b"9.50"))
    assert not verify("whsec_someone-else", request.headers, request.body)
    signed_at = int(request.headers["X-Agency-Timestamp"])
    assert verify(secret, request.headers, request.body, now=signed_at + 299)
    assert not verify(secret, request.headers, request.body, now=signed_at + 301)
    assert not verify(secret, {**request.headers, "X-Agency-Timestamp": "soon"}, request.body)


def test_receiver_500_is_retried_with_backoff_and_a_200_is_never_sent_again(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 60
    make_endpoint(receiver.url)
    receiver.answer(500)
    [delivery] = emit(brand, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_webhook(str(delivery.pk)) == S.PENDING
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (S.PENDING, 1, 500)
    assert delivery.last_error.startswith("The endpoint answered 500 Internal Server Error.")
    assert "answer 500" in delivery.last_response_excerpt
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 25 <= wait <= 60  # jittered between half and all of the first step
    [(later_id, countdown)] = enqueued.later
    assert later_id == str(delivery.pk) and 30 <= countdown <= 60
    # A copy of the task that wakes before the backoff is over sends nothing.
    assert deliver_webhook(str(delivery.pk)) == "skipped"
    assert len(receiver.requests) == 1

    make_due(delivery)
    assert deliver_webhook(str(delivery.pk)) == S.SUCCEEDED
    assert deliver_webhook(str(delivery.pk)) == "skipped"
    make_due(delivery)
    assert deliver_webhook(str(delivery.pk)) == "skipped"

    assert receiver.delivery_ids() == [str(delivery.pk)] * 2
    assert receiver.requests[0].body == receiver.requests[1].body
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (S.SUCCEEDED, 2, "")
    assert delivery.delivered_at is not None
    log = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.status_code, a.succeeded) for a in log] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert all(a.duration_ms is not None for a in log)


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_the_task_send_once(receiver, make_endpoint, brand, enqueued):
    make_endpoint(receiver.url)
    for round_ in range(5):  # races are won by chance: several rounds
        receiver.answer((200, 0.3))  # slow, so the copies overlap
        [delivery] = webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={})
        barrier = threading.Barrier(4)
        results: list[str] = []

        def copy_of_the_task(delivery_id=str(delivery.pk), barrier=barrier, results=results):
            try:
                barrier.wait()
                results.append(deliver_webhook(delivery_id))
            finally:
                connection.close()

        threads = [threading.Thread(target=copy_of_the_task) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert sorted(results) == ["skipped", "skipped", "skipped", "succeeded"], round_
        assert receiver.delivery_ids().count(str(delivery.pk)) == 1
        assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1
    assert len(receiver.requests) == 5


def test_timeouts_refusals_and_errors_are_retried_then_failed_at_the_maximum(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    make_endpoint(receiver.url)
    receiver.answer((200, 1.5), 302, 503)
    [delivery] = emit(brand, django_capture_on_commit_callbacks)

    assert deliver_webhook(str(delivery.pk)) == S.PENDING
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("No answer within 0.5 s.")
    make_due(delivery)
    assert deliver_webhook(str(delivery.pk)) == S.PENDING
    delivery.refresh_from_db()
    assert "redirects are not followed" in delivery.last_error
    make_due(delivery)
    assert deliver_webhook(str(delivery.pk)) == S.FAILED

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (S.FAILED, 3, None)
    assert delivery.last_error == (
        "The endpoint answered 503 Service Unavailable. Gave up after 3 attempts."
    )
    make_due(delivery)
    assert deliver_webhook(str(delivery.pk)) == "skipped"
    assert len(receiver.requests) == 3


def test_an_endpoint_nobody_listens_on_is_an_error_in_words(
    make_endpoint, brand, enqueued, django_capture_on_commit_callbacks
):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_endpoint(f"http://127.0.0.1:{port}/hook")
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    assert deliver_webhook(str(delivery.pk)) == S.PENDING
    delivery.refresh_from_db()
    assert delivery.last_error.startswith(f"Could not connect to 127.0.0.1:{port}")


def test_replay_sends_the_same_delivery_again_as_a_new_attempt(
    receiver, make_endpoint, brand, admin, enqueued, django_capture_on_commit_callbacks
):
    _endpoint, secret = make_endpoint(receiver.url)
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    deliver_webhook(str(delivery.pk))

    with django_capture_on_commit_callbacks(execute=True):
        replayed = delivery_replay(delivery=delivery, by=admin)
    assert replayed.state == S.PENDING and replayed.replaying
    assert enqueued.now == [str(delivery.pk)] * 2
    # Only once it has ended: a second replay while it is on its way is refused.
    with pytest.raises(ValidationError, match="Only a delivery that succeeded or failed"):
        delivery_replay(delivery=delivery, by=admin)
    assert deliver_webhook(str(delivery.pk)) == S.SUCCEEDED

    first, second = receiver.requests
    assert first.headers["X-Agency-Delivery"] == second.headers["X-Agency-Delivery"]
    assert first.body == second.body
    assert doc_verifier()(secret, second.headers, second.body)
    log = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.trigger) for a in log] == [(1, "automatic"), (2, "replay")]
    assert AuditEvent.objects.filter(action="webhook_delivery.replayed", actor=admin).exists()


def test_a_failed_replay_is_one_try(
    receiver, make_endpoint, brand, admin, enqueued, django_capture_on_commit_callbacks
):
    make_endpoint(receiver.url)
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    deliver_webhook(str(delivery.pk))
    receiver.answer(500)
    delivery_replay(delivery=delivery, by=admin)
    assert deliver_webhook(str(delivery.pk)) == S.FAILED
    delivery.refresh_from_db()
    assert delivery.last_error == "The endpoint answered 500 Internal Server Error."
    assert not delivery.replaying


@pytest.mark.django_db(transaction=True)
def test_an_event_emitted_in_a_rolled_back_transaction_is_never_sent(
    receiver, make_endpoint, brand, enqueued
):
    make_endpoint(receiver.url)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={})
        raise RuntimeError("the caller's work failed")

    assert not Delivery.objects.exists()
    assert enqueued.now == []
    assert deliveries_sweep() == {"recovered": 0, "enqueued": 0}

    with transaction.atomic():
        [delivery] = webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={})
        assert enqueued.now == []  # not before the commit
    assert enqueued.now == [str(delivery.pk)]
    deliver_webhook(enqueued.now[0])
    assert receiver.delivery_ids() == [str(delivery.pk)]


def test_an_emit_that_fails_is_logged_and_the_callers_transaction_goes_on(
    receiver, make_endpoint, brand, admin, caplog
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL, whose jsonb refuses a NUL character")
    make_endpoint(receiver.url)
    with transaction.atomic():
        # The database refuses this payload: a real error inside the emit's savepoint.
        assert (
            webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={"x": "\0"})
            == []
        )
        # The caller's transaction is not poisoned: it can still write, and does.
        AuditEvent.objects.create(
            agency=brand.agency, action="caller.went_on", target_type="t", target_id="1"
        )
    assert AuditEvent.objects.filter(action="caller.went_on").exists()
    assert not Delivery.objects.exists()
    assert "webhook event post.failed of brand" in caplog.text
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


def test_the_same_event_is_queued_once_per_endpoint(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks
):
    make_endpoint(receiver.url)
    make_endpoint(receiver.url + "?second")
    event_id = services.event_id_for(EventType.REPORT_READY, "export-1")
    first = emit(
        brand, django_capture_on_commit_callbacks, EventType.REPORT_READY, event_id=event_id
    )
    again = emit(
        brand, django_capture_on_commit_callbacks, EventType.REPORT_READY, event_id=event_id
    )
    assert len(first) == 2 and again == []
    assert Delivery.objects.filter(event_id=event_id).count() == 2
    assert sorted(enqueued.now) == sorted(str(d.pk) for d in first)


def test_only_active_endpoints_that_want_the_brand_and_the_event_get_it(
    receiver,
    make_endpoint,
    brand,
    sibling_brand,
    other_brand,
    admin,
    enqueued,
    django_capture_on_commit_callbacks,
):
    everything, _ = make_endpoint(receiver.url)
    only_sibling, _ = make_endpoint(receiver.url, brand=sibling_brand)
    only_reports, _ = make_endpoint(receiver.url, events=["report.ready"])
    disabled, _ = make_endpoint(receiver.url)
    services.endpoint_set_active(endpoint=disabled, active=False, by=admin)

    got = emit(brand, django_capture_on_commit_callbacks, EventType.MESSAGE_RECEIVED)
    assert {d.endpoint_id for d in got} == {everything.pk}
    got = emit(sibling_brand, django_capture_on_commit_callbacks, EventType.REPORT_READY)
    assert {d.endpoint_id for d in got} == {everything.pk, only_sibling.pk, only_reports.pk}
    # Another agency's brand reaches none of the home agency's endpoints.
    assert emit(other_brand, django_capture_on_commit_callbacks, EventType.REPORT_READY) == []


def test_a_disabled_endpoint_keeps_what_was_queued_until_it_is_enabled(
    receiver, make_endpoint, brand, admin, enqueued, django_capture_on_commit_callbacks
):
    endpoint, _ = make_endpoint(receiver.url)
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    services.endpoint_set_active(endpoint=endpoint, active=False, by=admin)
    assert deliver_webhook(str(delivery.pk)) == "skipped"
    assert deliveries_sweep()["enqueued"] == 0

    services.endpoint_set_active(endpoint=endpoint, active=True, by=admin)
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep()["enqueued"] == 1
    assert deliver_webhook(enqueued.now[-1]) == S.SUCCEEDED
    assert len(receiver.requests) == 1


def test_sweep_recovers_a_dead_workers_delivery_and_requeues_lost_tasks(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks, settings
):
    make_endpoint(receiver.url)
    dead, lost, fresh = (
        emit(brand, django_capture_on_commit_callbacks, event_type=EventType.POST_FAILED)[0]
        for _ in range(3)
    )
    enqueued.now.clear()
    long_ago = timezone.now() - timedelta(hours=1)
    # A worker claimed `dead` and died mid-request; `lost`'s task vanished with the broker.
    Delivery.objects.filter(pk=dead.pk).update(
        state=S.DELIVERING, attempts=1, lease_expires_at=long_ago, updated_at=long_ago
    )
    Delivery.objects.filter(pk=lost.pk).update(enqueued_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep() == {"recovered": 1, "enqueued": 2}
    assert sorted(enqueued.now) == sorted([str(dead.pk), str(lost.pk)])
    dead.refresh_from_db()
    assert (dead.state, dead.last_error) == (
        S.PENDING,
        "The worker stopped before the endpoint answered.",
    )
    [attempt] = dead.attempt_log.all()
    assert (attempt.number, attempt.error) == (1, dead.last_error)
    # Just enqueued: the next sweep leaves them to their tasks.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep() == {"recovered": 0, "enqueued": 0}
    assert {deliver_webhook(str(d.pk)) for d in (dead, lost, fresh)} == {S.SUCCEEDED}
    assert len(receiver.requests) == 3


def test_private_addresses_are_refused_when_saved_and_before_sending(
    receiver,
    make_endpoint,
    brand,
    admin,
    home_agency,
    settings,
    enqueued,
    django_capture_on_commit_callbacks,
):
    endpoint, _ = make_endpoint(receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in ("http://127.0.0.1:8000/x", "http://10.1.2.3/x", "http://localhost/x", "ftp://a.b/"):
        with pytest.raises(ValidationError) as error:
            services.endpoint_create(
                agency=home_agency, url=url, event_types=["post.published"], by=admin
            )
        assert "url" in error.value.message_dict
    # Saved while allowed (or a public name that now resolves to a private address).
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    assert deliver_webhook(str(delivery.pk)) == S.PENDING
    delivery.refresh_from_db()
    assert "resolves to 127.0.0.1, a private address" in delivery.last_error
    assert receiver.requests == []
    assert endpoint.pk == delivery.endpoint_id


def test_send_test_event_pings_one_endpoint(
    receiver, make_endpoint, brand, admin, enqueued, django_capture_on_commit_callbacks
):
    endpoint, secret = make_endpoint(receiver.url)
    make_endpoint(receiver.url + "?other")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.endpoint_send_test(endpoint=endpoint, by=admin)
    assert enqueued.now == [str(delivery.pk)]
    deliver_webhook(str(delivery.pk))
    [request] = receiver.requests
    assert request.headers["X-Agency-Event"] == "ping"
    assert request.path == "/hook"
    assert doc_verifier()(secret, request.headers, request.body)
    assert json.loads(request.body)["data"]["endpoint_id"] == str(endpoint.pk)


def test_rotating_the_secret_signs_with_the_new_one(
    receiver, make_endpoint, brand, admin, enqueued, django_capture_on_commit_callbacks
):
    endpoint, old = make_endpoint(receiver.url)
    new = services.endpoint_rotate_secret(endpoint=endpoint, by=admin)
    assert new != old and new.startswith("whsec_")
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    deliver_webhook(str(delivery.pk))
    [request] = receiver.requests
    verify = doc_verifier()
    assert verify(new, request.headers, request.body)
    assert not verify(old, request.headers, request.body)
    # Stored encrypted, never in clear.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM integrations_webhookendpoint WHERE id = %s", [endpoint.pk]
        )
        stored = cursor.fetchone()[0]
    assert new not in stored and stored.startswith("gAAAAA")


def test_delivery_time_is_measured(
    receiver, make_endpoint, brand, enqueued, django_capture_on_commit_callbacks
):
    make_endpoint(receiver.url)
    receiver.answer((200, 0.3))
    [delivery] = emit(brand, django_capture_on_commit_callbacks)
    started = time.monotonic()
    deliver_webhook(str(delivery.pk))
    [attempt] = delivery.attempt_log.all()
    assert 300 <= attempt.duration_ms <= (time.monotonic() - started) * 1000 + 5
