"""A worker is killed with SIGKILL (no warm shutdown, no cleanup) in the middle of its work:
publishing a post, sending an inbox reply, importing a CSV file. Afterwards nothing is lost and
nothing is doubled.

The kill while the platform was still waiting *before* it handled a post is
tests/live/test_publishing_live.py::test_worker_killed_mid_publish_is_recovered_and_published_once;
here the platform has already created the post when the worker dies, the harder case: only
asking the platform (the reconciler) can tell, and a blind retry would post twice.
"""

import os
import signal
from datetime import datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from agency.platforms.inbox import InboundItem
from calendar_app import publishing
from calendar_app.import_tasks import sweep_stranded_imports
from calendar_app.models import ImportJob, Post, PostTarget, TargetState
from calendar_app.services.imports import IMPORT_CHUNK_ROWS, import_job_create
from community import inbox_engine
from community.models import Conversation, Message
from community.services import inbound_ingest, message_reply
from tests.drills.conftest import mastodon_account
from tests.factories import PostFactory
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
S = TargetState


def kill(process) -> None:
    os.kill(process.popen.pid, signal.SIGKILL)
    process.popen.wait(timeout=10)


def test_worker_killed_after_the_platform_created_the_post_settles_it_without_posting_twice(
    brand, faulty_platform, celery_worker_process
):
    faulty_platform.script("post", "hang_after")  # creates the status, then never answers
    account = mastodon_account(brand, faulty_platform)
    post = PostFactory(brand=brand, text="Cold brew season opens today")
    target = PostTarget.objects.create(
        post=post, account=account, state=S.SCHEDULED, due_at=timezone.now()
    )
    key = str(target.idempotency_key)
    worker = celery_worker_process(
        queues=["publish"], concurrency=2, env={"PUBLISH_LEASE_SECONDS": "2"}
    )
    publishing.dispatch_due()  # commits, then enqueues on the real broker
    assert wait_for(
        lambda: faulty_platform.created_per_key() == {key: 1}, timeout=60, processes=[worker]
    ), worker.log_tail()
    assert PostTarget.objects.get(pk=target.pk).state == S.PUBLISHING
    kill(worker)

    def settled():
        # What beat does every minute, done here at once.
        publishing.sweep()
        return PostTarget.objects.get(pk=target.pk).state == S.PUBLISHED

    assert wait_for(settled, timeout=30, interval=1)
    target.refresh_from_db()
    assert faulty_platform.posts_per_key() == {key: 1}
    assert faulty_platform.created_per_key() == {key: 1}
    assert target.external_id == faulty_platform.created()[0]["id"]
    assert list(target.attempts_log.values_list("result", flat=True)) == ["unconfirmed"]


@pytest.fixture
def conversation(brand, faulty_platform):
    account = mastodon_account(brand, faulty_platform)
    inbound_ingest(
        account=account,
        item=InboundItem(
            kind="comment",
            thread_id="110000000000000001",
            message_id="110000000000000002",
            author_handle="@lena@drill.example",
            text="Is the terrace open?",
            sent_at=timezone.now() - timedelta(minutes=5),
        ),
        source="poll",
    )
    return Conversation.objects.get(account=account)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("hang_after", id="platform-had-sent-it"),
        pytest.param("hang_before", id="platform-had-not-handled-it"),
    ],
)
def test_worker_killed_mid_reply_sends_the_reply_exactly_once(
    conversation, manager, faulty_platform, celery_worker_process, fault
):
    faulty_platform.script("post", fault)
    worker = celery_worker_process(
        queues=["publish"], concurrency=2, env={"REPLY_LEASE_SECONDS": "2"}
    )
    reply = message_reply(conversation=conversation, text="Yes, from noon!", by=manager)
    key = str(reply.idempotency_key)
    assert wait_for(
        lambda: faulty_platform.posts_per_key() == {key: 1}, timeout=60, processes=[worker]
    ), worker.log_tail()
    assert Message.objects.get(pk=reply.pk).send_state == Message.SendState.SENDING
    kill(worker)

    processes = []
    if fault == "hang_before":
        # Not on the platform: the reconciler sends it back to pending, a new worker sends it.
        processes.append(celery_worker_process(queues=["publish"], concurrency=2))

    def sent():
        inbox_engine.sweep()  # beat's inbox-sweep-replies, every 15 s in production
        return Message.objects.get(pk=reply.pk).send_state == Message.SendState.SENT

    assert wait_for(sent, timeout=60, interval=1, processes=processes), Message.objects.get(
        pk=reply.pk
    ).last_error
    reply.refresh_from_db()
    assert faulty_platform.created_per_key() == {key: 1}
    assert faulty_platform.posts_per_key() == {key: 1 if fault == "hang_after" else 2}
    assert reply.platform_message_id == faulty_platform.created()[0]["id"]
    conversation.refresh_from_db()
    assert conversation.first_response_at == reply.sent_at


def test_worker_killed_mid_import_leaves_whole_chunks_and_the_rerun_imports_each_row_once(
    brand, account, manager, celery_worker_process, settings
):
    rows = 10_000  # the most one file may have: twenty chunks, so the kill lands mid-way
    day = (timezone.now().astimezone(brand.zone) + timedelta(days=3)).date()
    at = datetime(day.year, day.month, day.day, 8, 30, tzinfo=brand.zone)
    lines = ["account,text,time"] + [
        f"{account.handle},Drill row {n},{at:%Y-%m-%d %H:%M}" for n in range(rows)
    ]
    env = {"DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    worker = celery_worker_process(queues=["celery"], concurrency=1, env=env)
    job = import_job_create(
        brand=brand, by=manager, file_name="drill.csv", data="\n".join(lines).encode()
    )
    assert job.status == ImportJob.Status.QUEUED, job.errors

    def progressing():
        return ImportJob.objects.get(pk=job.pk).processed_rows >= IMPORT_CHUNK_ROWS

    assert wait_for(progressing, timeout=90, interval=0.05, processes=[worker]), worker.log_tail()
    kill(worker)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING
    assert 0 < job.processed_rows < rows, "the import finished before the kill: no drill"
    # No half-written chunk: what is stored is exactly the chunks the job counts, all drafts.
    assert job.processed_rows % IMPORT_CHUNK_ROWS == 0
    assert Post.objects.filter(import_job=job).count() == job.processed_rows
    assert not PostTarget.objects.filter(post__import_job=job, state=S.SCHEDULED).exists()

    # Beat's sweep finds the job once its lease has run out (2 minutes: moved back here rather
    # than waited for) and re-enqueues it; a new worker resumes after the last whole chunk.
    ImportJob.objects.filter(pk=job.pk).update(updated_at=F("updated_at") - timedelta(minutes=10))
    assert sweep_stranded_imports() == 1
    second = celery_worker_process(queues=["celery"], concurrency=1, env=env)

    def finished():
        return ImportJob.objects.get(pk=job.pk).status in ("done", "failed")

    assert wait_for(finished, timeout=120, processes=[second]), second.log_tail()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.errors
    assert (job.processed_rows, job.created_posts) == (rows, rows)
    texts = list(Post.objects.filter(import_job=job).values_list("text", flat=True))
    assert len(texts) == rows
    assert set(texts) == {f"Drill row {n}" for n in range(rows)}
    assert PostTarget.objects.filter(
        post__import_job=job, state=S.SCHEDULED, due_at=at
    ).count() == (rows)
