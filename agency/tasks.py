from celery import shared_task

from agency.selectors import accounts_with_expiring_tokens
from agency.services import (
    heartbeat_beat,
    idempotency_records_purge,
    social_account_refresh_credentials,
)


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Only beat sends this and only a worker runs it: its arrival proves both are alive."""
    heartbeat_beat(name="worker")
    heartbeat_beat(name="beat")


@shared_task(ignore_result=True, acks_late=True)
def refresh_expiring_tokens() -> int:
    """Refresh every token that expires within 30 minutes. X tokens live two hours, so this
    runs every 10 minutes; a token refreshed once is no longer expiring and is skipped."""
    return sum(
        social_account_refresh_credentials(account=account)
        for account in accounts_with_expiring_tokens()
    )


@shared_task(ignore_result=True, acks_late=True)
def purge_idempotency_records() -> int:
    """Forget Idempotency-Key answers older than 24 hours (hourly, from beat)."""
    return idempotency_records_purge()
