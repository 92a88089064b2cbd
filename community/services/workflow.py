"""The team's work on conversations: assigning, status, tags, priority, internal notes, saved
replies and the moderation actions (hide, like) a platform allows.

Callers check access with agency.permissions first (brand_for_user(write=True,
area=Area.COMMUNITY)); these functions validate the change, write it, and leave an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, Membership
from agency.services import audit_log, notify
from community.models import Conversation, InternalNote, Message, SavedReply
from integrations import events as webhook_events

__all__ = [
    "PLACEHOLDERS",
    "RenderedReply",
    "conversation_assign",
    "conversation_set_priority",
    "conversation_set_status",
    "conversation_set_tags",
    "message_hide",
    "message_like",
    "normalise_tags",
    "note_add",
    "saved_reply_create",
    "saved_reply_delete",
    "saved_reply_render",
    "saved_reply_update",
]

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 5000
PLACEHOLDERS = ("first_name", "brand", "handle")
# Only {word} is a placeholder: stray braces in a reply ("{ }", "{{") are left alone.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _audit(conversation: Conversation, *, by, action: str, data: dict | None = None) -> None:
    audit_log(
        actor=by,
        action=action,
        target=conversation,
        agency=conversation.brand.agency,
        brand=conversation.brand,
        data=data,
    )


def _conversation_url(conversation: Conversation) -> str:
    return reverse("community:conversation", args=[conversation.pk])


# -- assignment, status, tags, priority ---------------------------------------------------------


@transaction.atomic
def conversation_assign(*, conversation: Conversation, to, by) -> Conversation:
    """Give the conversation to a staff member of the brand's agency, or to nobody (to=None).
    The new assignee hears about it, unless they assigned it to themselves."""
    if to is not None:
        is_staff = Membership.objects.filter(
            user=to, agency_id=conversation.brand.agency_id, user__is_active=True
        ).exists()
        if not is_staff:
            raise ValidationError(
                {
                    "assignee": f"{to.get_full_name() or to.get_username()} is not on the staff of "
                    f"{conversation.brand.agency}, so the conversation cannot be assigned to "
                    "them."
                }
            )
    previous_id = conversation.assignee_id
    new_id = to.pk if to is not None else None
    if previous_id == new_id:
        return conversation
    conversation.assignee = to
    conversation.save(update_fields=["assignee", "updated_at"])
    _audit(
        conversation,
        by=by,
        action="conversation.assigned" if to is not None else "conversation.unassigned",
        data={"from": previous_id, "to": new_id},
    )
    if to is not None:
        webhook_events.conversation_assigned(conversation=conversation, by=by)
    if to is not None and (by is None or to.pk != by.pk):
        who = (by.get_full_name() or by.get_username()) if by is not None else "agency"
        notify(
            users=[to],
            brand=conversation.brand,
            title=f"{who} assigned you a conversation ({conversation.brand})",
            body=f"{conversation}: {conversation.preview}".strip(": "),
            url=_conversation_url(conversation),
        )
    return conversation


@transaction.atomic
def conversation_set_status(*, conversation: Conversation, status: str, by) -> Conversation:
    """Open, pending or closed. Closing records when it was resolved; reopening forgets it."""
    if status not in Conversation.Status.values:
        raise ValidationError(
            {
                "status": f'"{status}" is not a status of a conversation: choose one of '
                + ", ".join(label.lower() for label in Conversation.Status.labels)
                + "."
            }
        )
    previous = conversation.status
    if previous == status:
        return conversation
    conversation.status = status
    conversation.resolved_at = timezone.now() if status == Conversation.Status.CLOSED else None
    conversation.save(update_fields=["status", "resolved_at", "updated_at"])
    _audit(
        conversation,
        by=by,
        action="conversation.status_changed",
        data={"from": previous, "to": status},
    )
    return conversation


def normalise_tags(tags: Iterable[str] | str) -> list[str]:
    """Lower case, no leading #, inner spaces as dashes, no duplicates, sorted.
    A string is read as a comma-separated list."""
    if isinstance(tags, str):
        tags = tags.split(",")
    seen: set[str] = set()
    for raw in tags:
        tag = "-".join(str(raw).strip().lstrip("#").lower().split())
        if tag:
            seen.add(tag)
    return sorted(seen)


@transaction.atomic
def conversation_set_tags(
    *, conversation: Conversation, tags: Iterable[str] | str, by
) -> Conversation:
    clean = normalise_tags(tags)
    too_long = [t for t in clean if len(t) > MAX_TAG_LENGTH]
    if too_long:
        raise ValidationError(
            {
                "tags": f"A tag may have at most {MAX_TAG_LENGTH} characters; "
                f'"{too_long[0][:60]}" has {len(too_long[0])}.'
            }
        )
    if len(clean) > MAX_TAGS:
        raise ValidationError(
            {"tags": f"A conversation may have at most {MAX_TAGS} tags; you gave {len(clean)}."}
        )
    previous = list(conversation.tags or [])
    if previous == clean:
        return conversation
    conversation.tags = clean
    conversation.save(update_fields=["tags", "updated_at"])
    _audit(
        conversation,
        by=by,
        action="conversation.tags_changed",
        data={"from": previous, "to": clean},
    )
    return conversation


@transaction.atomic
def conversation_set_priority(*, conversation: Conversation, priority: str, by) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationError(
            {
                "priority": f'"{priority}" is not a priority: choose one of '
                + ", ".join(label.lower() for label in Conversation.Priority.labels)
                + "."
            }
        )
    previous = conversation.priority
    if previous == priority:
        return conversation
    conversation.priority = priority
    conversation.save(update_fields=["priority", "updated_at"])
    _audit(
        conversation,
        by=by,
        action="conversation.priority_changed",
        data={"from": previous, "to": priority},
    )
    return conversation


@transaction.atomic
def note_add(*, conversation: Conversation, text: str, by) -> InternalNote:
    """An internal note: seen by the team only, never sent to the platform."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note before adding it."})
    if len(text) > MAX_NOTE_LENGTH:
        raise ValidationError(
            {"text": f"A note may have at most {MAX_NOTE_LENGTH} characters; this has {len(text)}."}
        )
    note = InternalNote(conversation=conversation, author=by, text=text)
    note.full_clean()
    note.save()
    _audit(conversation, by=by, action="conversation.note_added", data={"note": str(note.pk)})
    return note


