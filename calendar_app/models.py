import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from agency.models import BaseModel, Brand, SocialAccount


class Media(BaseModel):
    """A file in a brand's media library."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to="library/%Y/%m/")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, for video.")
    alt_text = models.CharField(max_length=1000, blank=True)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name_plural = "media"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "checksum"], name="media_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.name


class Post(BaseModel):
    """One piece of content for one or more accounts of a brand."""

    class Approval(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        CLIENT_REVIEW = "client_review", "Waiting for the client"
        CLIENT_APPROVED = "client_approved", "Approved by the client"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_posts",
    )
    title = models.CharField(max_length=200, blank=True, help_text="Internal, never published.")
    text = models.TextField(blank=True)
    link = models.URLField(blank=True, max_length=2000)
    tags = models.JSONField(default=list, blank=True)
    media = models.ManyToManyField(Media, blank=True, related_name="posts")
    scheduled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    import_job = models.ForeignKey(
        "ImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    approval_state = models.CharField(
        max_length=20, choices=Approval.choices, default=Approval.DRAFT
    )

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        indexes = [
            models.Index(fields=["brand", "scheduled_at"], name="post_brand_schedule"),
            # The API's post list: a brand's newest first, a page at a time (ORDER BY ... LIMIT).
            models.Index(fields=["brand", "-created_at"], name="post_brand_created"),
        ]

    def __str__(self) -> str:
        return self.title or (self.text[:60] + ("..." if len(self.text) > 60 else ""))

    @property
    def is_approved(self) -> bool:
        return self.approval_state in (self.Approval.APPROVED, self.Approval.CLIENT_APPROVED)


class TargetState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"
    UNCONFIRMED = "unconfirmed", "Unconfirmed"
    CANCELLED = "cancelled", "Cancelled"


class PostTarget(BaseModel):
    """The post on one social account: its own variant, state and result.

    State changes happen only in calendar_app.services, each as one conditional UPDATE from the
    states it may leave, so two workers can never both move the same target.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey(SocialAccount, on_delete=models.PROTECT, related_name="targets")
    text_override = models.TextField(blank=True)
    first_comment = models.TextField(blank=True)
    media_override = models.ManyToManyField(Media, blank=True, related_name="target_overrides")
    state = models.CharField(max_length=16, choices=TargetState.choices, default=TargetState.DRAFT)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the dispatcher may next pick it up (UTC)."
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    external_id = models.CharField(max_length=300, blank=True)
    external_url = models.URLField(max_length=1000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="What went wrong, in words.")
    platform_hints = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the platform told us that helps settle an unknown outcome later.",
    )
    needs_attention = models.BooleanField(
        default=False, help_text="Waiting for a person: retry or mark as published."
    )

    class Meta:
        ordering = ["post", "account__platform"]
        constraints = [
            models.UniqueConstraint(fields=["post", "account"], name="target_unique_account"),
            models.CheckConstraint(
                condition=~Q(state=TargetState.PUBLISHED) | ~Q(external_id=""),
                name="target_published_has_external_id",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[TargetState.SCHEDULED, TargetState.QUEUED])
                | Q(due_at__isnull=False),
                name="target_pending_has_due_at",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(state="scheduled"),
                name="target_due_scheduled",
            ),
            models.Index(fields=["state", "lease_expires_at"], name="target_state_lease"),
            # The calendar's range: a target's time is its due, published or planned time
            # (calendar_app.selectors.calendar), each found by its own index.
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="target_due"),
            models.Index(
                fields=["published_at"],
                condition=Q(published_at__isnull=False),
                name="target_published",
            ),
            # Targets without a due time (drafts) take their post's plan; this finds them by
            # post without reading every target.
            models.Index(fields=["post"], condition=Q(due_at__isnull=True), name="target_untimed"),
        ]

    def __str__(self) -> str:
        return f"{self.post} -> {self.account}"

    @property
    def effective_text(self) -> str:
        return self.text_override or self.post.text


class PublishAttempt(models.Model):
    """One try at publishing a target: when, how it ended, and what the platform said."""

    class Result(models.TextChoices):
        STARTED = "started", "Started"
        PUBLISHED = "published", "Published"
        RETRY = "retry", "Will retry"
        HELD = "held", "Held until the account is reconnected"
        FAILED = "failed", "Failed"
        UNCONFIRMED = "unconfirmed", "Outcome unknown"

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, related_name="attempts_log")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=12, choices=Result.choices, default=Result.STARTED)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.target_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.result}"


class ApprovalDecision(models.Model):
    """One step of a post's approval: submitted, approved, changes requested (with a comment),
    internally or by the client. The history a client and an auditor can read."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Submitted for review"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        SENT_TO_CLIENT = "sent_to_client", "Sent to the client"
        CLIENT_APPROVED = "client_approved", "Approved by the client"
        CLIENT_CHANGES_REQUESTED = "client_changes_requested", "Client requested changes"
        REOPENED = "reopened", "Edited after approval: back to review"

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="decisions")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.post} {self.kind}"


class QueueSlot(BaseModel):
    """A recurring publishing time of one account, in its brand's time zone."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="slots")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    time = models.TimeField(help_text="Wall-clock time in the brand's time zone.")

    class Meta:
        ordering = ["account", "weekday", "time"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "weekday", "time"], name="slot_unique_per_account"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="slot_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.get_weekday_display()} {self.time:%H:%M}"


class HashtagSet(BaseModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="hashtag_sets")
    name = models.CharField(max_length=100)
    hashtags = models.TextField(help_text="Space-separated, e.g. #coffee #roastery")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="hashtag_set_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Snippet(BaseModel):
    """Saved text a manager reuses in posts (signatures, disclaimers, calls to action)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="snippets")
    name = models.CharField(max_length=100)
    text = models.TextField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="snippet_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ImportJob(BaseModel):
    """A bulk CSV import of posts: validated in full first, then imported by a Celery task."""

    class Status(models.TextChoices):
        INVALID = "invalid", "Has errors: nothing imported"
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed: nothing imported"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_posts = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='[{"row": 3, "column": "time", "message": "..."}]'
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.original_name} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
