"""Reads of the inbox engine: what to poll and retry, response times and SLA breaches.

Response times, in the terms of the SMART goal "median response time under 24 hours":
- first response time: from the conversation's first inbound message to our first sent reply;
- resolution time: from the first inbound message to when the conversation was closed.
A conversation belongs to a period by its first inbound message (when the person wrote), so a
conversation answered in March but started in February counts for February.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from agency.models import Brand, SocialAccount
from agency.permissions import brands_for_user
from agency.platforms import ADAPTERS, adapter_class
from community.models import Conversation, InboxSettings, Message, WebhookDelivery

__all__ = [
    "DEFAULT_FIRST_RESPONSE_MINUTES",
    "accounts_to_poll",
    "conversations_with_response_times",
    "first_response_target",
    "response_time_overall",
    "response_time_stats",
    "sla_breaches",
    "webhook_deliveries_to_retry",
]

DEFAULT_FIRST_RESPONSE_MINUTES = 24 * 60


def accounts_to_poll() -> QuerySet[SocialAccount]:
    """Connected accounts on networks whose adapter can read the inbox by polling."""
    pollable = [
        platform
        for platform in ADAPTERS
        if getattr(adapter_class(platform), "supports_inbox_polling", False)
    ]
    return SocialAccount.objects.filter(
        platform__in=pollable, status=SocialAccount.Status.CONNECTED
    ).order_by("pk")


def webhook_deliveries_to_retry(*, now: datetime | None = None, older_than: int = 60):
    """Ids of stored deliveries not processed a minute after they arrived."""
    now = now or timezone.now()
    return (
        WebhookDelivery.objects.filter(
            processed_at__isnull=True, received_at__lt=now - timedelta(seconds=older_than)
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )


def conversations_with_response_times(*, brand: Brand) -> QuerySet[Conversation]:
    """The brand's conversations with `first_response_time` and `resolution_time` (durations,
    None while there is no reply or no resolution)."""
    return Conversation.objects.filter(brand=brand).annotate(
        first_response_time=ExpressionWrapper(
            F("first_response_at") - F("first_inbound_at"), output_field=DurationField()
        ),
        resolution_time=ExpressionWrapper(
            F("resolved_at") - F("first_inbound_at"), output_field=DurationField()
        ),
    )


def _median(values: list[timedelta]) -> timedelta | None:
    # statistics.median averages the middle two of an even count; timedeltas add and divide.
    return statistics.median(values) if values else None


def _summary(rows: list[dict]) -> dict:
    first = [r["first_response_at"] - r["first_inbound_at"] for r in rows if r["first_response_at"]]
    resolved = [r["resolved_at"] - r["first_inbound_at"] for r in rows if r["resolved_at"]]
    return {
        "conversations": len(rows),
        "responded": len(first),
        "resolved": len(resolved),
        "median_first_response": _median(first),
        "median_resolution": _median(resolved),
    }


def _period(*, start: datetime, end: datetime, brand: Brand | None, user) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(
        first_inbound_at__gte=start, first_inbound_at__lt=end
    )
    if brand is not None:
        conversations = conversations.filter(brand=brand)
    if user is not None:
        conversations = conversations.filter(brand__in=brands_for_user(user=user).values("pk"))
    return conversations


class _Median(Aggregate):
    """PostgreSQL's ordered-set median; at 0.5 it interpolates the middle two of an even count,
    as statistics.median does, and skips NULLs (nothing answered yet)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _duration(end_field: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end_field) - F("first_inbound_at"), output_field=DurationField())


