"""The platform misbehaves: 429 with Retry-After, 500, an answer slower than the adapter's
timeout, a body that is not JSON, a connection closed after the request was read, a refusal.

The real Mastodon adapter talks real HTTP to tests/drills/faulty_platform.py, and the real engines
(calendar_app.publishing, community.inbox_engine) decide, one step at a time, with the dispatcher
and the sweeper doing what beat makes them do. Each drill asserts the state the post or reply
ends in, the words the user reads, and what the platform received per idempotency key: how many
requests and how many statuses it created (never more than one).

Mastodon's documented answers: https://docs.joinmastodon.org/methods/statuses/#create (the status,
Idempotency-Key), https://docs.joinmastodon.org/api/rate-limits/ (429),
https://docs.joinmastodon.org/methods/accounts/#statuses (listing an account's statuses).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agency.platforms.inbox import InboundItem
from agency.platforms.mastodon import MastodonAdapter
from calendar_app import publishing
from calendar_app.models import PostTarget, PublishAttempt, TargetState
from community import inbox_engine
from community.models import Conversation, Message
from community.services import inbound_ingest, message_reply
from tests.drills.conftest import mastodon_account
from tests.factories import PostFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db]
S = TargetState
FINAL = (S.PUBLISHED, S.FAILED, S.UNCONFIRMED)


@pytest.fixture(autouse=True)
def _fast_engine(settings, monkeypatch):
    # Backoff short enough that the platform's Retry-After decides the wait; a read timeout of
    # one second so that "slower than the timeout" costs seconds, not the production 30.
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 1
    settings.REPLY_BACKOFF_BASE_SECONDS = 1
    monkeypatch.setattr(MastodonAdapter, "timeout", (2, 1.0))


def due_target(brand, fake, text="Spring menu is here"):
    account = mastodon_account(brand, fake)
    post = PostFactory(brand=brand, text=text)
    return PostTarget.objects.create(
        post=post, account=account, state=S.SCHEDULED, due_at=timezone.now()
    )


def run_publishing(target, *, rounds=6):
    """What beat and the workers do, one tick at a time: sweep, dispatch what is due, publish it.
    The clock is moved to the target's next due time between ticks instead of sleeping."""
    clock = timezone.now()
    for _ in range(rounds):
        publishing.sweep(now=clock)
        for target_id in publishing.dispatch_due(now=clock):
            publishing.publish_target(target_id=target_id, worker="drill")
        target.refresh_from_db()
        if target.state in FINAL and not (target.state == S.UNCONFIRMED and target.due_at):
            return target
        clock = max(clock, target.due_at or clock) + timedelta(seconds=1)
    return target


def attempts(target):
    return list(target.attempts_log.order_by("started_at").values_list("result", "http_status"))


def test_429_with_retry_after_waits_as_asked_then_publishes_once(brand, faulty_platform):
    faulty_platform.server.retry_after = 7
    faulty_platform.script("post", "throttle")
    target = due_target(brand, faulty_platform)
    key = str(target.idempotency_key)

    before = timezone.now()
    publishing.dispatch_due()
    assert publishing.publish_target(target_id=target.pk) == S.SCHEDULED
    target.refresh_from_db()
    # Not before the platform allows: Retry-After is 7 s.
    assert target.due_at >= before + timedelta(seconds=7)
    assert "Trying again in 7 s" in target.last_error
    assert faulty_platform.created_per_key() == {}

    target = run_publishing(target)
    assert target.state == S.PUBLISHED
    assert faulty_platform.posts_per_key() == {key: 2}
    assert faulty_platform.created_per_key() == {key: 1}
    assert target.external_id == faulty_platform.created()[0]["id"]
    assert attempts(target) == [(PublishAttempt.Result.RETRY, 429), ("published", None)]


def test_500_is_unconfirmed_then_checked_and_published_once(brand, faulty_platform):
    faulty_platform.script("post", "error500")
    target = due_target(brand, faulty_platform)
    key = str(target.idempotency_key)

    publishing.dispatch_due()
    assert publishing.publish_target(target_id=target.pk) == S.UNCONFIRMED
    target.refresh_from_db()
    assert "Mastodon failed with 500 after receiving the post" in target.last_error
    assert "Checking with Mastodon whether it was published" in target.last_error

    target = run_publishing(target)
    # The listing did not show it, so sending again could not make a second post.
    assert target.state == S.PUBLISHED
    assert faulty_platform.posts_per_key() == {key: 2}
    assert faulty_platform.created_per_key() == {key: 1}
    assert [r for r, _ in attempts(target)] == ["unconfirmed", "published"]


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("slow", "Mastodon did not answer in time after the request."),
        ("malformed", "Mastodon accepted the post but its answer could not be read."),
        ("close", "The connection to Mastodon broke after sending."),
    ],
)
def test_platform_acted_but_the_answer_was_lost_is_found_and_never_sent_twice(
    brand, faulty_platform, fault, words
):
    faulty_platform.server.slow_seconds = 2.5  # the adapter's read timeout is 1 s here
    faulty_platform.script("post", fault)
    target = due_target(brand, faulty_platform)
    key = str(target.idempotency_key)

    publishing.dispatch_due()
    assert publishing.publish_target(target_id=target.pk) == S.UNCONFIRMED
    target.refresh_from_db()
    assert target.last_error.startswith(words)

    target = run_publishing(target)
    assert target.state == S.PUBLISHED
    # Found by the reconciler: one request, one status, and it is the one we point at.
    assert faulty_platform.posts_per_key() == {key: 1}
    assert faulty_platform.created_per_key() == {key: 1}
    assert target.external_id == faulty_platform.created()[0]["id"]
    assert [r for r, _ in attempts(target)] == ["unconfirmed"]


