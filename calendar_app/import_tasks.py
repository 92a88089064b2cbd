"""The CSV import's Celery task (re-exported by calendar_app.tasks, where Celery finds tasks)."""

from celery import shared_task

from calendar_app.services import imports


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=10,
    # 10,000 rows take well under a minute; the soft limit ends in import_job_fail (everything
    # undone), long before the hard one would kill the worker mid-chunk.
    soft_time_limit=900,
    time_limit=960,
)
def import_posts(self, job_id: str) -> str:
    # Idempotent: the claim lets one delivery at a time work on the job, and each chunk moves the
    # job's progress in its own transaction, so a redelivery resumes and never repeats a row.
    outcome = imports.import_run(job_id=job_id)
    if outcome == "busy":
        # Another delivery holds the job. If that one died, its lease runs out: come back then.
        raise self.retry(countdown=imports.IMPORT_LEASE.total_seconds())
    return outcome


@shared_task(ignore_result=True)
def sweep_stranded_imports() -> int:
    """Beat, every few minutes: nothing uploaded stays "waiting for a worker" forever."""
    stranded = imports.import_jobs_stranded()
    for job_id in stranded:
        import_posts.delay(str(job_id))
    return len(stranded)
