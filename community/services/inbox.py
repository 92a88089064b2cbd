"""Getting the audience's messages in, and our replies out.

- `inbound_ingest` is the one way a comment, mention or direct message is stored, whether it came
  by webhook or by poll: the unique (account, platform id) makes a second arrival a no-op, and the
  conversation's times are kept right when messages arrive out of order.
- Webhooks are verified by the views, stored (`webhook_receive`), and parsed later by a task
  (`webhook_process`), so a slow database or a bug never makes Meta or X retry or give up.
- `poll_account_inbox` reads the networks that have no webhooks (sandbox, Mastodon, Bluesky) and
  moves the account's cursor in the same transaction as the messages it stored.
- `message_reply` queues a reply; community/inbox_engine.py sends it exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from agency.models import Platform, SocialAccount
from agency.platforms import get_adapter
from agency.platforms.errors import AuthExpired, PlatformError
from agency.platforms.inbox import (
    InboundItem,
    WebhookItem,
    parse_meta_webhook,
    parse_x_webhook,
)
from agency.services import audit_log, notify, social_account_mark_needs_reauth
from calendar_app.models import PostTarget, TargetState
from community.models import (
    Conversation,
    Message,
    PollCursor,
    Sentiment,
    WebhookDelivery,
)

__all__ = [
    "SENTIMENT_THRESHOLD",
    "inbound_ingest",
    "message_reply",
    "message_sentiment",
    "poll_account_inbox",
    "webhook_process",
    "webhook_receive",
]

logger = logging.getLogger(__name__)

# VADER's own convention: compound >= 0.05 is positive, <= -0.05 negative, between is neutral.
SENTIMENT_THRESHOLD = 0.05
PREVIEW_CHARS = 300
# Where a webhook's account may live: the sandbox stands in for any network, so the demo and the
# live tests drive the real webhook road end to end without a Meta or X app.
_WEBHOOK_PLATFORMS = {
    Platform.FACEBOOK: (Platform.FACEBOOK, Platform.SANDBOX),
    Platform.INSTAGRAM: (Platform.INSTAGRAM, Platform.SANDBOX),
    Platform.X: (Platform.X, Platform.SANDBOX),
}
REPLAY_WINDOW = timedelta(hours=24)

_analyzer = None


def message_sentiment(text: str) -> tuple[str, float | None]:
    """(positive | neutral | negative, VADER compound score); blank text has no sentiment."""
    global _analyzer
    if not text or not text.strip():
        return "", None
    if _analyzer is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _analyzer = SentimentIntensityAnalyzer()
    score = _analyzer.polarity_scores(text)["compound"]
    if score >= SENTIMENT_THRESHOLD:
        return Sentiment.POSITIVE, score
    if score <= -SENTIMENT_THRESHOLD:
        return Sentiment.NEGATIVE, score
    return Sentiment.NEUTRAL, score


# -- ingestion -----------------------------------------------------------------------------------


def _normal_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def _is_own(account: SocialAccount, item: InboundItem) -> bool:
    """Our own messages echoed back by the platform (a reply, a comment on our own post)."""
    if item.author_id and account.external_id and item.author_id == account.external_id:
        return True
    return bool(item.author_handle) and _normal_handle(item.author_handle) == _normal_handle(
        account.handle
    )


def _conversation_url(conversation: Conversation) -> str:
    try:
        return reverse("community:conversation", args=[conversation.pk])
    except NoReverseMatch:
        return ""


def _get_or_create(model, *, lookup: dict, defaults: dict):
    """get_or_create that survives the race with another worker under the unique constraint:
    the loser's INSERT fails inside its own savepoint and it reads the winner's row."""
    row = model.objects.filter(**lookup).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return model.objects.create(**lookup, **defaults), True
    except IntegrityError:
        return model.objects.get(**lookup), False


@transaction.atomic
def inbound_ingest(*, account: SocialAccount, item: InboundItem, source: str) -> Message | None:
    """Store one inbound item. Returns the new Message, or None when it was already stored.

    `source` ("webhook", "poll", ...) is kept in the message's raw payload for support.
    """
    if not item.message_id or not item.thread_id:
        raise ValidationError("An inbound message needs the platform's message and thread ids.")
    if item.kind not in Conversation.Kind.values:
        raise ValidationError(f"Unknown kind of conversation: {item.kind!r}.")
    now = timezone.now()
    sent_at = item.sent_at or now
    own = _is_own(account, item)
    conversation, _ = _get_or_create(
        Conversation,
        lookup={"account": account, "kind": item.kind, "external_thread_id": item.thread_id},
        defaults={"brand_id": account.brand_id},
    )
    # One writer per conversation at a time, so two messages arriving together both count.
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    label, score = ("", None) if own else message_sentiment(item.text)
    message, created = _get_or_create(
        Message,
        lookup={"account": account, "platform_message_id": item.message_id},
        defaults={
            "conversation": conversation,
            "direction": Message.Direction.OUTBOUND if own else Message.Direction.INBOUND,
            "send_state": Message.SendState.SENT if own else Message.SendState.RECEIVED,
            "author_handle": item.author_handle[:200],
            "author_name": item.author_name[:200],
            "text": item.text,
            "in_reply_to": item.in_reply_to[:300],
            "sent_at": sent_at,
            "sentiment": label,
            "sentiment_score": score,
            "raw": {**(item.raw or {}), "_source": source},
        },
    )
    if not created:
        return None
    _update_conversation(conversation, message, item, own=own)
    return message


def _update_conversation(
    conversation: Conversation, message: Message, item: InboundItem, *, own: bool
) -> None:
    sent_at = message.sent_at
    fields: set[str] = set()
    newest = conversation.last_message_at is None or sent_at >= conversation.last_message_at
    if newest:
        conversation.last_message_at = sent_at
        conversation.preview = (message.text or _placeholder_preview(item))[:PREVIEW_CHARS]
        fields |= {"last_message_at", "preview"}
    if item.post_external_id and conversation.post_target_id is None:
        target = (
            PostTarget.objects.filter(
                account_id=conversation.account_id,
                external_id=item.post_external_id,
                state=TargetState.PUBLISHED,
            )
            .values_list("pk", flat=True)
            .first()
        )
        if target is not None:
            conversation.post_target_id = target
            fields.add("post_target")
    if own:
        _note_response(conversation, sent_at, fields)
    else:
        _note_inbound(conversation, message, item, fields)
    if fields:
        conversation.save(update_fields=[*fields, "updated_at"])


def _placeholder_preview(item: InboundItem) -> str:
    if item.kind == Conversation.Kind.MENTION:
        return "Mentioned the account (open it on the platform to read it)."
    return ""


def _note_inbound(
    conversation: Conversation, message: Message, item: InboundItem, fields: set[str]
) -> None:
    sent_at = message.sent_at
    if conversation.first_inbound_at is None or sent_at < conversation.first_inbound_at:
        conversation.first_inbound_at = sent_at
        fields.add("first_inbound_at")
    newer_inbound = (
        conversation.messages.filter(direction=Message.Direction.INBOUND, sent_at__gt=sent_at)
        .exclude(pk=message.pk)
        .exists()
    )
    if not newer_inbound:
        # The conversation reads as its latest inbound message: how the person feels now.
        conversation.sentiment = message.sentiment
        if item.author_handle:
            conversation.participant_handle = item.author_handle[:200]
        if item.author_name:
            conversation.participant_name = item.author_name[:200]
        fields |= {"sentiment", "participant_handle", "participant_name"}
    S = Conversation.Status
    reopen = conversation.status == S.CLOSED and (
        conversation.resolved_at is None or sent_at > conversation.resolved_at
    )
    if reopen:
        conversation.status = S.OPEN
        conversation.resolved_at = None
        fields |= {"status", "resolved_at"}
        transaction.on_commit(
            lambda: audit_log(
                actor=None,
                action="conversation.reopened",
                target=conversation,
                agency=conversation.brand.agency,
                brand=conversation.brand,
                data={"message": str(message.pk)},
            )
        )
    elif conversation.status == S.PENDING and conversation.last_message_at == sent_at:
        # Pending means "waiting for them"; they answered, so it is our turn again.
        conversation.status = S.OPEN
        fields.add("status")
    if conversation.assignee_id:
        assignee = conversation.assignee
        who = item.author_handle or item.author_name or "someone"
        transaction.on_commit(
            lambda: notify(
                users=[assignee],
                brand=conversation.brand,
                title=f"New message from {who} on {conversation.account}",
                body=(message.text or "")[:500],
                url=_conversation_url(conversation),
                email=False,
            )
        )


def _note_response(conversation: Conversation, at: datetime, fields: set[str]) -> None:
    """A reply of ours reached the platform at `at` (sent from here or natively)."""
    if (
        conversation.first_response_at is None
        and conversation.first_inbound_at is not None
        and at >= conversation.first_inbound_at
    ):
        conversation.first_response_at = at
        fields.add("first_response_at")
    if conversation.status == Conversation.Status.OPEN:
        conversation.status = Conversation.Status.PENDING
        fields.add("status")


# -- polling -------------------------------------------------------------------------------------


def poll_account_inbox(*, account: SocialAccount, stream: str = "inbox") -> int:
    """Fetch what is new on the account and store it. Returns how many messages were new.

    The platform call happens outside any transaction; the items and the cursor that follows
    them are written in one, so a crash between the two cannot skip messages (at worst the same
    page is read again and stored once).
    """
    adapter = get_adapter(account.platform)
    if not getattr(adapter, "supports_inbox_polling", False):
        return 0
    row, _ = _get_or_create(PollCursor, lookup={"account": account, "stream": stream}, defaults={})
    asked_with = row.cursor
    now = timezone.now()
    try:
        page = adapter.fetch_inbox(account, asked_with)
    except AuthExpired as exc:
        social_account_mark_needs_reauth(account=account, reason=str(exc))
        PollCursor.objects.filter(pk=row.pk).update(polled_at=now, error=str(exc)[:1000])
        return 0
    except PlatformError as exc:
        logger.warning("polling the inbox of account %s failed: %s", account.pk, exc)
        PollCursor.objects.filter(pk=row.pk).update(polled_at=now, error=str(exc)[:1000])
        return 0
    new = 0
    with transaction.atomic():
        row = PollCursor.objects.select_for_update().get(pk=row.pk)
        for item in page.items:
            if inbound_ingest(account=account, item=item, source="poll") is not None:
                new += 1
        # What the poll found also feeds the brand's listening rules (mentions of its name,
        # keywords, competitors), in the same transaction as the cursor that passes it.
        from community.services.listening import mentions_from_items

        mentions_from_items(brand=account.brand, account=account, items=page.items)
        # Another poll that started later may have moved the cursor already: never move it back.
        if row.cursor == asked_with and page.next_cursor:
            row.cursor = page.next_cursor[:500]
        row.polled_at = now
        row.error = ""
        row.save(update_fields=["cursor", "polled_at", "error"])
    return new


# -- webhooks ------------------------------------------------------------------------------------


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@transaction.atomic
def webhook_receive(*, platform: str, body: bytes, signature: str) -> WebhookDelivery | None:
    """Store a verified webhook body and enqueue its processing after commit.

    Returns None for a replay: the same body (hence the same signature) already received in the
    last 24 hours is acknowledged but not stored again.
    """
    digest = _body_hash(body)
    since = timezone.now() - REPLAY_WINDOW
    if WebhookDelivery.objects.filter(
        platform=platform, body_sha256=digest, received_at__gte=since
    ).exists():
        logger.info("replayed %s webhook (sha256 %s) acknowledged, not stored", platform, digest)
        return None
    delivery = WebhookDelivery.objects.create(
        platform=platform,
        body=body.decode("utf-8", errors="replace"),
        body_sha256=digest,
        headers={"signature": signature[:200]},
    )
    transaction.on_commit(lambda: _enqueue_processing(delivery.pk))
    return delivery


def _enqueue_processing(delivery_id: int) -> None:
    from community.tasks import process_webhook

    process_webhook.delay(delivery_id)


def _webhook_items(delivery: WebhookDelivery) -> list[WebhookItem]:
    payload = json.loads(delivery.body)
    if delivery.platform == Platform.X:
        return parse_x_webhook(payload)
    return parse_meta_webhook(payload)


def webhook_process(*, delivery_id: int) -> int:
    """Parse a stored delivery and ingest its items. Returns how many messages were new.

    The delivery row is locked (skip_locked) for the whole parse, so two copies of the task never
    process it together; it is marked processed in the same transaction as the messages. A body
    that can't be read is marked with the error and never retried; an unexpected failure leaves
    it for the sweeper, up to WEBHOOK_MAX_ATTEMPTS.
    """
    max_attempts = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
    try:
        with transaction.atomic():
            delivery = (
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=delivery_id, processed_at__isnull=True)
                .first()
            )
            if delivery is None:
                return 0
            now = timezone.now()
            try:
                items = _webhook_items(delivery)
            except (ValueError, TypeError) as exc:
                logger.warning("unreadable %s webhook %s: %s", delivery.platform, delivery.pk, exc)
                WebhookDelivery.objects.filter(pk=delivery.pk).update(
                    processed_at=now,
                    attempts=F("attempts") + 1,
                    error=f"The body could not be read: {exc}"[:2000],
                )
                return 0
            new = 0
            skipped = set()
            for entry in items:
                accounts = list(
                    SocialAccount.objects.filter(
                        platform__in=_WEBHOOK_PLATFORMS.get(entry.platform, (entry.platform,)),
                        external_id=entry.account_external_id,
                    ).exclude(status=SocialAccount.Status.DISCONNECTED)
                )
                if not accounts:
                    skipped.add(entry.account_external_id)
                    continue
                for account in accounts:
                    if inbound_ingest(account=account, item=entry.item, source="webhook"):
                        new += 1
            if skipped:
                logger.info(
                    "%s webhook %s names accounts we don't have: %s",
                    delivery.platform,
                    delivery.pk,
                    ", ".join(sorted(skipped)),
                )
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                processed_at=now,
                attempts=F("attempts") + 1,
                error=f"Skipped unknown accounts: {', '.join(sorted(skipped))}"[:2000]
                if skipped
                else "",
            )
            return new
    except Exception as exc:
        logger.exception("processing webhook %s failed", delivery_id)
        failed = WebhookDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True)
        failed.update(attempts=F("attempts") + 1, error=f"{exc.__class__.__name__}: {exc}"[:2000])
        failed.filter(attempts__gte=max_attempts).update(processed_at=timezone.now())
        raise


# -- replies -------------------------------------------------------------------------------------


@transaction.atomic
def message_reply(*, conversation: Conversation, text: str, by) -> Message:
    """Queue a reply to the conversation's latest inbound message; it is sent once, after
    commit, by community.inbox_engine (see there for the states)."""
    from community import inbox_engine

    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write something to reply with."})
    account = conversation.account
    if account.status != SocialAccount.Status.CONNECTED:
        raise ValidationError(
            f"{account} needs reconnecting before replies can be sent from it "
            f"({account.status_reason or account.get_status_display()})."
        )
    adapter = get_adapter(account.platform)
    answering = (
        conversation.messages.filter(direction=Message.Direction.INBOUND)
        .exclude(platform_message_id="")
        .order_by("-sent_at", "-created_at")
        .first()
    )
    if answering is None:
        raise ValidationError("There is no message from them to reply to in this conversation.")
    limit = adapter.rules.max_chars
    length = adapter.count_chars(adapter.compose_reply(answering, text))
    if length > limit:
        raise ValidationError(
            {
                "text": f"{length} characters is too long for {account.get_platform_display()}: "
                f"{limit} at most."
            }
        )
    now = timezone.now()
    message = Message.objects.create(
        conversation=conversation,
        account=account,
        direction=Message.Direction.OUTBOUND,
        author_user=by,
        author_handle=account.handle,
        text=text,
        in_reply_to=answering.platform_message_id,
        send_state=Message.SendState.PENDING,
        due_at=now,
        # Marks the send task as enqueued: the sweeper sends it again only if this runs out.
        lease_expires_at=now + timedelta(seconds=inbox_engine.queued_stale_seconds()),
    )
    audit_log(
        actor=by,
        action="message.reply_queued",
        target=message,
        agency=conversation.brand.agency,
        brand=conversation.brand,
        data={"conversation": str(conversation.pk)},
    )
    transaction.on_commit(lambda: inbox_engine.enqueue_send([message.pk]))
    return message
