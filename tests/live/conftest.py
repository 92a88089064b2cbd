"""Real Celery processes against the test database and the test Redis.

Tests here are marked `live` and skipped unless CELERY_BROKER_URL (or REDIS_URL) is a redis://
URL, as `make test` sets it. They need `@pytest.mark.django_db(transaction=True)`: the worker and
beat are other processes and only see committed rows.

    def test_x(celery_worker_process, celery_beat_process):
        celery_worker_process(queues=["celery", "publish"], pool="threads", concurrency=4)
        celery_beat_process()
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]


def live_broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    return url if url.startswith(("redis://", "rediss://")) else ""


def pytest_collection_modifyitems(config, items):
    if live_broker_url():
        return
    skip = pytest.mark.skip(
        reason="live Celery tests need CELERY_BROKER_URL or REDIS_URL set to a redis:// URL "
        "(make test / scripts/test.sh start a throwaway Redis)"
    )
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def subprocess_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for a subprocess to use the same one."""
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(s["USER"] or "", safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"], safe="")
        host = s.get("HOST") or "localhost"
        port = f":{s['PORT']}" if s.get("PORT") else ""
        return f"postgres://{auth}@{host}{port}/{s['NAME']}"
    if connection.vendor == "sqlite":
        name = str(s["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            pytest.skip("the SQLite test database is in memory: another process cannot see it")
        return f"sqlite:///{name}"
    pytest.skip(f"no DATABASE_URL form for {connection.vendor} here")


class CeleryProcess:
    """One celery subprocess with its log in a file, so a failing test can show it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "agency", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: a stop reaches the pool's threads/children and nothing else.
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 20) -> int | None:
        if self.running:
            # SIGTERM is Celery's warm shutdown: running tasks finish, nothing is left half-done.
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()
        return self.popen.returncode


@pytest.fixture
def celery_env(tmp_path) -> Callable[..., dict[str, str]]:
    """The environment of a celery subprocess: this test's database and broker, test settings."""

    def _env(**extra: str) -> dict[str, str]:
        broker = live_broker_url()
        if not broker:
            pytest.skip("live Celery tests need a redis:// CELERY_BROKER_URL or REDIS_URL")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": subprocess_database_url(),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "AGENCY_VAR_DIR": str(tmp_path / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return env

    return _env


@pytest.fixture
def _celery_processes():
    started: list[CeleryProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture
def celery_worker_process(celery_env, tmp_path, _celery_processes):
    """Start a real worker: `celery_worker_process(queues=[...], pool=..., concurrency=...)`.

    Stopped (warm shutdown, then killed after 20 s) when the test ends.
    """

    def _start(
        *,
        queues: list[str] | tuple[str, ...] = ("celery",),
        pool: str = "threads",
        concurrency: int = 2,
        env: dict[str, str] | None = None,
    ) -> CeleryProcess:
        name = f"live-{uuid.uuid4().hex[:8]}"
        process = CeleryProcess(
            name,
            [
                "worker",
                "--loglevel=INFO",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                f"--queues={','.join(queues)}",
                f"--hostname={name}@%h",
                # Other tests' workers on the same Redis are not ours to talk to.
                "--without-mingle",
                "--without-gossip",
            ],
            celery_env(**(env or {})),
            tmp_path / f"worker-{name}.log",
        )
        _celery_processes.append(process)
        return process

    return _start


@pytest.fixture
def celery_beat_process(celery_env, tmp_path, _celery_processes):
    """Start a real beat with the DatabaseScheduler: `celery_beat_process(env={...})`.

    AGENCY_HEARTBEAT_SECONDS defaults to 1 so a heartbeat arrives within seconds.
    """

    def _start(*, env: dict[str, str] | None = None) -> CeleryProcess:
        name = f"beat-{uuid.uuid4().hex[:8]}"
        process = CeleryProcess(
            name,
            [
                "beat",
                "--loglevel=INFO",
                "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile=",
                "--max-interval=1",
            ],
            celery_env(**{"AGENCY_HEARTBEAT_SECONDS": "1", **(env or {})}),
            tmp_path / f"{name}.log",
        )
        _celery_processes.append(process)
        return process

    return _start


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float = 40,
    interval: float = 0.5,
    processes: list[CeleryProcess] = (),
) -> bool:
    """Poll until condition() is true; fail early (with the logs) if a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        for process in processes:
            if not process.running:
                pytest.fail(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
                )
        time.sleep(interval)
    return condition()
