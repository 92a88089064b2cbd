"""Replies with an unknown outcome on networks without idempotency keys (X, Facebook,
Instagram) are settled by looking for them among the replies, through the real reply engine and
adapters with replayed platform answers: found means sent (with its id), surely absent means
sent again once, and what cannot be told still waits for a person."""

from datetime import timedelta
from unittest import mock

import pytest
import requests
import responses
from django.utils import timezone

from agency.models import Notification, Platform
from agency.platforms.facebook import GRAPH_URL
from agency.platforms.inbox import InboundItem
from community import inbox_engine, tasks
from community.models import Conversation, Message
from community.services import inbound_ingest, message_reply
from tests.factories import SocialAccountFactory

S = Message.SendState
X_API = "https://api.x.com/2"
X_USER = "2244994945"
PAGE = "104800001"


@pytest.fixture
def x_account(brand):
    return SocialAccountFactory(
        brand=brand, platform=Platform.X, handle="@acme", external_id=X_USER, access_token="t"
    )


@pytest.fixture
def page(brand):
    return SocialAccountFactory(
        brand=brand, platform=Platform.FACEBOOK, handle="Acme", external_id=PAGE, access_token="t"
    )


def conversation_on(account, message_id, thread_id):
    inbound_ingest(
        account=account,
        item=InboundItem(
            kind="comment",
            thread_id=thread_id,
            message_id=message_id,
            author_handle="@lena",
            author_id="6253282",
            text="Do you have oat milk?",
            sent_at=timezone.now() - timedelta(hours=1),
        ),
        source="poll",
    )
    return Conversation.objects.get(account=account)


