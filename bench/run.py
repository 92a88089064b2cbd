"""Publishing benchmark (issue 3): `make bench`, i.e. `bash scripts/test.sh --bench [ARGS]`.

Needs DATABASE_URL (a PostgreSQL server; the bench creates its own database on it) and a
redis:// CELERY_BROKER_URL, as scripts/test.sh exports them. Three phases, each with freshly
started workers and an empty broker:

  (a) Celery's ceiling: N no-op tasks through the same kind of worker, tasks/s
  (b) throughput: accounts x posts targets due at once, published on the fake platform, targets/s
  (c) lag: targets all due at one instant T, published_at - T

Prints a markdown table and writes it into BENCHMARKS.md between the markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
# `python bench/run.py` puts bench/ first on the path, where its modules would shadow the
# standard library's (and `bench.x` would be imported twice); the repository root goes there.
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench":
    sys.path[0] = str(REPO_ROOT)

BENCH_DB = "agency_bench"
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"
START_MARK = "<!-- bench:results:start (written by bench/run.py; edit outside the markers) -->"
END_MARK = "<!-- bench:results:end -->"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Publishing benchmark (issue 3).")
    p.add_argument("--noop-tasks", type=int, default=20_000)
    p.add_argument("--accounts", type=int, default=50, help="(b) accounts")
    p.add_argument("--posts", type=int, default=200, help="(b) posts per account")
    p.add_argument("--lag-accounts", type=int, default=20, help="(c) accounts")
    p.add_argument("--lag-posts", type=int, default=50, help="(c) posts per account")
    p.add_argument("--delay-ms", type=float, default=200.0, help="fake platform delay per call")
    p.add_argument("--workers", type=int, default=2, help="worker processes (one per core)")
    p.add_argument("--pool", default="threads")
    p.add_argument("--concurrency", type=int, default=100, help="per worker process")
    p.add_argument(
        "--dispatcher",
        choices=("beat", "loop"),
        default="beat",
        help="beat: celery beat sends dispatch_due_posts to the workers, as in production; "
        "loop: dispatch_due() in a loop on a thread of this process",
    )
    p.add_argument(
        "--dispatch-every",
        type=float,
        default=1.0,
        help="PUBLISH_DISPATCH_EVERY_SECONDS for beat (lag includes waiting for its tick)",
    )
    p.add_argument(
        "--dispatch-batch",
        type=int,
        default=0,
        help="PUBLISH_DISPATCH_BATCH for the dispatcher (0: the settings' default)",
    )
    p.add_argument("--phase-timeout", type=float, default=200.0, help="seconds, per phase")
    p.add_argument("--phases", default="abc", help="which of a, b, c to run")
    p.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead of the phases: profile N serial publishes in this process",
    )
    p.add_argument(
        "--settings",
        default="tests.settings",
        help="DJANGO_SETTINGS_MODULE for this process and the workers (to try a change)",
    )
    return p.parse_args(argv)


# -- environment ---------------------------------------------------------------------------------


def create_bench_database() -> tuple[str, int]:
    """A fresh `agency_bench` next to DATABASE_URL's database: its URL, max_connections."""
    import psycopg2

    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("bench: DATABASE_URL must point at PostgreSQL (scripts/test.sh --bench sets it)")
    admin = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{BENCH_DB}"')
        cur.execute("SHOW max_connections")
        max_connections = int(cur.fetchone()[0])
    admin.close()
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}")), max_connections


def drop_bench_database(admin_url: str) -> None:
    import psycopg2

    parts = urlsplit(admin_url)
    try:
        admin = psycopg2.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username,
            password=parts.password,
            dbname=parts.path.lstrip("/") or "postgres",
        )
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.close()
    except Exception as exc:
        print(f"bench: could not drop {BENCH_DB}: {exc}", file=sys.stderr)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
    }


def flush_redis(*urls: str) -> None:
    import redis

    for url in urls:
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


def fake_stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_stats", timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def fake_reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/_reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
        pass


# -- phases --------------------------------------------------------------------------------------


def phase_ceiling(args, *, log_dir: Path, counter_url: str) -> dict:
    """(a) N no-op tasks, first enqueue to last completion."""
    import redis

    from bench import procs
    from bench.tasks import COUNT_KEY, END_KEY, noop

    n = args.noop_tasks
    workers = procs.start_workers(
        count=args.workers,
        pool=args.pool,
        concurrency=args.concurrency,
        log_dir=log_dir,
        counter_url=counter_url,
    )
    client = redis.Redis.from_url(counter_url)
    try:
        started = time.time()
        for _ in range(n):
            noop.apply_async(args=[n], queue="publish")
        enqueued = time.time() - started
        deadline = time.monotonic() + args.phase_timeout
        while not client.get(END_KEY) and time.monotonic() < deadline:
            for worker in workers:
                if not worker.running:
                    raise RuntimeError(f"{worker.name} died:\n{worker.log()[-4000:]}")
            time.sleep(0.05)
        end = client.get(END_KEY)
        done = int(client.get(COUNT_KEY) or 0)
    finally:
        client.close()
        procs.stop_all(workers)
    seconds = (float(end) if end else time.time()) - started
    return {
        "tasks": n,
        "done": done,
        "complete": bool(end),
        "seconds": seconds,
        "per_second": done / seconds,
        "enqueue_seconds": enqueued,
    }


