"""Thin Celery tasks of the community app: ids in, a service call, retries owned by the states.

Every task here is idempotent (a second delivery finds the work done or claimed), so they all
run with acks_late.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from agency.models import SocialAccount
from community import inbox_engine
from community.selectors.inbox import accounts_to_poll, webhook_deliveries_to_retry
from community.services.inbox import poll_account_inbox, webhook_drain, webhook_process


@shared_task(ignore_result=True, acks_late=True)
def process_webhook(delivery_id: int) -> int:
    # Kept for tasks enqueued before the drain existed; new deliveries are drained in batches.
    return webhook_process(delivery_id=delivery_id)


@shared_task(ignore_result=True, acks_late=True)
def drain_webhooks(retry_after_seconds: float | None = None) -> int:
    """Ingest stored webhook deliveries in batches (see community.services.inbox). A drain that
    ran out of time enqueues the next one instead of holding a worker thread."""
    older_than = timedelta(seconds=retry_after_seconds) if retry_after_seconds else None
    result = webhook_drain(older_than=older_than)
    if not result["done"]:
        drain_webhooks.delay(retry_after_seconds)
    return result["claimed"]


@shared_task(ignore_result=True, acks_late=True)
def sweep_webhooks() -> int:
    """Drain what a lost kick, a crash or a failed attempt left unprocessed for a while."""
    after = settings.WEBHOOK_SWEEP_AFTER_SECONDS
    waiting = webhook_deliveries_to_retry(older_than=after).count()
    if waiting:
        drain_webhooks.delay(after)
    return waiting


@shared_task(ignore_result=True, acks_late=True)
def poll_inboxes() -> int:
    """Fan out: one poll task per connected account whose network can be polled."""
    ids = list(accounts_to_poll().values_list("pk", flat=True))
    for account_id in ids:
        poll_account.delay(str(account_id))
    return len(ids)


@shared_task(ignore_result=True, acks_late=True)
def poll_account(account_id: str) -> int:
    account = (
        SocialAccount.objects.select_related("brand")
        .filter(pk=account_id, status=SocialAccount.Status.CONNECTED)
        .first()
    )
    return poll_account_inbox(account=account) if account else 0


@shared_task(ignore_result=True, acks_late=True)
def send_reply(message_id: str) -> str:
    # Idempotent: the pending -> sending claim lets exactly one delivery of this task through.
    return inbox_engine.send_reply(message_id=message_id)


@shared_task(ignore_result=True, acks_late=True)
def sweep_replies() -> dict:
    return inbox_engine.sweep()


# -- listening and curation -----------------------------------------------------------------------


@shared_task(ignore_result=True, acks_late=True)
def detect_listening_spikes() -> int:
    # Idempotent: a SpikeAlert is unique per rule and day, so a rerun alerts nobody twice.
    from community.services.listening import spikes_detect_all

    return spikes_detect_all()


@shared_task(ignore_result=True, acks_late=True)
def fetch_feeds() -> int:
    """Fan out: one fetch per feed, so a slow server delays only its own feed."""
    from community.selectors.curation import feeds_to_fetch

    ids = [str(pk) for pk in feeds_to_fetch()]
    for feed_id in ids:
        fetch_feed.delay(feed_id)
    return len(ids)


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=120, time_limit=150)
def fetch_feed(feed_id: str) -> str:
    # Idempotent: suggestions are unique per brand and link; a conditional GET makes a rerun cheap.
    from community.models import Feed
    from community.services.curation import feed_fetch

    feed = Feed.objects.filter(pk=feed_id).first()
    return feed_fetch(feed=feed).status if feed else "gone"
