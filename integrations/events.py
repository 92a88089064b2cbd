"""The events other apps emit, one function each: the payload shapes of docs/WEBHOOKS.md live here.

Each is called with one line where the event becomes true (inside that transaction, when there is
one) and goes through `webhook_event_emit`. None of them ever raises: building a payload is ours
to get right, and a bug in it is logged with its traceback instead of undoing a publish, an
inbound message or a goal change.
"""

from __future__ import annotations

import functools
import logging
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from integrations.models import EventType, WebhookEndpoint
from integrations.services import event_id_for, webhook_event_emit

logger = logging.getLogger(__name__)

__all__ = [
    "campaign_over_budget",
    "conversation_assigned",
    "goal_status_changed",
    "message_received",
    "post_failed",
    "post_published",
    "report_ready",
]


# brand id -> (monotonic expiry, the event types its active endpoints want). Every publish and
# every inbound message asks; a query each time was about a sixth of a publish's CPU.
_listeners: dict = {}


def _listening(event_type: str, brand_id) -> bool:
    """Whether any active endpoint wants this brand's event. The answer is kept for
    WEBHOOK_LISTENERS_CACHE_SECONDS in each process: an endpoint saved in this process is seen at
    once (`forget_listeners`), one saved elsewhere within that many seconds (docs/WEBHOOKS.md).
    webhook_event_emit reads the endpoints again, so a stale yes costs a query, never a delivery."""
    now = time.monotonic()
    cached = _listeners.get(brand_id)
    if cached is None or cached[0] <= now:
        endpoints = WebhookEndpoint.objects.filter(
            is_active=True, agency__brands__id=brand_id
        ).filter(Q(brand__isnull=True) | Q(brand_id=brand_id))
        subscribed = endpoints.values_list("event_types", flat=True)
        wanted = frozenset(event for types in subscribed for event in types or ())
        ttl = getattr(settings, "WEBHOOK_LISTENERS_CACHE_SECONDS", 5.0)
        cached = (now + ttl, wanted)
        _listeners[brand_id] = cached
    return event_type in cached[1]


def forget_listeners(**_signal_kwargs) -> None:
    """Connected to WebhookEndpoint's post_save and post_delete (integrations.apps): whoever
    saves an endpoint, a service, the admin or a factory, this process stops trusting its cache."""
    _listeners.clear()


