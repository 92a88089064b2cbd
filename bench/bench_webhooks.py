"""Webhook benchmark: how many signed Meta events per second the real view accepts over HTTP,
next to a bare Django view on the same server, and how many a real worker then ingests.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/bench_webhooks.py [--events N ...]

Needs DATABASE_URL (PostgreSQL; the bench creates and drops its own database next to it) and a
redis:// CELERY_BROKER_URL, as scripts/test.sh exports them. The broker's Redis database is
flushed first, like bench/run.py does: point it at a throwaway Redis.

1. gunicorn (sync x8 by default, as production runs it) on 127.0.0.1 serves the project's URLs
   plus /bench/bare/, a view that returns 200 behind the same middleware.
2. A loopback load generator (processes x threads, one connection each, kept alive when the
   server allows it: sync workers close it after each answer) POSTs
   N distinct Page-comment notifications, each signed with X-Hub-Signature-256, first to the
   bare view, then to /webhooks/meta/. Every 200 of the real view is a stored WebhookDelivery;
   the view kicks at most one drain task per window (WEBHOOK_DRAIN_KICK_MS) onto the broker.
3. A real Celery worker starts on the queue those drain tasks wait in; they ingest the stored
   deliveries in batches (SKIP LOCKED, so the worker's threads share the work). Ingestion is
   timed until every delivery is processed and every comment is a Message.

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# `python bench/bench_webhooks.py` puts bench/ first on the path, where its modules would shadow
# the standard library's; the repository root goes there instead.
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench":
    sys.path[0] = str(REPO_ROOT)

BENCH_DB = "agency_bench_webhooks"
SECRET = "bench-meta-app-secret"  # noqa: S105 - signs the bench's own requests only
BARE_PATH = "/bench/bare/"
WEBHOOK_PATH = "/webhooks/meta/"
PAGES = 20  # sandbox accounts standing in for Facebook Pages
POSTS_PER_PAGE = 25


# -- the server side: imported by gunicorn as bench.bench_webhooks:application -------------------

_django_app = None


def bare(request):
    """The floor: routing and the middleware, nothing else."""
    from django.http import HttpResponse

    return HttpResponse("OK", content_type="text/plain")


def __getattr__(name: str):
    # The URLconf of the bench server, built on first use (after django.setup()).
    if name == "urlpatterns":
        from django.urls import include, path
        from django.views.decorators.csrf import csrf_exempt

        patterns = [
            path(BARE_PATH.strip("/") + "/", csrf_exempt(bare)),
            path("", include("agency.urls")),
        ]
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


def application(environ, start_response):
    global _django_app
    if _django_app is None:
        import django
        from django.conf import settings

        django.setup(set_prefix=False)
        settings.ROOT_URLCONF = __name__
        from django.core.handlers.wsgi import WSGIHandler

        _django_app = WSGIHandler()
        from agency.runtime import freeze_startup_objects

        freeze_startup_objects()  # as agency.wsgi does
    return _django_app(environ, start_response)


# -- the environment -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Signed Meta webhooks: accepted/s and ingested/s.")
    p.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (C, default when installed) or Python threads",
    )
    p.add_argument(
        "--duration", type=float, default=20.0, help="wrk: seconds per view (bodies never repeat)"
    )
    p.add_argument(
        "--events", type=int, default=20_000, help="python: notifications, one event each"
    )
    p.add_argument("--bare-requests", type=int, default=0, help="default: as many as --events")
    p.add_argument("--clients", type=int, default=2, help="load generator processes")
    p.add_argument("--client-threads", type=int, default=16, help="connections per process")
    p.add_argument("--web-workers", type=int, default=8, help="gunicorn worker processes")
    p.add_argument(
        "--web-worker-class",
        default="sync",
        choices=("sync", "gthread"),
        help="gunicorn worker class; production runs sync behind its proxy",
    )
    p.add_argument("--web-threads", type=int, default=1, help="threads per worker (gthread)")
    p.add_argument("--pool", default="threads", help="Celery pool of the ingesting worker")
    p.add_argument("--concurrency", type=int, default=8, help="of the ingesting worker")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds, per phase")
    p.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    return p.parse_args(argv)


def child_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "META_APP_SECRET": SECRET,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
        # A log line per request or task would be measured too.
        "AGENCY_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def start_gunicorn(args, *, log_dir: Path):
    from bench.procs import start_gunicorn as start

    def ready(port: int) -> bool:
        if _get(port, BARE_PATH)[0] != 200:
            return False
        # One request per worker process loads Django before the clock starts.
        for _ in range(args.web_workers * 4):
            _get(port, BARE_PATH)
        return True

    return start(
        "bench.bench_webhooks:application",
        workers=args.web_workers,
        threads=args.web_threads if args.web_worker_class == "gthread" else 1,
        worker_class=args.web_worker_class,
        env=child_env(),
        log_dir=log_dir,
        ready=ready,
        extra_args=("--backlog=2048",),
    )


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_worker(args, *, log_dir: Path, counter_url: str):
    from bench.procs import Process

    name = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "agency",
        "worker",
        "--loglevel=WARNING",
        f"--pool={args.pool}",
        f"--concurrency={args.concurrency}",
        "--queues=celery",
        f"--hostname={name}@%h",
        "--without-mingle",
        "--without-gossip",
        "--include=bench.tasks",
    ]
    env = child_env(BENCH_WORKER_NAME=name, BENCH_COUNTER_URL=counter_url)
    return Process(name, argv, env, log_dir / f"{name}.log")


# -- the data ------------------------------------------------------------------------------------


def create_pages() -> list[tuple[str, list[str]]]:
    """Sandbox accounts standing in for Pages, each with published posts: (page id, post ids)."""
    from agency.models import Agency, Brand, Platform, SocialAccount

    tag = uuid.uuid4().hex[:8]
    agency = Agency.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}")
    brand = Brand.objects.create(agency=agency, name=f"Bench {tag}", slug=f"bench-{tag}")
    pages = []
    for n in range(PAGES):
        page_id = f"10{n:013d}"
        SocialAccount.objects.create(
            brand=brand,
            platform=Platform.SANDBOX,
            handle=f"@benchpage{n}",
            external_id=page_id,
            access_token=f"bench-token-{tag}-{n}",
        )
        pages.append((page_id, [f"{page_id}_{p}" for p in range(POSTS_PER_PAGE)]))
    return pages


TEXTS = [
    "Love this! Is it available in oat milk too?",
    "My order arrived late and cold. Really disappointed.",
    "What time do you open on Sundays?",
    "Great post, thanks for sharing.",
]


def signed_bodies(pages, count: int, *, run: str) -> list[tuple[bytes, str]]:
    """`count` distinct Page feed comment notifications and their signatures.
    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""
    now = int(time.time())
    out = []
    for n in range(count):
        page_id, posts = pages[n % len(pages)]
        post_id = posts[(n // len(pages)) % len(posts)]
        body = json.dumps(
            {
                "object": "page",
                "entry": [
                    {
                        "id": page_id,
                        "time": now,
                        "changes": [
                            {
                                "field": "feed",
                                "value": {
                                    "from": {"id": f"7{n:09d}", "name": f"Fan {n}"},
                                    "message": TEXTS[n % len(TEXTS)],
                                    "post_id": post_id,
                                    "comment_id": f"{post_id}_{run}{n}",
                                    "created_time": now - (count - n) % 3600,
                                    "item": "comment",
                                    "parent_id": post_id,
                                    "verb": "add",
                                },
                            }
                        ],
                    }
                ],
            },
            separators=(",", ":"),
        ).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append((body, signature))
    return out


# -- the load generator --------------------------------------------------------------------------

# Filled before the client processes fork, so the bodies are not pickled to them.
_BODIES: list[tuple[bytes, str]] = []


def _client_process(port: int, path: str, start: int, stop: int, threads: int, results) -> None:
    """Send _BODIES[start:stop] over `threads` keep-alive connections; report
    (ok, failed, [(sent_at, done_at)], first error)."""
    slices = [range(start + t, stop, threads) for t in range(threads)]
    times: list[list[tuple[float, float]]] = [[] for _ in slices]
    failed = [0] * len(slices)
    errors: list[str] = []

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in slices[index]:
            body, signature = _BODIES[n]
            sent = time.time()
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": signature,
                    },
                )
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            except (OSError, http.client.HTTPException) as exc:
                status = 0
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if status == 200:
                times[index].append((sent, time.time()))
            else:
                failed[index] += 1
                if status and not errors:
                    errors.append(f"HTTP {status}")
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(slices))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    flat = [pair for per_thread in times for pair in per_thread]
    results.put((len(flat), sum(failed), flat, errors[:1]))


