"""/api/v1/saved-replies/: the team's reusable replies, written through the workflow service
(unique names, known placeholders), and rendered for a conversation. Staff only."""

import pytest
from django.utils import timezone

from community.models import Conversation, SavedReply
from community.services import saved_reply_create

URL = "/api/v1/saved-replies/"


@pytest.fixture
def saved(brand, manager):
    return saved_reply_create(
        brand=brand, name="Thanks", text="Thank you {first_name}, from {brand}!", by=manager
    )


@pytest.fixture
def conversation(account):
    return Conversation.objects.create(
        brand=account.brand,
        account=account,
        kind=Conversation.Kind.COMMENT,
        external_thread_id="t-1",
        participant_handle="@jane",
        participant_name="Jane Doe",
        last_message_at=timezone.now(),
    )


def test_create_update_delete(api_client, manager, brand):
    api_client.force_authenticate(manager)
    body = {"brand": str(brand.pk), "name": " Hours ", "text": "We open at 8, {first_name}."}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    saved = SavedReply.objects.get(pk=response.json()["id"])
    assert saved.name == "Hours"
    response = api_client.patch(f"{URL}{saved.pk}/", {"text": "We open at 9."}, format="json")
    assert response.status_code == 200, response.json()
    saved.refresh_from_db()
    assert (saved.name, saved.text) == ("Hours", "We open at 9.")
    assert api_client.delete(f"{URL}{saved.pk}/").status_code == 204
    assert not SavedReply.objects.exists()


def test_duplicate_names_and_unknown_placeholders_name_their_fields(
    api_client, manager, brand, saved
):
    api_client.force_authenticate(manager)
    body = {"brand": str(brand.pk), "name": "THANKS", "text": "Hi {nickname}"}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert {"name", "text"} <= set(response.json()["fields"])
    assert SavedReply.objects.count() == 1


def test_render_for_a_conversation(api_client, manager, saved, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{saved.pk}/render/"
    response = api_client.get(url, {"conversation": str(conversation.pk)})
    assert response.status_code == 200, response.json()
    assert response.json() == {"text": "Thank you Jane, from Acme Coffee!", "problems": []}
    missing = api_client.get(url)
    assert missing.status_code == 400
    assert "conversation" in missing.json()["fields"]


def test_render_refuses_a_conversation_of_another_brand(api_client, manager, saved, sibling_brand):
    from tests.factories import SocialAccountFactory

    account = SocialAccountFactory(brand=sibling_brand)
    elsewhere = Conversation.objects.create(
        brand=sibling_brand, account=account, kind="comment", external_thread_id="t-9"
    )
    api_client.force_authenticate(manager)
    response = api_client.get(f"{URL}{saved.pk}/render/", {"conversation": str(elsewhere.pk)})
    assert response.status_code == 400
    assert "another brand" in response.json()["fields"]["conversation"][0]


@pytest.mark.parametrize("persona", ["outsider", "other_client", "client_user"])
def test_strangers_and_the_brands_clients_get_404(
    api_client, request, persona, saved, conversation
):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(URL).json()["results"] == []
    assert api_client.get(f"{URL}{saved.pk}/").status_code == 404
    render = api_client.get(f"{URL}{saved.pk}/render/", {"conversation": str(conversation.pk)})
    assert render.status_code == 404
    assert api_client.patch(f"{URL}{saved.pk}/", {"text": "x"}).status_code == 404
    assert api_client.delete(f"{URL}{saved.pk}/").status_code == 404
    saved.refresh_from_db()
    assert saved.text.startswith("Thank you")


def test_marketer_reads_saved_replies_but_cannot_change_them(api_client, marketer, brand, saved):
    api_client.force_authenticate(marketer)
    assert api_client.get(f"{URL}{saved.pk}/").status_code == 200
    body = {"brand": str(brand.pk), "name": "New", "text": "Hi"}
    assert api_client.post(URL, body, format="json").status_code == 403
    assert api_client.patch(f"{URL}{saved.pk}/", {"text": "x"}).status_code == 403
    assert api_client.delete(f"{URL}{saved.pk}/").status_code == 403
    assert SavedReply.objects.count() == 1