def queue(conversation, manager, django_capture_on_commit_callbacks, text="Yes we do!"):
    with (
        mock.patch.object(tasks.send_reply, "delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        return message_reply(conversation=conversation, text=text, by=manager)


def sweep_after(seconds):
    with mock.patch.object(inbox_engine, "enqueue_send"):
        return inbox_engine.sweep(now=timezone.now() + timedelta(seconds=seconds))


def timeline(*posts):
    """GET /2/users/:id/tweets. https://docs.x.com/x-api/users/get-posts"""
    responses.get(
        f"{X_API}/users/{X_USER}/tweets",
        json={"data": list(posts), "meta": {"result_count": len(posts)}},
    )


@responses.activate
def test_x_reply_whose_answer_was_lost_is_found_on_the_timeline_and_recorded_once(
    x_account, manager, django_capture_on_commit_callbacks
):
    """POST /2/tweets timed out after sending; the reply is on the account's timeline.
    https://docs.x.com/x-api/posts/manage-tweets/introduction
    https://docs.x.com/x-api/users/get-posts"""
    conversation = conversation_on(x_account, "1896000000000000001", "1895000000000000000")
    reply = queue(conversation, manager, django_capture_on_commit_callbacks)
    responses.post(f"{X_API}/tweets", body=requests.exceptions.ReadTimeout("read timed out"))

    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED
    reply.refresh_from_db()
    # The timeline may lag the write: the lookup waits a minute.
    assert reply.due_at > timezone.now() + timedelta(seconds=50)
    assert sweep_after(5)["reconciled"] == 0

    timeline(
        {
            "id": "1896000000000000077",
            "text": "Yes we do!",
            "created_at": "2025-03-03T09:31:00.000Z",
            "referenced_tweets": [{"type": "replied_to", "id": "1896000000000000001"}],
            "edit_history_tweet_ids": ["1896000000000000077"],
        }
    )
    assert sweep_after(61)["reconciled"] == 1
    reply.refresh_from_db()
    assert reply.send_state == S.SENT
    assert reply.platform_message_id == "1896000000000000077"
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None


@responses.activate
def test_x_reply_surely_not_on_the_timeline_is_sent_again_exactly_once(
    x_account, manager, django_capture_on_commit_callbacks
):
    """https://docs.x.com/x-api/users/get-posts
    https://docs.x.com/x-api/posts/manage-tweets/introduction"""
    conversation = conversation_on(x_account, "1896000000000000001", "1895000000000000000")
    reply = queue(conversation, manager, django_capture_on_commit_callbacks)
    responses.post(f"{X_API}/tweets", body=requests.exceptions.ReadTimeout("read timed out"))
    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED

    timeline()  # nothing posted since the reply was queued
    sweep_after(61)
    reply.refresh_from_db()
    assert reply.send_state == S.PENDING

    responses.replace(
        responses.POST,
        f"{X_API}/tweets",
        json={"data": {"id": "1896000000000000088", "text": "Yes we do!"}},
        status=201,
    )
    assert inbox_engine.send_reply(message_id=reply.pk) == S.SENT
    assert inbox_engine.send_reply(message_id=reply.pk) == "lost"
    reply.refresh_from_db()
    assert reply.platform_message_id == "1896000000000000088"


@responses.activate
def test_facebook_reply_found_among_the_comments_is_settled_as_sent(
    page, manager, django_capture_on_commit_callbacks
):
    """POST /{comment-id}/comments answered 500 after receiving; GET /{comment-id}/comments
    shows the Page's reply.
    https://developers.facebook.com/docs/graph-api/reference/object/comments
    https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    conversation = conversation_on(page, f"{PAGE}_555_901", f"{PAGE}_555")
    reply = queue(conversation, manager, django_capture_on_commit_callbacks)
    responses.post(
        f"{GRAPH_URL}/{PAGE}_555_901/comments",
        status=500,
        json={
            "error": {"message": "An unknown error occurred", "code": 1, "type": "OAuthException"}
        },
    )
    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED
    responses.get(
        f"{GRAPH_URL}/{PAGE}_555_901/comments",
        json={
            "data": [
                {
                    "id": f"{PAGE}_555_950",
                    "message": "Yes we do!",
                    "from": {"id": PAGE, "name": "Acme"},
                    "created_time": timezone.now().strftime("%Y-%m-%dT%H:%M:%S+0000"),
                }
            ],
            "paging": {"cursors": {"before": "b", "after": "a"}},
        },
    )
    sweep_after(61)
    reply.refresh_from_db()
    assert reply.send_state == S.SENT
    assert reply.platform_message_id == f"{PAGE}_555_950"


@responses.activate
def test_a_lookup_that_fails_for_now_is_asked_again_later_not_handed_to_a_person(
    page, manager, django_capture_on_commit_callbacks
):
    """Throttling (code 32) on the lookup. https://developers.facebook.com/docs/graph-api/overview/rate-limiting/"""
    conversation = conversation_on(page, f"{PAGE}_555_901", f"{PAGE}_555")
    reply = queue(conversation, manager, django_capture_on_commit_callbacks)
    responses.post(f"{GRAPH_URL}/{PAGE}_555_901/comments", body=requests.exceptions.ReadTimeout())
    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED
    responses.get(
        f"{GRAPH_URL}/{PAGE}_555_901/comments",
        status=400,
        json={"error": {"message": "(#32) Page request limit reached", "code": 32}},
    )
    sweep_after(61)
    reply.refresh_from_db()
    assert reply.send_state == S.UNCONFIRMED
    assert reply.due_at is not None and reply.due_at > timezone.now() + timedelta(seconds=250)
    assert "checking again" in reply.last_error
    assert not Notification.objects.exists()


@responses.activate
def test_a_lookup_that_cannot_tell_still_waits_for_a_person(
    page, manager, django_capture_on_commit_callbacks
):
    """The parent comment was deleted meanwhile: its replies cannot be read.
    https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    conversation = conversation_on(page, f"{PAGE}_555_901", f"{PAGE}_555")
    reply = queue(conversation, manager, django_capture_on_commit_callbacks)
    responses.post(f"{GRAPH_URL}/{PAGE}_555_901/comments", body=requests.exceptions.ReadTimeout())
    assert inbox_engine.send_reply(message_id=reply.pk) == S.UNCONFIRMED
    responses.get(
        f"{GRAPH_URL}/{PAGE}_555_901/comments",
        status=400,
        json={
            "error": {
                "message": "Unsupported get request.",
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
            }
        },
    )
    sweep_after(61)
    reply.refresh_from_db()
    assert reply.send_state == S.UNCONFIRMED
    assert reply.due_at is None
    assert "could not confirm" in reply.last_error
    assert Notification.objects.filter(user=manager).count() == 1
