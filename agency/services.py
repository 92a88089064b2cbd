"""Writes of the shared kernel: brands, social accounts, tokens, audit and notifications.

Callers (views, API, admin, tasks) check access with agency.permissions first; services validate
the data, write it, and leave an audit event.
"""

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from agency import uploads
from agency.common import model_update
from agency.models import (
    Agency,
    ApiToken,
    AuditEvent,
    Brand,
    Heartbeat,
    IdempotencyRecord,
    Membership,
    Notification,
    Role,
    SocialAccount,
)
from agency.permissions import ALL_SCOPES, READ_SCOPES, brands_for_user, is_staff_of_any_agency

logger = logging.getLogger(__name__)

# What an audit event may record of a change: credentials are never among them.
_SECRET_FIELDS = {"access_token", "refresh_token"}


def audit_log(
    *,
    actor,
    action: str,
    target: models.Model,
    agency: Agency,
    brand: Brand | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        agency=agency,
        brand=brand,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        data=data or {},
    )


BRAND_FIELDS = [
    "name",
    "slug",
    "time_zone",
    "website",
    "contact_email",
    "logo",
    "primary_color",
    "secondary_color",
    "approval_workflow",
    "utm_template",
]


def _check_logo(logo) -> None:
    """A new logo upload is judged like the media library's uploads: by its size (at most
    AGENCY_MAX_LOGO_BYTES) and by what Pillow reads in it (JPEG, PNG, GIF or WebP), and it is
    stored under the extension of that type. "" (clear it) or the stored file pass as they are."""
    if not isinstance(logo, UploadedFile):
        return
    uploads.check_upload_size(logo, limit=uploads.max_logo_bytes(), field="logo")
    facts = uploads.image_facts(logo)
    if facts is None:
        raise uploads.not_readable_error(logo, field="logo", what="an image (JPEG, PNG, GIF, WebP)")
    logo.name = f"logo.{facts.extension}"


@transaction.atomic
def brand_create(*, agency: Agency, by, **fields: Any) -> Brand:
    _check_logo(fields.get("logo"))
    brand = Brand(agency=agency, **{k: v for k, v in fields.items() if k in BRAND_FIELDS})
    brand.full_clean()
    brand.save()
    audit_log(actor=by, action="brand.created", target=brand, agency=agency, brand=brand)
    return brand


@transaction.atomic
def brand_update(*, brand: Brand, by, data: dict[str, Any]) -> Brand:
    _check_logo(data.get("logo"))
    brand, changed = model_update(instance=brand, fields=BRAND_FIELDS, data=data)
    if changed:
        audit_log(
            actor=by,
            action="brand.updated",
            target=brand,
            agency=brand.agency,
            brand=brand,
            data={"fields": changed},
        )
    return brand


ACCOUNT_FIELDS = [
    "platform",
    "handle",
    "external_id",
    "display_name",
    "instance_url",
    "bio",
    "link",
    "avatar_url",
    "access_token",
    "refresh_token",
    "token_expires_at",
]


@transaction.atomic
def social_account_create(*, brand: Brand, by, **fields: Any) -> SocialAccount:
    account = SocialAccount(brand=brand, **{k: v for k, v in fields.items() if k in ACCOUNT_FIELDS})
    account.full_clean()
    account.save()
    audit_log(
        actor=by,
        action="social_account.created",
        target=account,
        agency=brand.agency,
        brand=brand,
        data={"platform": account.platform, "handle": account.handle},
    )
    return account


@transaction.atomic
def social_account_update(*, account: SocialAccount, by, data: dict[str, Any]) -> SocialAccount:
    # A blank credential in an edit form means "keep the stored one", never "erase it".
    data = {k: v for k, v in data.items() if not (k in _SECRET_FIELDS and not v)}
    account, changed = model_update(instance=account, fields=ACCOUNT_FIELDS, data=data)
    if changed:
        audit_log(
            actor=by,
            action="social_account.updated",
            target=account,
            agency=account.brand.agency,
            brand=account.brand,
            data={
                "fields": [f for f in changed if f not in _SECRET_FIELDS]
                + (["credentials"] if _SECRET_FIELDS & set(changed) else [])
            },
        )
    return account