def load(port: int, path: str, count: int, args) -> dict:
    """POST the first `count` bodies; requests/s from the first send to the last answer."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    per = -(-count // args.clients)
    procs = [
        ctx.Process(
            target=_client_process,
            args=(port, path, i * per, min(count, (i + 1) * per), args.client_threads, results),
        )
        for i in range(args.clients)
        if i * per < count
    ]
    for proc in procs:
        proc.start()
    ok = failed = 0
    pairs: list[tuple[float, float]] = []
    errors: list[str] = []
    for _ in procs:
        got_ok, got_failed, got_pairs, got_errors = results.get(timeout=args.timeout)
        ok += got_ok
        failed += got_failed
        pairs += got_pairs
        errors += got_errors
    for proc in procs:
        proc.join(timeout=30)
    if not pairs:
        return {"ok": 0, "failed": failed, "rate": 0.0, "errors": errors}
    start = min(s for s, _ in pairs)
    ends = sorted(e for _, e in pairs)
    latencies = sorted((e - s) * 1000 for s, e in pairs)
    quarter = ends[-(len(ends) // 4 or 1) :]
    last_span = quarter[-1] - quarter[0]
    return {
        "ok": ok,
        "failed": failed,
        "seconds": ends[-1] - start,
        "rate": ok / (ends[-1] - start),
        "last_quarter_rate": (len(quarter) - 1) / last_span if last_span > 0 else 0.0,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if len(latencies) > 1 else 0.0,
        "errors": errors,
    }


# wrk sends the pre-signed bodies of a file (signature, space, body: one per line), each wrk thread
# its own share, for a fixed duration; `done` prints what it measured as one JSON line.
_WRK_SCRIPT = r"""
local data_file, path = %(data_file)s, %(path)s
local threads, started = {}, 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads = tonumber(args[1])
  reqs, sent, wrapped = {}, 0, 0
  local i = 0
  for line in io.lines(data_file) do
    if i %% nthreads == tid then
      local signature, body = line:match("^(%%S+) (.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signature}, body)
    end
    i = i + 1
  end
end
function request()
  sent = sent + 1
  if sent > #reqs then wrapped = wrapped + 1 end
  return reqs[(sent - 1) %% #reqs + 1]
end
function done(summary, latency, requests)
  local wrapped_total = 0
  for _, thread in ipairs(threads) do wrapped_total = wrapped_total + thread:get("wrapped") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "repeated_bodies": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), wrapped_total))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def load_wrk(port: int, path: str, args, *, log_dir: Path) -> dict:
    """Drive `path` with wrk for --duration seconds over the same number of keep-alive
    connections as the Python generator; requests/s from wrk's own count and clock."""
    data_file = log_dir / "bodies.txt"
    if not data_file.exists():
        with data_file.open("wb") as out:
            for body, signature in _BODIES:
                out.write(signature.encode() + b" " + body + b"\n")
    script = log_dir / f"wrk{path.replace('/', '_')}.lua"
    script.write_text(
        _WRK_SCRIPT % {"data_file": _lua_string(str(data_file)), "path": _lua_string(path)}
    )
    threads = args.clients
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{args.clients * args.client_threads}",
        f"-d{max(1, round(args.duration))}s",
        "--timeout=30s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
        "--",
        str(threads),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    got = json.loads(lines[-1])
    failed = got["non_2xx"] + got["socket_errors"]
    seconds = got["duration_us"] / 1e6
    return {
        "ok": got["requests"] - failed,
        "failed": failed,
        "seconds": seconds,
        "rate": (got["requests"] - failed) / seconds,
        "last_quarter_rate": None,
        "p50_ms": got["p50_us"] / 1000,
        "p99_ms": got["p99_us"] / 1000,
        "repeated_bodies": got["repeated_bodies"],
        "errors": [f"{got['non_2xx']} non-2xx, {got['socket_errors']} socket errors"]
        if failed
        else [],
    }


