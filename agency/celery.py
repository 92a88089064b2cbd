import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings")

app = Celery("agency")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _drop_unusable_db_connections(task=None, **kwargs) -> None:
    """What Django does around every request, done around every task: a worker thread's
    connection is kept (CELERY_DB_REUSE_MAX stops Celery closing it after each task), so
    without this a connection that PostgreSQL dropped (a restart, a failover) stays dead in that
    thread and every later task on it fails with "connection already closed". This closes a
    connection that had an error or is past CONN_MAX_AGE, and lets CONN_HEALTH_CHECKS test the
    next one before use."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # an eager task runs inside the caller's transaction: not ours to close
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


@worker_ready.connect
def _freeze_startup_objects(**kwargs) -> None:
    from agency.runtime import freeze_startup_objects

    freeze_startup_objects()