def dispatch_env(args) -> dict[str, str]:
    env = {"PUBLISH_DISPATCH_EVERY_SECONDS": str(args.dispatch_every)}
    if args.dispatch_batch:
        env["PUBLISH_DISPATCH_BATCH"] = str(args.dispatch_batch)
    return env


def make_dispatcher(args, *, log_dir: Path):
    from bench import procs
    from bench import publishing as pub

    if args.dispatcher == "loop":
        return pub.Dispatcher()
    return pub.BeatDispatcher(
        start_beat=lambda: procs.start_beat(log_dir=log_dir, env=dispatch_env(args))
    )


def with_workers(args, *, log_dir: Path, counter_url: str, run):
    from bench import procs

    workers = procs.start_workers(
        count=args.workers,
        pool=args.pool,
        concurrency=args.concurrency,
        log_dir=log_dir,
        counter_url=counter_url,
        env=dispatch_env(args),
    )

    def check():
        for worker in workers:
            if not worker.running:
                raise RuntimeError(f"{worker.name} died:\n{worker.log()[-4000:]}")

    try:
        return run(check)
    finally:
        procs.stop_all(workers)


# -- report --------------------------------------------------------------------------------------


def fmt(value, digits=1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def table(args, results: dict) -> str:
    a, b, c = results.get("a"), results.get("b"), results.get("c")
    pool = f"{args.workers} x `{args.pool}` pool, concurrency {args.concurrency}"
    rows = ["| Measure | Result | Aim | Met |", "|---|---|---|---|"]
    if a:
        rows.append(
            f"| (a) Celery ceiling: {fmt(a['tasks'])} no-op tasks, {pool} "
            f"| **{fmt(a['per_second'])} tasks/s** ({fmt(a['seconds'], 2)} s, "
            f"{fmt(a['done'])} done) | baseline | - |"
        )
    if b:
        ratio = b["per_second"] / a["per_second"] if a else None
        aim_met = "yes" if ratio is not None and ratio >= 0.5 and b["done"] else "**no**"
        rows.append(
            f"| (b) Publish throughput: {fmt(b['targets'])} targets due at once, "
            f"{fmt(args.delay_ms, 0)} ms platform delay "
            f"| **{fmt(b['per_second'])} targets/s** ({fmt(b['seconds'], 2)} s, "
            f"{fmt(b['published'])} published) "
            f"| >= 0.5 x (a) | {aim_met}: {fmt(ratio, 3)} x (a) |"
        )
        stats = b["platform"]
        dup_ok = stats["duplicates"] == 0 and stats["requests"] == b["targets"]
        rows.append(
            f"| (b) Requests the platform received / duplicates "
            f"| {fmt(stats['requests'])} / **{fmt(stats['duplicates'])}** "
            f"| {fmt(b['targets'])} / 0 | {'yes' if dup_ok else '**no**'} |"
        )
    if c:
        met = "yes" if c["done"] and c["p99"] < 5.0 else "**no**"
        rows.append(
            f"| (c) Lag, {fmt(c['targets'])} targets due at one instant: p50 / p99 / max "
            f"| {fmt(c['p50'], 2)} s / **{fmt(c['p99'], 2)} s** / {fmt(c['max'], 2)} s "
            f"| p99 < 5 s | {met} |"
        )
        stats = c["platform"]
        dup_ok = stats["duplicates"] == 0 and stats["requests"] == c["targets"]
        rows.append(
            f"| (c) Requests the platform received / duplicates "
            f"| {fmt(stats['requests'])} / **{fmt(stats['duplicates'])}** "
            f"| {fmt(c['targets'])} / 0 | {'yes' if dup_ok else '**no**'} |"
        )
    return "\n".join(rows)


def details(args, results: dict) -> str:
    lines = []
    a, b, c = results.get("a"), results.get("b"), results.get("c")
    if a:
        lines.append(
            f"- (a) enqueueing the {fmt(a['tasks'])} tasks alone took "
            f"{fmt(a['enqueue_seconds'], 2)} s (one `apply_async` each, as the dispatcher does)."
        )
    if args.dispatcher == "beat":
        how = (
            f"celery beat sending `dispatch_due_posts` every {fmt(args.dispatch_every, 1)} s "
            "to the workers' dispatch queue (a full batch re-queues it at once)"
        )
    else:
        how = "`dispatch_due()` in a loop on a thread of the bench process"
    batch = args.dispatch_batch or "the default"
    lines.append(f"- Dispatch: {how}; batches of {batch}.")
    if b:
        lines.append(
            f"- (b) targets were claimed in {b['claim_batches']} batches, the last "
            f"{fmt(b['all_claimed_after'], 2)} s after the start; the platform had at most "
            f"{b['platform']['max_in_flight']} calls in flight; one publish took "
            f"{fmt(b['attempt_seconds'].get('p50'), 3)} s (p50, claim to recorded result); "
            f"final states {b['states']}."
        )
    if c:
        lines.append(
            f"- (c) min lag {fmt(c['min'], 2)} s; claimed in {c['claim_batches']} batches, "
            f"the last {fmt(c['all_claimed_after'], 2)} s after T; at most "
            f"{c['platform']['max_in_flight']} platform calls in flight; final states "
            f"{c['states']}."
        )
    return "\n".join(lines)


def write_benchmarks_md(section: str) -> None:
    block = f"{START_MARK}\n{section.strip()}\n{END_MARK}"
    if BENCHMARKS_MD.exists():
        text = BENCHMARKS_MD.read_text()
        if START_MARK in text and END_MARK in text:
            head, rest = text.split(START_MARK, 1)
            tail = rest.split(END_MARK, 1)[1]
            BENCHMARKS_MD.write_text(head + block + tail)
            return
        BENCHMARKS_MD.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    BENCHMARKS_MD.write_text(f"# Benchmarks\n\n{block}\n")


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        sys.exit(
            "bench: CELERY_BROKER_URL must be a redis:// URL (scripts/test.sh --bench sets it)"
        )
    counter_url = os.environ.get("REDIS_URL") or broker_url
    admin_url = os.environ["DATABASE_URL"]
    bench_url, max_connections = create_bench_database()
    needed = args.workers * args.concurrency + 10
    if needed > max_connections:
        sys.exit(f"bench: {needed} connections needed, PostgreSQL allows {max_connections}")
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    os.environ["AGENCY_LOG_LEVEL"] = "WARNING"
    os.environ.update(dispatch_env(args))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import procs
    from bench import publishing as pub

    call_command("migrate", verbosity=0)
    if args.profile:
        from bench.cpu_profile import profile_publish

        try:
            profile_publish(args.profile)
        finally:
            connections.close_all()
            drop_bench_database(admin_url)
        return 0
    log_dir = Path(tempfile.mkdtemp(prefix="agency-bench-"))
    print(f"== bench: database {BENCH_DB}, logs in {log_dir}", flush=True)
    results: dict = {}
    fake = None
    began = time.monotonic()
    load_before = os.getloadavg()
    try:
        fake, fake_url = procs.start_fake_platform(delay_ms=args.delay_ms, log_dir=log_dir)
        print(f"== fake Mastodon on {fake_url}, {args.delay_ms:.0f} ms per call", flush=True)

        if "a" in args.phases:
            flush_redis(broker_url, counter_url)
            print(f"== (a) {args.noop_tasks} no-op tasks", flush=True)
            results["a"] = phase_ceiling(args, log_dir=log_dir, counter_url=counter_url)
            print(f"   {json.dumps(results['a'])}", flush=True)

        if "b" in args.phases:
            flush_redis(broker_url, counter_url)
            fake_reset(fake_url)
            print(f"== (b) {args.accounts * args.posts} targets due at once", flush=True)
            results["b"] = with_workers(
                args,
                log_dir=log_dir,
                counter_url=counter_url,
                run=lambda check: pub.throughput(
                    accounts=args.accounts,
                    posts=args.posts,
                    server_url=fake_url,
                    timeout=args.phase_timeout,
                    dispatcher=make_dispatcher(args, log_dir=log_dir),
                    check=check,
                ),
            )
            results["b"]["platform"] = fake_stats(fake_url)
            print(f"   {json.dumps(results['b'])}", flush=True)

        if "c" in args.phases:
            flush_redis(broker_url, counter_url)
            fake_reset(fake_url)
            warmup = max(1, -(-args.workers * args.concurrency // args.lag_posts))
            print(f"== (c) {args.lag_accounts * args.lag_posts} targets due at T", flush=True)
            results["c"] = with_workers(
                args,
                log_dir=log_dir,
                counter_url=counter_url,
                run=lambda check: pub.lag(
                    accounts=args.lag_accounts,
                    posts=args.lag_posts,
                    warmup_accounts=warmup,
                    server_url=fake_url,
                    timeout=args.phase_timeout,
                    dispatcher=make_dispatcher(args, log_dir=log_dir),
                    check=check,
                    reset_stats=lambda: fake_reset(fake_url),
                ),
            )
            results["c"]["platform"] = fake_stats(fake_url)
            print(f"   {json.dumps(results['c'])}", flush=True)
    finally:
        if fake is not None:
            fake.stop()
        connections.close_all()
        flush_redis(broker_url, counter_url)
        drop_bench_database(admin_url)

    m = machine()
    now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_after = os.getloadavg()
    section = "\n\n".join(
        [
            f"Last run: {now}, `make bench` ({time.monotonic() - began:.0f} s). Machine: "
            f"{m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Python {m['python']}; "
            f"PostgreSQL and Redis on the same machine, as scripts/test.sh starts them. "
            f"Load average (1 min) {load_before[0]:.2f} before the run and "
            f"{load_after[0]:.2f} after it (the machine is shared).",
            table(args, results),
            details(args, results),
        ]
    )
    print()
    print(section)
    if not args.no_write:
        write_benchmarks_md(section)
        print(f"\n== wrote {BENCHMARKS_MD.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