def test_refusal_fails_with_the_reason_in_words_and_is_not_retried(brand, faulty_platform):
    faulty_platform.script("post", "reject")
    target = due_target(brand, faulty_platform)
    target = run_publishing(target)
    assert target.state == S.FAILED
    assert target.needs_attention
    assert "refused the post" in target.last_error
    assert "Validation failed: Text can't be blank" in target.last_error
    assert faulty_platform.posts_per_key() == {str(target.idempotency_key): 1}
    assert faulty_platform.created_per_key() == {}


def test_500_when_the_platform_cannot_be_asked_waits_for_a_person_and_sends_nothing_more(
    brand, faulty_platform
):
    faulty_platform.script("post", "error500")
    faulty_platform.script("list", "error500", "error500", "error500")
    target = due_target(brand, faulty_platform)
    target = run_publishing(target)
    assert target.state == S.UNCONFIRMED
    assert target.needs_attention
    assert target.due_at is None
    assert target.last_error.startswith("We could not confirm whether this was published")
    assert "Mastodon failed with 500" in target.last_error
    # More sweeps change nothing: no blind second POST.
    for _ in range(3):
        publishing.sweep(now=timezone.now() + timedelta(hours=1))
    assert faulty_platform.posts_per_key() == {str(target.idempotency_key): 1}
    assert faulty_platform.created_per_key() == {}


# -- replies from the inbox, on the same faults --------------------------------------------------


@pytest.fixture
def reply(brand, manager, faulty_platform, django_capture_on_commit_callbacks):
    account = mastodon_account(brand, faulty_platform)
    inbound_ingest(
        account=account,
        item=InboundItem(
            kind="comment",
            thread_id="110000000000000001",
            message_id="110000000000000002",
            author_handle="@lena@drill.example",
            text="Do you have oat milk?",
            sent_at=timezone.now() - timedelta(minutes=5),
        ),
        source="poll",
    )
    conversation = Conversation.objects.get(account=account)
    with django_capture_on_commit_callbacks(execute=False):
        return message_reply(conversation=conversation, text="Yes, all day!", by=manager)


def run_replies(message, *, rounds=6):
    """Sweep, then send what the sweep found due (its enqueue is not run here)."""
    for _ in range(rounds):
        inbox_engine.sweep()
        for pk in Message.objects.filter(
            pk=message.pk, send_state=Message.SendState.PENDING, due_at__lte=timezone.now()
        ).values_list("pk", flat=True):
            inbox_engine.send_reply(message_id=pk)
        message.refresh_from_db()
        if message.send_state in (Message.SendState.SENT, Message.SendState.FAILED):
            return message
    return message


@pytest.mark.parametrize("fault", ["error500", "slow", "malformed", "close", "throttle"])
def test_reply_meets_a_fault_and_is_sent_exactly_once(reply, faulty_platform, fault):
    faulty_platform.server.slow_seconds = 2.5
    faulty_platform.server.retry_after = 1
    faulty_platform.script("post", fault)
    key = str(reply.idempotency_key)

    first = inbox_engine.send_reply(message_id=reply.pk)
    expected = Message.SendState.PENDING if fault == "throttle" else Message.SendState.UNCONFIRMED
    assert first == expected
    if fault == "throttle":
        reply.refresh_from_db()
        assert "Trying again in 1 s" in reply.last_error
        assert reply.due_at >= timezone.now() + timedelta(milliseconds=500)
        # Retry-After is one real second here: the engine checks due times against the clock.
        Message.objects.filter(pk=reply.pk).update(due_at=timezone.now())

    reply = run_replies(reply)
    assert reply.send_state == Message.SendState.SENT
    assert faulty_platform.created_per_key() == {key: 1}
    # A 429 or 500 created nothing and is sent again; the others were found, never re-sent.
    assert faulty_platform.posts_per_key() == {key: 2 if fault in ("throttle", "error500") else 1}
    status = faulty_platform.created()[0]
    assert reply.platform_message_id == status["id"]
    assert status["in_reply_to_id"] == "110000000000000002"
    assert status["content"] == "<p>@lena@drill.example Yes, all day!</p>"
