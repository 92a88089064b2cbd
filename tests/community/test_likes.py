"""Liking the audience's messages from the inbox, through the real adapters with replayed
platform answers: the state lands on the message, the page offers the button only where the
platform allows it and says why not on Instagram."""

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse

from agency.models import AuditEvent, Platform
from agency.platforms.facebook import GRAPH_URL
from community.models import Message
from community.services import message_like
from tests.community.test_workflow import make_conversation, make_message
from tests.factories import SocialAccountFactory

MASTODON = "https://mastodon.example"


@pytest.fixture
def mastodon(brand):
    return SocialAccountFactory(
        brand=brand,
        platform=Platform.MASTODON,
        handle="@acme",
        external_id="109000000000000001",
        instance_url=MASTODON,
        access_token="mastodon-token",
    )


def inbound(account, platform_message_id):
    conversation = make_conversation(account)
    return make_message(conversation, platform_message_id=platform_message_id)


@responses.activate
def test_liking_a_mastodon_mention_favourites_it_and_records_who(mastodon, manager):
    """POST /api/v1/statuses/:id/favourite answers the Status.
    https://docs.joinmastodon.org/methods/statuses/#favourite"""
    responses.post(
        f"{MASTODON}/api/v1/statuses/5001/favourite",
        json={"id": "5001", "favourited": True, "content": "<p>Hi</p>"},
    )
    message = inbound(mastodon, "5001")

    message_like(message=message, by=manager)
    message_like(message=message, by=manager)  # already liked: no second call

    assert Message.objects.get(pk=message.pk).liked is True
    assert len(responses.calls) == 1
    event = AuditEvent.objects.get(action="message.liked")
    assert event.actor == manager


@responses.activate
def test_a_like_the_platform_did_not_confirm_is_not_recorded_and_says_to_try_again(
    mastodon, manager
):
    """https://docs.joinmastodon.org/methods/statuses/#favourite"""
    responses.post(f"{MASTODON}/api/v1/statuses/5001/favourite", status=503, body="busy")
    message = inbound(mastodon, "5001")

    with pytest.raises(ValidationError, match="doing it twice is harmless"):
        message_like(message=message, by=manager)
    assert Message.objects.get(pk=message.pk).liked is False


@responses.activate
def test_facebook_conversation_offers_like_and_liking_it_through_the_page_works(
    brand, login, manager
):
    """POST /{comment-id}/likes -> {"success": true}.
    https://developers.facebook.com/docs/graph-api/reference/object/likes"""
    page = SocialAccountFactory(
        brand=brand, platform=Platform.FACEBOOK, external_id="104800001", access_token="t"
    )
    message = inbound(page, "104800001_555_901")
    client = login(manager)
    panel = client.get(reverse("community:conversation", args=[message.conversation_id]))
    assert reverse("community:message-like", args=[message.conversation_id, message.pk]) in (
        panel.content.decode()
    )

    responses.post(f"{GRAPH_URL}/104800001_555_901/likes", json={"success": True})
    response = client.post(
        reverse("community:message-like", args=[message.conversation_id, message.pk]),
        {"value": "1"},
        follow=True,  # the buttons are hx-boosted forms: HTMX follows the redirect back
    )
    assert response.status_code == 200
    assert Message.objects.get(pk=message.pk).liked is True
    assert 'aria-pressed="true"' in response.content.decode()


def test_instagram_conversation_says_comments_cannot_be_liked_there(brand, login, manager):
    """The IG Comment node has no like edge.
    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment
    """
    ig = SocialAccountFactory(brand=brand, platform=Platform.INSTAGRAM, external_id="1784")
    message = inbound(ig, "17870913679156914")
    page = (
        login(manager)
        .get(reverse("community:conversation", args=[message.conversation_id]))
        .content.decode()
    )
    assert "does not let an account like comments" in page
    assert reverse("community:message-like", args=[message.conversation_id, message.pk]) not in page

    with pytest.raises(ValidationError, match="does not let agency like"):
        message_like(message=message, by=manager)
