"""Reads of the shared kernel. Tenancy comes from agency.permissions.brands_for_user."""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from agency.models import ApiToken, AuditEvent, Heartbeat, Notification, SocialAccount
from agency.permissions import brands_for_user


def social_accounts_for_user(*, user) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(brand__in=brands_for_user(user=user).values("pk"))


def brands_with_account_counts(*, user):
    return brands_for_user(user=user).annotate(
        account_count=Count("social_accounts", distinct=True),
        accounts_needing_attention=Count(
            "social_accounts",
            filter=~Q(social_accounts__status=SocialAccount.Status.CONNECTED),
            distinct=True,
        ),
    )


def api_tokens_for_user(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).prefetch_related("brands")


def notifications_for_user(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user).select_related("brand")
    return qs.filter(read_at__isnull=True) if unread_only else qs


def audit_events_for_brand(*, brand) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(brand=brand).select_related("actor")


def background_health(*, stale_after: timedelta = timedelta(minutes=2)) -> dict[str, dict]:
    """Whether the worker and beat have reported recently, for the dashboard and /healthz."""
    now = timezone.now()
    seen = {h.name: h.last_seen for h in Heartbeat.objects.filter(name__in=["worker", "beat"])}
    return {
        name: {
            "last_seen": seen.get(name),
            "alive": bool(seen.get(name) and now - seen[name] < stale_after),
        }
        for name in ("worker", "beat")
    }


def memberships_for_user(*, user):
    """The user's staff memberships, with their agencies."""
    return user.memberships.select_related("agency").order_by("agency__name")


def client_brands_for_user(*, user):
    """The brands the user reads as a client (not those they see as staff)."""
    return brands_for_user(user=user).filter(client_accesses__user=user)


def accounts_with_expiring_tokens(*, within: timedelta = timedelta(minutes=30)):
    """Connected accounts whose token expires soon and that hold a refresh token."""
    return (
        SocialAccount.objects.filter(
            status=SocialAccount.Status.CONNECTED,
            token_expires_at__isnull=False,
            token_expires_at__lt=timezone.now() + within,
        )
        .exclude(refresh_token="")
        .select_related("brand__agency")
    )
