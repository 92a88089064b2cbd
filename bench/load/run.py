"""Load test (issue 9): the dashboard pages and the main API endpoints under 20 concurrent users,
on a database of 100,000 posts and 1,000,000 inbox messages, while a Celery worker publishes.

    bash scripts/test.sh --bench --only load          (through bench/all.py; opt-in)
    DJANGO_SETTINGS_MODULE=tests.settings python bench/load/run.py [--posts 100000]
        [--messages 1000000] [--users 20] [--duration 120] [--think-ms 1000]

Needs DATABASE_URL (PostgreSQL: a database of its own is created next to it and dropped after)
and a redis:// CELERY_BROKER_URL, as scripts/test.sh exports them.

1. Data, with INSERT ... SELECT FROM generate_series (no Python per row): one agency, one brand
   with 10 sandbox accounts; --posts posts with one target each, scheduled over two years around
   now (the past ones published); --messages inbound messages in conversations of 50 messages;
   a few campaigns. Then VACUUM ANALYZE.
2. Servers, production-like: gunicorn (--web-worker-class, sync by default as in production,
   --web-workers processes; --web-threads with gthread) serving
   agency.wsgi with `agency.settings` (DEBUG off, manifest static files collected first, cache
   and sessions' throttle counters in Redis, the real middleware stack: CSP, axes, whitenoise).
   Requests carry X-Forwarded-Proto: https as behind the TLS proxy production runs, so
   SSL redirect, secure cookies and CSRF's origin checks are on. API rate limits are raised
   out of reach through their settings' environment variables (the throttle still counts).
3. Publishing at the same time: a real `celery worker` (threads pool) on the publish and
   dispatch queues and a real `celery beat`, publishing --publish-rate due targets per second
   for the whole run to Mastodon accounts whose server is bench/fake_platform.py (200 ms a
   call). The report says how many were published and their lag.
4. Locust (headless, bench/load/locustfile.py) with --users virtual users: half sign in through
   the login form (session cookie, CSRF) and browse the pages, half use an API token. Each
   picks its next request at random from its list and waits --think-ms (uniform 0.5x to 1.5x)
   between requests; anything but a 200 is a failure. GET /healthz (one SELECT 1 through the
   same middleware and gunicorn) is in every user's list: it is the baseline, measured under
   the same load in the same run. The statistics start after --warmup seconds.

Prints a markdown table (p50 / p95 / p99, requests/s, errors per endpoint, against the aim p95 <
200 ms, and p50 as a ratio of the baseline's) and writes it into BENCHMARKS.md between the
`bench:load` markers (--no-write: print only).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench" / "load":
    sys.path[0] = str(REPO_ROOT)

BENCH_DB = "agency_bench_load"
ACCOUNTS = 10
PUBLISH_ACCOUNTS = 5
MESSAGES_PER_CONVERSATION = 50
PASSWORD = "load-test-password-0123"  # noqa: S105 - a throwaway user of a throwaway database
AIM_P95_MS = 200.0
SECTION_KEY = "load"
SECTION_TITLE = "Load: 20 users on pages and API, with publishing (issue 9)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Load test: pages and API under concurrent users.")
    p.add_argument("--posts", type=int, default=100_000)
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=20, help="concurrent virtual users")
    p.add_argument("--duration", type=float, default=120.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    p.add_argument("--think-ms", type=float, default=1000.0, help="mean pause between requests")
    p.add_argument("--web-workers", type=int, default=8, help="gunicorn worker processes")
    p.add_argument(
        "--web-worker-class",
        default="sync",
        choices=("sync", "gthread"),
        help="gunicorn worker class; production runs sync behind its proxy",
    )
    p.add_argument("--web-threads", type=int, default=1, help="threads per worker (gthread)")
    p.add_argument("--publish-rate", type=float, default=2.0, help="due targets per second")
    p.add_argument("--worker-concurrency", type=int, default=16, help="Celery worker threads")
    p.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md")
    p.add_argument("--note", default="", help="a line added under the table (e.g. reduced run)")
    p.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    return p.parse_args(argv)


# -- database ------------------------------------------------------------------------------------


def insert_series(model, count: int, template, overrides: dict[str, str]) -> None:
    """INSERT INTO model's table `count` rows from generate_series(1, count) AS g: the columns
    in `overrides` are SQL expressions of g (no % in them), the others the template's values."""
    from django.db import connection

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.column in overrides:
            expressions.append(overrides[field.column])
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(getattr(template, field.attname), connection))
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names, our expressions
        f"SELECT {', '.join(expressions)} FROM generate_series(1, {int(count)}) AS g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _uuid_of(prefix: str, expr: str = "g") -> str:
    return f"md5('{prefix}-' || ({expr}))::uuid"


