"""Replies go out exactly once: the reply engine against the sandbox, one step at a time (no
Celery here; tests/live/test_inbox_live.py runs it with a real worker)."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agency.models import AuditEvent, Notification, SandboxPost, SandboxScript, SocialAccount
from agency.platforms.inbox import InboundItem
from agency.platforms.sandbox import SandboxAdapter
from community import inbox_engine, tasks
from community.models import Conversation, Message
from community.services import inbound_ingest, message_reply

S = Message.SendState


@pytest.fixture
def conversation(account):
    inbound_ingest(
        account=account,
        item=InboundItem(
            kind="comment",
            thread_id="post-1",
            message_id="c1",
            author_handle="@lena",
            text="Do you have oat milk?",
            sent_at=timezone.now() - timedelta(hours=1),
        ),
        source="poll",
    )
    return Conversation.objects.get()


def script(account, *outcomes):
    SandboxScript.objects.update_or_create(account=account, defaults={"outcomes": list(outcomes)})


def queue_reply(conversation, manager, django_capture_on_commit_callbacks, text="Yes we do!"):
    with (
        mock.patch.object(tasks.send_reply, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        reply = message_reply(conversation=conversation, text=text, by=manager)
    delay.assert_called_once_with(str(reply.pk))
    return reply


def received(reply) -> int:
    return SandboxPost.objects.filter(idempotency_key=str(reply.idempotency_key)).count()


def test_reply_is_queued_then_sent_once_and_counts_as_the_first_response(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert reply.send_state == S.PENDING
    assert reply.in_reply_to == "c1"
    assert AuditEvent.objects.filter(action="message.reply_queued", actor=manager).exists()
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    reply.refresh_from_db()
    sandbox = SandboxPost.objects.get(idempotency_key=str(reply.idempotency_key))
    assert reply.platform_message_id == str(sandbox.pk)
    assert sandbox.text == "Yes we do!"
    assert reply.attempts == 1
    conversation.refresh_from_db()
    assert conversation.first_response_at == reply.sent_at
    assert conversation.status == Conversation.Status.PENDING


def test_send_task_delivered_twice_sends_once(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    assert inbox_engine.send_reply(message_id=reply.pk) == "lost"
    assert received(reply) == 1


def test_worker_dying_mid_send_is_recovered_by_the_sweeper_without_duplicate(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    # What a SIGKILL leaves: claimed as sending, the platform received it, nothing recorded.
    Message.objects.filter(pk=reply.pk).update(
        send_state=S.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    SandboxPost.objects.create(account=account, idempotency_key=str(reply.idempotency_key))
    with mock.patch.object(inbox_engine, "enqueue_send") as enqueue:
        result = inbox_engine.sweep()
    assert result["lost"] == 1
    enqueue.assert_not_called()
    reply.refresh_from_db()
    assert reply.send_state == S.SENT
    assert received(reply) == 1
    # A late copy of the original task finds nothing to do.
    assert inbox_engine.send_reply(message_id=reply.pk) == "lost"


def test_worker_dying_before_the_platform_got_it_is_sent_again_once(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    Message.objects.filter(pk=reply.pk).update(
        send_state=S.SENDING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with mock.patch.object(inbox_engine, "enqueue_send"):
        inbox_engine.sweep()  # sending -> unconfirmed -> not on the platform -> pending
    reply.refresh_from_db()
    assert reply.send_state == S.PENDING
    with (
        mock.patch.object(inbox_engine, "enqueue_send") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        inbox_engine.sweep()
    enqueue.assert_called_once_with([reply.pk])
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    assert received(reply) == 1


def test_throttled_reply_waits_at_least_as_asked_and_an_early_task_does_nothing(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    script(account, "throttle")
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    before = timezone.now()
    assert inbox_engine.send_reply(message_id=reply.pk) == S.PENDING
    reply.refresh_from_db()
    assert reply.due_at >= before + timedelta(seconds=2)
    assert "Trying again" in reply.last_error
    assert inbox_engine.send_reply(message_id=reply.pk) == "lost"
    Message.objects.filter(pk=reply.pk).update(due_at=timezone.now())
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    assert received(reply) == 1


def test_transient_errors_give_up_after_max_attempts_and_tell_the_author(
    conversation, manager, account, settings, django_capture_on_commit_callbacks
):
    settings.REPLY_MAX_ATTEMPTS = 2
    script(account, "transient", "transient")
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.PENDING
    Message.objects.filter(pk=reply.pk).update(due_at=timezone.now())
    assert inbox_engine.send_reply(message_id=reply.pk) == S.FAILED
    reply.refresh_from_db()
    assert "gave up after 2 attempts" in reply.last_error
    assert Notification.objects.filter(user=manager, title__startswith="Reply not sent").exists()


def test_rejected_reply_fails_at_once_with_the_reason_and_tells_the_author(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    script(account, "reject")
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.FAILED
    reply.refresh_from_db()
    assert reply.last_error.startswith(f"{account} refused the reply: Sandbox: the platform")
    note = Notification.objects.get(user=manager)
    assert "Yes we do!" in note.body
    conversation.refresh_from_db()
    assert conversation.first_response_at is None


def test_unknown_outcome_is_unconfirmed_then_settled_by_looking_up_the_key(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    script(account, "timeout")
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED
    assert inbox_engine.send_reply(message_id=reply.pk) == "lost"
    inbox_engine.sweep()
    reply.refresh_from_db()
    assert reply.send_state == S.SENT
    assert received(reply) == 1


def test_unknown_outcome_that_cannot_be_checked_waits_for_a_person(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    Message.objects.filter(pk=reply.pk).update(send_state=S.UNCONFIRMED, due_at=timezone.now())
    with mock.patch.object(
        SandboxAdapter,
        "find_published",
        side_effect=inbox_engine.OutcomeUnknown("no lookup"),
    ):
        inbox_engine.sweep()
        inbox_engine.sweep()
    reply.refresh_from_db()
    assert reply.send_state == S.UNCONFIRMED
    assert reply.due_at is None
    assert "could not confirm" in reply.last_error
    assert Notification.objects.filter(user=manager).count() == 1


def test_expired_token_holds_the_reply_until_the_account_is_reconnected(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    script(account, "auth_expired")
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.PENDING
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_REAUTH
    with mock.patch.object(inbox_engine, "enqueue_send") as enqueue:
        assert inbox_engine.sweep()["enqueued"] == 0
    enqueue.assert_not_called()
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.CONNECTED)
    with mock.patch.object(inbox_engine, "enqueue_send"):
        assert inbox_engine.sweep()["enqueued"] == 1


def test_echo_of_our_reply_stored_before_we_record_it_is_merged_into_ours(
    conversation, manager, account, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    real_reply = SandboxAdapter.reply

    def reply_and_echo(self, acct, message, text, *, idempotency_key):
        result = real_reply(self, acct, message, text, idempotency_key=idempotency_key)
        echo = InboundItem(
            kind="comment",
            thread_id="post-1",
            message_id=result.external_id,
            author_handle=acct.handle,
            text=text,
            sent_at=timezone.now(),
        )
        assert inbound_ingest(account=acct, item=echo, source="webhook") is not None
        return result

    with mock.patch.object(SandboxAdapter, "reply", reply_and_echo):
        assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    stored = Message.objects.get(platform_message_id=str(SandboxPost.objects.get().pk))
    assert stored.pk == reply.pk
    assert stored.author_user == manager


def test_first_response_is_not_set_by_a_reply_before_the_first_inbound_message(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    later = datetime(2099, 1, 1, tzinfo=UTC)
    Conversation.objects.filter(pk=conversation.pk).update(first_inbound_at=later)
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    conversation.refresh_from_db()
    assert conversation.first_response_at is None


@pytest.mark.parametrize(
    ("text", "words"),
    [("   ", "Write something"), ("x" * 5001, "too long for Sandbox")],
)
def test_reply_text_is_checked_in_words(conversation, manager, text, words):
    with pytest.raises(ValidationError, match=words):
        message_reply(conversation=conversation, text=text, by=manager)
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_no_reply_from_an_account_that_needs_reconnecting(conversation, manager, account):
    SocialAccount.objects.filter(pk=account.pk).update(
        status=SocialAccount.Status.NEEDS_REAUTH, status_reason="token expired"
    )
    conversation.refresh_from_db()
    with pytest.raises(ValidationError, match="needs reconnecting"):
        message_reply(conversation=conversation, text="Hi", by=manager)


def test_lost_send_task_is_enqueued_again_after_the_stale_window(
    conversation, manager, django_capture_on_commit_callbacks
):
    reply = queue_reply(conversation, manager, django_capture_on_commit_callbacks)
    with mock.patch.object(inbox_engine, "enqueue_send") as enqueue:
        assert inbox_engine.sweep()["enqueued"] == 0  # its task is still on its way
        later = timezone.now() + timedelta(seconds=inbox_engine.queued_stale_seconds() + 1)
        with django_capture_on_commit_callbacks(execute=True):
            assert inbox_engine.sweep(now=later)["enqueued"] == 1
    enqueue.assert_called_once_with([reply.pk])
