"""The inbox pages: who may see and change what, the filters, the list's query count, the
conversation panel (HTMX and plain), polling, saved replies, the reply form and the shortcuts."""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Notification
from community.models import Conversation, InternalNote, Message, SavedReply
from tests.community.test_workflow import make_conversation, make_message

HTMX_PANEL = {"HX-Request": "true", "HX-Target": "conversation-panel"}
HTMX_LIST = {"HX-Request": "true", "HX-Target": "inbox-list"}


@pytest.fixture
def conversation(account):
    conversation = make_conversation(
        account, participant_name="Jane Doe", participant_handle="@jane", preview="Order?"
    )
    make_message(conversation, text="Where is my order?", at=timezone.now() - timedelta(hours=1))
    return conversation


def url(name, *args):
    return reverse(f"community:{name}", args=args)


def state(conversation):
    """Everything a refused request must leave as it was."""
    conversation.refresh_from_db()
    return (
        conversation.assignee_id,
        conversation.status,
        conversation.priority,
        list(conversation.tags),
        conversation.messages.count(),
        list(conversation.messages.values_list("hidden", "liked")),
        InternalNote.objects.count(),
        AuditEvent.objects.count(),
        Notification.objects.count(),
    )


# -- the list ------------------------------------------------------------------------------------


def test_staff_see_the_inbox_with_its_conversations(login, manager, marketer, conversation):
    for user in (manager, marketer):
        response = login(user).get(url("inbox"))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Jane Doe" in page
        assert "Where is my order?" in page
        assert "Waiting for us" in page
        assert f'href="{url("conversation", conversation.pk)}?' in page
        assert 'hx-push-url="true"' in page
        assert 'hx-target="#conversation-panel"' in page


@pytest.mark.parametrize("persona", ["client_user", "other_client"])
def test_clients_never_see_the_inbox(login, personas, persona, conversation):
    response = login(personas[persona]).get(url("inbox"))

    assert response.status_code == 403
    assert b"Where is my order?" not in response.content


def test_a_brand_filter_outside_ones_brands_is_a_404_and_a_clients_brand_a_403(
    login, brand, outsider, other_client, client_user, conversation
):
    query = f"?brand={brand.pk}"
    assert login(outsider).get(url("inbox") + query).status_code == 404
    assert login(other_client).get(url("inbox") + query).status_code == 404
    assert login(client_user).get(url("inbox") + query).status_code == 403


def test_an_outsider_sees_only_their_own_agencys_conversations(
    login, outsider, conversation, other_account
):
    make_conversation(other_account, participant_name="Rival Fan")

    page = login(outsider).get(url("inbox")).content.decode()

    assert "Rival Fan" in page
    assert "Jane Doe" not in page


def test_the_inbox_shows_open_conversations_unless_asked_otherwise(login, manager, account):
    make_conversation(account, participant_name="Open One")
    make_conversation(account, participant_name="Closed One", status="closed")
    client = login(manager)

    default = client.get(url("inbox")).content.decode()
    everything = client.get(url("inbox") + "?status=").content.decode()
    closed = client.get(url("inbox") + "?status=closed").content.decode()

    assert "Open One" in default and "Closed One" not in default
    assert "Open One" in everything and "Closed One" in everything
    assert "Closed One" in closed and "Open One" not in closed


@pytest.mark.parametrize(
    ("query", "field_value"),
    [
        ("kind=direct", {"kind": "direct"}),
        ("sentiment=negative", {"sentiment": "negative"}),
        ("priority=urgent", {"priority": "urgent"}),
        ("tag=vip", {"tags": ["vip"]}),
        ("assignee=me", "assignee"),
        ("assignee=unassigned", "unassigned"),
        ("q=grinder", {"preview": "my grinder broke"}),
    ],
)
def test_each_filter_of_the_page(login, manager, account, query, field_value):
    if field_value == "assignee":
        fields = {"assignee": manager}
    elif field_value == "unassigned":
        fields = {}
    else:
        fields = dict(field_value)
    make_conversation(account, participant_name="Wanted Person", **fields)
    other = {} if field_value == "unassigned" else {"participant_name": "Other Person"}
    if field_value == "unassigned":
        make_conversation(account, participant_name="Other Person", assignee=manager)
    else:
        make_conversation(account, **other)

    response = login(manager).get(f"{url('inbox')}?status=open&{query}")

    page = response.content.decode()
    assert "Wanted Person" in page
    assert "Other Person" not in page


