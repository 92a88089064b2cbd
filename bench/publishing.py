"""The publishing phases: due PostTargets on Mastodon accounts whose server is the fake
platform, a dispatcher calling `dispatch_due()` in a loop, and real workers publishing.

Needs Django set up (bench/run.py does it) on the bench database.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.db.models import Count, Max
from django.utils import timezone

from agency.models import Agency, Brand, Platform, SocialAccount
from calendar_app import publishing
from calendar_app.models import Post, PostTarget, PublishAttempt, TargetState

S = TargetState


def create_targets(*, accounts: int, posts: int, due_at: datetime, server_url: str) -> Brand:
    """`accounts` x `posts` scheduled targets due at `due_at`, on a brand of their own."""
    tag = uuid.uuid4().hex[:8]
    agency = Agency.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}")
    brand = Brand.objects.create(agency=agency, name=f"Bench {tag}", slug=f"bench-{tag}")
    handles = SocialAccount.objects.bulk_create(
        SocialAccount(
            brand=brand,
            platform=Platform.MASTODON,
            handle=f"@bench{n}",
            external_id=str(n),
            instance_url=server_url,
            access_token=f"bench-token-{tag}-{n}",
        )
        for n in range(accounts)
    )
    made = Post.objects.bulk_create(
        Post(
            brand=brand,
            text=f"Bench {tag}: post {n} of {posts}",
            approval_state=Post.Approval.APPROVED,
            scheduled_at=due_at,
        )
        for n in range(posts)
    )
    PostTarget.objects.bulk_create(
        (
            PostTarget(post=post, account=account, state=S.SCHEDULED, due_at=due_at)
            for post in made
            for account in handles
        ),
        batch_size=2000,
    )
    return brand


def attempt_seconds(brand: Brand) -> dict[str, float]:
    """How long one publish_target took inside the worker (claim to recorded result)."""
    spans = sorted(
        (finished - started).total_seconds()
        for started, finished in PublishAttempt.objects.filter(
            target__post__brand=brand, finished_at__isnull=False
        ).values_list("started_at", "finished_at")
    )
    if not spans:
        return {}
    return {"p50": statistics.median(spans), "max": spans[-1], "mean": statistics.fmean(spans)}


def states_of(brand: Brand) -> dict[str, int]:
    rows = PostTarget.objects.filter(post__brand=brand).values_list("state").annotate(n=Count("pk"))
    return dict(rows.order_by())


@dataclass
class Dispatcher:
    """`dispatch_due()` in a loop on a thread: at once again after a full batch, else after
    `interval` seconds. Records each batch (when it ended, how many, how long it took)."""

    interval: float = 0.1
    batches: list[tuple[float, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.time()
                try:
                    ids = publishing.dispatch_due()
                except Exception as exc:
                    self.errors.append(repr(exc))
                    close_old_connections()
                    self._stop.wait(self.interval)
                    continue
                if ids:
                    self.batches.append((time.time(), len(ids), time.time() - started))
                else:
                    self._stop.wait(self.interval)
        finally:
            connection.close()

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def summary(self) -> dict:
        return {
            "dispatch_batches": len(self.batches),
            "dispatch_seconds": sum(b[2] for b in self.batches),
            "dispatch_errors": self.errors[:3],
        }


@dataclass
class BeatDispatcher:
    """What production runs: beat sends `dispatch_due_posts` every `interval` seconds to the
    workers' dispatch queue (a full batch re-queues the task at once)."""

    start_beat: object  # () -> bench.procs.Process
    process: object = None

    def start(self) -> BeatDispatcher:
        self.process = self.start_beat()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def summary(self) -> dict:
        return {}


def queued_summary(brand: Brand, started: datetime) -> dict:
    """Batches (one `queued_at` each) and when the last one was claimed, from the database."""
    rows = PostTarget.objects.filter(post__brand=brand, queued_at__isnull=False)
    last = rows.aggregate(last=Max("queued_at"))["last"]
    return {
        "claim_batches": rows.values("queued_at").distinct().count(),
        "all_claimed_after": (last - started).total_seconds() if last else None,
    }


def wait_until_published(brand: Brand, total: int, *, timeout: float, check=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = PostTarget.objects.filter(post__brand=brand, state=S.PUBLISHED).count()
        if done >= total:
            return True
        if check is not None:
            check()
        time.sleep(0.2)
    return False


def published_times(brand: Brand) -> list[tuple[datetime, datetime]]:
    return list(
        PostTarget.objects.filter(post__brand=brand, state=S.PUBLISHED).values_list(
            "due_at", "published_at"
        )
    )


def throughput(
    *,
    accounts: int,
    posts: int,
    server_url: str,
    timeout: float,
    dispatcher,
    check=None,
) -> dict:
    """(b) accounts x posts targets, all due already when they appear (one transaction) while
    the dispatcher runs; seconds from that commit to the last `published_at`."""
    total = accounts * posts
    dispatcher.start()
    try:
        brand = create_targets(
            accounts=accounts,
            posts=posts,
            due_at=timezone.now() - timedelta(seconds=1),
            server_url=server_url,
        )
        started = timezone.now()
        done = wait_until_published(brand, total, timeout=timeout, check=check)
    finally:
        dispatcher.stop()
    last = PostTarget.objects.filter(post__brand=brand).aggregate(last=Max("published_at"))["last"]
    published = PostTarget.objects.filter(post__brand=brand, state=S.PUBLISHED).count()
    seconds = (last - started).total_seconds() if last else float("nan")
    return {
        "targets": total,
        "published": published,
        "done": done,
        "seconds": seconds,
        "per_second": published / seconds if last else 0.0,
        "states": states_of(brand),
        "attempt_seconds": attempt_seconds(brand),
        **queued_summary(brand, started),
        **dispatcher.summary(),
    }


def lag(
    *,
    accounts: int,
    posts: int,
    warmup_accounts: int,
    server_url: str,
    timeout: float,
    dispatcher,
    check=None,
    reset_stats=None,
) -> dict:
    """(c) accounts x posts targets all due at one instant T; published_at - due_at for each.

    A warm-up batch goes first so every worker thread has its database connection open, as it
    has in a worker that has been running for a while.
    """
    dispatcher.start()
    try:
        warm = create_targets(
            accounts=warmup_accounts,
            posts=posts,
            due_at=timezone.now() - timedelta(seconds=1),
            server_url=server_url,
        )
        if not wait_until_published(warm, warmup_accounts * posts, timeout=timeout, check=check):
            raise RuntimeError(f"warm-up did not finish: {states_of(warm)}")
        if reset_stats is not None:
            reset_stats()
        total = accounts * posts
        due = timezone.now() + timedelta(seconds=2)
        brand = create_targets(accounts=accounts, posts=posts, due_at=due, server_url=server_url)
        if timezone.now() >= due:
            raise RuntimeError("creating the lag targets took longer than the 2 s head start")
        done = wait_until_published(brand, total, timeout=timeout, check=check)
    finally:
        dispatcher.stop()
    lags = sorted((p - d).total_seconds() for d, p in published_times(brand))
    q = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else lags * 99
    return {
        "targets": total,
        "published": len(lags),
        "done": done,
        "p50": statistics.median(lags) if lags else float("nan"),
        "p99": q[98] if lags else float("nan"),
        "max": lags[-1] if lags else float("nan"),
        "min": lags[0] if lags else float("nan"),
        "states": states_of(brand),
        "attempt_seconds": attempt_seconds(brand),
        **queued_summary(brand, due),
    }