def _ts(at: datetime) -> str:
    return f"TIMESTAMPTZ '{at.isoformat()}'"


def load_data(args, *, fake_url: str, now: datetime) -> dict:
    from decimal import Decimal

    from django.db import connection

    from ads import services as ads_services
    from agency.models import Agency, Brand, Membership, Platform, Role, SocialAccount
    from agency.services import api_token_create
    from calendar_app.models import Post, PostTarget, TargetState
    from community.models import Conversation, Message

    started = time.perf_counter()
    agency = Agency.objects.create(name="Load Agency", slug="load-agency")
    brand = Brand.objects.create(
        agency=agency, name="Load Coffee", slug="load-coffee", time_zone="Europe/Berlin"
    )
    accounts = [
        SocialAccount.objects.create(
            brand=brand,
            platform=Platform.SANDBOX,
            handle=f"@load{n}",
            external_id=f"load-{n}",
            access_token=f"load-token-{n}",
        )
        for n in range(ACCOUNTS)
    ]
    publishers = [
        SocialAccount.objects.create(
            brand=brand,
            platform=Platform.MASTODON,
            handle=f"@pub{n}",
            external_id=f"pub-{n}",
            instance_url=fake_url,
            access_token=f"pub-token-{n}",
        )
        for n in range(PUBLISH_ACCOUNTS)
    ]
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    # Hashed as production hashes (this process runs with the test suite's fast hasher).
    hasher = PBKDF2PasswordHasher()
    hashed = hasher.encode(PASSWORD, hasher.salt())
    users = []
    for n in range(args.users):
        user = get_user_model().objects.create(
            username=f"load{n}", email=f"load{n}@example.com", password=hashed
        )
        # Admins: every page and endpoint of the run is theirs to read (ads included).
        Membership.objects.create(agency=agency, user=user, role=Role.ADMIN)
        users.append(user)
    tokens = [api_token_create(user=user, name="load")[1] for user in users]
    for n in range(5):
        ads_services.campaign_create(
            brand=brand,
            by=users[0],
            name=f"Campaign {n}",
            platform="meta",
            objective="sales",
            start_date=now.date() - timedelta(days=30),
            budget_kind="daily",
            budget_amount=Decimal("20"),
        )

    # Posts: --posts over two years centred on now, one target each; the past ones published.
    first = now - timedelta(days=365)
    step = timedelta(days=730).total_seconds() / max(args.posts, 1)
    at = f"({_ts(first)} + g * INTERVAL '{step:.6f} seconds')"
    account_ids = "ARRAY[" + ",".join(f"'{a.pk}'" for a in accounts) + "]::uuid[]"
    post_tpl = Post(
        brand=brand,
        author=users[0],
        title="",
        text="",
        link="",
        tags=["coffee"],
        approval_state=Post.Approval.APPROVED,
        created_at=now,
        updated_at=now,
    )
    insert_series(
        Post,
        args.posts,
        post_tpl,
        {
            "id": _uuid_of("post"),
            "title": "'Post ' || g",
            "text": "'Fresh roast number ' || g || ' is out today. #coffee'",
            "scheduled_at": at,
        },
    )
    target_tpl = PostTarget(
        post_id=brand.pk, account=accounts[0], created_at=now, updated_at=now, state="scheduled"
    )
    past = f"{at} < {_ts(now)}"
    insert_series(
        PostTarget,
        args.posts,
        target_tpl,
        {
            "id": _uuid_of("target"),
            "post_id": _uuid_of("post"),
            "account_id": f"({account_ids})[1 + mod(g, {ACCOUNTS})]",
            "idempotency_key": _uuid_of("key"),
            "state": f"CASE WHEN {past} THEN '{TargetState.PUBLISHED}' "
            f"ELSE '{TargetState.SCHEDULED}' END",
            "due_at": at,
            "external_id": f"CASE WHEN {past} THEN 'ext-' || g ELSE '' END",
            "published_at": f"CASE WHEN {past} THEN {at} ELSE NULL END",
        },
    )
    posts_s = time.perf_counter() - started

    # Inbox: --messages inbound messages, 50 per conversation, the newest conversations first.
    conversations = max(1, args.messages // MESSAGES_PER_CONVERSATION)
    conv_tpl = Conversation(
        brand=brand,
        account=accounts[0],
        kind=Conversation.Kind.COMMENT,
        participant_name="",
        sentiment="",
        preview="",
        created_at=now,
        updated_at=now,
    )
    insert_series(
        Conversation,
        conversations,
        conv_tpl,
        {
            "id": _uuid_of("conv"),
            "account_id": f"({account_ids})[1 + mod(g, {ACCOUNTS})]",
            "external_thread_id": "'thread-' || g",
            "participant_handle": "'@fan' || g",
            "status": "(ARRAY['open','open','pending','closed'])[1 + mod(g, 4)]",
            "preview": "'Is the new roast vegan? #' || g",
            "last_message_at": f"({_ts(now)} - g * INTERVAL '1 minute')",
            "first_inbound_at": f"({_ts(now)} - g * INTERVAL '1 minute' - INTERVAL '1 day')",
        },
    )
    conv_of = f"(1 + mod(g, {conversations}))"
    message_tpl = Message(
        conversation_id=brand.pk,
        account=accounts[0],
        direction=Message.Direction.INBOUND,
        send_state=Message.SendState.RECEIVED,
        author_name="",
        in_reply_to="",
        sentiment="",
        last_error="",
        raw={},
        created_at=now,
        updated_at=now,
    )
    insert_series(
        Message,
        args.messages,
        message_tpl,
        {
            "id": _uuid_of("msg"),
            "conversation_id": _uuid_of("conv", conv_of),
            "account_id": f"({account_ids})[1 + mod({conv_of}, {ACCOUNTS})]",
            "author_handle": f"'@fan' || {conv_of}",
            "text": "'Is the new roast vegan? Asking for a friend #' || g",
            "platform_message_id": "'msg-' || g",
            "sent_at": f"({_ts(now)} - g * INTERVAL '1 second')",
            "idempotency_key": _uuid_of("msgkey"),
        },
    )
    messages_s = time.perf_counter() - started - posts_s
    with connection.cursor() as cursor:
        # VACUUM as autovacuum would soon after a bulk load on a live database: until the
        # visibility map is set, an index-only scan (the paginator's COUNT) reads the heap too.
        cursor.execute("VACUUM ANALYZE")
    return {
        "brand": brand,
        "publishers": publishers,
        "users": [u.username for u in users],
        "tokens": tokens,
        "posts_s": posts_s,
        "messages_s": messages_s,
        "conversations": conversations,
        "load_s": time.perf_counter() - started,
    }


def schedule_trickle(*, publishers, start: datetime, seconds: float, rate: float) -> int:
    """Posts due one after the other from `start`, `rate` per second, on the fake platform."""
    from calendar_app.models import Post, PostTarget, TargetState

    count = max(1, int(seconds * rate))
    posts = Post.objects.bulk_create(
        Post(
            brand=publishers[0].brand,
            text=f"Trickle post {n}",
            approval_state=Post.Approval.APPROVED,
            scheduled_at=start + timedelta(seconds=n / rate),
        )
        for n in range(count)
    )
    PostTarget.objects.bulk_create(
        PostTarget(
            post=post,
            account=publishers[n % len(publishers)],
            state=TargetState.SCHEDULED,
            due_at=post.scheduled_at,
        )
        for n, post in enumerate(posts)
    )
    return count


def trickle_outcome(publishers, *, start: datetime, end: datetime) -> dict:
    from calendar_app.models import PostTarget, TargetState

    due = PostTarget.objects.filter(account__in=publishers, due_at__gte=start, due_at__lt=end)
    published = list(due.filter(state=TargetState.PUBLISHED).values_list("due_at", "published_at"))
    lags = sorted((p - d).total_seconds() for d, p in published)
    states: dict[str, int] = {}
    for state in due.values_list("state", flat=True):
        states[state] = states.get(state, 0) + 1
    return {
        "due": due.count(),
        "published": len(published),
        "states": states,
        "lag_p50": statistics.median(lags) if lags else None,
        "lag_p95": lags[max(0, int(len(lags) * 0.95) - 1)] if lags else None,
    }


# -- servers -------------------------------------------------------------------------------------


def production_env(log_dir: Path) -> dict[str, str]:
    """agency.settings with DEBUG off, as production runs it (behind a TLS proxy)."""
    from django.conf import settings

    broker = os.environ.get("CELERY_BROKER_URL", "")
    parts = urlsplit(broker)
    cache = urlunsplit(parts._replace(path="/3")) if parts.scheme.startswith("redis") else ""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agency.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "load-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        # The accounts' tokens were encrypted by this process: the same keys read them.
        "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AGENCY_VAR_DIR": str(log_dir / "var"),
        "DJANGO_STATIC_ROOT": str(log_dir / "static"),
        "AGENCY_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Out of reach, so the run measures the pages and not the refusals (still counted).
        "API_RATE_PERSONAL_TOKEN": "1000000/minute",
        "API_RATE_INTEGRATION_TOKEN": "1000000/minute",
        "API_RATE_SESSION": "1000000/minute",
        "PUBLISH_DISPATCH_EVERY_SECONDS": "1",
    }
    if cache:
        env["CACHE_URL"] = cache
    return env


