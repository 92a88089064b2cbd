"""Daily metric snapshots, synced from the platforms; idempotent per (object, date)."""

import uuid

from django.conf import settings
from django.db import models

from agency.models import Brand, SocialAccount
from calendar_app.models import PostTarget


class AccountMetricsDaily(models.Model):
    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    followers = models.PositiveIntegerField(null=True, blank=True)
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    engagements = models.PositiveBigIntegerField(default=0)
    profile_views = models.PositiveBigIntegerField(default=0)
    link_clicks = models.PositiveBigIntegerField(default=0)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="account_metrics_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.date}"


class PostMetricsDaily(models.Model):
    """Cumulative totals of one published target as of that day."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, related_name="daily")
    date = models.DateField()
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    engagements = models.PositiveBigIntegerField(default=0)
    link_clicks = models.PositiveBigIntegerField(default=0)
    video_views = models.PositiveBigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target", "date"]
        constraints = [
            models.UniqueConstraint(fields=["target", "date"], name="post_metrics_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.target_id} {self.date}"


class Goal(models.Model):
    """A SMART goal bound to a live metric: e.g. median first response under 24 hours by
    31 December. Its progress and status are computed from the metrics, never typed in."""

    class Metric(models.TextChoices):
        FOLLOWERS = "followers", "Followers"
        ENGAGEMENT_RATE = "engagement_rate", "Engagement rate (engagements / reach)"
        IMPRESSIONS = "impressions", "Impressions"
        REACH = "reach", "Reach"
        LINK_CLICKS = "link_clicks", "Link clicks"
        MEDIAN_FIRST_RESPONSE = "median_first_response", "Median first response (minutes)"
        SPEND = "spend", "Paid spend"
        ROAS = "roas", "Return on ad spend"
        CLICKS = "clicks", "Paid clicks"
        CONVERSIONS = "conversions", "Conversions"

    class Direction(models.TextChoices):
        AT_LEAST = "at_least", "Reach at least"
        AT_MOST = "at_most", "Stay at or under"

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        ACHIEVED = "achieved", "Achieved"
        MISSED = "missed", "Missed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=200, help_text="The goal in words, as the client reads it.")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    account = models.ForeignKey(
        SocialAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="goals",
        help_text="One account, or empty for the whole brand.",
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    target = models.DecimalField(max_digits=16, decimal_places=4)
    baseline = models.DecimalField(
        max_digits=16, decimal_places=4, null=True, blank=True, help_text="Value at the start."
    )
    start_date = models.DateField()
    due_date = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    last_status = models.CharField(max_length=12, choices=Status.choices, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(due_date__gt=models.F("start_date")),
                name="goal_due_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name


def _token_hash_help() -> str:
    return "SHA-256 of the token; the token itself is only in the e-mail."


class MagicLink(models.Model):
    """An expiring, revocable signed link that logs a client user into the portal."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="magic_links")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="magic_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, help_text=_token_hash_help())
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"portal link for {self.user} ({self.brand})"


class ScheduledReport(models.Model):
    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly (the previous Monday to Sunday)"
        MONTHLY = "monthly", "Monthly (the previous calendar month)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="scheduled_reports")
    name = models.CharField(max_length=200)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    recipients = models.JSONField(default=list, help_text="E-mail addresses.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReportDelivery(models.Model):
    """One period's report of a schedule: the unique constraint makes a second beat tick for the
    same period a no-op, so exactly one e-mail goes out per period."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    schedule = models.ForeignKey(
        ScheduledReport, on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"], name="report_delivery_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} {self.period_start}..{self.period_end} {self.status}"


class ReportExport(models.Model):
    """A PDF report generated by a task, with progress for the page that waits on it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Generating"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="report_exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.brand} {self.period_start}..{self.period_end} ({self.status})"
