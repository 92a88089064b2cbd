"""The inbox with a real Celery worker on the test PostgreSQL and Redis: a signed webhook goes in
through the view, the worker stores it, and a reply goes out through the sandbox exactly once."""

import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from agency.models import Platform, SandboxPost
from community.models import Conversation, Message, WebhookDelivery
from community.services import message_reply
from community.tasks import send_reply
from tests.factories import SocialAccountFactory
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SECRET = "live-meta-app-secret"
PAGE_ID = "1067280970047460"


def test_signed_meta_webhook_is_stored_by_a_worker_and_the_reply_is_sent_once(
    client, brand, manager, settings, celery_worker_process
):
    """A Page feed comment notification signed with X-Hub-Signature-256.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications
    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""
    settings.META_APP_SECRET = SECRET
    # The sandbox stands in for the Page: same id, so the real webhook road leads to it.
    account = SocialAccountFactory(brand=brand, platform=Platform.SANDBOX, external_id=PAGE_ID)
    worker = celery_worker_process(
        queues=["celery", "dispatch", "publish"], pool="threads", concurrency=4
    )
    payload = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1741000000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": "24242424242", "name": "Lena Weber"},
                            "message": "Do you have decaf?",
                            "post_id": f"{PAGE_ID}_555",
                            "comment_id": f"{PAGE_ID}_118",
                            "created_time": 1741000000,
                            "item": "comment",
                            "parent_id": f"{PAGE_ID}_555",
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        reverse("community:webhook-meta"),
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    assert response.status_code == 200

    def stored():
        return Message.objects.filter(
            account=account, platform_message_id=f"{PAGE_ID}_118"
        ).exists()

    assert wait_for(stored, timeout=60, processes=[worker]), worker.log_tail()
    assert WebhookDelivery.objects.get().processed_at is not None
    conversation = Conversation.objects.get(account=account)

    reply = message_reply(conversation=conversation, text="Yes, all day!", by=manager)
    # And a duplicate delivery of the send task, racing the first.
    send_reply.delay(str(reply.pk))

    def sent():
        return Message.objects.get(pk=reply.pk).send_state == Message.SendState.SENT

    assert wait_for(sent, timeout=60, processes=[worker]), worker.log_tail()
    assert SandboxPost.objects.filter(idempotency_key=str(reply.idempotency_key)).count() == 1
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    assert conversation.first_response_at >= conversation.first_inbound_at