def collect_static(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def start_gunicorn(args, *, env: dict[str, str], log_dir: Path):
    from bench.procs import start_gunicorn as start

    def ready(port: int) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            return conn.getresponse().status == 200
        finally:
            conn.close()

    return start(
        "agency.wsgi:application",
        workers=args.web_workers,
        threads=args.web_threads if args.web_worker_class == "gthread" else 1,
        env=env,
        log_dir=log_dir,
        ready=ready,
        timeout=90,
        worker_class=args.web_worker_class,
    )


# -- virtual users -------------------------------------------------------------------------------


def endpoints(brand_id, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    local = now.astimezone(UTC)
    week = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0)
    start, end = f"{week:%Y-%m-%dT%H:%M:%SZ}", f"{week + timedelta(days=7):%Y-%m-%dT%H:%M:%SZ}"
    month_end = f"{week + timedelta(days=35):%Y-%m-%dT%H:%M:%SZ}"
    pages = {
        "baseline": "/healthz",
        "dashboard": "/",
        "calendar events (5 weeks)": f"/calendar/events/?"
        f"{urlencode({'brand': brand_id, 'start': start, 'end': month_end, 'per_day': 5})}",
        "post list": f"/posts/?brand={brand_id}",
        "inbox": f"/inbox/?brand={brand_id}",
        "ads (campaigns)": f"/brands/{brand_id}/campaigns/",
        "reports dashboard": f"/brands/{brand_id}/reports/",
    }
    api = {
        "baseline": "/healthz",
        "API posts": "/api/v1/posts/?page_size=50",
        "API calendar (1 week)": f"/api/v1/calendar/?"
        f"{urlencode({'brand': brand_id, 'start': start, 'end': end})}",
        "API conversations": "/api/v1/conversations/?page_size=50",
    }
    return pages, api


@dataclass
class EndpointStats:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class LoadResult:
    endpoints: dict[str, EndpointStats]
    failures: list[str]  # Locust's failure lines: endpoint, error, occurrences
    elapsed: float


def run_users(args, *, port: int, data: dict, now: datetime, log_dir: Path) -> LoadResult:
    """Locust, headless, in its own process (it runs on gevent), with bench/load/locustfile.py;
    its CSV statistics cover the measured window only (the locustfile resets them after the
    warm-up)."""
    pages, api = endpoints(data["brand"].pk, now)
    config = log_dir / "locust-config.json"
    config.write_text(
        json.dumps(
            {
                "host": f"127.0.0.1:{port}",
                "users": data["users"],
                "tokens": data["tokens"],
                "password": PASSWORD,
                "pages": pages,
                "api": api,
                "think_ms": args.think_ms,
                "warmup": args.warmup,
            }
        )
    )
    prefix = log_dir / "locust"
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(Path(__file__).with_name("locustfile.py")),
        "--headless",
        f"--users={args.users}",
        f"--spawn-rate={args.users}",
        f"--run-time={round(args.warmup + args.duration)}s",
        f"--host=http://127.0.0.1:{port}",
        f"--csv={prefix}",
        "--only-summary",
        "--loglevel=WARNING",
        "--stop-timeout=10",
    ]
    env = {**os.environ, "AGENCY_LOAD_CONFIG": str(config)}
    with open(log_dir / "locust.log", "wb") as log:
        # Locust exits 1 when a request failed: the figures say which, so that is not fatal here.
        subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise RuntimeError(f"locust wrote no statistics; see {log_dir / 'locust.log'}")
    stats = {}
    with stats_file.open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated" or row["Name"].startswith("login"):
                continue
            stats[row["Name"]] = EndpointStats(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50_ms=float(row["50%"]),
                p95_ms=float(row["95%"]),
                p99_ms=float(row["99%"]),
            )
    failures = []
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with failures_file.open() as f:
            failures = [
                f"{row['Name']}: {row['Error']} (x{row['Occurrences']})"
                for row in csv.DictReader(f)
            ]
    exceptions_file = Path(f"{prefix}_exceptions.csv")
    if exceptions_file.exists():
        with exceptions_file.open() as f:
            failures += [
                f"exception in a user: {row['Message']} (x{row['Count']})"
                for row in csv.DictReader(f)
            ]
    # Every route was asked for at least once, or the run proves nothing about it.
    failures += [f"{name}: never requested" for name in {**pages, **api} if name not in stats]
    return LoadResult(endpoints=stats, failures=failures, elapsed=args.duration)


