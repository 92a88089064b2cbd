"""The publishing engine with real Celery processes on the test PostgreSQL and Redis.

What the unit tests in tests/calendar_app prove step by step, these prove with real workers,
real beats and real races: every due target is published exactly once.
"""

import os
import signal
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from agency.models import SandboxPost, SandboxScript
from calendar_app import publishing
from calendar_app.models import PostTarget, TargetState
from calendar_app.tasks import publish_target
from tests.factories import PostFactory, SocialAccountFactory
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
S = TargetState


def make_due_targets(brand, *, accounts: int, posts: int, delay_ms: int = 0):
    handles = [SocialAccountFactory(brand=brand) for _ in range(accounts)]
    if delay_ms:
        for account in handles:
            SandboxScript.objects.create(account=account, delay_ms=delay_ms)
    due = timezone.now() - timedelta(seconds=1)
    for n in range(posts):
        post = PostFactory(brand=brand, text=f"Launch day, part {n}")
        PostTarget.objects.bulk_create(
            [
                PostTarget(post=post, account=account, state=S.SCHEDULED, due_at=due)
                for account in handles
            ]
        )
    return list(PostTarget.objects.values_list("pk", flat=True))


def received_per_key():
    """What the sandbox platform received, per idempotency key."""
    return dict(
        SandboxPost.objects.values_list("idempotency_key").annotate(n=Count("pk")).order_by()
    )


def test_200_due_targets_two_beats_two_workers_and_duplicate_tasks_publish_exactly_once(
    brand, celery_worker_process, celery_beat_process
):
    target_ids = make_due_targets(brand, accounts=10, posts=20, delay_ms=20)
    assert len(target_ids) == 200
    env = {"PUBLISH_DISPATCH_EVERY_SECONDS": "0.5"}
    workers = [
        celery_worker_process(
            queues=["dispatch", "publish", "celery"], pool="threads", concurrency=8, env=env
        )
        for _ in range(2)
    ]
    beats = [celery_beat_process(env=env) for _ in range(2)]
    # And a duplicate publish task for every target, racing the dispatched ones.
    for target_id in target_ids:
        publish_target.delay(str(target_id))

    def all_published():
        return PostTarget.objects.filter(state=S.PUBLISHED).count() == 200

    done = wait_for(all_published, timeout=120, processes=[*workers, *beats])
    states = dict(PostTarget.objects.values_list("state").annotate(n=Count("pk")).order_by())
    assert done, f"not all published: {states}\n{workers[0].log_tail()}"
    received = received_per_key()
    assert len(received) == 200
    assert set(received.values()) == {1}, "some target reached the platform twice"
    expected_keys = {str(k) for k in PostTarget.objects.values_list("idempotency_key", flat=True)}
    assert set(received) == expected_keys


def test_worker_killed_mid_publish_is_recovered_and_published_once(
    brand, celery_worker_process, settings
):
    account = SocialAccountFactory(brand=brand)
    # A slow platform: the worker is still waiting on it when it is killed.
    SandboxScript.objects.create(account=account, delay_ms=30_000)
    post = PostFactory(brand=brand, text="Published despite a crash")
    target = PostTarget.objects.create(
        post=post, account=account, state=S.SCHEDULED, due_at=timezone.now()
    )
    first = celery_worker_process(
        queues=["publish"], pool="threads", concurrency=2, env={"PUBLISH_LEASE_SECONDS": "2"}
    )
    publishing.dispatch_due()  # commits, then enqueues on the real broker
    assert wait_for(
        lambda: PostTarget.objects.get(pk=target.pk).state == S.PUBLISHING,
        timeout=40,
        processes=[first],
    ), first.log_tail()
    os.kill(first.popen.pid, signal.SIGKILL)
    first.popen.wait(timeout=10)

    SandboxScript.objects.filter(account=account).update(delay_ms=0)
    second = celery_worker_process(queues=["publish"], pool="threads", concurrency=2)

    def recovered():
        # What beat does every minute, done here at once: sweep, then dispatch.
        publishing.sweep()
        publishing.dispatch_due()
        return PostTarget.objects.get(pk=target.pk).state == S.PUBLISHED

    assert wait_for(recovered, timeout=60, interval=1, processes=[second]), second.log_tail()
    assert received_per_key() == {str(target.idempotency_key): 1}
    results = list(target.attempts_log.order_by("started_at").values_list("result", flat=True))
    # The sweeper closed the killed attempt as unconfirmed; the second one published.
    assert results == ["unconfirmed", "published"]
