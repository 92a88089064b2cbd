"""Reads of the inbox the team works in: the filtered list of conversations and one conversation
with everything its page shows.

The list is one query whatever its length: account, assignee and brand are joined, and the
last message, the "waiting for us" flag and the SLA state are annotated by subqueries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from agency.models import Brand, Role
from agency.permissions import brands_for_user
from community.models import Conversation, InboxSettings, InternalNote, Message, SavedReply
from community.selectors.inbox import DEFAULT_FIRST_RESPONSE_MINUTES

__all__ = [
    "ConversationDetail",
    "SlaState",
    "assignee_options",
    "conversation_detail",
    "conversation_for_user",
    "inbox_brands_for_user",
    "inbox_conversations",
    "inbox_staff_for_user",
    "saved_replies_for_brand",
    "thread_changed_since",
    "thread_items",
]

DUE_SOON_SHARE = 0.8


class SlaState:
    """The first-response SLA of a conversation, as annotated on `sla_state`."""

    NONE = "none"
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"

    LABELS = {
        NONE: "Nothing to answer",
        ON_TRACK: "On track",
        DUE_SOON: "First response due soon",
        BREACHED: "First response overdue",
        MET: "Answered in time",
        MISSED: "Answered late",
    }


def inbox_brands_for_user(*, user) -> QuerySet[Brand]:
    """The brands whose inbox the user works in or reads: staff only, never a client."""
    return brands_for_user(user=user).exclude(user_role=Role.CLIENT)


def inbox_staff_for_user(*, user) -> QuerySet:
    """Everyone on the staff of the agencies whose inbox the user sees (filter choices)."""
    agencies = inbox_brands_for_user(user=user).values("agency_id")
    return (
        get_user_model()
        .objects.filter(memberships__agency_id__in=agencies, is_active=True)
        .distinct()
        .order_by("first_name", "username")
    )


def assignee_options(*, brand: Brand) -> QuerySet:
    """Who a conversation of the brand may be assigned to: the staff of its agency."""
    return (
        get_user_model()
        .objects.filter(memberships__agency_id=brand.agency_id, is_active=True)
        .distinct()
        .order_by("first_name", "username")
    )


def _minutes(expression, *, share: float = 1.0):
    # An integer number of minutes as a duration, on PostgreSQL and SQLite alike.
    return ExpressionWrapper(
        expression * Value(timedelta(minutes=share), output_field=DurationField()),
        output_field=DurationField(),
    )


def _annotated(qs: QuerySet[Conversation], *, now: datetime) -> QuerySet[Conversation]:
    messages = Message.objects.filter(conversation=OuterRef("pk")).annotate(
        at=Coalesce("sent_at", "created_at")
    )
    latest = messages.order_by("-at", "-created_at")
    inbound = latest.filter(direction=Message.Direction.INBOUND)
    outbound = latest.filter(direction=Message.Direction.OUTBOUND)
    target = Coalesce(
        Subquery(
            InboxSettings.objects.filter(brand=OuterRef("brand")).values(
                "first_response_target_minutes"
            )[:1]
        ),
        Value(DEFAULT_FIRST_RESPONSE_MINUTES),
        output_field=IntegerField(),
    )
    qs = qs.annotate(
        last_text=Subquery(latest.values("text")[:1]),
        last_direction=Subquery(latest.values("direction")[:1]),
        last_inbound_at=Subquery(inbound.values("at")[:1], output_field=DateTimeField()),
        last_outbound_at=Subquery(outbound.values("at")[:1], output_field=DateTimeField()),
        sla_target_minutes=target,
    )
    deadline = ExpressionWrapper(
        F("first_inbound_at") + _minutes(F("sla_target_minutes")), output_field=DateTimeField()
    )
    due_soon_from = ExpressionWrapper(
        F("first_inbound_at") + _minutes(F("sla_target_minutes"), share=DUE_SOON_SHARE),
        output_field=DateTimeField(),
    )
    qs = qs.annotate(sla_deadline=deadline, sla_due_soon_from=due_soon_from)
    return qs.annotate(
        needs_reply=Case(
            When(last_inbound_at__isnull=True, then=Value(False)),
            When(last_outbound_at__isnull=True, then=Value(True)),
            When(last_outbound_at__lt=F("last_inbound_at"), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        sla_state=Case(
            When(first_inbound_at__isnull=True, then=Value(SlaState.NONE)),
            When(
                first_response_at__isnull=False,
                first_response_at__lte=F("sla_deadline"),
                then=Value(SlaState.MET),
            ),
            When(first_response_at__isnull=False, then=Value(SlaState.MISSED)),
            # Closed without an answer (spam, a duplicate): nothing is owed any more.
            When(status=Conversation.Status.CLOSED, then=Value(SlaState.NONE)),
            When(sla_deadline__lte=Value(now), then=Value(SlaState.BREACHED)),
            When(sla_due_soon_from__lte=Value(now), then=Value(SlaState.DUE_SOON)),
            default=Value(SlaState.ON_TRACK),
            output_field=CharField(),
        ),
    )


def _visible(*, user) -> QuerySet[Conversation]:
    return Conversation.objects.filter(brand__in=inbox_brands_for_user(user=user).values("pk"))


def _tag_lookup(tag: str) -> Q:
    if connection.features.supports_json_field_contains:
        return Q(tags__contains=[tag])
    # SQLite (a developer's quick run) has no JSON containment; tags are normalised words, so
    # their quoted form in the stored JSON text is exact enough.
    return Q(tags__icontains=f'"{tag}"')


def inbox_conversations(
    *,
    user,
    filters: Mapping[str, Any] | None = None,
    within: QuerySet[Conversation] | None = None,
) -> QuerySet:
    """The conversations of the user's inbox brands matching `filters`, latest activity first.

    filters: brand, account, status, kind, sentiment, priority (values or empty), assignee
    ("me", "unassigned", a user or a user id), tag, q (words in the preview or any message).

    within: conversations the caller has already kept to the user's inbox brands (the API's
    viewset does, by the brand ids it read once per request); they are used as they are.
    Scoping them again here by the membership subquery made PostgreSQL sort every
    conversation of the brands for one page, where `brand_id IN (ids)` walks
    inbox_brand_latest in order and stops after the page.
    """
    from community.services.workflow import normalise_tags

    filters = filters or {}
    qs = _visible(user=user) if within is None else within
    for name in ("brand", "account", "status", "kind", "sentiment", "priority"):
        value = filters.get(name)
        if value not in (None, ""):
            qs = qs.filter(**{name: value})
    assignee = filters.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif assignee not in (None, ""):
        qs = qs.filter(assignee=assignee)
    tags = normalise_tags(filters.get("tag") or "")
    for tag in tags:
        qs = qs.filter(_tag_lookup(tag))
    text = (filters.get("q") or "").strip()
    if text:
        # EXISTS, not a join: a conversation with many matching messages is still one row.
        in_messages = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=text)
        qs = qs.filter(
            Q(preview__icontains=text)
            | Q(participant_handle__icontains=text)
            | Q(participant_name__icontains=text)
            | Exists(in_messages)
        )
    qs = qs.select_related("account", "assignee", "brand")
    return _annotated(qs, now=timezone.now()).order_by(
        F("last_message_at").desc(nulls_last=True), "-created_at"
    )


def conversation_for_user(*, user, conversation_id) -> Conversation:
    """One conversation of the user's inbox brands, annotated like a row of the list.
    Raises Conversation.DoesNotExist for anything else (the view's 404)."""
    try:
        return (
            _annotated(
                _visible(user=user).select_related("account", "assignee", "brand__agency"),
                now=timezone.now(),
            )
        ).get(pk=conversation_id)
    except (ValueError, TypeError) as exc:
        raise Conversation.DoesNotExist from exc


@dataclass
class ConversationDetail:
    conversation: Conversation
    items: list[tuple[str, Any]]
    assignee_options: list
    saved_replies: list[SavedReply]
    first_response_delay: timedelta | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def saved_replies_for_brand(*, brand: Brand) -> QuerySet[SavedReply]:
    """The brand's saved replies by name (its management page and the inbox's picker)."""
    return SavedReply.objects.filter(brand=brand).order_by("name")


def thread_items(*, conversation: Conversation) -> list[tuple[str, Any]]:
    """Messages and internal notes in the order they happened, as ("message"|"note", row)."""
    messages = (
        conversation.messages.select_related("author_user")
        .annotate(at=Coalesce("sent_at", "created_at"))
        .order_by("at", "created_at")
    )
    notes = InternalNote.objects.filter(conversation=conversation).select_related("author")
    items: list[tuple[Any, int, str, Any]] = [(m.at, 0, "message", m) for m in messages] + [
        (n.created_at, 1, "note", n) for n in notes
    ]
    items.sort(key=lambda item: (item[0], item[1]))
    return [(kind, row) for _, _, kind, row in items]


def thread_changed_since(*, conversation: Conversation, since: datetime) -> bool:
    return (
        conversation.messages.filter(Q(created_at__gt=since) | Q(updated_at__gt=since)).exists()
        or InternalNote.objects.filter(conversation=conversation, updated_at__gt=since).exists()
    )


def conversation_detail(*, user, conversation_id) -> ConversationDetail:
    """Everything the conversation's page shows. Raises Conversation.DoesNotExist when the user
    has no inbox access to it."""
    conversation = conversation_for_user(user=user, conversation_id=conversation_id)
    delay = None
    if conversation.first_inbound_at and conversation.first_response_at:
        delay = conversation.first_response_at - conversation.first_inbound_at
    return ConversationDetail(
        conversation=conversation,
        items=thread_items(conversation=conversation),
        assignee_options=list(assignee_options(brand=conversation.brand)),
        saved_replies=list(SavedReply.objects.filter(brand=conversation.brand_id)),
        first_response_delay=delay,
    )
