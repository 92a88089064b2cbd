"""The manager's inbox, listening, curation and giveaways.

Inbound data is idempotent: every platform id is unique per account, so the same event arriving
from a webhook and from a poll is stored once. Outbound replies follow the publishing engine's
rules: one conditional UPDATE per state change and an idempotency key per reply.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from agency.models import BaseModel, Brand, Platform, SocialAccount
from calendar_app.models import PostTarget


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class Conversation(BaseModel):
    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment thread"
        DIRECT = "direct", "Direct message"
        MENTION = "mention", "Mention"
        REVIEW = "review", "Review"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="conversations")
    account = models.ForeignKey(
        SocialAccount, on_delete=models.CASCADE, related_name="conversations"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    external_thread_id = models.CharField(
        max_length=300, help_text="The platform's id of the thread (post, DM thread, mention)."
    )
    post_target = models.ForeignKey(
        PostTarget,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        help_text="Our published post the comments belong to, when known.",
    )
    participant_handle = models.CharField(max_length=200, blank=True)
    participant_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    tags = models.JSONField(default=list, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    preview = models.CharField(max_length=300, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "external_thread_id"],
                name="conversation_unique_thread",
            )
        ]
        indexes = [
            # The inbox lists latest activity first with conversations never written in last:
            # ORDER BY last_message_at DESC NULLS LAST, created_at DESC
            # (selectors.inbox_conversations). An index must match NULLS LAST exactly to
            # hand a brand's first page over in order (ORDER BY ... LIMIT 50) rather than sort
            # every conversation of the brand; one with the status in front serves the
            # inbox's default "open" view the same way.
            models.Index(
                F("brand"),
                F("last_message_at").desc(nulls_last=True),
                F("created_at").desc(),
                name="inbox_brand_latest",
            ),
            models.Index(
                F("brand"),
                F("status"),
                F("last_message_at").desc(nulls_last=True),
                F("created_at").desc(),
                name="inbox_brand_status_latest",
            ),
            models.Index(fields=["assignee", "status"], name="inbox_assignee_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.participant_handle or '?'} on {self.account}"


class Message(BaseModel):
    """One message of a conversation, inbound (from the audience) or outbound (our reply)."""

    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class SendState(models.TextChoices):
        RECEIVED = "received", "Received"  # inbound messages
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCONFIRMED = "unconfirmed", "Unconfirmed"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    author_handle = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text="The teammate who wrote an outbound reply.",
    )
    text = models.TextField(blank=True)
    platform_message_id = models.CharField(max_length=300, blank=True)
    in_reply_to = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    sentiment_score = models.FloatField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The payload as received.")
    send_state = models.CharField(
        max_length=12, choices=SendState.choices, default=SendState.RECEIVED
    )
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    hidden = models.BooleanField(default=False)
    liked = models.BooleanField(default=False)

    class Meta:
        ordering = ["sent_at", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "platform_message_id"],
                condition=~Q(platform_message_id=""),
                name="message_unique_platform_id",
            ),
            models.CheckConstraint(
                condition=Q(direction="out") | Q(send_state="received"),
                name="message_inbound_is_received",
            ),
        ]
        indexes = [
            models.Index(
                fields=["send_state", "due_at"],
                condition=Q(send_state__in=["pending", "sending", "unconfirmed"]),
                name="message_outbox",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.author_handle}: {self.text[:40]}"


class InternalNote(BaseModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    text = models.TextField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class SavedReply(BaseModel):
    """Text with placeholders ({first_name}, {brand}, {handle}) for quick answers."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="saved_replies")
    name = models.CharField(max_length=100)
    text = models.TextField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved replies"
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="saved_reply_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class InboxSettings(BaseModel):
    """The brand's response-time SLA, e.g. median first response under 24 hours."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="inbox_settings")
    first_response_target_minutes = models.PositiveIntegerField(default=24 * 60)
    resolution_target_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "inbox settings"

    def __str__(self) -> str:
        return f"SLA of {self.brand}"


class WebhookDelivery(models.Model):
    """A verified webhook body, stored before it is processed, so a broker outage or a crash
    loses nothing: a drain task ingests what is not processed yet, and a sweeper kicks one for
    whatever a lost kick left behind.

    The same body is stored once (the unique hash): a delivery Meta or X retries, or a captured
    body replayed later, is acknowledged without a second row, race-free under concurrent
    requests.
    """

    id = models.BigAutoField(primary_key=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    body = models.TextField()
    body_sha256 = models.CharField(
        max_length=64,
        blank=True,
        help_text="Recognises a replayed delivery without reading bodies.",
    )
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "body_sha256"],
                condition=~Q(body_sha256=""),
                name="webhook_unique_body",
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="webhook_unprocessed",
            ),
            # The drain walks unprocessed rows in id order; processed ones never slow it down.
            models.Index(
                fields=["id"], condition=Q(processed_at__isnull=True), name="webhook_undrained"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} webhook {self.pk}"


class PollCursor(models.Model):
    """Where the last poll of an account's inbox or mentions stopped."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    stream = models.CharField(max_length=20, default="inbox")
    cursor = models.CharField(max_length=500, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "stream"], name="poll_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.stream} @ {self.cursor}"


