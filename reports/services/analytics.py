"""Writes of organic analytics: daily metric snapshots synced from the platforms.

Every write is an upsert on (account or target, date), so syncing a day twice leaves one row
with the newest numbers: the beat can re-run, a task can be delivered twice, a backfill can
overlap the daily sync. The platform is asked *outside* any transaction (a slow network never
holds a database transaction open); only the upsert is atomic.

Snapshots are observations, not decisions, so the per-object syncs leave no audit event; the
brand-level runs (`metrics_sync_brand`, `metrics_backfill`) leave one each, with their counts.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from agency.models import Brand, SocialAccount
from agency.platforms.errors import PlatformError
from agency.platforms.metrics import (
    ACCOUNT_FIELDS,
    POST_FIELDS,
    fetch_account_metrics,
    fetch_post_metrics,
    fetch_posts_metrics,
)
from agency.services import audit_log
from calendar_app.models import PostTarget
from reports.models import AccountMetricsDaily, PostMetricsDaily
from reports.selectors.analytics import metrics_accounts_for_brand, metrics_targets_for_brand

logger = logging.getLogger(__name__)

# Published posts keep gathering reach and engagement for a while; after this they are settled.
POST_SYNC_WINDOW_DAYS = 30

__all__ = [
    "POST_SYNC_WINDOW_DAYS",
    "metrics_backfill",
    "metrics_sync_account",
    "metrics_sync_brand",
    "metrics_sync_post",
]


def metrics_sync_account(*, account: SocialAccount, day: date) -> AccountMetricsDaily:
    """Fetch one day of the account from its platform and store it (insert or update).

    Raises the platform's error (MetricsNotSupported for networks not built yet)."""
    values = fetch_account_metrics(account, day)
    return _store_account_metrics(account=account, day=day, values=values)


@transaction.atomic
def _store_account_metrics(
    *, account: SocialAccount, day: date, values: dict
) -> AccountMetricsDaily:
    row, _ = AccountMetricsDaily.objects.update_or_create(
        account=account, date=day, defaults={k: values[k] for k in ACCOUNT_FIELDS}
    )
    return row


def metrics_sync_post(*, target: PostTarget, day: date) -> PostMetricsDaily:
    """Fetch the cumulative totals of a published target as of `day` and store them."""
    values = fetch_post_metrics(target, day)
    return _store_post_metrics(target=target, day=day, values=values)


@transaction.atomic
def _store_post_metrics(*, target: PostTarget, day: date, values: dict) -> PostMetricsDaily:
    row, _ = PostMetricsDaily.objects.update_or_create(
        target=target, date=day, defaults={k: values[k] for k in POST_FIELDS}
    )
    return row


def metrics_sync_brand(*, brand: Brand, days: list[date] | None = None, by=None) -> dict:
    """Sync the given days (default: yesterday and today in the brand's zone) for every
    connected account of the brand and every target published in the last 30 days.

    A network that cannot be read (not supported yet, expired token, outage) is skipped and
    counted, so one account never stops the others. Returns the counts."""
    today = timezone.localdate(timezone=brand.zone)
    days = days or [today - timedelta(days=1), today]
    counts = {"accounts": 0, "posts": 0, "skipped": 0}
    since = timezone.now() - timedelta(days=POST_SYNC_WINDOW_DAYS)
    for account in metrics_accounts_for_brand(brand=brand):
        for day in days:
            counts[_try(metrics_sync_account, "accounts", account=account, day=day)] += 1
    targets = list(metrics_targets_for_brand(brand=brand, published_since=since))
    for day in days:
        published = [
            t for t in targets if timezone.localdate(t.published_at, timezone=brand.zone) <= day
        ]
        # One request per account and batch where the network reads posts in bulk (X, LinkedIn).
        fetched = fetch_posts_metrics(published, day) if published else {}
        for target in published:
            found = fetched.get(target.pk)
            if isinstance(found, PlatformError) or found is None:
                logger.info("Metrics sync skipped target %s on %s: %s", target.pk, day, found)
                counts["skipped"] += 1
                continue
            _store_post_metrics(target=target, day=day, values=found)
            counts["posts"] += 1
    _audit_run(
        brand=brand,
        by=by,
        action="metrics.synced",
        data={
            "days": [d.isoformat() for d in days],
            **counts,
        },
    )
    return counts


def metrics_backfill(*, brand: Brand, days: int = 60, by=None) -> dict:
    """Fill the last `days` days (up to today, brand zone) of every connected account and every
    published target of the brand: the demo data's history. Safe to run again (upserts).

    Rows are written in bulk, one upsert per model, so a demo with dozens of posts fills
    two months in a moment. Networks without metrics are skipped and counted."""
    today = timezone.localdate(timezone=brand.zone)
    first = today - timedelta(days=days - 1)
    span = [first + timedelta(days=n) for n in range(days)]
    account_rows, post_rows, skipped = [], [], 0
    for account in metrics_accounts_for_brand(brand=brand):
        try:
            account_rows += [
                AccountMetricsDaily(
                    account=account, date=day, **fetch_account_metrics(account, day)
                )
                for day in span
            ]
        except PlatformError as exc:
            skipped += 1
            logger.info("Metrics backfill skipped account %s: %s", account.pk, exc)
    since = datetime.combine(first, time.min, tzinfo=brand.zone)
    for target in metrics_targets_for_brand(brand=brand, published_since=since):
        published_on = timezone.localdate(target.published_at, timezone=brand.zone)
        try:
            post_rows += [
                PostMetricsDaily(target=target, date=day, **fetch_post_metrics(target, day))
                for day in span
                if day >= published_on
            ]
        except PlatformError as exc:
            skipped += 1
            logger.info("Metrics backfill skipped target %s: %s", target.pk, exc)
    counts = {"accounts": len(account_rows), "posts": len(post_rows), "skipped": skipped}
    _bulk_store(account_rows=account_rows, post_rows=post_rows)
    _audit_run(brand=brand, by=by, action="metrics.backfilled", data={"days": days, **counts})
    return counts


@transaction.atomic
def _bulk_store(*, account_rows: list, post_rows: list) -> None:
    AccountMetricsDaily.objects.bulk_create(
        account_rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["account", "date"],
        update_fields=[*ACCOUNT_FIELDS, "synced_at"],
    )
    PostMetricsDaily.objects.bulk_create(
        post_rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["target", "date"],
        update_fields=[*POST_FIELDS, "synced_at"],
    )


def _try(sync, kind: str, **kwargs) -> str:
    try:
        sync(**kwargs)
    except PlatformError as exc:
        logger.info("Metrics sync skipped %s: %s", kwargs, exc)
        return "skipped"
    return kind


@transaction.atomic
def _audit_run(*, brand: Brand, by, action: str, data: dict) -> None:
    audit_log(actor=by, action=action, target=brand, agency=brand.agency, brand=brand, data=data)
