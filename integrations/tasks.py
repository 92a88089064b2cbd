"""Thin Celery tasks of outgoing webhooks: ids in, a service call; retries live in the rows."""

from celery import shared_task

from integrations import services


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=60, time_limit=90)
def deliver_webhook(delivery_id: str) -> str:
    # Idempotent: the pending -> delivering claim (a conditional UPDATE with a lease) lets one
    # copy of this task through; a redelivery or a duplicate finds nothing to claim. A failed
    # try is not retried by Celery: the delivery row says when, and a countdown task or the
    # sweep brings it back.
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True, acks_late=True)
def sweep_webhook_deliveries() -> dict:
    return services.deliveries_sweep()
