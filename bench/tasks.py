"""The no-op task behind Celery's ceiling: a worker loads it with `--include bench.tasks`.

It does the least a task can do and still be counted without a result backend: one INCR on
Redis. The one that brings the count to `total` stamps the time, so the end of the run is exact
rather than the next tick of a poller.
"""

import os
import time
from functools import cache

import redis
from celery import shared_task
from celery.signals import worker_ready

COUNT_KEY = "bench:noop:done"
END_KEY = "bench:noop:end"
READY_KEY = "bench:ready:{name}"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])


@shared_task(ignore_result=True, acks_late=True)
def noop(total: int) -> None:
    client = _redis()
    if client.incr(COUNT_KEY) == total:
        client.set(END_KEY, repr(time.time()))


@worker_ready.connect
def _say_ready(**kwargs) -> None:
    # The bench waits for this key instead of the "ready." log line, so workers can run with
    # WARNING logs: a log line per task costs more than the no-op task itself.
    name = os.environ.get("BENCH_WORKER_NAME")
    if name:
        _redis().set(READY_KEY.format(name=name), "1")
