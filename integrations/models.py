"""Outgoing webhooks: endpoints an agency registers, and each event's delivery to each of them.

An endpoint belongs to the agency (not to one brand): it may hear every brand's events or be
restricted to one brand. A delivery is one event for one endpoint; it is retried as a whole and
every try leaves an attempt row. The unique (endpoint, event id) keeps an event from being queued
twice for the same endpoint, whichever code path emits it again.
"""

from django.conf import settings
from django.db import models

from agency.crypto import EncryptedTextField
from agency.models import Agency, BaseModel, Brand


class EventType(models.TextChoices):
    POST_PUBLISHED = "post.published", "A post went out on an account"
    POST_FAILED = "post.failed", "A post failed on an account"
    MESSAGE_RECEIVED = "message.received", "An inbound comment, mention or message arrived"
    CONVERSATION_ASSIGNED = "conversation.assigned", "A conversation was assigned"
    CAMPAIGN_OVER_BUDGET = "campaign.over_budget", "A campaign spent past its budget"
    GOAL_STATUS_CHANGED = "goal.status_changed", "A goal's status changed"
    REPORT_READY = "report.ready", "A PDF report is ready"
    # Only sent by "Send test event"; endpoints never subscribe to it.
    PING = "ping", "Test event"


SUBSCRIBABLE_EVENTS = [choice for choice in EventType.choices if choice[0] != EventType.PING]


class WebhookEndpoint(BaseModel):
    """A URL of the agency's (or its client's) systems that hears about events."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="webhook_endpoints")
    brand = models.ForeignKey(
        Brand,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="Only this brand's events. Empty: every brand of the agency.",
    )
    url = models.URLField(max_length=2000, verbose_name="URL")
    secret = EncryptedTextField(help_text="Signs every request; shown once, when it is made.")
    event_types = models.JSONField(default=list, help_text="The event types it subscribes to.")
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["agency", "-created_at"]
        indexes = [models.Index(fields=["agency", "is_active"], name="webhook_endpoint_active")]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def masked_secret(self) -> str:
        return f"{self.secret[:6]}…" if self.secret else ""

    def wants(self, event_type: str, brand_id) -> bool:
        if not self.is_active:
            return False
        if self.brand_id is not None and self.brand_id != brand_id:
            return False
        return event_type == EventType.PING or event_type in (self.event_types or [])


class Delivery(BaseModel):
    """One event for one endpoint. `id` goes out as X-Agency-Delivery and stays the same across
    retries and replays, so a receiver can drop what it has already handled."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    brand = models.ForeignKey(
        Brand, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    event_id = models.UUIDField()
    payload = models.JSONField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the task that should send it was put on the queue (or is due to run): the sweep
    # enqueues again only when this is stale, so a stopped worker does not pile up copies.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The next try is a replay someone asked for: one try, then it ends either way.
    replaying = models.BooleanField(default=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_excerpt = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.state})"

    @property
    def state_style(self) -> str:
        """The dashboard's existing state badge that reads the same."""
        return {
            self.State.SUCCEEDED: "published",
            self.State.FAILED: "failed",
            self.State.DELIVERING: "publishing",
        }.get(self.state, "queued")


class DeliveryAttempt(models.Model):
    """One try of a delivery: what was sent when, and what came back."""

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        REPLAY = "replay", "Replay"

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.AUTOMATIC)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "-started_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