def test_brand_and_account_filters_of_the_page(login, manager, brand, sibling_brand, account):
    from tests.factories import SocialAccountFactory

    second = SocialAccountFactory(brand=sibling_brand, handle="@bikes")
    make_conversation(account, participant_name="Coffee Person")
    make_conversation(second, participant_name="Bike Person")
    client = login(manager)

    by_brand = client.get(f"{url('inbox')}?brand={sibling_brand.pk}").content.decode()
    by_account = client.get(f"{url('inbox')}?account={account.pk}").content.decode()

    assert "Bike Person" in by_brand and "Coffee Person" not in by_brand
    assert "Coffee Person" in by_account and "Bike Person" not in by_account


def test_a_bad_filter_is_named_and_left_out(login, manager, conversation):
    page = login(manager).get(f"{url('inbox')}?kind=fax").content.decode()

    assert "Some filters could not be used" in page
    assert "Jane Doe" in page


def test_text_search_on_the_page_finds_a_message_body_once(login, manager, account):
    hit = make_conversation(account, participant_name="Grinder Owner", preview="thanks")
    for _ in range(3):
        make_message(hit, text="the grinder is broken")

    page = login(manager).get(f"{url('inbox')}?q=GRINDER").content.decode()

    assert page.count(f'data-conversation-row="{hit.pk}"') == 1
    assert "1 conversation" in page


def _page_queries(client):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url("inbox"))
    assert response.status_code == 200
    return len(captured)


def test_the_list_page_has_a_constant_query_count(login, manager, marketer, account):
    client = login(manager)
    for _ in range(2):
        make_message(make_conversation(account, assignee=marketer, tags=["vip"]))
    two = _page_queries(client)
    for _ in range(23):
        conversation = make_conversation(account, assignee=manager)
        make_message(conversation)
        make_message(conversation, direction="out")
    twenty_five = _page_queries(client)

    assert Conversation.objects.count() == 25
    assert two == twenty_five


def _row(page, conversation):
    """The list's <li> of the conversation."""
    at = page.index(f'data-conversation-row="{conversation.pk}"')
    return page[page.rindex("<li", 0, at) : page.index("</li>", at)]


