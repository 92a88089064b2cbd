"""API benchmark: latency and throughput of the post list and the calendar range over 100,000
posts, next to a bare DRF endpoint measured in the same run on the same server.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/bench_api.py [--posts 100000]
        [--requests 400] [--clients 4]

Needs DATABASE_URL (PostgreSQL; the bench creates and drops its own database next to it), as
scripts/test.sh exports it.

1. Data: one agency and brand with 10 sandbox accounts; --posts posts (bulk_create), each with
   one target, scheduled over two years (about 137 a day); a manager with an API token.
2. gunicorn (gthread, --web-workers x --web-threads) on 127.0.0.1 serves the project's URLs
   plus /bench/bare-api/, a DRF APIView that returns a constant behind the same middleware,
   authentication (the same `Authorization: Token`), permission and throttle classes. Throttle
   rates are raised out of reach, so the throttle's bookkeeping is measured but never refuses.
3. --clients threads, one keep-alive connection each, send --requests GETs to each endpoint in
   turn (after a warm-up): the bare endpoint, GET /api/v1/posts/?page_size=50 and
   GET /api/v1/calendar/ for one week of the brand (page of 50).

Prints a markdown table: p50 / p95 latency and requests/s per endpoint, and each as a ratio to
the bare endpoint. The load average before and after is printed too: numbers from a loaded
machine say so.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench":
    sys.path[0] = str(REPO_ROOT)

BENCH_DB = "agency_bench_api"
BARE_PATH = "/bench/bare-api/"
ACCOUNTS = 10
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730
# The calendar week the bench asks for: in the middle of the two years.
WEEK_START = START + timedelta(days=365)


# -- the server side: imported by gunicorn as bench.bench_api:application -------------------------

_django_app = None


def _bare_view():
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class BareApiView(APIView):
        """The floor: routing, middleware, DRF's authentication, permission and throttle
        classes and its JSON renderer, and nothing else."""

        def get(self, request):
            return Response({"ok": True})

    return BareApiView.as_view()


def __getattr__(name: str):
    # The URLconf of the bench server, built on first use (after django.setup()).
    if name == "urlpatterns":
        from django.urls import include, path

        patterns = [
            path(BARE_PATH.strip("/") + "/", _bare_view()),
            path("", include("agency.urls")),
        ]
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


def _unreachable_throttle_rates(settings) -> None:
    framework = dict(settings.REST_FRAMEWORK)
    rates = dict(framework.get("DEFAULT_THROTTLE_RATES") or {})
    framework["DEFAULT_THROTTLE_RATES"] = {scope: "1000000000/day" for scope in rates}
    settings.REST_FRAMEWORK = framework
    from rest_framework.settings import api_settings

    api_settings.reload()


def application(environ, start_response):
    global _django_app
    if _django_app is None:
        import django
        from django.conf import settings

        django.setup(set_prefix=False)
        settings.ROOT_URLCONF = __name__
        _unreachable_throttle_rates(settings)
        from django.core.handlers.wsgi import WSGIHandler

        _django_app = WSGIHandler()
    return _django_app(environ, start_response)


# -- the environment -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="API latency over 100,000 posts, against a bare view.")
    p.add_argument("--posts", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=400, help="per endpoint, after the warm-up")
    p.add_argument("--warmup", type=int, default=40, help="per endpoint, not measured")
    p.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--web-threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    return p.parse_args(argv)


def load_data(posts: int) -> dict:
    """The brand, its accounts, `posts` posts with one target each, and a manager's token."""
    from django.db import connection

    from agency.models import Role
    from agency.services import api_token_create
    from calendar_app.models import Post, PostTarget, TargetState
    from tests.factories import (
        AgencyFactory,
        BrandFactory,
        MembershipFactory,
        SocialAccountFactory,
        UserFactory,
    )

    agency = AgencyFactory(slug="bench-api")
    brand = BrandFactory(agency=agency, slug="bench-api", time_zone="Europe/Berlin")
    accounts = [SocialAccountFactory(brand=brand) for _ in range(ACCOUNTS)]
    manager = UserFactory(username="bench_manager")
    MembershipFactory(agency=agency, user=manager, role=Role.MANAGER)
    _, key = api_token_create(user=manager, name="bench")

    started = time.perf_counter()
    step = timedelta(days=SPAN_DAYS) / max(posts, 1)
    batch = 5_000
    for first in range(0, posts, batch):
        rows = [
            Post(
                brand=brand,
                author=manager,
                title=f"Post {n}",
                text=f"Fresh roast number {n} is out today. #coffee",
                tags=["coffee"],
                scheduled_at=START + step * n,
                approval_state=Post.Approval.APPROVED,
            )
            for n in range(first, min(first + batch, posts))
        ]
        Post.objects.bulk_create(rows, batch_size=batch)
        PostTarget.objects.bulk_create(
            [
                PostTarget(
                    post=post,
                    account=accounts[n % ACCOUNTS],
                    state=TargetState.SCHEDULED,
                    due_at=post.scheduled_at,
                )
                for n, post in enumerate(rows, start=first)
            ],
            batch_size=batch,
        )
    with connection.cursor() as cursor:
        # VACUUM as autovacuum would soon after a bulk load on a live database: until the
        # visibility map is set, an index-only scan (the paginator's COUNT) reads the heap too.
        cursor.execute("VACUUM ANALYZE")
    return {"brand": brand, "key": key, "load_s": time.perf_counter() - started}