# -- report --------------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * q) - 1))]


def report(args, data, result: LoadResult, context: dict) -> tuple[str, bool]:
    cpus = os.cpu_count() or 1
    from bench.procs import gunicorn_shape

    elapsed = result.elapsed
    base = result.endpoints.get("baseline")
    base_p50 = (base.p50_ms if base else 0.0) or 1e-9
    lines = [
        f"{args.posts:,} posts (one target each) and {args.messages:,} inbound messages in "
        f"{data['conversations']:,} conversations in PostgreSQL (posts loaded in "
        f"{data['posts_s']:.1f} s, messages in {data['messages_s']:.1f} s, with INSERT ... "
        f"SELECT generate_series). gunicorn {gunicorn_shape(args)} serving `agency.settings` "
        f"with DEBUG off on 127.0.0.1; Locust, headless, with {args.users} users "
        f"({(args.users + 1) // 2} signed in through the login form on the pages, "
        f"{args.users // 2} with API tokens on the API), each waiting "
        f"{args.think_ms:.0f} ms on average between requests; {args.warmup:.0f} s of warm-up, "
        f"then {elapsed:.0f} s measured. A Celery worker ({args.worker_concurrency} threads) "
        f"and beat published {args.publish_rate:g} due posts a second meanwhile. {cpus} CPUs.",
        "",
        "| Endpoint | requests | errors | p50 (ms) | p95 (ms) | p99 (ms) | requests/s | "
        "p50 / baseline | p95 < 200 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    names = {
        "baseline": "GET /healthz (baseline: SELECT 1, same server and load)",
    }
    all_ok = True
    order = ["baseline", *sorted(n for n in result.endpoints if n != "baseline")]
    for name in order:
        stats = result.endpoints.get(name)
        if stats is None or not stats.requests:
            continue
        met = stats.p95_ms < AIM_P95_MS and not stats.failures
        all_ok &= met or name == "baseline"
        lines.append(
            f"| {names.get(name, name)} | {stats.requests:,} | {stats.failures} | "
            f"{stats.p50_ms:.0f} | {stats.p95_ms:.0f} | {stats.p99_ms:.0f} | "
            f"{stats.requests / elapsed:.1f} | {stats.p50_ms / base_p50:.1f}x | "
            f"{'yes' if met else '**no**'} |"
        )
    total = sum(stats.requests for stats in result.endpoints.values())
    lines += [
        "",
        f"All endpoints together: {total:,} requests, {total / elapsed:.1f} requests/s "
        "(Locust's percentiles are rounded to two significant digits).",
    ]
    if result.failures:
        lines.append(f"Failures (first 3 of {len(result.failures)}): {result.failures[:3]}")
    trickle = context["trickle"]
    lag = (
        f"lag p50 {trickle['lag_p50']:.1f} s, p95 {trickle['lag_p95']:.1f} s"
        if trickle["lag_p50"] is not None
        else "no lag measured"
    )
    lines.append(
        f"Publishing during the run: {trickle['published']:,} of {trickle['due']:,} targets due "
        f"in the measured window published ({lag}); states {trickle['states']}."
    )
    lines.append(
        f"Load average (1 min): {context['load_before']:.2f} before, "
        f"{context['load_after']:.2f} after, on {cpus} CPUs. Static files collected in "
        f"{context['static_s']:.0f} s. Logs: {context['log_dir']}."
    )
    if context["load_before"] > cpus * 0.5:
        lines += [
            "",
            "**Measured on a loaded machine** (load before the run above half the CPUs): the "
            "absolute numbers are not comparable with a quiet run; read the ratios.",
        ]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines), all_ok