def test_each_row_says_who_what_where_and_when(login, manager, marketer, account):
    """The rows are prepared in the view (community/views/inbox_list.py): every field the
    template used to work out per row is still there, escaped, with the filters on the link."""
    now = timezone.now()
    answered = make_conversation(
        account,
        participant_name="",
        participant_handle="@kim",
        assignee=marketer,
        tags=["vip", "order"],
        priority=Conversation.Priority.HIGH,
        first_inbound_at=now - timedelta(hours=30),
        first_response_at=now - timedelta(hours=2),
        last_message_at=now - timedelta(hours=2),
    )
    make_message(answered, text="Where is it?", at=now - timedelta(hours=3))
    reply = "Shipped <b>today</b> & " + "x" * 150
    make_message(answered, direction="out", text=reply, at=now - timedelta(hours=2))
    waiting = make_conversation(
        account, participant_name="", participant_handle="", priority=Conversation.Priority.HIGH
    )
    make_message(waiting, text="Hello?")
    client = login(manager)
    query = "priority=high&tag=vip"

    page = client.get(f"{url('inbox')}?{query}").content.decode()
    row = _row(page, answered)

    link = f"{url('conversation', answered.pk)}?priority=high&amp;tag=vip"
    assert f'href="{link}"' in row and f'hx-get="{link}"' in row
    assert '<span class="inbox-item__who">@kim</span>' in row
    assert "is-waiting" not in row and "Waiting for us" not in row
    shown = "Us: Shipped &lt;b&gt;today&lt;/b&gt; &amp; " + "x" * 116 + "…</span>"
    assert f'<span class="inbox-item__preview">{shown}' in row
    assert f"Comment thread · {account} · {account.brand.name}</span>" in row
    assert "Open · High priority ·" in row
    assert (marketer.get_full_name() or marketer.get_username()) in row
    assert '<span class="tag">vip</span><span class="tag">order</span>' in row
    assert '<span class="sla sla--missed">Answered late</span>' in row
    at = (now - timedelta(hours=2)).isoformat()
    assert re.search(
        rf'<time datetime="{re.escape(at)}">(1|2)\xa0hours?(, \d+\xa0minutes?)? ago', row
    )
    # The filter on tags left the second conversation out; without it, it is waiting for us.
    assert f'data-conversation-row="{waiting.pk}"' not in page
    page = client.get(f"{url('inbox')}?priority=high").content.decode()
    row = _row(page, waiting)
    assert "inbox-item is-waiting" in row
    assert '<span class="inbox-item__who">Someone</span>' in row
    assert '<span class="inbox-item__preview">Hello?</span>' in row
    assert "Unassigned" in row


def test_the_open_conversation_is_marked_in_the_list(login, manager, conversation, account):
    other = make_conversation(account)
    page = login(manager).get(url("conversation", conversation.pk)).content.decode()

    current = _row(page, conversation)
    assert "is-current" in current and 'aria-current="true"' in current
    row = _row(page, other)
    assert "is-current" not in row and "aria-current" not in row


def test_the_list_polls_itself_and_answers_htmx_with_the_list_only(login, manager, conversation):
    client = login(manager)
    page = client.get(url("inbox")).content.decode()
    assert 'id="inbox-list"' in page
    assert 'hx-trigger="every 10s"' in page

    partial = client.get(url("inbox") + "?status=open", headers=HTMX_LIST).content.decode()

    assert partial.lstrip().startswith("{%") is False
    assert "<html" not in partial
    assert 'id="inbox-list"' in partial
    assert "Jane Doe" in partial


def test_the_nav_links_the_inbox_for_staff_only(login, manager, client_user, conversation):
    assert f'href="{url("inbox")}"' in login(manager).get(reverse("dashboard")).content.decode()
    client_page = login(client_user).get(reverse("dashboard")).content.decode()
    assert f'href="{url("inbox")}"' not in client_page


# -- one conversation ----------------------------------------------------------------------------


