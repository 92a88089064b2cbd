"""/api/v1/conversations/: the inbox over the API. The list uses the inbox's selector (same
filters as the dashboard) in a constant number of queries; every action calls the service the
dashboard calls; staff only (a client of the brand is an outsider here), marketers read."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from community import tasks
from community.models import Conversation, InternalNote, Message
from community.services import note_add
from tests.factories import SocialAccountFactory

URL = "/api/v1/conversations/"
_seq = iter(range(1, 10**6))


def make_conversation(account, text="Where is my order?", **fields):
    n = next(_seq)
    at = fields.pop("at", timezone.now() - timedelta(minutes=n))
    conversation = Conversation.objects.create(
        **{
            "brand": account.brand,
            "account": account,
            "kind": Conversation.Kind.COMMENT,
            "external_thread_id": f"thread-{n}",
            "participant_handle": f"@person{n}",
            "participant_name": f"Person {n}",
            "preview": text,
            "last_message_at": at,
            "first_inbound_at": at,
            **fields,
        }
    )
    Message.objects.create(
        conversation=conversation,
        account=account,
        direction=Message.Direction.INBOUND,
        author_handle=conversation.participant_handle,
        text=text,
        platform_message_id=f"pm-{n}",
        sent_at=at,
    )
    return conversation


@pytest.fixture
def conversation(account):
    return make_conversation(account, participant_handle="@jane", participant_name="Jane Doe")


@pytest.fixture
def other_conversation(other_account):
    return make_conversation(other_account, text="Tea question")


def ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# -- reading -------------------------------------------------------------------------------------


def test_list_shows_the_inbox_with_its_sla_and_needs_reply(
    api_client, manager, conversation, other_conversation
):
    api_client.force_authenticate(manager)
    data = api_client.get(URL).json()
    assert [row["id"] for row in data["results"]] == [str(conversation.pk)]
    row = data["results"][0]
    assert row["needs_reply"] is True
    assert row["sla_state"] == "on_track"
    assert row["account_handle"] == conversation.account.handle
    assert row["preview"] == "Where is my order?"


def test_filters_are_the_inboxs(api_client, manager, marketer, brand, account, conversation):
    second_account = SocialAccountFactory(brand=brand)
    direct = make_conversation(
        second_account,
        text="Refund please",
        kind=Conversation.Kind.DIRECT,
        status=Conversation.Status.CLOSED,
        sentiment="negative",
        tags=["refund", "vip"],
        assignee=marketer,
    )
    api_client.force_authenticate(manager)
    assert ids(api_client.get(URL, {"kind": "direct"})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"status": "open"})) == [str(conversation.pk)]
    assert ids(api_client.get(URL, {"sentiment": "negative"})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"account": str(second_account.pk)})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"tag": "VIP, #refund"})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"tag": "refund,other"})) == []
    assert ids(api_client.get(URL, {"assignee": str(marketer.pk)})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"assignee": "unassigned"})) == [str(conversation.pk)]
    assert ids(api_client.get(URL, {"assignee": "me"})) == []
    assert ids(api_client.get(URL, {"q": "refund"})) == [str(direct.pk)]
    assert ids(api_client.get(URL, {"q": "jane"})) == [str(conversation.pk)]
    assert set(ids(api_client.get(URL, {"brand": str(brand.pk)}))) == {
        str(conversation.pk),
        str(direct.pk),
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "snoozed"}, "status"),
        ({"kind": "letter"}, "kind"),
        ({"assignee": "somebody"}, "assignee"),
        ({"brand": "not-a-uuid"}, "brand"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api_client, manager, conversation, query, field):
    api_client.force_authenticate(manager)
    response = api_client.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_detail_has_messages_and_notes_in_order(api_client, manager, conversation):
    note_add(conversation=conversation, text="Checked the order: it shipped.", by=manager)
    api_client.force_authenticate(manager)
    data = api_client.get(f"{URL}{conversation.pk}/").json()
    assert [m["text"] for m in data["messages"]] == ["Where is my order?"]
    assert data["messages"][0]["direction"] == "in"
    assert [n["text"] for n in data["notes"]] == ["Checked the order: it shipped."]
    assert data["notes"][0]["author"] == manager.username
    assert data["participant_name"] == "Jane Doe"
    messages = api_client.get(f"{URL}{conversation.pk}/messages/").json()
    assert messages["count"] == 1
    assert messages["results"][0]["text"] == "Where is my order?"


def test_the_list_runs_a_constant_number_of_queries(api_client, manager, account, marketer):
    api_client.force_authenticate(manager)
    make_conversation(account)
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(URL).json()["count"] == 1
    for n in range(15):
        extra = SocialAccountFactory(brand=account.brand)
        make_conversation(extra, assignee=marketer if n % 2 else None, tags=["x"])
    with CaptureQueriesContext(connection) as many:
        assert api_client.get(URL).json()["count"] == 16
    assert len(many) == len(few)


# -- actions -------------------------------------------------------------------------------------


def test_assign_to_a_teammate_and_back_to_nobody(api_client, manager, marketer, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/assign/"
    response = api_client.post(url, {"assignee": marketer.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["assignee"] == marketer.pk
    conversation.refresh_from_db()
    assert conversation.assignee == marketer
    response = api_client.post(url, {"assignee": None}, format="json")
    assert response.json()["assignee"] is None
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_assigning_to_someone_of_another_agency_says_nothing_about_them(
    api_client, manager, outsider, conversation
):
    api_client.force_authenticate(manager)
    response = api_client.post(
        f"{URL}{conversation.pk}/assign/", {"assignee": outsider.pk}, format="json"
    )
    assert response.status_code == 400
    assert "assignee" in response.json()["fields"]
    assert outsider.username not in str(response.json())
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_status_closes_and_reopens(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/status/"
    response = api_client.post(url, {"status": "closed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    conversation.refresh_from_db()
    assert conversation.resolved_at is not None
    bad = api_client.post(url, {"status": "done"}, format="json")
    assert bad.status_code == 400
    assert "status" in bad.json()["fields"]
    api_client.post(url, {"status": "open"}, format="json")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == ("open", None)


def test_tags_are_normalised_and_too_long_ones_refused(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/tags/"
    response = api_client.post(url, {"tags": ["#Refund", "late delivery"]}, format="json")
    assert response.status_code == 200
    assert response.json()["tags"] == ["late-delivery", "refund"]
    too_long = api_client.post(url, {"tags": ["x" * 60]}, format="json")
    assert too_long.status_code == 400
    assert "tags" in too_long.json()["fields"]
    conversation.refresh_from_db()
    assert conversation.tags == ["late-delivery", "refund"]


def test_priority(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/priority/"
    assert api_client.post(url, {"priority": "urgent"}, format="json").status_code == 200
    conversation.refresh_from_db()
    assert conversation.priority == "urgent"
    assert api_client.post(url, {"priority": "meh"}, format="json").status_code == 400


def test_notes_are_added_and_listed(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/notes/"
    response = api_client.post(url, {"text": "Refund approved."}, format="json")
    assert response.status_code == 201, response.json()
    assert InternalNote.objects.get(conversation=conversation).text == "Refund approved."
    listed = api_client.get(url).json()
    assert [n["text"] for n in listed["results"]] == ["Refund approved."]
    empty = api_client.post(url, {"text": "   "}, format="json")
    assert empty.status_code == 400
    assert "text" in empty.json()["fields"]
    assert InternalNote.objects.count() == 1


def test_reply_is_queued_once_through_the_inbox_service(
    api_client, manager, conversation, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(manager)
    with (
        mock.patch.object(tasks.send_reply, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(
            f"{URL}{conversation.pk}/reply/", {"text": "It ships today!"}, format="json"
        )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["direction"], data["send_state"], data["text"]) == (
        "out",
        "pending",
        "It ships today!",
    )
    assert data["author_user"] == manager.username
    reply = Message.objects.get(conversation=conversation, direction=Message.Direction.OUTBOUND)
    assert str(reply.pk) == data["id"]
    delay.assert_called_once_with(str(reply.pk))


def test_an_empty_reply_is_a_400_and_nothing_is_queued(
    api_client, manager, conversation, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(manager)
    with (
        mock.patch.object(tasks.send_reply, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(f"{URL}{conversation.pk}/reply/", {"text": " "}, format="json")
    assert response.status_code == 400
    assert "text" in response.json()["fields"]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    delay.assert_not_called()


def test_a_reply_too_long_for_the_platform_names_the_text(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    response = api_client.post(
        f"{URL}{conversation.pk}/reply/", {"text": "word " * 20000}, format="json"
    )
    assert response.status_code == 400
    assert "too long" in response.json()["fields"]["text"][0]


def test_conversations_are_not_created_edited_or_deleted_over_the_api(
    api_client, manager, brand, account, conversation
):
    api_client.force_authenticate(manager)
    body = {"brand": str(brand.pk), "account": str(account.pk), "kind": "comment"}
    assert api_client.post(URL, body, format="json").status_code == 405
    assert api_client.patch(f"{URL}{conversation.pk}/", {"status": "closed"}).status_code == 405
    assert api_client.delete(f"{URL}{conversation.pk}/").status_code == 405
    assert Conversation.objects.count() == 1


# -- who may ---------------------------------------------------------------------------------


ACTIONS = [
    ("assign/", {"assignee": None}),
    ("status/", {"status": "closed"}),
    ("priority/", {"priority": "high"}),
    ("tags/", {"tags": ["x"]}),
    ("notes/", {"text": "secret"}),
    ("reply/", {"text": "hello"}),
    ("messages/{message}/hide/", {}),
    ("messages/{message}/like/", {}),
]


@pytest.mark.parametrize("persona", ["outsider", "other_client", "client_user"])
def test_strangers_and_the_brands_clients_get_404_everywhere(
    api_client, request, persona, conversation
):
    note_add(conversation=conversation, text="Internal only", by=request.getfixturevalue("manager"))
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert ids(api_client.get(URL)) == []
    assert ids(api_client.get(URL, {"q": "order"})) == []
    assert api_client.get(f"{URL}{conversation.pk}/").status_code == 404
    assert api_client.get(f"{URL}{conversation.pk}/messages/").status_code == 404
    assert api_client.get(f"{URL}{conversation.pk}/notes/").status_code == 404
    message = conversation.messages.get()
    for path, body in ACTIONS:
        path = path.format(message=message.pk)
        response = api_client.post(f"{URL}{conversation.pk}/{path}", body, format="json")
        assert response.status_code == 404, path
    conversation.refresh_from_db()
    assert (conversation.status, conversation.tags) == ("open", [])
    assert InternalNote.objects.count() == 1
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_marketer_reads_the_inbox_but_cannot_act(api_client, marketer, conversation):
    api_client.force_authenticate(marketer)
    assert ids(api_client.get(URL)) == [str(conversation.pk)]
    assert api_client.get(f"{URL}{conversation.pk}/").status_code == 200
    assert api_client.get(f"{URL}{conversation.pk}/notes/").status_code == 200
    message = conversation.messages.get()
    for path, body in ACTIONS:
        path = path.format(message=message.pk)
        response = api_client.post(f"{URL}{conversation.pk}/{path}", body, format="json")
        assert response.status_code == 403, path
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority, conversation.tags) == (
        "open",
        "normal",
        [],
    )
    assert not InternalNote.objects.exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_anonymous_gets_401(api_client, conversation):
    assert api_client.get(URL).status_code == 401


def test_a_retried_reply_with_the_same_idempotency_key_is_queued_once(
    api_client, manager, conversation, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/reply/"
    with (
        mock.patch.object(tasks.send_reply, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = api_client.post(
            url, {"text": "On its way"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
        )
        again = api_client.post(
            url, {"text": "On its way"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
        )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
    delay.assert_called_once_with(first.json()["id"])


def test_a_stale_if_match_is_a_412_and_changes_nothing(api_client, manager, conversation):
    api_client.force_authenticate(manager)
    etag = api_client.get(f"{URL}{conversation.pk}/")["ETag"]
    url = f"{URL}{conversation.pk}/status/"
    assert api_client.post(url, {"status": "pending"}, format="json").status_code == 200
    stale = api_client.post(url, {"status": "closed"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    fresh = api_client.get(f"{URL}{conversation.pk}/")["ETag"]
    ok = api_client.post(url, {"status": "closed"}, format="json", HTTP_IF_MATCH=fresh)
    assert ok.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "closed"


def test_a_read_token_reads_the_inbox_but_cannot_reply(manager, conversation):
    from rest_framework.test import APIClient

    from agency import services

    _, key = services.api_token_create(user=manager, name="t", scopes=["community:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert ids(client.get(URL)) == [str(conversation.pk)]
    refused = client.post(f"{URL}{conversation.pk}/reply/", {"text": "hi"}, format="json")
    assert refused.status_code == 403
    assert "community:write" in refused.json()["detail"]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_hide_and_like_a_message_where_the_platform_allows_it(
    api_client, manager, monkeypatch, conversation
):
    from agency.platforms.sandbox import SandboxAdapter

    message = conversation.messages.get()
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/messages/{message.pk}"
    refused = api_client.post(f"{url}/hide/", {}, format="json")
    assert refused.status_code == 400
    assert "does not let agency hide" in refused.json()["detail"]

    calls = []
    for capability, setter in (("supports_hide", "set_hidden"), ("supports_like", "set_liked")):
        monkeypatch.setattr(SandboxAdapter, capability, True, raising=False)
        monkeypatch.setattr(
            SandboxAdapter,
            setter,
            lambda self, a, pid, v, setter=setter: calls.append((setter, pid, v)),
            raising=False,
        )
    assert api_client.post(f"{url}/hide/", {}, format="json").json()["hidden"] is True
    assert api_client.post(f"{url}/like/", {"liked": True}, format="json").json()["liked"] is True
    message.refresh_from_db()
    assert (message.hidden, message.liked) == (True, True)
    assert calls == [
        ("set_hidden", message.platform_message_id, True),
        ("set_liked", message.platform_message_id, True),
    ]
    shown = api_client.post(f"{url}/hide/", {"hidden": False}, format="json")
    assert shown.json()["hidden"] is False


def test_a_message_of_another_conversation_is_a_404_here(
    api_client, manager, account, conversation
):
    elsewhere = make_conversation(account, text="Other thread").messages.get()
    api_client.force_authenticate(manager)
    url = f"{URL}{conversation.pk}/messages/{elsewhere.pk}/hide/"
    assert api_client.post(url, {}, format="json").status_code == 404