def response_time_overall(
    *, start: datetime, end: datetime, brand: Brand | None = None, user=None
) -> dict:
    """response_time_stats(...)["overall"] alone, as the reports show it, in one query.

    A brand's period can hold tens of thousands of conversations: on PostgreSQL the counts and
    medians are aggregated in SQL, so none of them crosses to Python (reading them all, with
    their reply authors, was most of the reports page's time). Elsewhere (SQLite, a
    developer's quick run) the durations are read and the medians taken in Python."""
    conversations = _period(start=start, end=end, brand=brand, user=user).order_by()
    if connection.vendor != "postgresql":
        rows = conversations.values("first_inbound_at", "first_response_at", "resolved_at")
        return _summary(list(rows))
    return conversations.aggregate(
        conversations=Count("pk"),
        responded=Count("first_response_at"),
        resolved=Count("resolved_at"),
        median_first_response=_Median(_duration("first_response_at")),
        median_resolution=_Median(_duration("resolved_at")),
    )


def response_time_stats(
    *, start: datetime, end: datetime, brand: Brand | None = None, user=None
) -> dict:
    """Median first response and median resolution over conversations that started in
    [start, end): overall, per brand and per teammate (the assignee, and whoever sent a reply).

    The durations are fetched (one query for the conversations, one for the reply authors) and
    the medians taken in Python with statistics.median: portable across PostgreSQL and SQLite,
    and a period's conversations fit in memory. A median is None, not 0, when nothing counts.
    Pass `user` to keep to the brands that user may see.
    """
    conversations = _period(start=start, end=end, brand=brand, user=user)
    rows = list(
        conversations.values(
            "pk",
            "brand_id",
            "brand__name",
            "assignee_id",
            "assignee__username",
            "first_inbound_at",
            "first_response_at",
            "resolved_at",
        )
    )
    # The period's conversations as a subquery, not their ids: a list of tens of thousands of
    # ids cost more to build and send than the query. order_by(): Message's default ordering
    # would otherwise join the DISTINCT and undo it (one row per reply instead of per author).
    authors = (
        Message.objects.filter(
            conversation__in=conversations.order_by().values("pk"),
            direction=Message.Direction.OUTBOUND,
            send_state=Message.SendState.SENT,
            author_user__isnull=False,
        )
        .order_by()
        .values_list("conversation_id", "author_user_id", "author_user__username")
        .distinct()
    )
    by_brand: dict = defaultdict(list)
    by_teammate: dict = defaultdict(dict)
    names: dict = {}
    for row in rows:
        by_brand[row["brand_id"]].append(row)
        names[("brand", row["brand_id"])] = row["brand__name"]
        if row["assignee_id"]:
            by_teammate[row["assignee_id"]][row["pk"]] = row
            names[("user", row["assignee_id"])] = row["assignee__username"]
    by_pk = {row["pk"]: row for row in rows}
    if rows:
        for conversation_id, user_id, username in authors:
            by_teammate[user_id][conversation_id] = by_pk[conversation_id]
            names[("user", user_id)] = username
    return {
        "start": start,
        "end": end,
        "overall": _summary(rows),
        "by_brand": {
            brand_id: {"name": names[("brand", brand_id)], **_summary(brand_rows)}
            for brand_id, brand_rows in by_brand.items()
        },
        "by_teammate": {
            user_id: {"name": names[("user", user_id)], **_summary(list(convs.values()))}
            for user_id, convs in by_teammate.items()
        },
    }


def first_response_target(*, brand: Brand) -> timedelta:
    minutes = (
        InboxSettings.objects.filter(brand=brand)
        .values_list("first_response_target_minutes", flat=True)
        .first()
    )
    return timedelta(minutes=minutes or DEFAULT_FIRST_RESPONSE_MINUTES)


def sla_breaches(*, brand: Brand, now: datetime | None = None) -> QuerySet[Conversation]:
    """Conversations not closed and never answered whose first inbound message is older than
    the brand's first-response target (InboxSettings, 24 hours by default); oldest first."""
    now = now or timezone.now()
    deadline = now - first_response_target(brand=brand)
    return (
        Conversation.objects.filter(
            brand=brand,
            first_response_at__isnull=True,
            first_inbound_at__lt=deadline,
        )
        .filter(~Q(status=Conversation.Status.CLOSED))
        .select_related("account", "assignee")
        .order_by("first_inbound_at")
    )
