"""Thin Celery tasks of reports (see each function)."""

# -- organic metrics ----------------------------------------------------------------------------

from celery import shared_task


@shared_task(ignore_result=True, acks_late=True)
def sync_metrics() -> int:
    """Beat, daily: fan out one sync per brand with a connected account, so a slow network
    delays only its own brand."""
    from reports.selectors.analytics import brands_with_metrics_to_sync

    ids = [str(pk) for pk in brands_with_metrics_to_sync().values_list("pk", flat=True)]
    for brand_id in ids:
        sync_brand_metrics.delay(brand_id)
    return len(ids)


@shared_task(ignore_result=True, acks_late=True)
def sync_brand_metrics(brand_id: str) -> dict:
    # Idempotent: snapshots are upserts per (object, day), so a second delivery rewrites the
    # same rows with the same (or fresher) numbers.
    from agency.models import Brand
    from reports.services.analytics import metrics_sync_brand

    brand = Brand.objects.select_related("agency").filter(pk=brand_id).first()
    return metrics_sync_brand(brand=brand) if brand else {}


# -- PDF exports and scheduled reports ----------------------------------------------------------


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=300, time_limit=360)
def generate_report(export_id: str) -> str:
    # Idempotent: the export is claimed with a conditional UPDATE (queued -> running), so a
    # second delivery of this task finds nothing to claim and exits.
    from reports.services.exports import report_export_run

    return report_export_run(export_id=export_id)


@shared_task(ignore_result=True, acks_late=True)
def send_due_reports() -> int:
    """Beat, hourly: enqueue the e-mail of each active schedule's last complete period; the
    unique (schedule, period_start) makes a second tick for the same period a no-op."""
    from reports.services.exports import report_deliveries_enqueue_due

    return report_deliveries_enqueue_due()


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=300, time_limit=360)
def send_report_delivery(delivery_id: int) -> str:
    # Idempotent: the delivery row is locked around the e-mail and only a pending or failed one
    # is sent, so duplicates (two ticks, a redelivery) send nothing more.
    from reports.services.exports import report_delivery_send

    return report_delivery_send(delivery_id=delivery_id)


# -- SMART goals ---------------------------------------------------------------------------------


@shared_task(ignore_result=True, acks_late=True, soft_time_limit=600, time_limit=660)
def record_goal_statuses() -> int:
    """Beat, hourly: store each goal's live status when it changed and tell its owner.
    Idempotent: a change is recorded by a conditional UPDATE on the status it replaces."""
    from reports.services.goals import goals_record_statuses

    return goals_record_statuses()
