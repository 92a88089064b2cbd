"""The servers under the workers restart: Redis (the broker) while publish tasks are queued, and
PostgreSQL while workers are publishing. Real worker and beat processes keep running through
the restart and must recover by themselves: every due post ends published exactly once (or, where
nobody can know, unconfirmed with a reason), none is left stuck, and the workers keep working.
"""

import pytest
from django.db.models import Count
from django.utils import timezone

from agency.models import SandboxPost, SandboxScript
from calendar_app import publishing
from calendar_app.models import PostTarget, TargetState
from tests.drills.conftest import mastodon_account, restart_postgres, restart_redis
from tests.factories import PostFactory, SocialAccountFactory
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
S = TargetState
# Beat ticks fast here; a queued target whose task was lost is re-dispatched after 4 s (10 min
# in production), a publishing one whose worker vanished is checked after its 5 s lease.
ENGINE = {
    "PUBLISH_DISPATCH_EVERY_SECONDS": "0.5",
    "PUBLISH_SWEEP_EVERY_SECONDS": "1",
    "PUBLISH_QUEUED_STALE_SECONDS": "4",
    "PUBLISH_LEASE_SECONDS": "5",
    "AGENCY_HEARTBEAT_SECONDS": "1",
}


class Supervised:
    """What compose's `restart: unless-stopped` does for worker and beat: start the process
    again when it exits. `exits` keeps each exit's code and log tail for the report."""

    def __init__(self, start):
        self.start = start
        self.process = start()
        self.exits: list[tuple[int | None, str]] = []

    def check(self) -> None:
        if not self.process.running:
            self.exits.append((self.process.popen.returncode, self.process.log_tail(1500)))
            self.process = self.start()


def states() -> dict[str, int]:
    return dict(PostTarget.objects.values_list("state").annotate(n=Count("pk")).order_by())


def make_targets(accounts, posts: int, label: str) -> list:
    ids = []
    for n in range(posts):
        post = PostFactory(brand=accounts[0].brand, text=f"{label} {n}")
        ids += [
            PostTarget.objects.create(
                post=post, account=account, state=S.SCHEDULED, due_at=timezone.now()
            ).pk
            for account in accounts
        ]
    return ids


@pytest.mark.parametrize(
    "keep_data",
    [
        pytest.param(False, id="queue-lost"),
        pytest.param(True, id="queue-kept"),
    ],
)
def test_redis_restart_with_publish_tasks_queued_publishes_every_post_exactly_once(
    brand, celery_worker_process, celery_beat_process, keep_data
):
    accounts = [SocialAccountFactory(brand=brand) for _ in range(2)]
    for account in accounts:
        SandboxScript.objects.create(account=account, delay_ms=150)
    make_targets(accounts, 15, "Queued through a broker restart")
    worker = Supervised(
        lambda: celery_worker_process(
            queues=["dispatch", "publish", "celery"], concurrency=2, env=ENGINE
        )
    )
    beat = Supervised(lambda: celery_beat_process(env=ENGINE))
    # Two threads at 150 ms a post: the queue backs up while the first posts go out.
    assert wait_for(
        lambda: (
            PostTarget.objects.filter(state=S.PUBLISHED).exists()
            and PostTarget.objects.filter(state=S.QUEUED).count() >= 10
        ),
        timeout=60,
        interval=0.1,
        processes=[worker.process, beat.process],
    ), f"{states()}\n{worker.process.log_tail()}"
    restart_redis(keep_data=keep_data)

    def all_published():
        worker.check()
        beat.check()
        return PostTarget.objects.filter(state=S.PUBLISHED).count() == 30

    done = wait_for(all_published, timeout=90)
    assert done, (
        f"{states()}\n--- worker:\n{worker.process.log_tail()}\n--- beat:\n"
        f"{beat.process.log_tail()}\n--- exits: {worker.exits + beat.exits}"
    )
    received = dict(
        SandboxPost.objects.values_list("idempotency_key").annotate(n=Count("pk")).order_by()
    )
    keys = {str(k) for k in PostTarget.objects.values_list("idempotency_key", flat=True)}
    assert set(received) == keys
    assert set(received.values()) == {1}, "a post reached the platform twice"


def test_postgres_restart_under_load_leaves_every_post_published_once_and_workers_recover(
    brand, faulty_platform, celery_worker_process, celery_beat_process
):
    faulty_platform.server.delay = 0.3  # the platform is slow: restarts land mid-publish
    accounts = [mastodon_account(brand, faulty_platform, n) for n in range(3)]
    first = make_targets(accounts, 10, "Published through a database restart")
    worker = celery_worker_process(
        queues=["dispatch", "publish", "celery"], concurrency=4, env=ENGINE
    )
    beat = celery_beat_process(env=ENGINE)
    processes = [worker, beat]
    assert wait_for(
        lambda: PostTarget.objects.filter(state=S.PUBLISHED).count() >= 5,
        timeout=60,
        interval=0.1,
        processes=processes,
    ), f"{states()}\n{worker.log_tail()}"
    restart_postgres()
    # And more posts due after the restart: only workers that reconnected can publish them.
    second = make_targets(accounts, 5, "Due after the restart")

    def all_settled():
        return (
            not PostTarget.objects.filter(state__in=[S.SCHEDULED, S.QUEUED, S.PUBLISHING]).exists()
            and not PostTarget.objects.filter(state=S.UNCONFIRMED, needs_attention=False).exists()
        )

    settled = wait_for(all_settled, timeout=120, processes=processes)
    assert settled, f"{states()}\n--- worker:\n{worker.log_tail()}\n--- beat:\n{beat.log_tail()}"
    created = faulty_platform.created_per_key()
    assert set(created.values()) == {1}, "a post reached the platform twice"
    for target in PostTarget.objects.all():
        if target.state == S.PUBLISHED:
            assert created.get(str(target.idempotency_key)) == 1
        else:
            # Nobody could tell: it waits for a person, with the reason in words.
            assert target.state == S.UNCONFIRMED, (target.state, target.last_error)
            assert target.needs_attention and target.last_error
    assert PostTarget.objects.filter(pk__in=first, state=S.PUBLISHED).count() == len(first)
    # The workers reconnected: every post due after the restart went out on its first attempt.
    for target in PostTarget.objects.filter(pk__in=second):
        assert target.state == S.PUBLISHED
        assert list(target.attempts_log.values_list("result", flat=True)) == ["published"]
    assert publishing.sweep()["lost"] == 0
    # Tasks that were mid-query when the server went down fail (OperationalError) and are
    # recovered above; none may fail later on a dead connection a thread kept.
    log = worker.log_path.read_text(errors="replace")
    assert "connection already closed" not in log, worker.log_tail(8000)