def write_section(body: str, took: float) -> None:
    from bench.all import write_section as write

    note = (
        f"\n\n_Measured {time.strftime('%Y-%m-%d')} by `python bench/load/run.py` "
        f"({took:.0f} s in all)._"
    )
    write(SECTION_KEY, SECTION_TITLE, body + note)


def main(argv: list[str] | None = None) -> int:
    from bench.procs import create_database, drop_database

    args = parse_args(argv)
    run_started = time.perf_counter()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    admin_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis"):
        sys.exit("load: CELERY_BROKER_URL must be redis:// (scripts/test.sh --bench sets it)")
    os.environ["DATABASE_URL"] = create_database(admin_url, BENCH_DB, bench="load")
    log_dir = Path(tempfile.mkdtemp(prefix="agency-bench-load-"))
    started_procs = []
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from bench import procs

        call_command("migrate", verbosity=0)
        fake, fake_url = procs.start_fake_platform(delay_ms=200, log_dir=log_dir)
        started_procs.append(fake)
        now = datetime.now(UTC)
        print(f"== loading {args.posts:,} posts and {args.messages:,} messages", flush=True)
        data = load_data(args, fake_url=fake_url, now=now)
        print(f"   loaded in {data['load_s']:.1f} s", flush=True)
        env = production_env(log_dir)
        print("== collectstatic (manifest storage, as production serves it)", flush=True)
        static_s = collect_static(env)
        # The trickle covers warm-up and the measured window, and starts a little later so the
        # worker and beat are up.
        trickle_start = datetime.now(UTC) + timedelta(seconds=20)
        span = 20 + args.warmup + args.duration + 30
        schedule_trickle(
            publishers=data["publishers"],
            start=trickle_start,
            seconds=span,
            rate=args.publish_rate,
        )
        connection.close()
        print("== starting the Celery worker, beat and gunicorn", flush=True)
        counter_url = urlunsplit(urlsplit(broker)._replace(path="/4"))
        worker_env = {k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v}
        started_procs += procs.start_workers(
            count=1,
            pool="threads",
            concurrency=args.worker_concurrency,
            log_dir=log_dir,
            counter_url=counter_url,
            env=worker_env,
        )
        started_procs.append(procs.start_beat(log_dir=log_dir, env=worker_env))
        server, port = start_gunicorn(args, env=env, log_dir=log_dir)
        started_procs.append(server)
        load_before = os.getloadavg()[0]
        print(
            f"== {args.users} users for {args.warmup:.0f} + {args.duration:.0f} s on :{port}",
            flush=True,
        )
        window_start = datetime.now(UTC) + timedelta(seconds=args.warmup)
        result = run_users(args, port=port, data=data, now=now, log_dir=log_dir)
        window_end = datetime.now(UTC)
        load_after = os.getloadavg()[0]
        # Targets due at the end of the window get a few seconds to be published.
        time.sleep(5)
        trickle = trickle_outcome(data["publishers"], start=window_start, end=window_end)
    finally:
        procs_to_stop = list(reversed(started_procs))
        for process in procs_to_stop:
            process.stop()
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(admin_url, BENCH_DB, bench="load")

    context = {
        "trickle": trickle,
        "load_before": load_before,
        "load_after": load_after,
        "static_s": static_s,
        "log_dir": log_dir,
    }
    body, all_ok = report(args, data, result, context)
    print(body)
    if not args.no_write:
        write_section(body, time.perf_counter() - run_started)
    served = not result.failures and all(stats.failures == 0 for stats in result.endpoints.values())
    if not served:
        print(f"\nNot every answer was a 200; see {log_dir}", file=sys.stderr)
    print(json.dumps({"aim_met": all_ok, "all_200": served}))
    return 0 if served else 1


if __name__ == "__main__":
    sys.exit(main())