def _never_raises(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:
            logger.exception("webhook event %s not emitted", function.__name__)
            return []

    return wrapper


def _url(name: str, *args) -> str:
    try:
        return settings.SITE_URL.rstrip("/") + reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _user(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
    }


def _amount(value) -> str | None:
    # Money as a string with cents, the same whichever way the Decimal was made.
    return None if value is None else f"{Decimal(value):.2f}"


def _account(account) -> dict[str, Any]:
    return {"id": str(account.pk), "platform": account.platform, "handle": account.handle}


def _target_data(target_id) -> tuple[Any, dict[str, Any]]:
    from calendar_app.models import PostTarget

    # Read back: the engine moves targets with conditional UPDATEs, so its object is stale.
    target = PostTarget.objects.select_related("post__brand", "account").get(pk=target_id)
    post = target.post
    return target, {
        "post": {
            "id": str(post.pk),
            "title": post.title,
            "text": target.effective_text,
            "url": _url("calendar:post-detail", post.pk),
        },
        "target": {
            "id": str(target.pk),
            "state": target.state,
            "account": _account(target.account),
            "external_id": target.external_id,
            "external_url": target.external_url,
            "published_at": target.published_at,
            "attempts": target.attempts,
            "error": target.last_error,
        },
    }


@_never_raises
def post_published(*, target):
    """A target reached `published` (by the engine, the reconciler or a person)."""
    if not _listening(EventType.POST_PUBLISHED, target.post.brand_id):
        return []
    target, data = _target_data(target.pk)
    return webhook_event_emit(
        event_type=EventType.POST_PUBLISHED,
        brand=target.post.brand,
        data=data,
        # Published happens once per target: whichever path notices it, one event.
        event_id=event_id_for(EventType.POST_PUBLISHED, target.pk),
    )


@_never_raises
def post_failed(*, target):
    """A target reached `failed` (it may be retried and fail again: each is its own event)."""
    if not _listening(EventType.POST_FAILED, target.post.brand_id):
        return []
    target, data = _target_data(target.pk)
    return webhook_event_emit(event_type=EventType.POST_FAILED, brand=target.post.brand, data=data)


def _conversation(conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "kind": conversation.kind,
        "status": conversation.status,
        "url": _url("community:conversation", conversation.pk),
    }


@_never_raises
def message_received(*, message):
    """An inbound comment, mention or direct message was stored (once: a second arrival of the
    same platform message stores nothing and emits nothing)."""
    conversation = message.conversation
    if not _listening(EventType.MESSAGE_RECEIVED, conversation.brand_id):
        return []
    return webhook_event_emit(
        event_type=EventType.MESSAGE_RECEIVED,
        brand=conversation.brand,
        data={
            "message": {
                "id": str(message.pk),
                "text": message.text,
                "author_handle": message.author_handle,
                "author_name": message.author_name,
                "sent_at": message.sent_at,
                "sentiment": message.sentiment,
            },
            "conversation": _conversation(conversation),
            "account": _account(message.account),
        },
        event_id=event_id_for(EventType.MESSAGE_RECEIVED, message.pk),
    )


@_never_raises
def conversation_assigned(*, conversation, by):
    """A conversation was given to a staff member (not when it is unassigned)."""
    if not _listening(EventType.CONVERSATION_ASSIGNED, conversation.brand_id):
        return []
    return webhook_event_emit(
        event_type=EventType.CONVERSATION_ASSIGNED,
        brand=conversation.brand,
        data={
            "conversation": _conversation(conversation),
            "assignee": _user(conversation.assignee),
            "assigned_by": _user(by),
        },
    )


@_never_raises
def campaign_over_budget(*, campaign, spent, budget, day):
    """A campaign's spend passed its budget; at most once per campaign and day (the alert's
    own claim), and the event id says so too."""
    if not _listening(EventType.CAMPAIGN_OVER_BUDGET, campaign.brand_id):
        return []
    return webhook_event_emit(
        event_type=EventType.CAMPAIGN_OVER_BUDGET,
        brand=campaign.brand,
        data={
            "campaign": {
                "id": str(campaign.pk),
                "name": campaign.name,
                "platform": campaign.platform,
                "status": campaign.status,
                "url": _url("ads:campaign-detail", campaign.pk),
            },
            "currency": campaign.currency,
            "spent": _amount(spent),
            "budget": _amount(budget),
            "day": day,
        },
        event_id=event_id_for(EventType.CAMPAIGN_OVER_BUDGET, campaign.pk, day),
    )


@_never_raises
def goal_status_changed(*, goal, old, new, current):
    if not _listening(EventType.GOAL_STATUS_CHANGED, goal.brand_id):
        return []
    return webhook_event_emit(
        event_type=EventType.GOAL_STATUS_CHANGED,
        brand=goal.brand,
        data={
            "goal": {
                "id": str(goal.pk),
                "name": goal.name,
                "metric": goal.metric,
                "direction": goal.direction,
                "target": goal.target,
                "due_date": goal.due_date,
                "url": _url("reports:goal-list", goal.brand_id),
            },
            "from": old or None,
            "to": new,
            "current": current,
        },
    )


@_never_raises
def report_ready(*, export):
    """A PDF report export has its file."""
    if not _listening(EventType.REPORT_READY, export.brand_id):
        return []
    return webhook_event_emit(
        event_type=EventType.REPORT_READY,
        brand=export.brand,
        data={
            "report": {
                "id": str(export.pk),
                "period_start": export.period_start,
                "period_end": export.period_end,
                "requested_by": _user(export.requested_by),
                "url": _url("reports:export-detail", export.pk),
                "download_url": _url("reports:export-download", export.pk),
            }
        },
        event_id=event_id_for(EventType.REPORT_READY, export.pk),
    )