# -- the run -------------------------------------------------------------------------------------


def ingest(args, *, log_dir: Path, counter_url: str, expected: int) -> dict:
    import redis
    from django.db import connection

    from bench.tasks import READY_KEY
    from community.models import Message, WebhookDelivery

    worker = start_worker(args, log_dir=log_dir, counter_url=counter_url)
    client = redis.Redis.from_url(counter_url)
    try:
        deadline = time.monotonic() + 60
        while not client.get(READY_KEY.format(name=worker.name)):
            if not worker.running or time.monotonic() > deadline:
                raise RuntimeError(f"{worker.name} did not start:\n{worker.log()[-4000:]}")
            time.sleep(0.02)
        started = time.time()
        deadline = time.monotonic() + args.timeout
        left = expected
        while time.monotonic() < deadline:
            left = WebhookDelivery.objects.filter(processed_at__isnull=True).count()
            if not left:
                break
            if not worker.running:
                raise RuntimeError(f"{worker.name} died:\n{worker.log()[-4000:]}")
            time.sleep(0.1)
        finished = time.time()
        messages = Message.objects.count()
        failed = WebhookDelivery.objects.exclude(error="").count()
    finally:
        client.close()
        worker.stop()
        connection.close()
    done = expected - left
    return {
        "processed": done,
        "messages": messages,
        "failed": failed,
        "seconds": finished - started,
        "rate": done / (finished - started),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.procs import create_database, drop_database

    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    admin_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    if not broker.startswith(("redis://", "rediss://")):
        sys.exit("bench_webhooks: CELERY_BROKER_URL must be a redis:// URL")
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["DATABASE_URL"] = create_database(admin_url, BENCH_DB, bench="bench_webhooks")
    log_dir = Path(tempfile.mkdtemp(prefix="agency-bench-webhooks-"))
    server = None
    try:
        import django
        import redis

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from community.models import WebhookDelivery

        call_command("migrate", verbosity=0)
        client = redis.Redis.from_url(broker)
        client.flushdb()
        client.close()

        pages = create_pages()
        bare_count = args.bare_requests or args.events
        if args.generator == "wrk":
            # More distinct bodies than the view can take in --duration, so none repeats.
            bare_count = int(args.duration * 3000)
        _BODIES[:] = signed_bodies(pages, max(args.events, bare_count), run=uuid.uuid4().hex[:6])
        connection.close()  # not shared with the forked clients

        server, port = start_gunicorn(args, log_dir=log_dir)
        if args.generator == "wrk":
            bare_result = load_wrk(port, BARE_PATH, args, log_dir=log_dir)
            hook = load_wrk(port, WEBHOOK_PATH, args, log_dir=log_dir)
            args.events = hook["ok"]
        else:
            bare_result = load(port, BARE_PATH, bare_count, args)
            hook = load(port, WEBHOOK_PATH, args.events, args)
        # gunicorn finishes the requests wrk left in flight before it exits: count after that.
        server.stop()
        server = None
        stored = WebhookDelivery.objects.count()
        connection.close()
        drain = ingest(args, log_dir=log_dir, counter_url=broker, expected=stored)
    finally:
        if server is not None:
            server.stop()
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(admin_url, BENCH_DB, bench="bench_webhooks")

    print(report(args, bare_result, hook, stored, drain, log_dir))
    # wrk stops the clock with a request in flight on each connection: the view may have stored
    # those after wrk stopped counting, so up to one per connection more than it counted.
    in_flight = args.clients * args.client_threads if args.generator == "wrk" else 0
    ok = (
        hook["failed"] == 0
        and args.events <= stored <= args.events + in_flight
        and drain["processed"] == stored
        and drain["messages"] == stored
    )
    return 0 if ok else 1


def report(args, bare_result, hook, stored, drain, log_dir) -> str:
    ratio = hook["rate"] / bare_result["rate"] if bare_result["rate"] else 0.0
    from bench.procs import gunicorn_shape

    generator = (
        f"wrk ({args.duration:g} s per view, no body sent twice)"
        if args.generator == "wrk"
        else "Python threads"
    )
    lines = [
        f"Signed Meta webhooks, {args.events:,} events (one per request) on "
        f"{os.cpu_count()} CPUs: gunicorn {gunicorn_shape(args)} on "
        f"127.0.0.1, load generator {generator} with {args.clients}x{args.client_threads} "
        f"keep-alive connections, PostgreSQL and Redis on loopback.",
        "",
        "| Measure | Result |",
        "| --- | --- |",
        f"| Bare Django view (same middleware), requests/s | {bare_result['rate']:,.0f} "
        f"(p50 {bare_result['p50_ms']:.1f} ms, p99 {bare_result['p99_ms']:.1f} ms) |",
        f"| Meta webhook view (verify, store, kick a drain), events/s | {hook['rate']:,.0f} "
        f"(p50 {hook['p50_ms']:.1f} ms, p99 {hook['p99_ms']:.1f} ms) |",
        f"| Webhook / bare | {ratio:.2f} |",
        *(
            [f"| Webhook view, last quarter of the run, events/s | {last_quarter:,.0f} |"]
            if (last_quarter := hook.get("last_quarter_rate"))
            else []
        ),
        f"| Accepted (200) / refused or failed | {hook['ok']:,} / {hook['failed']:,} |",
        f"| Deliveries stored (wrk: plus those in flight when it stopped) | {stored:,} |",
        f"| Ingested by one worker ({args.pool} x{args.concurrency}), events/s | "
        f"{drain['rate']:,.0f} ({drain['processed']:,} in {drain['seconds']:.1f} s) |",
        f"| Messages stored / deliveries with an error | {drain['messages']:,} / "
        f"{drain['failed']:,} |",
        f"| Goal: 1,000 events/s accepted | {'met' if hook['rate'] >= 1000 else 'not met'} |",
    ]
    if hook["errors"] or bare_result["errors"]:
        lines.append("")
        lines.append(f"First errors: {(hook['errors'] + bare_result['errors'])[:2]}")
    lines.append("")
    lines.append(f"Logs: {log_dir}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