def start_gunicorn(args, *, log_dir: Path, key: str):
    from bench.procs import start_gunicorn as start

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "AGENCY_LOG_LEVEL": "WARNING"}
    return start(
        "bench.bench_api:application",
        workers=args.web_workers,
        threads=args.web_threads,
        env=env,
        log_dir=log_dir,
        ready=lambda port: _get_once(port, BARE_PATH, key) == 200,
    )


def _get_once(port: int, path: str, key: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Token {key}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def measure(port: int, path: str, *, key: str, requests: int, warmup: int, clients: int) -> dict:
    """`requests` GETs of `path` from `clients` threads, one keep-alive connection each."""
    headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    remaining = [warmup]
    measured = [requests]
    gate = threading.Barrier(clients + 1)
    errors: list[str] = []

    def take(counter: list[int]) -> bool:
        with lock:
            if counter[0] <= 0:
                return False
            counter[0] -= 1
            return True

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def one() -> tuple[int, float]:
            nonlocal conn
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    errors.append(repr(exc))
                status = 0
            return status, time.perf_counter() - t0

        while take(remaining):
            one()
        gate.wait()  # every connection warm before the clock starts
        gate.wait()
        while take(measured):
            status, took = one()
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(took)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "path": path,
        "count": len(latencies),
        "statuses": statuses,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
        "errors": errors[:3],
    }


def report(args, data: dict, results: dict, load_before, load_after) -> str:
    bare = results["bare"]
    cpus = os.cpu_count() or 1
    lines = [
        f"{args.posts:,} posts (one target each, two years of schedule) of one brand in "
        f"PostgreSQL, loaded with bulk_create in {data['load_s']:.1f} s. gunicorn gthread "
        f"{args.web_workers}x{args.web_threads} on 127.0.0.1; {args.clients} concurrent "
        f"keep-alive clients in the bench process; {args.requests} measured GETs per endpoint "
        f"after {args.warmup} of warm-up; API token auth as a manager. {cpus} CPUs.",
        "",
        "| Endpoint | p50 (ms) | p95 (ms) | requests/s | p50 / bare | requests/s / bare |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    names = {
        "bare": "bare DRF APIView, constant body (baseline)",
        "posts": "GET /api/v1/posts/?page_size=50",
        "calendar": "GET /api/v1/calendar/ (one brand, one week, page of 50)",
    }
    for key, result in results.items():
        lines.append(
            f"| {names[key]} | {result['p50_ms']:.1f} | {result['p95_ms']:.1f} | "
            f"{result['rate']:,.0f} | {result['p50_ms'] / bare['p50_ms']:.1f}x | "
            f"{result['rate'] / bare['rate']:.2f} |"
        )
    lines.append("")
    statuses = "; ".join(f"{k}: {v['statuses']}" for k, v in results.items())
    lines.append(f"Status codes: {statuses}.")
    errors = [e for v in results.values() for e in v["errors"]]
    if errors:
        lines.append(f"First errors: {errors[:3]}")
    lines.append(
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after, on {cpus} CPUs."
    )
    if load_before > cpus * 0.5:
        lines.append(
            "",
        )
        lines.append(
            "**Measured on a loaded machine** (load before the run above half the CPUs): "
            "absolute numbers are not comparable with a quiet run; the ratios less so."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.procs import create_database, drop_database

    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    admin_url = os.environ.get("DATABASE_URL", "")
    os.environ["DATABASE_URL"] = create_database(admin_url, BENCH_DB, bench="bench_api")
    log_dir = Path(tempfile.mkdtemp(prefix="agency-bench-api-"))
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        data = load_data(args.posts)
        connection.close()
        brand_id = data["brand"].pk
        week_end = WEEK_START + timedelta(days=7)
        paths = {
            "bare": BARE_PATH,
            "posts": "/api/v1/posts/?page_size=50",
            "calendar": (
                f"/api/v1/calendar/?brand={brand_id}"
                f"&start={WEEK_START:%Y-%m-%dT%H:%M:%SZ}&end={week_end:%Y-%m-%dT%H:%M:%SZ}"
            ),
        }
        load_before = os.getloadavg()[0]
        server, port = start_gunicorn(args, log_dir=log_dir, key=data["key"])
        results = {
            name: measure(
                port,
                path,
                key=data["key"],
                requests=args.requests,
                warmup=args.warmup,
                clients=args.clients,
            )
            for name, path in paths.items()
        }
        load_after = os.getloadavg()[0]
    finally:
        if server is not None:
            server.stop()
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(admin_url, BENCH_DB, bench="bench_api")

    print(report(args, data, results, load_before, load_after))
    ok = all(set(r["statuses"]) == {200} for r in results.values())
    if not ok:
        print(f"\nNot every response was a 200; see {log_dir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