class ListeningRule(BaseModel):
    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Keyword"
        HASHTAG = "hashtag", "Hashtag"
        BRAND = "brand", "Brand name"
        COMPETITOR = "competitor", "Competitor"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="listening_rules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    terms = models.JSONField(default=list, help_text="Any of these terms matches.")
    excluded_terms = models.JSONField(default=list, blank=True)
    spike_ratio = models.FloatField(
        default=3.0, help_text="Alert when a day's volume is this many times the trailing average."
    )
    spike_min_volume = models.PositiveIntegerField(default=10)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="listening_rule_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Mention(BaseModel):
    """A post somewhere that matched a listening rule (the listening feed, not the inbox)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="mentions")
    rule = models.ForeignKey(ListeningRule, on_delete=models.CASCADE, related_name="mentions")
    found_via = models.ForeignKey(
        SocialAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    platform = models.CharField(max_length=16, choices=Platform.choices)
    external_id = models.CharField(max_length=300)
    author_handle = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    posted_at = models.DateTimeField(db_index=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "platform", "external_id"], name="mention_unique_per_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.author_handle}: {self.text[:40]}"


class SpikeAlert(BaseModel):
    rule = models.ForeignKey(ListeningRule, on_delete=models.CASCADE, related_name="spikes")
    day = models.DateField()
    volume = models.PositiveIntegerField()
    baseline = models.FloatField()

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "day"], name="spike_alert_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.day}: {self.volume} vs {self.baseline:.1f}"


class Feed(BaseModel):
    """An RSS or Atom feed a brand curates content from."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="feeds")
    url = models.URLField(max_length=1000)
    title = models.CharField(max_length=300, blank=True)
    etag = models.CharField(max_length=300, blank=True)
    modified = models.CharField(max_length=100, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["title", "url"]
        constraints = [models.UniqueConstraint(fields=["brand", "url"], name="feed_unique_url")]

    def __str__(self) -> str:
        return self.title or self.url


class Suggestion(BaseModel):
    class Status(models.TextChoices):
        NEW = "new", "New"
        USED = "used", "Turned into a post"
        DISMISSED = "dismissed", "Dismissed"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="suggestions")
    feed = models.ForeignKey(Feed, on_delete=models.SET_NULL, null=True, related_name="items")
    title = models.CharField(max_length=500)
    link = models.URLField(max_length=1000)
    summary = models.TextField(blank=True)
    image_url = models.URLField(max_length=1000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    post = models.ForeignKey(
        "calendar_app.Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-published_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "link"], name="suggestion_unique_link")
        ]

    def __str__(self) -> str:
        return self.title


class Giveaway(BaseModel):
    """A reproducible draw among the commenters of a published post."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="giveaways")
    target = models.ForeignKey(PostTarget, on_delete=models.PROTECT, related_name="giveaways")
    name = models.CharField(max_length=200)
    winners_count = models.PositiveSmallIntegerField(default=1)
    must_contain = models.CharField(max_length=100, blank=True)
    one_entry_per_person = models.BooleanField(default=True)
    exclude_staff = models.BooleanField(default=True)
    excluded_handles = models.JSONField(default=list, blank=True)
    seed = models.CharField(max_length=64, blank=True)
    entrants = models.JSONField(default=list, blank=True, help_text="Every eligible entry.")
    winners = models.JSONField(default=list, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