@transaction.atomic
def social_account_disconnect(*, account: SocialAccount, by) -> SocialAccount:
    """Stop using the account: its stored credentials are erased, its history kept."""
    account.status = SocialAccount.Status.DISCONNECTED
    account.status_reason = "Disconnected by a user."
    account.access_token = ""
    account.refresh_token = ""
    account.token_expires_at = None
    account.save(
        update_fields=[
            "status",
            "status_reason",
            "access_token",
            "refresh_token",
            "token_expires_at",
            "updated_at",
        ]
    )
    audit_log(
        actor=by,
        action="social_account.disconnected",
        target=account,
        agency=account.brand.agency,
        brand=account.brand,
    )
    return account


@transaction.atomic
def social_account_reconnect(
    *,
    account: SocialAccount,
    by,
    access_token: str,
    refresh_token: str = "",
    token_expires_at: datetime | None = None,
) -> SocialAccount:
    account.access_token = access_token
    account.refresh_token = refresh_token
    account.token_expires_at = token_expires_at
    account.status = SocialAccount.Status.CONNECTED
    account.status_reason = ""
    account.full_clean()
    account.save()
    audit_log(
        actor=by,
        action="social_account.reconnected",
        target=account,
        agency=account.brand.agency,
        brand=account.brand,
    )
    return account


def brand_managers(*, brand: Brand):
    """Users who should hear about a brand's publishing problems: its managers and admins."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(
            memberships__agency_id=brand.agency_id,
            memberships__role__in=[Role.ADMIN, Role.MANAGER],
            is_active=True,
        )
        .distinct()
    )


def notify(
    *,
    users: Iterable,
    brand: Brand | None,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
) -> list[Notification]:
    """An in-app notification for each user, and an e-mail when they have an address."""
    users = list({u.pk: u for u in users}.values())
    notifications = Notification.objects.bulk_create(
        [Notification(user=u, brand=brand, title=title, body=body, url=url) for u in users]
    )
    if email:
        link = f"{settings.SITE_URL.rstrip('/')}{url}" if url else ""
        for user in users:
            if not user.email:
                continue
            try:
                send_mail(
                    subject=f"[agency] {title}",
                    message=f"{body}\n\n{link}".strip(),
                    from_email=None,
                    recipient_list=[user.email],
                )
            except Exception:
                # The in-app notification is already stored; a mail outage must not undo it.
                logger.exception("could not e-mail notification %r to user %s", title, user.pk)
    return notifications


def notification_mark_read(*, user, notification_ids: Iterable | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())


API_TOKEN_PREFIX = "agt_"  # noqa: S105 - a public marker, not a secret


def _hash_key(key: str) -> str:
    # The key is 256 random bits, so a plain SHA-256 is enough; no salt or slow hash needed.
    return hashlib.sha256(key.encode()).hexdigest()


def _token_scopes(*, user, kind: str, scopes: Iterable[str] | None) -> list[str]:
    staff = is_staff_of_any_agency(user)
    if scopes is None:
        if kind == ApiToken.Kind.INTEGRATION:
            raise ValidationError({"scopes": "Choose what the integration may read and write."})
        # A personal token can do what its user can; the roles still refuse the rest.
        return list(ALL_SCOPES if staff else READ_SCOPES)
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in ALL_SCOPES]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    if not chosen:
        raise ValidationError({"scopes": "A token needs at least one scope."})
    if not staff and set(chosen) - set(READ_SCOPES):
        raise ValidationError(
            {"scopes": "You are a client of every brand you see, so your tokens can only read."}
        )
    return chosen


@transaction.atomic
def api_token_create(
    *,
    user,
    name: str,
    kind: str = ApiToken.Kind.PERSONAL,
    scopes: Iterable[str] | None = None,
    brands: Iterable[Brand] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the user; the returned key is the only time it is ever visible.

    `scopes` None: a personal token gets every scope (a client only the read ones); an
    integration must choose. `brands` empty or None: every brand the user can see, now and later.
    """
    scopes = _token_scopes(user=user, kind=kind, scopes=scopes)
    brands = list(brands or [])
    visible = set(
        brands_for_user(user=user)
        .filter(pk__in=[b.pk for b in brands])
        .values_list("pk", flat=True)
    )
    if any(brand.pk not in visible for brand in brands):
        raise ValidationError({"brands": "A token can only be limited to brands you can see."})
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name.strip(),
        kind=kind,
        scopes=scopes,
        prefix=key[:10],
        key_hash=_hash_key(key),
    )
    token.full_clean()
    token.save()
    token.brands.set(brands)
    membership = Membership.objects.filter(user=user).select_related("agency").first()
    if membership:
        audit_log(
            actor=user,
            action="api_token.created",
            target=token,
            agency=membership.agency,
            data={"kind": kind, "scopes": scopes, "brands": sorted(str(b.pk) for b in brands)},
        )
    return token, key


