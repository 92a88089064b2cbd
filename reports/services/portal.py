"""Writes of the client portal: magic links that log a brand's client user in.

A link's token is `secrets.token_urlsafe(32)`; only its SHA-256 is stored, so the token exists in
the e-mail and, once, on the page of the staff member who made it. A link is good until it
expires or is revoked, for the client user it was made for, while they still read the brand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, ClientAccess, Membership
from agency.services import audit_log
from reports.models import MagicLink

__all__ = [
    "MAGIC_LINK_MAX_VALIDITY",
    "MAGIC_LINK_MIN_VALIDITY",
    "magic_link_create",
    "magic_link_revoke",
    "magic_link_token_hash",
    "magic_link_url",
    "magic_link_use",
]

logger = logging.getLogger(__name__)

MAGIC_LINK_MIN_VALIDITY = dt.timedelta(hours=1)
MAGIC_LINK_MAX_VALIDITY = dt.timedelta(days=30)


def magic_link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def magic_link_url(token: str) -> str:
    path = reverse("reports:portal-login", args=[token])
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _is_client_of(user, brand: Brand) -> bool:
    return (
        user.is_active
        and ClientAccess.objects.filter(user=user, brand=brand).exists()
        # A staff account must never be reachable by a link in an e-mail.
        and not Membership.objects.filter(user=user).exists()
    )


@transaction.atomic
def magic_link_create(*, brand: Brand, user, by, valid_for: dt.timedelta) -> tuple[MagicLink, str]:
    """A new link for a client user of the brand, e-mailed to them. The returned token is the
    only time it is visible: show it once, never store it."""
    if not _is_client_of(user, brand):
        raise ValidationError(
            {"user": f"{user.get_username()} is not a client user of {brand.name}."}
        )
    if not MAGIC_LINK_MIN_VALIDITY <= valid_for <= MAGIC_LINK_MAX_VALIDITY:
        raise ValidationError(
            {"valid_for": "A portal link must be valid for between one hour and 30 days."}
        )
    token = secrets.token_urlsafe(32)
    link = MagicLink(
        brand=brand,
        user=user,
        token_hash=magic_link_token_hash(token),
        expires_at=timezone.now() + valid_for,
        created_by=by,
    )
    link.full_clean()
    link.save()
    audit_log(
        actor=by,
        action="magic_link.created",
        target=link,
        agency=brand.agency,
        brand=brand,
        data={"user": user.get_username(), "expires_at": link.expires_at.isoformat()},
    )
    if user.email:
        expires = timezone.localtime(link.expires_at, brand.zone)
        try:
            send_mail(
                subject=f"Your {brand.name} portal",
                message=(
                    f"Hello {user.get_short_name() or user.get_username()},\n\n"
                    f"this link opens the {brand.name} portal: reports, goals, the planned "
                    f"posts and the posts that wait for your approval.\n\n"
                    f"{magic_link_url(token)}\n\n"
                    f"It works until {expires:%d %b %Y, %H:%M} ({brand.time_zone}). "
                    "Do not forward it: anyone with the link can open the portal as you."
                ),
                from_email=None,
                recipient_list=[user.email],
            )
        except Exception:
            # The staff member sees the link once on the page and can pass it on themselves.
            logger.exception("could not e-mail portal link %s to user %s", link.pk, user.pk)
    return link, token


@transaction.atomic
def magic_link_revoke(*, link: MagicLink, by) -> MagicLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit_log(
            actor=by,
            action="magic_link.revoked",
            target=link,
            agency=link.brand.agency,
            brand=link.brand,
        )
    return link


@transaction.atomic
def magic_link_use(*, token: str) -> MagicLink:
    """The link of the token if it may log its user in now (recording the use), else a
    ValidationError that says why in words."""
    link = (
        MagicLink.objects.select_for_update(of=("self",))
        .select_related("brand__agency", "user")
        .filter(token_hash=magic_link_token_hash(token))
        .first()
    )
    if link is None:
        raise ValidationError(
            "This link is not valid. Check that it was copied whole, or ask the agency for a "
            "new one.",
            code="unknown",
        )
    now = timezone.now()
    if link.revoked_at is not None:
        raise ValidationError(
            "This link was withdrawn by the agency. Ask them for a new one.", code="revoked"
        )
    if link.expires_at <= now:
        expired = timezone.localtime(link.expires_at, link.brand.zone)
        raise ValidationError(
            f"This link expired on {expired:%d %b %Y at %H:%M} ({link.brand.time_zone}). "
            "Ask the agency for a new one.",
            code="expired",
        )
    if not _is_client_of(link.user, link.brand):
        raise ValidationError(
            "This link no longer opens the portal: the account it was made for has no access "
            "to the brand any more.",
            code="no_access",
        )
    MagicLink.objects.filter(pk=link.pk).update(last_used_at=now, use_count=F("use_count") + 1)
    link.refresh_from_db(fields=["last_used_at", "use_count"])
    audit_log(
        actor=link.user,
        action="magic_link.used",
        target=link,
        agency=link.brand.agency,
        brand=link.brand,
        data={"use_count": link.use_count},
    )
    return link