def test_the_conversation_page_shows_the_thread_notes_and_send_states(login, manager, conversation):
    InternalNote.objects.create(conversation=conversation, author=manager, text="VIP customer")
    make_message(
        conversation, direction="out", text="Queued answer", sent_at=None, send_state="pending"
    )
    make_message(
        conversation,
        direction="out",
        text="Broken answer",
        send_state="failed",
        last_error="Token expired",
    )
    make_message(conversation, direction="out", text="Good answer", send_state="sent")

    response = login(manager).get(url("conversation", conversation.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page and 'id="inbox-list"' in page
    assert "thread-item--in" in page and "thread-item--out" in page
    assert re.search(r"thread-item--note.*Internal note.*VIP customer", page, re.S)
    assert "Waiting to be sent" in page
    assert "Failed: Token expired" in page
    assert ">Sent<" in page
    assert "First response due soon" not in page
    assert "no answer yet; due in" in page
    assert 'id="reply-box"' in page
    assert 'id="assign-me"' in page and 'id="status-closed"' in page
    assert 'aria-live="polite"' in page


def test_htmx_gets_the_panel_only(login, manager, conversation):
    response = login(manager).get(url("conversation", conversation.pk), headers=HTMX_PANEL)

    page = response.content.decode()
    assert "<html" not in page
    assert page.lstrip().startswith("{%") is False
    assert 'id="conversation-panel"' in page
    assert 'id="inbox-list"' not in page


def test_the_sla_and_first_response_are_said_in_words(login, manager, account):
    now = timezone.now()
    late = make_conversation(account, first_inbound_at=now - timedelta(hours=30))
    answered = make_conversation(
        account,
        first_inbound_at=now - timedelta(hours=3),
        first_response_at=now - timedelta(hours=1),
    )
    client = login(manager)

    late_page = client.get(url("conversation", late.pk), headers=HTMX_PANEL).content.decode()
    answered_page = client.get(
        url("conversation", answered.pk), headers=HTMX_PANEL
    ).content.decode()

    assert "First response overdue" in late_page
    assert "no answer yet; it was due 6" in late_page
    assert "Answered in time" in answered_page
    assert "first response after 2" in answered_page


def test_a_marketer_reads_the_conversation_without_the_forms(login, marketer, conversation):
    page = login(marketer).get(url("conversation", conversation.pk)).content.decode()

    assert "Where is my order?" in page
    assert 'id="reply-box"' not in page
    assert "Your role reads the inbox" in page


@pytest.mark.parametrize("persona", ["outsider", "other_client", "client_user"])
@pytest.mark.parametrize("name", ["conversation", "conversation-messages"])
def test_a_conversation_outside_ones_inbox_is_a_404(login, personas, persona, name, conversation):
    after = urlencode({"after": timezone.now().isoformat()})
    response = login(personas[persona]).get(f"{url(name, conversation.pk)}?{after}")

    assert response.status_code == 404


# -- writes: every endpoint refuses the wrong people and changes nothing -------------------------


def _writes(conversation, manager, saved):
    message = conversation.messages.get()
    return {
        "assign": (url("conversation-assign", conversation.pk), {"assignee": manager.pk}),
        "status": (url("conversation-status", conversation.pk), {"status": "closed"}),
        "priority": (url("conversation-priority", conversation.pk), {"priority": "urgent"}),
        "tags": (url("conversation-tags", conversation.pk), {"tags": "vip"}),
        "note": (url("conversation-note", conversation.pk), {"text": "sneaky"}),
        "reply": (url("conversation-reply", conversation.pk), {"text": "sneaky"}),
        "hide": (url("message-hide", conversation.pk, message.pk), {"value": "1"}),
        "like": (url("message-like", conversation.pk, message.pk), {"value": "1"}),
    }


WRITES = ["assign", "status", "priority", "tags", "note", "reply", "hide", "like"]


@pytest.fixture
def moderation(monkeypatch):
    """A platform that lets us hide and like, so only the role can refuse."""
    from agency.platforms.sandbox import SandboxAdapter

    monkeypatch.setattr(SandboxAdapter, "supports_hide", True, raising=False)
    monkeypatch.setattr(SandboxAdapter, "supports_like", True, raising=False)
    monkeypatch.setattr(SandboxAdapter, "set_hidden", lambda *a: None, raising=False)
    monkeypatch.setattr(SandboxAdapter, "set_liked", lambda *a: None, raising=False)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("outsider", 404), ("other_client", 404), ("client_user", 404), ("marketer", 403)],
)
@pytest.mark.parametrize("action", WRITES)
def test_writes_are_refused_and_change_nothing(
    login, personas, manager, persona, status, action, conversation, moderation
):
    saved = SavedReply.objects.create(brand=conversation.brand, name="Hi", text="Hi")
    target, data = _writes(conversation, manager, saved)[action]
    before = state(conversation)

    response = login(personas[persona]).post(target, data)

    assert response.status_code == status
    assert state(conversation) == before


