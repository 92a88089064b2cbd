"""Thin Celery tasks: ids in, a service call, retries owned by the engine's states."""

from celery import shared_task

from calendar_app import publishing


@shared_task(ignore_result=True, acks_late=True)
def dispatch_due_posts() -> int:
    return len(publishing.dispatch_due())


@shared_task(ignore_result=True, acks_late=True, bind=True)
def publish_target(self, target_id: str) -> str:
    # Idempotent: the queued -> publishing claim lets exactly one delivery of this task through,
    # so a redelivery after a worker crash (acks_late) only finds the target already moved.
    return publishing.publish_target(target_id=target_id, worker=self.request.hostname or "")


@shared_task(ignore_result=True, acks_late=True)
def sweep_publishing() -> dict:
    return publishing.sweep()


from calendar_app.import_tasks import import_posts  # noqa: E402,F401
