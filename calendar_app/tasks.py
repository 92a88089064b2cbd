"""Thin Celery tasks: ids in, a service call, retries owned by the engine's states."""

from celery import shared_task

from calendar_app import publishing


@shared_task(ignore_result=True, acks_late=True)
def dispatch_due_posts() -> int:
    ids = publishing.dispatch_due()
    if len(ids) >= publishing.dispatch_batch_size():
        # More may be due than one batch: the next batch goes to another dispatch task at once
        # (any free worker thread) instead of waiting for beat's next tick. Safe to run side by
        # side: each claims with SKIP LOCKED and a conditional UPDATE, and stops when it finds
        # less than a full batch.
        dispatch_due_posts.apply_async()
    return len(ids)


@shared_task(ignore_result=True, acks_late=True, bind=True)
def publish_target(self, target_id: str) -> str:
    # Idempotent: the queued -> publishing claim lets exactly one delivery of this task through,
    # so a redelivery after a worker crash (acks_late) only finds the target already moved.
    return publishing.publish_target(target_id=target_id, worker=self.request.hostname or "")


@shared_task(ignore_result=True, acks_late=True)
def sweep_publishing() -> dict:
    return publishing.sweep()


from calendar_app.import_tasks import import_posts  # noqa: E402,F401
