from celery import shared_task

from agency.services import heartbeat_beat


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Only beat sends this and only a worker runs it: its arrival proves both are alive."""
    heartbeat_beat(name="worker")
    heartbeat_beat(name="beat")