# -- saved replies -----------------------------------------------------------------------------


def _check_saved_reply(*, brand: Brand, name: str, text: str, exclude_pk=None) -> tuple[str, str]:
    name = (name or "").strip()
    text = (text or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the saved reply a name, so the team can find it."
    elif SavedReply.objects.filter(brand=brand, name__iexact=name).exclude(pk=exclude_pk).exists():
        errors["name"] = f'{brand} already has a saved reply named "{name}": choose another name.'
    if not text:
        errors["text"] = "Write the text of the saved reply."
    else:
        unknown = sorted({m for m in _PLACEHOLDER.findall(text) if m not in PLACEHOLDERS})
        if unknown:
            errors["text"] = (
                "Unknown placeholder "
                + ", ".join(f"{{{u}}}" for u in unknown)
                + ": the placeholders are "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + "."
            )
    if errors:
        raise ValidationError(errors)
    return name, text


@transaction.atomic
def saved_reply_create(*, brand: Brand, name: str, text: str, by) -> SavedReply:
    name, text = _check_saved_reply(brand=brand, name=name, text=text)
    saved = SavedReply(brand=brand, name=name, text=text)
    saved.full_clean()
    saved.save()
    audit_log(
        actor=by, action="saved_reply.created", target=saved, agency=brand.agency, brand=brand
    )
    return saved


@transaction.atomic
def saved_reply_update(*, saved_reply: SavedReply, name: str, text: str, by) -> SavedReply:
    brand = saved_reply.brand
    name, text = _check_saved_reply(brand=brand, name=name, text=text, exclude_pk=saved_reply.pk)
    changed = [f for f, v in (("name", name), ("text", text)) if getattr(saved_reply, f) != v]
    if not changed:
        return saved_reply
    saved_reply.name = name
    saved_reply.text = text
    saved_reply.full_clean()
    saved_reply.save(update_fields=[*changed, "updated_at"])
    audit_log(
        actor=by,
        action="saved_reply.updated",
        target=saved_reply,
        agency=brand.agency,
        brand=brand,
        data={"fields": changed},
    )
    return saved_reply


@transaction.atomic
def saved_reply_delete(*, saved_reply: SavedReply, by) -> None:
    brand = saved_reply.brand
    audit_log(
        actor=by,
        action="saved_reply.deleted",
        target=saved_reply,
        agency=brand.agency,
        brand=brand,
        data={"name": saved_reply.name},
    )
    saved_reply.delete()


class RenderedReply(str):
    """The text of a saved reply with its placeholders filled; `unknown` names the placeholders
    that were left as they are, and `problems` says so in words."""

    unknown: tuple[str, ...] = ()

    @property
    def problems(self) -> list[str]:
        if not self.unknown:
            return []
        return [
            "Left as written, because no value is known for "
            + ", ".join(f"{{{u}}}" for u in self.unknown)
            + ": edit the text before sending. The placeholders are "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + "."
        ]


def _first_name(conversation: Conversation) -> str:
    name = (conversation.participant_name or "").split()
    if name:
        return name[0]
    handle = (conversation.participant_handle or "").strip().lstrip("@")
    return handle or "there"


def saved_reply_render(*, saved_reply: SavedReply, conversation: Conversation) -> str:
    """The saved reply's text for this conversation. Never raises on the text: an unknown
    placeholder stays visible and is reported on the result (RenderedReply.problems)."""
    handle = (conversation.participant_handle or "").strip()
    values = {
        "first_name": _first_name(conversation),
        "brand": conversation.brand.name,
        "handle": (handle if handle.startswith("@") else f"@{handle}") if handle else "",
    }
    unknown: list[str] = []

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key in values:
            return values[key]
        if key not in unknown:
            unknown.append(key)
        return match.group(0)

    rendered = RenderedReply(_PLACEHOLDER.sub(fill, saved_reply.text))
    rendered.unknown = tuple(unknown)
    return rendered


# -- moderation where the platform allows it ----------------------------------------------------


def _moderate(
    *, message: Message, by, capability: str, field: str, value: bool, verb: str, done: str
):
    """Ask the platform first (outside any transaction: a network call must not hold a lock),
    then record the result."""
    from agency.platforms import get_adapter
    from agency.platforms.errors import (
        PlatformError,
        RateLimited,
        TransientError,
        secrets_scrubbed,
    )

    account = message.account
    adapter = get_adapter(account.platform)
    if not getattr(adapter, capability, False):
        raise ValidationError(
            f"{account.get_platform_display()} does not let agency {verb} messages: do it in "
            f"the {account.get_platform_display()} app instead. Nothing was changed."
        )
    if message.direction != Message.Direction.INBOUND:
        raise ValidationError(f"Only the audience's messages can be {done} here, not our replies.")
    if not message.platform_message_id:
        raise ValidationError(
            f"This message has no id on {account.get_platform_display()}, so it cannot be "
            f"{done} there. Nothing was changed."
        )
    if getattr(message, field) == value:
        return message
    try:
        # The error's words are shown to the person: never with the account's token.
        with secrets_scrubbed(account):
            getattr(adapter, f"set_{field}")(account, message.platform_message_id, value)
    except (TransientError, RateLimited) as exc:
        # The adapters make these calls safe to repeat, so the person can simply try again.
        raise ValidationError(
            f"{account.get_platform_display()} did not confirm it ({exc}). Try again in a "
            "moment: doing it twice is harmless."
        ) from exc
    except PlatformError as exc:
        raise ValidationError(
            f"{account.get_platform_display()} refused ({exc}). Nothing was changed."
        ) from exc
    with transaction.atomic():
        setattr(message, field, value)
        message.save(update_fields=[field, "updated_at"])
        conversation = message.conversation
        _audit(
            conversation,
            by=by,
            action=f"message.{field}" if value else f"message.un{field}",
            data={"message": str(message.pk)},
        )
    return message


def message_hide(*, message: Message, by, hidden: bool = True) -> Message:
    """Hide (or show again) an inbound comment on the platform, where its API allows it. The
    adapter declares `supports_hide` and implements `set_hidden(account, platform_id, bool)`."""
    return _moderate(
        message=message,
        by=by,
        capability="supports_hide",
        field="hidden",
        value=hidden,
        verb="hide",
        done="hidden",
    )


def message_like(*, message: Message, by, liked: bool = True) -> Message:
    """Like (or unlike) an inbound message as the brand, where the platform's API allows it. The
    adapter declares `supports_like` and implements `set_liked(account, platform_id, bool)`."""
    return _moderate(
        message=message,
        by=by,
        capability="supports_like",
        field="liked",
        value=liked,
        verb="like",
        done="liked",
    )
