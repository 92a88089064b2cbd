"""The rows of the inbox list, ready to print.

A page holds 50 conversations and the list re-renders every 10 seconds for everyone in the
inbox: resolving a URL, an include and a dozen lookups and filters per row in the template was
most of the page's time. Each row is prepared here once, with the conversation's address
reversed once per page, and the template only prints the fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.template.defaultfilters import date, timesince_filter, truncatechars
from django.urls import reverse
from django.utils.timezone import template_localtime

PREVIEW_CHARS = 140

# The words of community/inbox/_sla.html, which the conversation panel still includes.
SLA_WORDS = {
    "breached": "First response overdue",
    "due_soon": "First response due soon",
    "on_track": "Within the response target",
    "met": "Answered in time",
    "missed": "Answered late",
}
NO_SLA_WORDS = "Nothing to answer"

_PLACEHOLDER = str(uuid.UUID(int=0))


@dataclass(frozen=True, slots=True)
class InboxRow:
    pk: uuid.UUID
    url: str
    who: str
    needs_reply: bool
    preview: str
    kind: str
    account: str
    brand: str
    status: str
    priority: str
    assignee: str
    tags: list[str]
    sla_state: str
    sla_words: str
    last_message_iso: str
    last_message_ago: str


def inbox_rows(conversations, *, query: str) -> list[InboxRow]:
    """One InboxRow per conversation of the page (annotated by inbox_conversations); `query` is
    the list's filters, kept on each conversation's address."""
    suffix = f"?{query}" if query else ""
    url = reverse("community:conversation", args=[_PLACEHOLDER]) + suffix
    accounts: dict = {}
    rows = []
    for row in conversations:
        # A page shows a handful of accounts: each is named once.
        account = accounts.get(row.account_id)
        if account is None:
            account = accounts[row.account_id] = str(row.account)
        text = row.last_text or row.preview
        assignee = row.assignee
        at = row.last_message_at
        rows.append(
            InboxRow(
                pk=row.pk,
                url=url.replace(_PLACEHOLDER, str(row.pk), 1),
                who=row.participant_name or row.participant_handle or "Someone",
                needs_reply=row.needs_reply,
                preview=("Us: " if row.last_direction == "out" else "")
                + truncatechars(text, PREVIEW_CHARS),
                kind=row.get_kind_display(),
                account=account,
                brand=row.brand.name,
                status=row.get_status_display(),
                priority=row.get_priority_display(),
                assignee=(assignee.get_full_name() or assignee.get_username()) if assignee else "",
                tags=row.tags or [],
                sla_state=row.sla_state,
                sla_words=SLA_WORDS.get(row.sla_state, NO_SLA_WORDS),
                last_message_iso=date(template_localtime(at), "c") if at else "",
                last_message_ago=timesince_filter(at) if at else "",
            )
        )
    return rows
