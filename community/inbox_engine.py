"""The reply engine: every state change of an outbound Message, and the calls to the platforms.

    pending -> sending -> sent | failed | unconfirmed
    unconfirmed -> sent (found on the platform) | pending (surely not there) | waits for a person

The same three rules as calendar_app/publishing.py make a reply go out exactly once:
1. Every transition is one conditional UPDATE from the states it may leave (`_move`); whoever
   loses the race sees 0 rows and stops, so a task delivered twice sends once.
2. The platform call happens outside any transaction, after the message was claimed as
   `sending` with a lease. A worker that dies mid-call leaves an expired lease; the sweeper makes
   the message `unconfirmed`, never `pending`: it is not retried blindly.
3. An unconfirmed reply is settled by asking the platform (`find_reply`: by the reply's
   idempotency key where the network keeps one, else among the replies to the message by author
   and text, as X, Facebook and Instagram need). Only a platform that can say "surely not
   there" gets a retry; one that cannot be asked right now is asked again later.

While a message is pending, `lease_expires_at` means "its send task is enqueued until then": the
sweeper enqueues a due pending message only when that mark is missing or has run out, so a
broker that lost the task delays the reply by minutes, and a healthy one never gets duplicates.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from agency.models import SocialAccount
from agency.platforms import PublishResult, adapter_class, get_adapter
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
    secrets_scrubbed,
)
from agency.retry import jittered_backoff
from community.models import Conversation, Message

logger = logging.getLogger(__name__)

S = Message.SendState
OUT = Message.Direction.OUTBOUND


def _setting(name: str, default):
    return getattr(settings, name, default)


def queued_stale_seconds() -> int:
    return _setting("REPLY_QUEUED_STALE_SECONDS", 300)


def _move(message_id, *, frm: tuple[str, ...] | str, to: str, extra=None, **fields) -> bool:
    """One legal transition as a conditional UPDATE. True if this caller made it."""
    frm = (frm,) if isinstance(frm, str) else frm
    fields["updated_at"] = timezone.now()
    rows = Message.objects.filter(pk=message_id, direction=OUT, send_state__in=frm)
    if extra is not None:
        rows = rows.filter(extra)
    return bool(rows.update(send_state=to, **fields))


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    return jittered_backoff(
        attempt,
        base=_setting("REPLY_BACKOFF_BASE_SECONDS", 30.0),
        cap=_setting("REPLY_BACKOFF_CAP_SECONDS", 3600.0),
        retry_after=retry_after,
    )


def enqueue_send(ids) -> None:
    from community.tasks import send_reply

    for message_id in ids:
        send_reply.delay(str(message_id))


# -- send ----------------------------------------------------------------------------------------


def send_reply(*, message_id) -> str:
    """Send one pending, due reply once. Returns the state it ended in, or "lost" when another
    worker had it (or it is not due yet)."""
    now = timezone.now()
    lease = timedelta(seconds=_setting("REPLY_LEASE_SECONDS", 120))
    if not _move(
        message_id,
        frm=S.PENDING,
        to=S.SENDING,
        extra=Q(due_at__isnull=True) | Q(due_at__lte=now),
        lease_expires_at=now + lease,
        attempts=F("attempts") + 1,
    ):
        return "lost"
    message = Message.objects.select_related(
        "conversation", "account", "account__brand", "author_user"
    ).get(pk=message_id)
    answering = (
        Message.objects.filter(
            account_id=message.account_id, platform_message_id=message.in_reply_to
        )
        .select_related("conversation")
        .first()
        if message.in_reply_to
        else None
    )
    if answering is None:
        return _fail(message, "The message this reply answers is no longer stored.")
    try:
        adapter = get_adapter(message.account.platform)
        text = adapter.compose_reply(answering, message.text)
    except Exception as exc:
        logger.exception("could not prepare reply %s", message_id)
        return _fail(message, f"The reply could not be prepared: {exc}")

    # The platform call: outside any transaction, so no lock is held while we wait on it.
    try:
        with secrets_scrubbed(message.account):
            result = adapter.reply(
                message.account, answering, text, idempotency_key=str(message.idempotency_key)
            )
    except RateLimited as exc:
        return _retry_later(message, exc, retry_after=exc.retry_after)
    except TransientError as exc:
        return _retry_later(message, exc)
    except AuthExpired as exc:
        return _hold_for_reauth(message, exc)
    except Rejected as exc:
        return _fail(message, f"{message.account} refused the reply: {exc}")
    except OutcomeUnknown as exc:
        return _unconfirmed(message, str(exc))
    except Exception as exc:
        # A bug or an unmapped error inside the adapter: the request may have gone out.
        logger.exception("unexpected error sending reply %s", message_id)
        return _unconfirmed(message, f"Unexpected error while sending: {exc}")
    return _sent(message, result)


def _sent(message: Message, result: PublishResult, *, frm=(S.SENDING, S.UNCONFIRMED)) -> str:
    now = timezone.now()
    fields = {
        "platform_message_id": result.external_id[:300],
        "sent_at": now,
        "lease_expires_at": None,
        "due_at": None,
        "last_error": "",
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                moved = _move(message.pk, frm=frm, to=S.SENT, **fields)
        except IntegrityError:
            # The platform echoed our reply back (webhook or poll) before we recorded it, and it
            # was stored as an outbound copy under the same platform id: keep ours, drop the copy.
            Message.objects.filter(
                account_id=message.account_id,
                platform_message_id=result.external_id,
                direction=OUT,
                author_user__isnull=True,
            ).exclude(pk=message.pk).delete()
            moved = _move(message.pk, frm=frm, to=S.SENT, **fields)
        if moved:
            _record_response(message.conversation_id, now)
    if not moved:
        logger.warning("reply %s was sent but its state had moved on", message.pk)
    return S.SENT


def _record_response(conversation_id, at: datetime) -> None:
    """First response time counts from the first inbound message to our first sent reply."""
    Conversation.objects.filter(
        pk=conversation_id,
        first_response_at__isnull=True,
        first_inbound_at__isnull=False,
        first_inbound_at__lte=at,
    ).update(first_response_at=at)
    Conversation.objects.filter(pk=conversation_id).filter(
        Q(last_message_at__isnull=True) | Q(last_message_at__lte=at)
    ).update(last_message_at=at)
    # Answered: now we wait for them.
    Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.OPEN).update(
        status=Conversation.Status.PENDING, updated_at=at
    )


def _retry_later(message: Message, error: PlatformError, retry_after=None) -> str:
    if message.attempts >= _setting("REPLY_MAX_ATTEMPTS", 6):
        return _fail(
            message,
            f"{message.account} kept refusing for now ({error}); gave up after "
            f"{message.attempts} attempts.",
        )
    wait = backoff_seconds(message.attempts, retry_after=retry_after)
    _move(
        message.pk,
        frm=S.SENDING,
        to=S.PENDING,
        due_at=timezone.now() + timedelta(seconds=wait),
        lease_expires_at=None,
        last_error=f"{error} Trying again in {int(wait)} s.",
    )
    return S.PENDING


def _hold_for_reauth(message: Message, error: PlatformError) -> str:
    from agency.services import social_account_mark_needs_reauth

    social_account_mark_needs_reauth(account=message.account, reason=str(error))
    # Pending, not failed: the sweeper skips accounts that are not connected, so the reply goes
    # out once someone reconnects the account.
    _move(
        message.pk,
        frm=S.SENDING,
        to=S.PENDING,
        due_at=timezone.now(),
        lease_expires_at=None,
        last_error=f"Held: {message.account} needs reconnecting ({error}).",
    )
    return S.PENDING


def _fail(message: Message, words: str) -> str:
    _move(
        message.pk, frm=S.SENDING, to=S.FAILED, lease_expires_at=None, due_at=None, last_error=words
    )
    _tell_author(
        message,
        title=f"Reply not sent on {message.account}",
        body=f"{words}\n\nYour reply: {message.text[:500]}",
    )
    return S.FAILED


def _unconfirmed(message: Message, words: str) -> str:
    # Networks whose replies are read back from lists give them a moment to show up there.
    delay = getattr(adapter_class(message.account.platform), "reply_lookup_delay", 0.0)
    _move(
        message.pk,
        frm=S.SENDING,
        to=S.UNCONFIRMED,
        lease_expires_at=None,
        due_at=timezone.now() + timedelta(seconds=delay),
        last_error=f"{words} Checking with {message.account.get_platform_display()} "
        "whether it was sent.",
    )
    return S.UNCONFIRMED


def _tell_author(message: Message, *, title: str, body: str) -> None:
    from agency.services import brand_managers, notify
    from community.services.inbox import _conversation_url

    users = [message.author_user] if message.author_user_id else []
    if not users:
        users = list(brand_managers(brand=message.account.brand))
    notify(
        users=users,
        brand=message.account.brand,
        title=title,
        body=body,
        url=_conversation_url(message.conversation),
    )


# -- recovery ------------------------------------------------------------------------------------


def reconcile_unconfirmed(*, message_id) -> str:
    """Ask the platform whether an unconfirmed reply went out, and settle it if it can."""
    message = Message.objects.select_related(
        "conversation", "account", "account__brand", "author_user"
    ).get(pk=message_id)
    if message.send_state != S.UNCONFIRMED:
        return message.send_state
    adapter = get_adapter(message.account.platform)
    answering = Message.objects.filter(
        account_id=message.account_id, platform_message_id=message.in_reply_to
    ).first()
    text = adapter.compose_reply(answering, message.text) if answering else message.text
    try:
        with secrets_scrubbed(message.account):
            # Networks with an idempotency key look the reply up by it; the others (X,
            # Facebook, Instagram) among the replies to `answering`, by author and text.
            found = adapter.find_reply(
                message.account,
                answering,
                text,
                idempotency_key=str(message.idempotency_key),
                since=message.created_at,
            )
    except (TransientError, RateLimited) as exc:
        return _check_again_later(message, exc)
    except (OutcomeUnknown, AuthExpired, Rejected) as exc:
        return _needs_person(message, f"The platform cannot tell us: {exc}")
    if found is not None:
        return _sent(message, found, frm=(S.UNCONFIRMED,))
    # The platform says it surely does not have it: sending again cannot make a duplicate.
    _move(
        message.pk,
        frm=S.UNCONFIRMED,
        to=S.PENDING,
        due_at=timezone.now(),
        lease_expires_at=None,
        last_error="Not found on the platform after an unanswered attempt; sending again.",
    )
    return S.PENDING


def _check_again_later(message: Message, error: PlatformError) -> str:
    """The lookup itself failed for now: ask again later, for a day, then leave it to a person."""
    if timezone.now() - message.created_at > timedelta(
        seconds=_setting("REPLY_RECONCILE_GIVE_UP_SECONDS", 24 * 3600)
    ):
        return _needs_person(message, f"The platform could not be asked for a day: {error}")
    wait = max(float(getattr(error, "retry_after", None) or 0), 300.0)
    Message.objects.filter(pk=message.pk, send_state=S.UNCONFIRMED).update(
        due_at=timezone.now() + timedelta(seconds=wait),
        last_error=f"Could not check yet whether this reply was sent ({error}); "
        f"checking again in {int(wait)} s.",
        updated_at=timezone.now(),
    )
    return S.UNCONFIRMED


def _needs_person(message: Message, reason: str) -> str:
    # due_at None: no automatic re-check; the sweeper leaves it alone.
    first_time = bool(
        Message.objects.filter(
            pk=message.pk, send_state=S.UNCONFIRMED, due_at__isnull=False
        ).update(
            due_at=None,
            last_error=(
                f"We could not confirm whether this reply was sent on {message.account}. "
                f"{reason} Check the conversation on the platform."
            ),
            updated_at=timezone.now(),
        )
    )
    if first_time:
        _tell_author(
            message,
            title=f"Check whether a reply went out on {message.account}",
            body="The platform did not confirm the reply and cannot be asked. Open the "
            "conversation on the platform to check.",
        )
    return S.UNCONFIRMED


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Recover what crashes leave behind and send what is due. Run periodically by beat.

    - sending with an expired lease: the worker died mid-call -> unconfirmed (then reconciled)
    - pending and due, with no live "enqueued" mark -> marked and enqueued (retries after a
      backoff, tasks a broker lost, replies held for a reconnect)
    - unconfirmed and due for a check -> reconciled
    """
    now = now or timezone.now()
    lost = Message.objects.filter(
        direction=OUT, send_state=S.SENDING, lease_expires_at__lt=now
    ).update(
        send_state=S.UNCONFIRMED,
        lease_expires_at=None,
        due_at=now,
        last_error="The worker stopped while sending; checking whether it went out.",
        updated_at=now,
    )
    stale = now + timedelta(seconds=queued_stale_seconds())
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                direction=OUT,
                send_state=S.PENDING,
                due_at__lte=now,
                account__status=SocialAccount.Status.CONNECTED,
            )
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .order_by("due_at")
            .values_list("pk", flat=True)[: _setting("REPLY_DISPATCH_BATCH", 500)]
        )
        if due:
            Message.objects.filter(pk__in=due, send_state=S.PENDING).update(
                lease_expires_at=stale, updated_at=now
            )
            transaction.on_commit(lambda: enqueue_send(due))
    to_check = list(
        Message.objects.filter(
            direction=OUT, send_state=S.UNCONFIRMED, due_at__lte=now
        ).values_list("pk", flat=True)[:500]
    )
    for message_id in to_check:
        try:
            reconcile_unconfirmed(message_id=message_id)
        except Exception:
            logger.exception("could not reconcile reply %s", message_id)
    return {"lost": lost, "enqueued": len(due), "reconciled": len(to_check)}
