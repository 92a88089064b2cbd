"""Where one publish spends its CPU: `scripts/test.sh --bench --profile 500`.

Runs `publishing.publish_target` serially in this process (no Celery, a zero-delay fake
platform on a thread) under cProfile, twice: once closing the database connection around every
call as Celery's Django fixup does in a worker (unless CELERY_DB_REUSE_MAX is set), once keeping
it. Prints milliseconds of CPU per publish and the top functions.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench.fake_platform import FakePlatform
from bench.publishing import create_targets
from calendar_app import publishing
from calendar_app.models import PostTarget, TargetState


def _run(n: int, *, server_url: str, close_each: bool, top: int = 0) -> dict:
    brand = create_targets(
        accounts=10,
        posts=-(-n // 10),
        due_at=timezone.now() - timedelta(seconds=1),
        server_url=server_url,
    )
    ids = list(PostTarget.objects.filter(post__brand=brand).values_list("pk", flat=True)[:n])
    PostTarget.objects.filter(pk__in=ids).update(state=TargetState.QUEUED, queued_at=timezone.now())
    connection.close()
    profiler = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    if top:
        profiler.enable()
    for target_id in ids:
        if close_each:
            connection.close()
        publishing.publish_target(target_id=str(target_id), worker="profile")
        if close_each:
            connection.close()
    profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out = io.StringIO()
    if top:
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    published = PostTarget.objects.filter(pk__in=ids, state=TargetState.PUBLISHED).count()
    return {
        "published": published,
        "cpu_ms": cpu / len(ids) * 1000,
        "wall_ms": wall / len(ids) * 1000,
        "profile": out.getvalue(),
    }


def profile_publish(n: int, *, top: int = 40) -> None:
    with FakePlatform(delay=0) as fake:
        for close_each in (True, False):
            label = "closing the connection around each" if close_each else "keeping it open"
            result = _run(n, server_url=fake.url, close_each=close_each)
            print(
                f"== {n} serial publishes, {label}: {result['published']} published, "
                f"{result['cpu_ms']:.2f} ms CPU and {result['wall_ms']:.2f} ms wall each "
                "(this process only; PostgreSQL's CPU is not counted)"
            )
        result = _run(n, server_url=fake.url, close_each=False, top=top)
        print(f"== cProfile of {n} publishes, connection kept open")
        print(result["profile"])