def api_token_authenticate(*, key: str) -> ApiToken | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Writing on every request would make reads write; a minute's precision is plenty.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        membership = Membership.objects.filter(user=token.user).select_related("agency").first()
        if membership:
            audit_log(actor=by, action="api_token.revoked", target=token, agency=membership.agency)
    return token


# Idempotency-Key: how long a key's first answer is replayed (and then purged).
IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotency_claim(
    *, user, owner: str, key: str, fingerprint: str, method: str, path: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim `key` for the request about to run, or find who already did: (record, claimed).

    Call it inside the request's transaction. A concurrent claim of the same key waits on the
    unique index until that transaction ends: then it either claims the key (the first request
    failed and rolled back) or reads the first request's committed answer.
    """
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user,
                    owner=owner,
                    key=key,
                    fingerprint=fingerprint,
                    method=method,
                    path=path[:500],
                )
            return record, True
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if record is None:
                continue  # purged in between: claim again
            if record.created_at >= timezone.now() - IDEMPOTENCY_TTL:
                return record, False
            record.delete()  # expired, not yet purged: the key is free again
    raise RuntimeError(f"Could not claim the idempotency key {key!r}.")


def idempotency_record_response(
    *, record: IdempotencyRecord, status_code: int, body: Any, headers: dict[str, str]
) -> IdempotencyRecord:
    record.status_code = status_code
    record.response_body = body
    record.response_headers = headers
    record.save(update_fields=["status_code", "response_body", "response_headers"])
    return record


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def heartbeat_beat(*, name: str) -> Heartbeat:
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
    return beat


def social_account_mark_needs_reauth(*, account: SocialAccount, reason: str) -> bool:
    """The platform refused the account's token. Its posts are held (not failed) until someone
    reconnects it; the brand's managers hear about it once, not once per post."""
    changed = SocialAccount.objects.filter(
        pk=account.pk, status=SocialAccount.Status.CONNECTED
    ).update(
        status=SocialAccount.Status.NEEDS_REAUTH,
        status_reason=reason[:300],
        updated_at=timezone.now(),
    )
    if changed:
        account.status = SocialAccount.Status.NEEDS_REAUTH
        audit_log(
            actor=None,
            action="social_account.needs_reauth",
            target=account,
            agency=account.brand.agency,
            brand=account.brand,
            data={"reason": reason[:300]},
        )
        notify(
            users=brand_managers(brand=account.brand),
            brand=account.brand,
            title=f"Reconnect {account} ({account.brand})",
            body=f"{account.get_platform_display()} no longer accepts our access ({reason}). "
            "Scheduled posts for this account are on hold and will go out once it is "
            "reconnected.",
            url=f"/accounts/{account.pk}/edit/",
        )
    return bool(changed)


def social_account_refresh_credentials(*, account: SocialAccount) -> bool:
    """Swap the account's token for a fresh one before it expires, where the platform rotates
    tokens. Returns True if new credentials were stored.

    A refusal (AuthExpired) marks the account needs_reauth, so its posts are held and the
    managers told; a passing failure is left for the next run.
    """
    from agency.platforms import get_adapter
    from agency.platforms.errors import AuthExpired, PlatformError, secrets_scrubbed

    adapter = get_adapter(account.platform)
    try:
        # A refusal's words become the account's needs-reauth reason, shown to its managers.
        with secrets_scrubbed(account):
            fresh = adapter.refresh_credentials(account)
    except AuthExpired as exc:
        social_account_mark_needs_reauth(account=account, reason=str(exc))
        return False
    except PlatformError:
        logger.warning("could not refresh credentials of account %s; will try again", account.pk)
        return False
    if not fresh:
        return False
    with transaction.atomic():
        locked = SocialAccount.objects.select_for_update().get(pk=account.pk)
        locked.access_token = fresh["access_token"]
        if fresh.get("refresh_token"):
            locked.refresh_token = fresh["refresh_token"]
        locked.token_expires_at = fresh.get("expires_at")
        locked.save(
            update_fields=["access_token", "refresh_token", "token_expires_at", "updated_at"]
        )
        audit_log(
            actor=None,
            action="social_account.credentials_refreshed",
            target=locked,
            agency=account.brand.agency,
            brand=account.brand,
        )
    return True
