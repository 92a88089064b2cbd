"""Getting the audience's messages in, and our replies out.

- `inbound_ingest` is the one way a comment, mention or direct message is stored, whether it came
  by webhook or by poll: the unique (account, platform id) makes a second arrival a no-op, and the
  conversation's times are kept right when messages arrive out of order.
- Webhooks are verified by the views, stored (`webhook_receive`), and parsed later by a drain
  task in batches (`webhook_drain`), so a slow database or a bug never makes Meta or X retry or
  give up, and accepting an event costs one INSERT.
- `poll_account_inbox` reads the networks that have no webhooks (sandbox, Mastodon, Bluesky) and
  moves the account's cursor in the same transaction as the messages it stored.
- `message_reply` queues a reply; community/inbox_engine.py sends it exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from agency.models import Platform, SocialAccount
from agency.platforms import get_adapter
from agency.platforms.errors import AuthExpired, PlatformError, secrets_scrubbed
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
from integrations import events as webhook_events

__all__ = [
    "SENTIMENT_THRESHOLD",
    "inbound_ingest",
    "message_reply",
    "message_sentiment",
    "poll_account_inbox",
    "webhook_drain",
    "webhook_drain_kick",
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
    if not own:
        webhook_events.message_received(message=message)
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
        # The error is logged and stored on the cursor and the account: never with its token.
        with secrets_scrubbed(account):
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
#
# The accept path is one INSERT and, at most once per short window, one drain task: the view
# answers as soon as the verified body is stored. A Redis key set with NX and a TTL says "a drain
# is on its way"; the drain deletes it when it finds nothing left and then looks once more, so a
# body stored after that last look always finds the key gone and kicks a new drain. Each web
# process also skips the Redis call for a few hundred milliseconds after its own kick, and then
# kicks once more at the end of that window, so every stored body is still followed by a kick.
# A body whose kick was lost (a crash between the INSERT and the kick, Redis or the broker down)
# is drained by the periodic sweep.

DRAIN_KEY = "community:webhooks:drain-kicked"


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def webhook_receive(*, platform: str, body: bytes, signature: str) -> int | None:
    """Store a verified webhook body and make sure a drain will ingest it. Returns the new
    delivery's id, or None for a replay: the same body (hence the same signature) already
    stored is acknowledged but not stored again.

    One statement, committed on its own outside a transaction: INSERT ... ON CONFLICT DO
    NOTHING against the unique body hash, so nothing is read first and a replay racing the
    original cannot be stored twice. It is written in SQL because this is the hot path of the
    webhook views, and the ORM's save costs more than the database does here.
    """
    digest = _body_hash(body)
    connection = transaction.get_connection()
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608 - the table name is ours, values are parameters
            "(platform, body, body_sha256, headers, received_at, attempts, error) "
            "VALUES (%s, %s, %s, %s, %s, 0, '') ON CONFLICT DO NOTHING RETURNING id",
            [
                platform,
                # PostgreSQL's text cannot hold NUL, and no JSON has a raw one (it is
                # unreadable either way): stored as U+FFFD, as undecodable bytes are.
                body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                digest,
                json.dumps({"signature": signature[:200]}),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        logger.info("replayed %s webhook (sha256 %s) acknowledged, not stored", platform, digest)
        return None
    transaction.on_commit(webhook_drain_kick)
    return row[0]


_kick_redis = None
_local_lock = threading.Lock()
_local = {"until": 0.0, "deferred": False}


def _kick_client():
    """A Redis client on the broker's server, or None when the broker is not Redis (the
    embedded development mode, where every delivery simply enqueues its drain)."""
    global _kick_redis
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    if _kick_redis is None or _kick_redis[0] != url:
        import redis

        _kick_redis = (url, redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))
    return _kick_redis[1]


def webhook_drain_kick() -> bool:
    """Make sure a drain runs after this moment; returns whether this call enqueued one.

    At most one drain is enqueued per WEBHOOK_DRAIN_KICK_MS (the Redis key), and this process
    asks Redis at most once per WEBHOOK_DRAIN_LOCAL_MS: a call inside that window leaves it to
    one deferred kick at the window's end. Never raises: the body is stored already and the
    sweep drains it if this fails.
    """
    local = int(getattr(settings, "WEBHOOK_DRAIN_LOCAL_MS", 0)) / 1000
    if local > 0:
        now = time.monotonic()
        with _local_lock:
            if now < _local["until"]:
                if not _local["deferred"]:
                    _local["deferred"] = True
                    timer = threading.Timer(_local["until"] - now, _deferred_kick)
                    timer.daemon = True
                    timer.start()
                return False
            _local["until"] = now + local
    return _kick_now()


def _deferred_kick() -> None:
    with _local_lock:
        _local["deferred"] = False
        _local["until"] = (
            time.monotonic() + int(getattr(settings, "WEBHOOK_DRAIN_LOCAL_MS", 0)) / 1000
        )
    _kick_now()


def _kick_now() -> bool:
    from community.tasks import drain_webhooks

    window = int(getattr(settings, "WEBHOOK_DRAIN_KICK_MS", 1000))
    try:
        client = _kick_client()
        if client is not None and not client.set(DRAIN_KEY, b"1", nx=True, px=window):
            return False
        drain_webhooks.delay()
    except Exception:
        logger.exception("could not kick the webhook drain; the sweep will pick the body up")
        return False
    return True


def _drain_kick_done() -> None:
    client = _kick_client()
    if client is not None:
        client.delete(DRAIN_KEY)


def _webhook_items(delivery: WebhookDelivery) -> list[WebhookItem]:
    payload = json.loads(delivery.body)
    if delivery.platform == Platform.X:
        return parse_x_webhook(payload)
    return parse_meta_webhook(payload)


def _accounts_for(entry: WebhookItem, cache: dict) -> list[SocialAccount]:
    key = (entry.platform, entry.account_external_id)
    if key not in cache:
        cache[key] = list(
            SocialAccount.objects.filter(
                platform__in=_WEBHOOK_PLATFORMS.get(entry.platform, (entry.platform,)),
                external_id=entry.account_external_id,
            ).exclude(status=SocialAccount.Status.DISCONNECTED)
        )
    return cache[key]


def _ingest_delivery(delivery: WebhookDelivery, *, accounts: dict) -> int:
    """Parse one locked delivery, ingest its items and mark it processed, in the caller's
    transaction. Returns how many messages were new. Unexpected errors propagate."""
    now = timezone.now()
    try:
        items = _webhook_items(delivery)
    # Parsing reads the stored body and nothing else, so whatever it raises (a misshapen body:
    # a list where an object belongs, nesting too deep) would be raised again by every retry.
    except Exception as exc:
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
        found = _accounts_for(entry, accounts)
        if not found:
            skipped.add(entry.account_external_id)
            continue
        for account in found:
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
        error=f"Skipped unknown accounts: {', '.join(sorted(skipped))}"[:2000] if skipped else "",
    )
    return new


def _record_failure(delivery_id: int, exc: Exception) -> None:
    max_attempts = getattr(settings, "INBOUND_WEBHOOK_MAX_ATTEMPTS", 5)
    failed = WebhookDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True)
    failed.update(attempts=F("attempts") + 1, error=f"{exc.__class__.__name__}: {exc}"[:2000])
    failed.filter(attempts__gte=max_attempts).update(processed_at=timezone.now())


def webhook_process(*, delivery_id: int) -> int:
    """Parse one stored delivery and ingest its items. Returns how many messages were new.

    The delivery row is locked (skip_locked) for the whole parse, so two workers never process
    it together; it is marked processed in the same transaction as the messages. A body that
    can't be read is marked with the error and never retried; an unexpected failure leaves it
    for the sweep, up to INBOUND_WEBHOOK_MAX_ATTEMPTS.
    """
    try:
        with transaction.atomic():
            delivery = (
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=delivery_id, processed_at__isnull=True)
                .first()
            )
            if delivery is None:
                return 0
            return _ingest_delivery(delivery, accounts={})
    except Exception as exc:
        logger.exception("processing webhook %s failed", delivery_id)
        _record_failure(delivery_id, exc)
        raise


def _drain_one(*, after: int, older_than: timedelta | None, accounts: dict) -> tuple[int, int]:
    """Claim the next unprocessed delivery above id `after` (SKIP LOCKED: one another drain
    holds is left to it), ingest it and commit, so conversation locks are held for one
    delivery only. Returns (its id, new messages); id 0 when there is none."""
    rows = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
        processed_at__isnull=True, pk__gt=after
    )
    if older_than is None:
        # Kicked drains take fresh deliveries; one that failed waits for the sweep's retry.
        rows = rows.filter(attempts=0)
    else:
        rows = rows.filter(received_at__lt=timezone.now() - older_than)
    claimed = 0
    try:
        with transaction.atomic():
            delivery = rows.order_by("pk").first()
            if delivery is None:
                return 0, 0
            claimed = delivery.pk
            return claimed, _ingest_delivery(delivery, accounts=accounts)
    except Exception as exc:
        if not claimed:
            raise
        logger.exception("processing webhook %s failed", claimed)
        _record_failure(claimed, exc)
        return claimed, 0


def webhook_drain(*, older_than: timedelta | None = None, budget_seconds: float = 60.0) -> dict:
    """Ingest stored deliveries one after the other until none is left (or the time budget runs
    out: then the caller should drain again). Idempotent, and safe to run in parallel: each
    delivery is claimed with SKIP LOCKED and marked processed in the transaction that stores its
    messages; one that fails is recorded and the drain goes on.

    `older_than` is the sweep's retry: deliveries older than that, failed ones included, each
    tried once. Without it, fresh deliveries are drained, and the kick key is cleared when the
    drain finds nothing more (then it looks once again; see DRAIN_KEY above).
    """
    started = time.monotonic()
    after, claimed, new, looked_again = 0, 0, 0, False
    accounts: dict = {}
    while True:
        got, made = _drain_one(after=after, older_than=older_than, accounts=accounts)
        if got:
            after, claimed, new, looked_again = got, claimed + 1, new + made, False
            if time.monotonic() - started > budget_seconds:
                return {"claimed": claimed, "new": new, "done": False}
            continue
        if older_than is not None or looked_again:
            return {"claimed": claimed, "new": new, "done": True}
        _drain_kick_done()
        # From here a new delivery kicks its own drain; one stored before the key went away is
        # seen by this second look (ids restart from 0: a lower id may commit late).
        after, looked_again = 0, True


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
