"""The processes a benchmark runs: Celery workers and the fake platform, each in its own
process group with its log in a file, always stopped in a `finally`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own group: a kill reaches the pool's threads and nothing of ours.
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, needle: str, *, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if needle in line:
                    return line
            if not self.running:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} never said {needle!r}:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 20) -> None:
        if self.running:
            # SIGTERM is Celery's warm shutdown; whatever is still alive after it is killed.
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment (DATABASE_URL already points at the bench database)."""
    env = {
        **os.environ,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
        # A log line per task costs the worker more than a no-op task does.
        "AGENCY_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def start_workers(
    *,
    count: int,
    pool: str,
    concurrency: int,
    log_dir: Path,
    counter_url: str,
    env: dict[str, str] | None = None,
) -> list[Process]:
    """`count` workers on the publish and dispatch queues, returned once each is ready."""
    import redis

    from bench.tasks import READY_KEY

    client = redis.Redis.from_url(counter_url)
    workers: list[Process] = []
    try:
        for _ in range(count):
            name = f"bench-{uuid.uuid4().hex[:8]}"
            argv = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "agency",
                "worker",
                "--loglevel=WARNING",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "--queues=publish,dispatch",
                f"--hostname={name}@%h",
                "--without-mingle",
                "--without-gossip",
                "--include=bench.tasks",
            ]
            worker_env = child_env(
                BENCH_WORKER_NAME=name, BENCH_COUNTER_URL=counter_url, **(env or {})
            )
            workers.append(Process(name, argv, worker_env, log_dir / f"{name}.log"))
        deadline = time.monotonic() + 60
        for worker in workers:
            while not client.get(READY_KEY.format(name=worker.name)):
                if not worker.running or time.monotonic() > deadline:
                    raise RuntimeError(f"{worker.name} did not start:\n{worker.log()[-4000:]}")
                time.sleep(0.05)
    except BaseException:
        stop_all(workers)
        raise
    finally:
        client.close()
    return workers


def stop_all(processes: list[Process]) -> None:
    for process in reversed(processes):
        process.stop()


def start_beat(*, log_dir: Path, env: dict[str, str]) -> Process:
    """Celery beat as production runs it (the schedule from settings, in the database),
    returned once it has sent its first due task."""
    name = f"beat-{uuid.uuid4().hex[:8]}"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "agency",
        "beat",
        # INFO: a line per sent task (a few a second) is how we see it ticking.
        "--loglevel=INFO",
        "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile=",
    ]
    process = Process(name, argv, child_env(**env), log_dir / f"{name}.log")
    try:
        process.wait_for_line("Sending due task", timeout=60)
    except BaseException:
        process.stop()
        raise
    return process


def start_fake_platform(*, delay_ms: float, log_dir: Path) -> tuple[Process, str]:
    process = Process(
        "fake-platform",
        [sys.executable, "-m", "bench.fake_platform", "--port", "0", "--delay-ms", str(delay_ms)],
        child_env(),
        log_dir / "fake-platform.log",
    )
    try:
        line = process.wait_for_line("listening on ", timeout=20)
    except BaseException:
        process.stop()
        raise
    return process, line.split("listening on ", 1)[1].strip()


# -- shared by the benchmarks that serve HTTP (bench_api, bench_webhooks, load) ------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_admin(url: str):
    import psycopg2

    parts = urlsplit(url)
    admin = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
    )
    admin.autocommit = True
    return admin


def create_database(admin_url: str, name: str, *, bench: str) -> str:
    """A fresh database `name` next to DATABASE_URL's (dropped first if a run left it); its URL."""
    parts = urlsplit(admin_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(f"{bench}: DATABASE_URL must be PostgreSQL (scripts/test.sh --bench sets it)")
    admin = _pg_admin(admin_url)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin_url: str, name: str, *, bench: str) -> None:
    try:
        admin = _pg_admin(admin_url)
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    except Exception as exc:
        print(f"{bench}: could not drop {name}: {exc}", file=sys.stderr)


def gunicorn_shape(args) -> str:
    """How a bench's --web-* arguments serve, in words for its report."""
    if args.web_worker_class == "sync":
        return f"sync x{args.web_workers}"
    return f"gthread {args.web_workers}x{args.web_threads}"


def start_gunicorn(
    app: str,
    *,
    workers: int,
    threads: int,
    env: dict[str, str],
    log_dir: Path,
    ready: Callable[[int], bool],
    timeout: float = 60,
    extra_args: tuple[str, ...] = (),
    worker_class: str = "gthread",
) -> tuple[Process, int]:
    """gunicorn serving `app` on a free loopback port, returned once `ready(port)`."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        f"--bind=127.0.0.1:{port}",
        f"--worker-class={worker_class}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--keep-alive=30",
        "--log-level=warning",
        *extra_args,
    ]
    server = Process("gunicorn", argv, env, log_dir / "gunicorn.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running:
            raise RuntimeError(f"gunicorn exited:\n{server.log()[-4000:]}")
        try:
            if ready(port):
                return server, port
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer on {port}:\n{server.log()[-4000:]}")