@pytest.mark.parametrize(
    ("persona", "status"),
    [("outsider", 404), ("other_client", 404), ("client_user", 404), ("marketer", 403)],
)
def test_saved_reply_fill_is_refused_to_the_wrong_people(
    login, personas, persona, status, conversation
):
    saved = SavedReply.objects.create(brand=conversation.brand, name="Hi", text="Hi {first_name}")

    response = login(personas[persona]).get(
        url("saved-reply-fill", conversation.pk, saved.pk), headers={"HX-Request": "true"}
    )

    assert response.status_code == status


@pytest.mark.parametrize("action", WRITES)
def test_gets_on_write_endpoints_are_not_allowed(login, manager, conversation, action):
    target, _ = _writes(conversation, manager, None)[action]

    assert login(manager).get(target).status_code == 405


def test_a_manager_assigns_closes_tags_and_notes(login, manager, marketer, conversation):
    client = login(manager)

    client.post(url("conversation-assign", conversation.pk), {"assignee": marketer.pk})
    client.post(url("conversation-status", conversation.pk), {"status": "closed"})
    client.post(url("conversation-tags", conversation.pk), {"tags": "VIP, #Refund"})
    client.post(url("conversation-priority", conversation.pk), {"priority": "high"})
    response = client.post(
        url("conversation-note", conversation.pk),
        {"text": "Courier lost it", "filters": "status=closed"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{url('conversation', conversation.pk)}?status=closed"
    conversation.refresh_from_db()
    assert conversation.assignee == marketer
    assert conversation.status == "closed" and conversation.resolved_at is not None
    assert conversation.tags == ["refund", "vip"]
    assert conversation.priority == "high"
    assert Notification.objects.filter(user=marketer).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Courier lost it" in page
    assert "Internal note added." in page


def test_assigning_a_client_is_refused_in_words(login, manager, client_user, conversation):
    response = login(manager).post(
        url("conversation-assign", conversation.pk), {"assignee": client_user.pk}, follow=True
    )

    assert "Choose someone on the agency&#x27;s staff" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_an_htmx_action_answers_with_the_panel(login, manager, conversation):
    response = login(manager).post(
        url("conversation-status", conversation.pk),
        {"status": "pending"},
        headers=HTMX_PANEL,
        follow=True,
    )

    page = response.content.decode()
    assert "<html" not in page
    assert 'id="conversation-panel"' in page
    assert "Marked pending." in page


def test_hiding_where_the_platform_does_not_allow_it_says_so(login, manager, conversation):
    message = conversation.messages.get()

    response = login(manager).post(url("message-hide", conversation.pk, message.pk), follow=True)

    assert "does not let agency hide messages" in response.content.decode()
    message.refresh_from_db()
    assert message.hidden is False


# -- replies -------------------------------------------------------------------------------------


def test_the_reply_form_queues_a_reply_through_message_reply(
    login, manager, conversation, monkeypatch
):
    from community import services

    calls = []
    real = services.message_reply

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "message_reply", spy)
    client = login(manager)

    response = client.post(url("conversation-reply", conversation.pk), {"text": "It ships today!"})

    assert response.status_code == 302
    assert calls == [{"conversation": conversation, "text": "It ships today!", "by": manager}]
    reply = conversation.messages.get(direction=Message.Direction.OUTBOUND)
    assert reply.send_state == Message.SendState.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "It ships today!" in page
    assert "Waiting to be sent" in page


def test_a_refused_reply_keeps_the_text_and_says_why(login, manager, account):
    conversation = make_conversation(account)  # nothing inbound to answer

    response = login(manager).post(url("conversation-reply", conversation.pk), {"text": "Hello!"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "The reply was not sent." in page
    assert "Hello!</textarea>" in page
    assert not conversation.messages.exists()


def test_a_refused_reply_over_htmx_comes_back_in_the_panel(login, manager, account):
    conversation = make_conversation(account)

    response = login(manager).post(
        url("conversation-reply", conversation.pk), {"text": "Hello!"}, headers=HTMX_PANEL
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert "The reply was not sent." in page
    assert "Hello!</textarea>" in page
    assert not conversation.messages.exists()


# -- polling -------------------------------------------------------------------------------------


def test_polling_answers_204_when_nothing_changed(login, manager, conversation):
    after = urlencode({"after": timezone.now().isoformat()})

    response = login(manager).get(f"{url('conversation-messages', conversation.pk)}?{after}")

    assert response.status_code == 204


def test_polling_brings_a_new_message_and_the_next_poller(login, manager, conversation):
    after = timezone.now()
    make_message(conversation, text="Hello again?")

    response = login(manager).get(
        f"{url('conversation-messages', conversation.pk)}?{urlencode({'after': after.isoformat()})}"
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Hello again?" in page and "Where is my order?" in page
    assert 'id="thread-poller"' in page and 'hx-swap-oob="true"' in page
    assert "1 new message from Jane Doe: Hello again?" in page


def test_polling_without_a_valid_after_is_a_400(login, manager, conversation):
    client = login(manager)
    target = url("conversation-messages", conversation.pk)

    assert client.get(f"{target}?after=yesterday").status_code == 400
    assert client.get(f"{target}?after=2025-01-01T10:00:00").status_code == 400


# -- saved replies -------------------------------------------------------------------------------


def test_a_saved_reply_fills_the_reply_box_rendered(login, manager, conversation):
    saved = SavedReply.objects.create(
        brand=conversation.brand, name="Sorry", text="Sorry {first_name}, {brand} will fix it."
    )
    client = login(manager)
    panel = client.get(url("conversation", conversation.pk), headers=HTMX_PANEL).content.decode()
    fill = url("saved-reply-fill", conversation.pk, saved.pk)
    assert f'hx-get="{fill}"' in panel

    response = client.get(fill, headers={"HX-Request": "true"})

    page = response.content.decode()
    assert 'id="reply-field"' in page
    assert "Sorry Jane, Acme Coffee will fix it.</textarea>" in page


def test_an_unknown_placeholder_is_shown_and_named(login, manager, conversation):
    saved = SavedReply.objects.create(brand=conversation.brand, name="Odd", text="Code {coupon}")

    page = (
        login(manager)
        .get(url("saved-reply-fill", conversation.pk, saved.pk), headers={"HX-Request": "true"})
        .content.decode()
    )

    assert "Code {coupon}</textarea>" in page
    assert 'role="alert"' in page and "no value is known for {coupon}" in page


def test_without_javascript_a_saved_reply_prefills_the_page(login, manager, conversation):
    saved = SavedReply.objects.create(brand=conversation.brand, name="Hi", text="Hi {first_name}!")

    response = login(manager).get(url("saved-reply-fill", conversation.pk, saved.pk), follow=True)

    assert "Hi Jane!</textarea>" in response.content.decode()


def test_a_saved_reply_of_another_brand_is_a_404(login, manager, conversation, sibling_brand):
    saved = SavedReply.objects.create(brand=sibling_brand, name="Hi", text="Hi")

    response = login(manager).get(
        url("saved-reply-fill", conversation.pk, saved.pk), headers={"HX-Request": "true"}
    )

    assert response.status_code == 404


# -- script and shortcuts ------------------------------------------------------------------------


def test_the_shortcuts_script_exists_and_is_referenced_without_inline_script(
    login, manager, conversation
):
    script = (Path(settings.BASE_DIR) / "static" / "js" / "inbox.js").read_text()
    for key in ('"j"', '"k"', '"r"', '"a"', '"e"', '"?"'):
        assert f"case {key}:" in script
    assert "isTyping(event.target)" in script
    assert "TEXTAREA" in script and "INPUT" in script
    assert "showModal" in script

    page = login(manager).get(url("conversation", conversation.pk)).content.decode()

    assert re.search(r'<script src="[^"]*js/inbox\.js" defer></script>', page)
    assert 'id="inbox-help"' in page and "<dialog" in page
    # Strict CSP ahead: no inline script, no inline handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+=|hx-on", page)
