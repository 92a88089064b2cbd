import uuid
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.functional import cached_property

from agency.crypto import EncryptedTextField


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example Europe/Berlin).",
            params={"value": value},
            code="invalid_time_zone",
        )


hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB, for example #1d4ed8.")


class BaseModel(models.Model):
    """UUID public ids and timestamps on everything that is ever exposed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Agency(BaseModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Brand(BaseModel):
    """A client of the agency."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="brands")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="IANA time zone."
    )
    website = models.URLField(blank=True)
    contact_email = models.EmailField(blank=True)
    logo = models.ImageField(upload_to="brands/logos/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1d4ed8", validators=[hex_color])
    secondary_color = models.CharField(max_length=7, default="#f59e0b", validators=[hex_color])

    class ApprovalWorkflow(models.TextChoices):
        NONE = "none", "No approval: scheduling publishes"
        INTERNAL = "internal", "Internal review"
        INTERNAL_CLIENT = "internal_client", "Internal review, then the client"

    approval_workflow = models.CharField(
        max_length=20, choices=ApprovalWorkflow.choices, default=ApprovalWorkflow.NONE
    )
    utm_template = models.CharField(
        max_length=500,
        blank=True,
        help_text="Appended to links in posts, e.g. utm_source={platform}&utm_medium=social"
        "&utm_campaign={campaign}. Placeholders: {platform}, {account}, {campaign}, {post}.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "slug"], name="brand_unique_slug_per_agency")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Platform(models.TextChoices):
    FACEBOOK = "facebook", "Facebook Page"
    INSTAGRAM = "instagram", "Instagram"
    X = "x", "X"
    LINKEDIN = "linkedin", "LinkedIn"
    MASTODON = "mastodon", "Mastodon"
    BLUESKY = "bluesky", "Bluesky"
    SANDBOX = "sandbox", "Sandbox"


class SocialAccount(BaseModel):
    """One profile of a brand on one platform."""

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        NEEDS_REAUTH = "needs_reauth", "Needs reconnecting"
        DISCONNECTED = "disconnected", "Disconnected"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="social_accounts")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    handle = models.CharField(max_length=200, help_text="The @name or page name on the platform.")
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The platform's own id of the account."
    )
    display_name = models.CharField(max_length=200, blank=True)
    instance_url = models.URLField(
        blank=True, help_text="Server of the account, for Mastodon and self-hosted Bluesky PDS."
    )
    bio = models.TextField(blank=True)
    link = models.URLField(blank=True)
    avatar_url = models.URLField(blank=True, max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONNECTED)
    status_reason = models.CharField(max_length=300, blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["brand__name", "platform", "handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "platform", "handle"], name="account_unique_handle_per_brand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.handle}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_token)


class Role(models.TextChoices):
    ADMIN = "admin", "Agency admin"
    MANAGER = "manager", "Social media manager"
    MARKETER = "marketer", "Social media marketer"
    CLIENT = "client", "Client"


class Membership(BaseModel):
    """A staff member of an agency; sees every brand of that agency."""

    STAFF_ROLES = [(r.value, r.label) for r in (Role.ADMIN, Role.MANAGER, Role.MARKETER)]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=STAFF_ROLES)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency"], name="membership_unique_user_agency"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "manager", "marketer"]),
                name="membership_role_is_staff",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.agency} ({self.role})"


class ClientAccess(BaseModel):
    """A client user reads one brand (and approves its posts when asked)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_accesses"
    )
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="client_accesses")

    class Meta:
        verbose_name_plural = "client accesses"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "brand"], name="client_access_unique_user_brand"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} reads {self.brand}"


class AuditEvent(models.Model):
    """Who did what to which object, when. Written by services, never edited."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="audit_events")
    brand = models.ForeignKey(
        Brand, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="audit_agency_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"


class ApiToken(BaseModel):
    """An API token: it acts as its user, narrowed to its scopes and, optionally, some brands.

    Personal tokens are a person's scripts; integration tokens are another system's (Zapier, a
    BI tool) and must name their scopes. A scope is "<area>:read" or "<area>:write" (the areas
    of agency.permissions.Area); write implies read. Only the key's SHA-256 is stored.
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        INTEGRATION = "integration", "Integration"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSONAL)
    scopes = models.JSONField(
        default=list, blank=True, help_text='For example ["calendar:write", "reports:read"].'
    )
    brands = models.ManyToManyField(
        Brand, blank=True, related_name="+", help_text="None: every brand the user can see."
    )
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        area, _, level = scope.partition(":")
        return scope in self.scopes or (level == "read" and f"{area}:write" in self.scopes)

    @cached_property
    def brand_ids(self) -> frozenset:
        """The brands the token is limited to; empty when it is not limited."""
        return frozenset(self.brands.values_list("pk", flat=True))


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed to its repeats.

    The row is inserted before the request runs and filled in by the same transaction, so a
    concurrent repeat waits on the unique index and then reads the finished answer; a failed
    request rolls its row back and the key can be used again.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Keys are per token (or per user for a browser session): two integrations of one user may
    # pick the same key without seeing each other's answers.
    owner = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique_owner_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class Notification(BaseModel):
    """An in-app message to one user (failed publish, approval decision, expired token...)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, null=True, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.title


class Heartbeat(models.Model):
    """Last time a background process (worker, beat) proved it was alive."""

    name = models.CharField(max_length=50, primary_key=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen}"


class SandboxPost(BaseModel):
    """What the built-in sandbox platform received: one row per publish call, never merged,
    so that a duplicate publish would show as two rows with the same idempotency key."""

    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=100, db_index=True)
    text = models.TextField(blank=True)
    link = models.URLField(blank=True, max_length=2000)
    media = models.JSONField(default=list, blank=True)
    first_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sandbox post {self.pk} on {self.account}"


class SandboxScript(BaseModel):
    """Tells the sandbox how to answer its next calls for one account (demos and tests).

    `outcomes` is consumed from the front, one per publish call: "ok", "throttle", "transient",
    "timeout" (received, then no answer: the outcome is unknown), "auth_expired", "reject".
    `delay_ms` is added to every call, like a slow platform.
    """

    account = models.OneToOneField(
        SocialAccount, on_delete=models.CASCADE, related_name="sandbox_script"
    )
    outcomes = models.JSONField(default=list, blank=True)
    delay_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"sandbox script for {self.account}"
