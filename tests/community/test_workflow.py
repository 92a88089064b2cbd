"""The team's work on conversations (services) and the inbox's reads (selectors): refusals in
words, resolved_at, tags, saved replies, moderation where the platform allows it, every list
filter, text search without duplicates, SLA states and a constant query count."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agency.models import AuditEvent, Notification
from agency.platforms.sandbox import SandboxAdapter
from community.models import (
    Conversation,
    InboxSettings,
    InternalNote,
    Message,
    SavedReply,
    Sentiment,
)
from community.selectors import conversation_detail, inbox_conversations
from community.services import (
    conversation_assign,
    conversation_set_priority,
    conversation_set_status,
    conversation_set_tags,
    message_hide,
    message_like,
    note_add,
    saved_reply_create,
    saved_reply_delete,
    saved_reply_render,
    saved_reply_update,
)
from tests.factories import SocialAccountFactory

_seq = iter(range(1, 10**6))


def make_conversation(account, **fields):
    n = next(_seq)
    now = timezone.now()
    defaults = {
        "brand": account.brand,
        "account": account,
        "kind": Conversation.Kind.COMMENT,
        "external_thread_id": f"thread-{n}",
        "participant_handle": f"@person{n}",
        "participant_name": f"Person {n}",
        "preview": f"Hello number {n}",
        "last_message_at": now,
        "first_inbound_at": now,
    }
    defaults.update(fields)
    return Conversation.objects.create(**defaults)


def make_message(conversation, *, direction="in", text="Hi", at=None, **fields):
    n = next(_seq)
    outbound = direction == Message.Direction.OUTBOUND
    defaults = {
        "conversation": conversation,
        "account": conversation.account,
        "direction": direction,
        "author_handle": conversation.account.handle
        if outbound
        else conversation.participant_handle,
        "author_name": "" if outbound else conversation.participant_name,
        "text": text,
        "platform_message_id": f"pm-{n}",
        "sent_at": at or timezone.now(),
        "send_state": Message.SendState.SENT if outbound else Message.SendState.RECEIVED,
    }
    defaults.update(fields)
    return Message.objects.create(**defaults)


@pytest.fixture
def conversation(account):
    conversation = make_conversation(
        account, participant_name="Jane Doe", participant_handle="@jane"
    )
    make_message(conversation, text="Where is my order?")
    return conversation


def reload(obj):
    obj.refresh_from_db()
    return obj


# -- assignment ----------------------------------------------------------------------------------


def test_assigning_to_a_teammate_notifies_them_and_is_audited(conversation, manager, marketer):
    conversation_assign(conversation=conversation, to=marketer, by=manager)

    assert reload(conversation).assignee == marketer
    note = Notification.objects.get(user=marketer)
    assert "assigned you a conversation" in note.title
    assert note.url == f"/inbox/{conversation.pk}/"
    event = AuditEvent.objects.get(action="conversation.assigned")
    assert event.actor == manager
    assert event.data == {"from": None, "to": marketer.pk}


def test_assigning_to_yourself_sends_no_notification(conversation, manager):
    conversation_assign(conversation=conversation, to=manager, by=manager)

    assert reload(conversation).assignee == manager
    assert not Notification.objects.exists()


def test_assigning_to_a_client_user_is_refused_in_words(conversation, manager, client_user):
    with pytest.raises(ValidationError) as refused:
        conversation_assign(conversation=conversation, to=client_user, by=manager)

    assert "is not on the staff of Northwind Social" in refused.value.message_dict["assignee"][0]
    assert reload(conversation).assignee is None
    assert not AuditEvent.objects.exists()


def test_assigning_to_another_agencys_staff_is_refused(conversation, manager, outsider):
    with pytest.raises(ValidationError, match="not on the staff"):
        conversation_assign(conversation=conversation, to=outsider, by=manager)

    assert reload(conversation).assignee is None
    assert not Notification.objects.exists()


def test_unassigning_with_none_clears_the_assignee(conversation, manager, marketer):
    conversation_assign(conversation=conversation, to=marketer, by=manager)
    conversation_assign(conversation=conversation, to=None, by=manager)

    assert reload(conversation).assignee is None
    assert AuditEvent.objects.filter(action="conversation.unassigned").count() == 1


# -- status, tags, priority, notes ---------------------------------------------------------------


def test_closing_sets_resolved_at_and_reopening_clears_it(conversation, manager):
    before = timezone.now()
    conversation_set_status(conversation=conversation, status="closed", by=manager)
    assert reload(conversation).status == "closed"
    assert conversation.resolved_at >= before

    conversation_set_status(conversation=conversation, status="open", by=manager)
    assert reload(conversation).resolved_at is None

    conversation_set_status(conversation=conversation, status="pending", by=manager)
    assert reload(conversation).resolved_at is None
    assert AuditEvent.objects.filter(action="conversation.status_changed").count() == 3


def test_an_unknown_status_is_refused_in_words(conversation, manager):
    with pytest.raises(ValidationError) as refused:
        conversation_set_status(conversation=conversation, status="archived", by=manager)

    assert "open, pending, closed" in refused.value.message_dict["status"][0]
    assert reload(conversation).status == "open"


def test_tags_are_normalised(conversation, manager):
    conversation_set_tags(
        conversation=conversation,
        tags=["  VIP", "#Refund", "vip", "late   delivery", ""],
        by=manager,
    )
    assert reload(conversation).tags == ["late-delivery", "refund", "vip"]

    conversation_set_tags(conversation=conversation, tags="Refund, ,#press", by=manager)
    assert reload(conversation).tags == ["press", "refund"]


def test_too_many_or_too_long_tags_are_refused(conversation, manager):
    with pytest.raises(ValidationError, match="at most 20 tags"):
        conversation_set_tags(
            conversation=conversation, tags=[f"t{i}" for i in range(21)], by=manager
        )
    with pytest.raises(ValidationError, match="at most 40 characters"):
        conversation_set_tags(conversation=conversation, tags=["x" * 41], by=manager)
    assert reload(conversation).tags == []


def test_priority_is_set_and_an_unknown_one_refused(conversation, manager):
    conversation_set_priority(conversation=conversation, priority="urgent", by=manager)
    assert reload(conversation).priority == "urgent"

    with pytest.raises(ValidationError, match="is not a priority"):
        conversation_set_priority(conversation=conversation, priority="asap", by=manager)
    assert reload(conversation).priority == "urgent"


def test_a_note_is_stored_and_an_empty_one_refused(conversation, manager):
    note = note_add(conversation=conversation, text="  Called them back.  ", by=manager)
    assert note.text == "Called them back."
    assert note.author == manager

    with pytest.raises(ValidationError, match="Write the note"):
        note_add(conversation=conversation, text="   ", by=manager)
    assert InternalNote.objects.count() == 1
    assert AuditEvent.objects.filter(action="conversation.note_added").count() == 1


# -- saved replies -------------------------------------------------------------------------------


def test_saved_reply_names_are_unique_per_brand_in_words(brand, sibling_brand, manager):
    saved_reply_create(brand=brand, name="Shipping", text="It ships Monday.", by=manager)

    with pytest.raises(ValidationError) as refused:
        saved_reply_create(brand=brand, name=" shipping ", text="Other.", by=manager)
    assert 'Acme Coffee already has a saved reply named "shipping"' in str(refused.value)

    # Another brand may use the same name.
    saved_reply_create(brand=sibling_brand, name="Shipping", text="Bikes ship Friday.", by=manager)
    assert SavedReply.objects.count() == 2


def test_saved_reply_update_and_delete(brand, manager):
    thanks = saved_reply_create(brand=brand, name="Thanks", text="Thank you!", by=manager)
    saved_reply_create(brand=brand, name="Sorry", text="Sorry {first_name}.", by=manager)

    with pytest.raises(ValidationError, match="already has a saved reply"):
        saved_reply_update(saved_reply=thanks, name="Sorry", text="x", by=manager)
    saved_reply_update(saved_reply=thanks, name="Thanks a lot", text="Thank you!", by=manager)
    assert reload(thanks).name == "Thanks a lot"

    saved_reply_delete(saved_reply=thanks, by=manager)
    assert list(SavedReply.objects.values_list("name", flat=True)) == ["Sorry"]
    assert AuditEvent.objects.filter(action="saved_reply.deleted").count() == 1


def test_a_saved_reply_with_an_unknown_placeholder_is_refused(brand, manager):
    with pytest.raises(ValidationError, match=r"Unknown placeholder \{order\}"):
        saved_reply_create(brand=brand, name="Order", text="Order {order} left.", by=manager)
    assert not SavedReply.objects.exists()


def test_rendering_fills_first_name_brand_and_handle(brand, conversation):
    saved = SavedReply.objects.create(
        brand=brand, name="Hi", text="Hi {first_name} ({handle}), {brand} here."
    )

    rendered = saved_reply_render(saved_reply=saved, conversation=conversation)

    assert rendered == "Hi Jane (@jane), Acme Coffee here."
    assert rendered.problems == []


def test_rendering_uses_the_handle_without_at_when_the_name_is_unknown(brand, account):
    conversation = make_conversation(account, participant_name="", participant_handle="@sam_k")
    saved = SavedReply.objects.create(brand=brand, name="Hi", text="Hi {first_name}!")

    assert saved_reply_render(saved_reply=saved, conversation=conversation) == "Hi sam_k!"


def test_rendering_leaves_unknown_placeholders_visible_and_reports_them(brand, conversation):
    # Stored by the admin or an import, past the service's check.
    saved = SavedReply.objects.create(
        brand=brand, name="Odd", text="Dear {first_name}, code {coupon} {0} {{x}} { } {"
    )

    rendered = saved_reply_render(saved_reply=saved, conversation=conversation)

    assert rendered == "Dear Jane, code {coupon} {0} {{x}} { } {"
    assert rendered.unknown == ("coupon", "x")
    assert "no value is known for {coupon}, {x}" in rendered.problems[0]


# -- moderation ----------------------------------------------------------------------------------


def test_hiding_is_refused_where_the_platform_does_not_allow_it(conversation, manager):
    message = conversation.messages.get()

    with pytest.raises(ValidationError, match="does not let agency hide messages"):
        message_hide(message=message, by=manager)
    assert reload(message).hidden is False
    assert not AuditEvent.objects.exists()


def test_hiding_and_liking_where_the_platform_allows_it(monkeypatch, conversation, manager):
    calls = []
    monkeypatch.setattr(SandboxAdapter, "supports_hide", True, raising=False)
    monkeypatch.setattr(SandboxAdapter, "supports_like", True, raising=False)
    monkeypatch.setattr(
        SandboxAdapter,
        "set_hidden",
        lambda self, a, pid, v: calls.append(("hide", pid, v)),
        raising=False,
    )
    monkeypatch.setattr(
        SandboxAdapter,
        "set_liked",
        lambda self, a, pid, v: calls.append(("like", pid, v)),
        raising=False,
    )
    message = conversation.messages.get()

    message_hide(message=message, by=manager)
    message_like(message=message, by=manager)

    assert reload(message).hidden is True
    assert message.liked is True
    assert calls == [
        ("hide", message.platform_message_id, True),
        ("like", message.platform_message_id, True),
    ]
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "message.hidden",
        "message.liked",
    }


def test_our_own_replies_cannot_be_liked(monkeypatch, conversation, manager):
    monkeypatch.setattr(SandboxAdapter, "supports_like", True, raising=False)
    reply = make_message(conversation, direction="out", text="On its way!")

    with pytest.raises(ValidationError, match="Only the audience's messages can be liked"):
        message_like(message=reply, by=manager)
    assert reload(reply).liked is False


# -- the list ------------------------------------------------------------------------------------


@pytest.fixture
def spread(brand, sibling_brand, account, manager, marketer):
    """One conversation per filter value, named by what sets it apart."""
    sibling_account = SocialAccountFactory(brand=sibling_brand, handle="@bluebikes")
    second_account = SocialAccountFactory(brand=brand, handle="@acme_second")
    now = timezone.now()
    rows = {
        "plain": make_conversation(account, last_message_at=now - timedelta(minutes=1)),
        "closed": make_conversation(
            account, status="closed", last_message_at=now - timedelta(minutes=2)
        ),
        "mine": make_conversation(
            account, assignee=manager, last_message_at=now - timedelta(minutes=3)
        ),
        "marketers": make_conversation(
            account, assignee=marketer, last_message_at=now - timedelta(minutes=4)
        ),
        "direct": make_conversation(
            account, kind="direct", last_message_at=now - timedelta(minutes=5)
        ),
        "angry": make_conversation(
            account, sentiment=Sentiment.NEGATIVE, last_message_at=now - timedelta(minutes=6)
        ),
        "tagged": make_conversation(
            account, tags=["refund", "vip"], last_message_at=now - timedelta(minutes=7)
        ),
        "urgent": make_conversation(
            account, priority="urgent", last_message_at=now - timedelta(minutes=8)
        ),
        "sibling": make_conversation(sibling_account, last_message_at=now - timedelta(minutes=9)),
        "second": make_conversation(second_account, last_message_at=now - timedelta(minutes=10)),
    }
    return rows


def names(qs, spread):
    by_pk = {c.pk: name for name, c in spread.items()}
    return [by_pk[c.pk] for c in qs]


def test_the_list_is_ordered_by_latest_message(spread, manager):
    assert names(inbox_conversations(user=manager, filters={}), spread) == list(spread)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "closed"}, ["closed"]),
        ({"assignee": "me"}, ["mine"]),
        ({"kind": "direct"}, ["direct"]),
        ({"sentiment": "negative"}, ["angry"]),
        ({"tag": "VIP"}, ["tagged"]),
        ({"tag": "vi"}, []),
        ({"priority": "urgent"}, ["urgent"]),
    ],
)
def test_each_filter_narrows_the_list(spread, manager, filters, expected):
    assert names(inbox_conversations(user=manager, filters=filters), spread) == expected


def test_brand_account_and_assignee_filters(spread, manager, marketer, sibling_brand):
    qs = inbox_conversations
    assert names(qs(user=manager, filters={"brand": sibling_brand}), spread) == ["sibling"]
    assert names(qs(user=manager, filters={"brand": sibling_brand.pk}), spread) == ["sibling"]
    second = spread["second"].account
    assert names(qs(user=manager, filters={"account": second}), spread) == ["second"]
    assert names(qs(user=manager, filters={"assignee": str(marketer.pk)}), spread) == ["marketers"]
    unassigned = names(qs(user=manager, filters={"assignee": "unassigned"}), spread)
    assert "mine" not in unassigned
    assert "marketers" not in unassigned
    assert len(unassigned) == len(spread) - 2


def test_text_search_finds_a_message_body_once_however_many_messages_match(account, manager):
    hit = make_conversation(account, preview="Thanks!")
    for _ in range(3):
        make_message(hit, text="The GRINDER arrived broken")
    miss = make_conversation(account, preview="Lovely beans")
    make_message(miss, text="Lovely beans")
    by_preview = make_conversation(account, preview="my grinder is loud")

    found = list(inbox_conversations(user=manager, filters={"q": "grinder"}))

    assert sorted(c.pk for c in found) == sorted([hit.pk, by_preview.pk])


def test_the_list_shows_the_last_message_and_whether_we_owe_an_answer(account, manager):
    now = timezone.now()
    waiting = make_conversation(account)
    make_message(waiting, text="Any news?", at=now - timedelta(minutes=5))
    answered = make_conversation(account)
    make_message(answered, text="Any news?", at=now - timedelta(minutes=5))
    make_message(answered, direction="out", text="Tomorrow!", at=now - timedelta(minutes=1))
    pending = make_conversation(account)
    make_message(pending, text="Hello?", at=now - timedelta(minutes=5))
    make_message(pending, direction="out", text="Hi!", sent_at=None, send_state="pending")

    rows = {c.pk: c for c in inbox_conversations(user=manager, filters={})}

    assert rows[waiting.pk].needs_reply is True
    assert rows[answered.pk].needs_reply is False
    assert rows[answered.pk].last_text == "Tomorrow!"
    assert rows[answered.pk].last_direction == "out"
    assert rows[pending.pk].needs_reply is False


def test_sla_states_follow_the_brands_target(brand, account, manager):
    InboxSettings.objects.create(brand=brand, first_response_target_minutes=60)
    now = timezone.now()
    cases = {
        "breached": make_conversation(account, first_inbound_at=now - timedelta(minutes=61)),
        "due_soon": make_conversation(account, first_inbound_at=now - timedelta(minutes=50)),
        "on_track": make_conversation(account, first_inbound_at=now - timedelta(minutes=10)),
        "met": make_conversation(
            account,
            first_inbound_at=now - timedelta(hours=3),
            first_response_at=now - timedelta(hours=2, minutes=30),
        ),
        "missed": make_conversation(
            account,
            first_inbound_at=now - timedelta(hours=3),
            first_response_at=now - timedelta(hours=1),
        ),
        "none": make_conversation(account, first_inbound_at=None),
    }
    closed = make_conversation(account, status="closed", first_inbound_at=now - timedelta(hours=5))

    states = {c.pk: c.sla_state for c in inbox_conversations(user=manager, filters={})}

    assert {name: states[c.pk] for name, c in cases.items()} == {n: n for n in cases}
    assert states[closed.pk] == "none"


def test_the_sla_defaults_to_24_hours(account, manager):
    now = timezone.now()
    late = make_conversation(account, first_inbound_at=now - timedelta(hours=25))
    soon = make_conversation(account, first_inbound_at=now - timedelta(hours=20))

    states = {c.pk: c.sla_state for c in inbox_conversations(user=manager, filters={})}

    assert states[late.pk] == "breached"
    assert states[soon.pk] == "due_soon"


def _list_queries(user):
    with CaptureQueriesContext(connection) as captured:
        rows = list(inbox_conversations(user=user, filters={"status": "open"}))
        shown = [
            (row.account.handle, row.brand.name, row.assignee, row.last_text, row.sla_state)
            for row in rows
        ]
    return len(captured), len(shown)


def test_the_list_is_one_query_whatever_its_length(account, manager, marketer):
    for _ in range(2):
        conversation = make_conversation(account, assignee=marketer)
        make_message(conversation)
    small, two = _list_queries(manager)
    for _ in range(23):
        conversation = make_conversation(account, assignee=manager)
        make_message(conversation)
        make_message(conversation, direction="out")
    large, many = _list_queries(manager)

    assert (two, many) == (2, 25)
    assert small == large == 1


def test_the_list_holds_only_the_users_inbox_brands(
    conversation, outsider, client_user, other_account
):
    foreign = make_conversation(other_account)

    assert [c.pk for c in inbox_conversations(user=outsider, filters={})] == [foreign.pk]
    # A client never sees the inbox, not even of their own brand.
    assert list(inbox_conversations(user=client_user, filters={})) == []


def test_the_detail_puts_messages_and_notes_in_order(conversation, manager, admin, marketer):
    first = conversation.messages.get()
    first.sent_at = timezone.now() - timedelta(minutes=10)
    first.save()
    note = note_add(conversation=conversation, text="Check the courier", by=manager)
    reply = make_message(
        conversation, direction="out", text="Checking!", sent_at=None, send_state="pending"
    )
    SavedReply.objects.create(brand=conversation.brand, name="Hi", text="Hi")

    detail = conversation_detail(user=manager, conversation_id=conversation.pk)

    assert [row for _, row in detail.items] == [first, note, reply]
    assert {u.pk for u in detail.assignee_options} == {manager.pk, admin.pk, marketer.pk}
    assert [s.name for s in detail.saved_replies] == ["Hi"]


def test_the_detail_of_a_foreign_conversation_does_not_exist(conversation, outsider):
    with pytest.raises(Conversation.DoesNotExist):
        conversation_detail(user=outsider, conversation_id=conversation.pk)
