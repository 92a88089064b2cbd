"""Fault drills: break one thing on purpose (a worker, the broker, the database, the platform,
the clock) and prove that afterwards nothing is lost and nothing is doubled.

They run on what `make test` starts (scripts/test.sh): real PostgreSQL, real Redis and real
Celery processes. The Celery fixtures are tests/live's, imported here rather than copied; the
drills are marked `live` as well, so they are skipped where no Redis was started. RELIABILITY.md
lists every drill, what it breaks and which test proves the outcome.
"""

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.db import connection

from tests.drills.faulty_platform import FaultyPlatform
from tests.factories import SocialAccountFactory
from tests.live.conftest import (  # noqa: F401 - fixtures, shared with tests/live
    _celery_processes,
    celery_beat_process,
    celery_env,
    celery_worker_process,
)


@pytest.fixture
def faulty_platform() -> Iterator[FaultyPlatform]:
    with FaultyPlatform() as fake:
        yield fake


def mastodon_account(brand, fake: FaultyPlatform, n: int = 0):
    """A Mastodon account on the faulty server; each has its own token and so its own posts."""
    return SocialAccountFactory(
        brand=brand,
        platform="mastodon",
        handle=f"@acme{n}@drill.example",
        external_id=f"10900000000000{n:04d}",
        instance_url=fake.url,
        access_token=f"drill-token-{n}",
    )


# -- restarting the servers scripts/test.sh started ---------------------------------------------


def _words(name: str) -> list[str]:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set: run the drills with scripts/test.sh (make test)")
    return shlex.split(value)


def restart_postgres() -> None:
    """`pg_ctl restart -m fast`: every connection is cut (workers' and ours), the server is back
    with the same options. This process reconnects on its next query."""
    pg_ctl = _words("AGENCY_TEST_PG_CTL")
    subprocess.run([*pg_ctl, "-w", "-m", "fast", "restart"], check=True, capture_output=True)  # noqa: S603
    connection.close()


def restart_redis(*, keep_data: bool) -> None:
    """Stop Redis and start it again with the same command line. keep_data: written to disk on
    the way down and read back (a persistent broker keeps its queues); otherwise everything in
    it, queued tasks included, is gone (the test servers run without persistence)."""
    server = _words("AGENCY_TEST_REDIS_SERVER")
    port = int(server[server.index("--port") + 1])
    data_dir = server[server.index("--dir") + 1]
    client = redis.Redis(host="127.0.0.1", port=port)
    with contextlib.suppress(redis.ConnectionError):  # SHUTDOWN answers by hanging up
        client.shutdown(save=keep_data, nosave=not keep_data)
    dump = os.path.join(data_dir, "dump.rdb")
    if not keep_data and os.path.exists(dump):
        os.remove(dump)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            client.ping()
        except redis.ConnectionError:
            break
        time.sleep(0.1)
    subprocess.run(server, check=True, capture_output=True)  # noqa: S603
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            time.sleep(0.1)
    pytest.fail("Redis did not come back within 20 s")
