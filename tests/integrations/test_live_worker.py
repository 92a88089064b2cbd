"""A webhook emitted in a committed transaction is delivered by a real Celery worker (test
PostgreSQL and Redis): retried after a 500, sent once more with a 200, and never again, even
with a duplicate task on the queue."""

import pytest
from django.db import transaction

from integrations.models import Delivery, EventType
from integrations.services import webhook_event_emit
from integrations.tasks import deliver_webhook
from tests.live.conftest import live_broker_url, wait_for

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not live_broker_url(), reason="needs a redis:// CELERY_BROKER_URL"),
]


def test_a_real_worker_retries_after_a_500_and_delivers_once(
    receiver, make_endpoint, brand, celery_worker_process
):
    make_endpoint(receiver.url)
    receiver.answer(500)
    worker = celery_worker_process(
        queues=["publish"],
        concurrency=2,
        env={"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "WEBHOOK_BACKOFF_BASE_SECONDS": "1"},
    )
    with transaction.atomic():
        [delivery] = webhook_event_emit(
            event_type=EventType.POST_PUBLISHED, brand=brand, data={"live": True}
        )
    deliver_webhook.delay(str(delivery.pk))  # a duplicate on the queue

    def delivered():
        return Delivery.objects.get(pk=delivery.pk).state == Delivery.State.SUCCEEDED

    assert wait_for(delivered, timeout=60, processes=[worker]), worker.log_tail()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert [r.headers["X-Agency-Delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2
    assert list(delivery.attempt_log.order_by("number").values_list("status_code", flat=True)) == [
        500,
        200,
    ]
