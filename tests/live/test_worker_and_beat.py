"""A real worker and a real beat, as `make run` and docker compose start them, do their job."""

import pytest

from agency.models import Heartbeat
from agency.selectors import background_health
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_beat_schedules_heartbeat_and_worker_records_it(celery_worker_process, celery_beat_process):
    assert not Heartbeat.objects.exists()
    worker = celery_worker_process(queues=["celery"], pool="threads", concurrency=2)
    beat = celery_beat_process()

    def both_seen():
        return set(Heartbeat.objects.values_list("name", flat=True)) >= {"worker", "beat"}

    arrived = wait_for(both_seen, timeout=40, processes=[worker, beat])

    assert arrived, (
        "no heartbeat from worker and beat within 40 s\n"
        f"--- worker log:\n{worker.log_tail()}\n--- beat log:\n{beat.log_tail()}"
    )
    health = background_health()
    assert health["worker"]["alive"]
    assert health["beat"]["alive"]


def test_worker_and_beat_stop_cleanly_on_sigterm(celery_worker_process, celery_beat_process):
    worker = celery_worker_process(queues=["celery"], pool="threads", concurrency=1)
    beat = celery_beat_process()
    # Wait until both really run (beat has sent and the worker has run a heartbeat) before
    # stopping: a process killed while importing says nothing about shutdown.
    assert wait_for(
        lambda: Heartbeat.objects.filter(name="beat").exists(),
        timeout=40,
        processes=[worker, beat],
    ), f"--- worker log:\n{worker.log_tail()}\n--- beat log:\n{beat.log_tail()}"

    assert beat.stop() == 0, beat.log_tail()
    assert worker.stop() == 0, worker.log_tail()
