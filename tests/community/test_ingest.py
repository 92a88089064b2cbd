"""Storing inbound messages: once, in order, linked, scored, and polled with a safe cursor."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import responses
from django.core.exceptions import ValidationError
from django.utils import timezone

from agency.models import Notification, Platform, SandboxPost, SocialAccount
from agency.platforms.inbox import InboundItem
from calendar_app.models import TargetState
from community.models import Conversation, Message, PollCursor, Sentiment
from community.services import inbound_ingest, message_sentiment, poll_account_inbox
from community.services import inbox as inbox_services
from tests.factories import PostTargetFactory, SocialAccountFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def comment(n: int, *, at: datetime, text: str = "Nice!", thread: str = "post-1", **kw):
    return InboundItem(
        kind=kw.pop("kind", "comment"),
        thread_id=thread,
        message_id=f"c{n}",
        author_handle=kw.pop("handle", "@lena"),
        author_name=kw.pop("name", "Lena"),
        text=text,
        sent_at=at,
        **kw,
    )


def test_the_same_event_from_webhook_and_poll_is_stored_once(account):
    item = comment(1, at=T0)
    first = inbound_ingest(account=account, item=item, source="webhook")
    again = inbound_ingest(account=account, item=item, source="poll")
    assert first is not None
    assert again is None
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert first.raw["_source"] == "webhook"


def test_a_lost_insert_race_reads_the_winners_row(account):
    """Two workers: both saw no row, the second INSERT hits the unique constraint."""
    inbound_ingest(account=account, item=comment(1, at=T0), source="webhook")
    nothing = mock.Mock(first=lambda: None)
    with mock.patch.object(Message.objects, "filter", return_value=nothing):
        row, created = inbox_services._get_or_create(
            Message,
            lookup={"account": account, "platform_message_id": "c1"},
            defaults={
                "conversation": Conversation.objects.get(),
                "direction": Message.Direction.INBOUND,
            },
        )
    assert created is False
    assert row.platform_message_id == "c1"
    assert Message.objects.count() == 1


def test_older_message_arriving_late_keeps_newest_preview_and_earliest_first_inbound(account):
    inbound_ingest(account=account, item=comment(2, at=T0, text="Second, newer"), source="poll")
    inbound_ingest(
        account=account,
        item=comment(1, at=T0 - timedelta(hours=1), text="First, older", handle="@tom"),
        source="webhook",
    )
    conversation = Conversation.objects.get()
    assert conversation.last_message_at == T0
    assert conversation.preview == "Second, newer"
    assert conversation.first_inbound_at == T0 - timedelta(hours=1)
    assert conversation.participant_handle == "@lena"
    assert conversation.messages.count() == 2


def test_comment_on_our_published_post_links_the_conversation_to_the_target(account):
    target = PostTargetFactory(
        post__brand=account.brand, account=account, state=TargetState.PUBLISHED, external_id="p9"
    )
    PostTargetFactory(
        post__brand=account.brand, state=TargetState.PUBLISHED, external_id="elsewhere"
    )
    inbound_ingest(
        account=account,
        item=comment(1, at=T0, thread="p9", post_external_id="p9"),
        source="webhook",
    )
    inbound_ingest(
        account=account,
        item=comment(2, at=T0, thread="elsewhere", post_external_id="elsewhere"),
        source="webhook",
    )
    assert Conversation.objects.get(external_thread_id="p9").post_target == target
    # The same external id on another account's post is not ours.
    assert Conversation.objects.get(external_thread_id="elsewhere").post_target is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I love this, thank you so much!", Sentiment.POSITIVE),
        ("Terrible service, I am really angry.", Sentiment.NEGATIVE),
        ("The shop opens at nine.", Sentiment.NEUTRAL),
        ("", ""),
    ],
)
def test_sentiment_follows_vader_thresholds(text, expected):
    label, score = message_sentiment(text)
    assert label == expected
    if expected == Sentiment.POSITIVE:
        assert score >= 0.05
    elif expected == Sentiment.NEGATIVE:
        assert score <= -0.05
    elif expected == Sentiment.NEUTRAL:
        assert -0.05 < score < 0.05


def test_conversation_sentiment_is_its_latest_inbound_message_even_out_of_order(account):
    inbound_ingest(
        account=account, item=comment(2, at=T0, text="Thanks, all sorted, great!"), source="poll"
    )
    inbound_ingest(
        account=account,
        item=comment(1, at=T0 - timedelta(hours=2), text="This is awful and broken."),
        source="poll",
    )
    conversation = Conversation.objects.get()
    assert conversation.sentiment == Sentiment.POSITIVE
    older = Message.objects.get(platform_message_id="c1")
    assert older.sentiment == Sentiment.NEGATIVE
    assert older.sentiment_score <= -0.05


def test_new_inbound_message_reopens_a_closed_conversation(account):
    inbound_ingest(account=account, item=comment(1, at=T0), source="poll")
    closed_at = T0 + timedelta(hours=1)
    Conversation.objects.update(status=Conversation.Status.CLOSED, resolved_at=closed_at)
    # A late copy of an older message does not reopen it...
    inbound_ingest(account=account, item=comment(0, at=T0 - timedelta(minutes=5)), source="poll")
    assert Conversation.objects.get().status == Conversation.Status.CLOSED
    # ...a new one does.
    inbound_ingest(
        account=account, item=comment(2, at=closed_at + timedelta(minutes=1)), source="p"
    )
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.resolved_at is None


def test_assignee_hears_of_a_new_message(account, manager, django_capture_on_commit_callbacks):
    inbound_ingest(account=account, item=comment(1, at=T0), source="poll")
    Conversation.objects.update(assignee=manager)
    with django_capture_on_commit_callbacks(execute=True):
        inbound_ingest(account=account, item=comment(2, at=T0, text="Hello?"), source="poll")
    notification = Notification.objects.get(user=manager)
    assert "@lena" in notification.title
    assert notification.body == "Hello?"


def test_our_own_reply_echoed_back_is_stored_as_outbound_sent(account):
    inbound_ingest(account=account, item=comment(1, at=T0), source="webhook")
    echo = comment(2, at=T0 + timedelta(minutes=30), text="Thanks Lena!", handle="@AcmeCoffee")
    stored = inbound_ingest(account=account, item=echo, source="webhook")
    assert stored.direction == Message.Direction.OUTBOUND
    assert stored.send_state == Message.SendState.SENT
    assert stored.sentiment == ""
    conversation = Conversation.objects.get()
    assert conversation.first_inbound_at == T0
    assert conversation.first_response_at == T0 + timedelta(minutes=30)
    assert conversation.participant_handle == "@lena"


def test_item_without_ids_is_refused_in_words(account):
    with pytest.raises(ValidationError, match="message and thread ids"):
        inbound_ingest(account=account, item=comment(1, at=T0, thread=""), source="poll")


# -- polling -------------------------------------------------------------------------------------


@pytest.fixture
def published_sandbox_post(account):
    post = SandboxPost.objects.create(account=account, idempotency_key="k1", text="New roast!")
    SandboxPost.objects.filter(pk=post.pk).update(created_at=timezone.now() - timedelta(hours=2))
    PostTargetFactory(
        post__brand=account.brand,
        account=account,
        state=TargetState.PUBLISHED,
        external_id=str(post.pk),
    )
    return post


def test_polling_the_sandbox_twice_stores_each_message_once_and_advances_the_cursor(
    account, published_sandbox_post
):
    first = poll_account_inbox(account=account)
    cursor = PollCursor.objects.get(account=account)
    assert first >= 2
    assert cursor.cursor
    assert cursor.error == ""
    assert poll_account_inbox(account=account) == 0
    # Even from the start again the sandbox invents nothing new: its ids come from the post.
    PollCursor.objects.update(cursor="")
    assert poll_account_inbox(account=account) == 0
    assert Message.objects.count() == first
    conversation = Conversation.objects.filter(kind="comment").get()
    assert conversation.post_target.external_id == str(published_sandbox_post.pk)


def test_sandbox_replies_draw_no_comments(account):
    SandboxPost.objects.create(account=account, idempotency_key="reply-key", text="Thanks!")
    SandboxPost.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert poll_account_inbox(account=account) == 0


def test_cursor_does_not_move_when_storing_the_page_fails(account, published_sandbox_post):
    real = inbox_services.inbound_ingest
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(**kwargs)

    with mock.patch.object(inbox_services, "inbound_ingest", flaky), pytest.raises(RuntimeError):
        poll_account_inbox(account=account)
    assert PollCursor.objects.get(account=account).cursor == ""
    assert Message.objects.count() == 0


@responses.activate
def test_polling_with_an_expired_token_marks_the_account_for_reconnecting(brand):
    """Mastodon answers 401 {"error": "The access token is invalid"}:
    https://docs.joinmastodon.org/methods/notifications/#get"""
    account = SocialAccountFactory(
        brand=brand, platform=Platform.MASTODON, instance_url="https://mastodon.example"
    )
    responses.get(
        "https://mastodon.example/api/v1/notifications",
        json={"error": "The access token is invalid"},
        status=401,
    )
    assert poll_account_inbox(account=account) == 0
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_REAUTH
    assert "token" in PollCursor.objects.get(account=account).error
