"""Who may read and write what: the one place tenancy and roles are decided.

Staff (admin, manager, marketer) see every brand of the agencies they are members of; a client
user sees only the brands of their ClientAccess rows and never writes, except to approve or
request changes on posts sent to them. Each role writes its own side and reads the other.

An API token narrows its user further: to its scopes ("calendar:write", "ads:read") and, if it
names brands, to those. ApiTokenAuthentication puts the token on the request's user, so the two
entry points below (brands_for_user, brand_for_user) apply it wherever they are used, and
TokenScopePermission checks the scope an endpoint needs before any view code runs.
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from agency.models import ApiToken, Brand, ClientAccess, Membership, Role


class Area(models.TextChoices):
    AGENCY = "agency", "Agency and brands"
    ACCOUNTS = "accounts", "Social accounts"
    CALENDAR = "calendar", "Calendar and publishing"
    COMMUNITY = "community", "Inbox and listening"
    ADS = "ads", "Ads and influencers"
    REPORTS = "reports", "Reports and goals"


WRITERS: dict[str, frozenset[str]] = {
    Area.AGENCY: frozenset({Role.ADMIN}),
    Area.ACCOUNTS: frozenset({Role.ADMIN, Role.MANAGER}),
    Area.CALENDAR: frozenset({Role.ADMIN, Role.MANAGER}),
    Area.COMMUNITY: frozenset({Role.ADMIN, Role.MANAGER}),
    Area.ADS: frozenset({Role.ADMIN, Role.MARKETER}),
    Area.REPORTS: frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER}),
}


def scope(area: str, *, write: bool) -> str:
    return f"{area}:{'write' if write else 'read'}"


READ_SCOPES = [scope(area, write=False) for area in Area]
ALL_SCOPES = [scope(area, write=write) for area in Area for write in (False, True)]

# The attribute ApiTokenAuthentication sets on the user of a token-authenticated request.
TOKEN_ATTR = "request_api_token"  # noqa: S105 - an attribute name, not a secret


def token_of(user) -> ApiToken | None:
    """The API token the user's current request came with; None for a browser session."""
    return getattr(user, TOKEN_ATTR, None)


def can_write(role: str | None, area: str) -> bool:
    return role in WRITERS[area]


def writable_areas(role: str | None) -> list[str]:
    return [area for area, roles in WRITERS.items() if role in roles]


def brands_for_user(*, user) -> QuerySet[Brand]:
    """Every brand the user may read, each annotated with `user_role` (their role on it)."""
    if not user.is_authenticated:
        return Brand.objects.none()
    staff_role = Membership.objects.filter(user=user, agency=OuterRef("agency")).values("role")[:1]
    brands = (
        Brand.objects.filter(
            Q(agency__in=Membership.objects.filter(user=user).values("agency"))
            | Q(pk__in=ClientAccess.objects.filter(user=user).values("brand"))
        )
        .annotate(user_role=Coalesce(Subquery(staff_role), Value(Role.CLIENT.value)))
        .select_related("agency")
    )
    token = token_of(user)
    if token is not None and token.brand_ids:
        brands = brands.filter(pk__in=token.brand_ids)
    return brands


def brand_for_user(
    *, user, brand_id, write: bool = False, area: str | None = None, staff_only: bool = False
) -> Brand:
    """The brand, if the user may see it (else 404), and write to `area` of it (else 403).

    `staff_only`: a page of the agency's working tools (inbox, listening, ads). The brand's own
    client users get the same 404 as outsiders: they read results in the portal, not here.
    """
    try:
        brand = brands_for_user(user=user).get(pk=brand_id)
    except (Brand.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("No such brand.") from exc
    if staff_only and brand.user_role == Role.CLIENT:
        raise Http404("No such brand.")
    if write:
        if area is None:
            raise ValueError("brand_for_user(write=True) needs the area being written")
        if not can_write(brand.user_role, area):
            raise PermissionDenied(
                f"Your role ({Role(brand.user_role).label}) can read but not change "
                f"{Area(area).label.lower()} of {brand.name}."
            )
        token = token_of(user)
        if token is not None and not token.allows(scope(area, write=True)):
            raise PermissionDenied(missing_scope_message(scope(area, write=True)))
    return brand


def is_staff_of_any_agency(user) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user).exists()


def admin_agencies(user):
    """Agencies where the user is an admin (they may create brands there)."""
    from agency.models import Agency

    if not user.is_authenticated:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=user, memberships__role=Role.ADMIN).distinct()


# API token scopes: which one an endpoint needs.

# A view that declares no area takes its app's. Views of other project apps (not listed) must
# declare `read_area`/`write_area`, or tokens are refused there: forgetting fails closed.
APP_AREAS = {
    "agency": Area.AGENCY,
    "calendar_app": Area.CALENDAR,
    "community": Area.COMMUNITY,
    "ads": Area.ADS,
    "reports": Area.REPORTS,
    # Webhook endpoints and deliveries: agency-wide configuration, like brands.
    "integrations": Area.AGENCY,
}
NO_SCOPE_NEEDED = ""


def missing_scope_message(needed: str) -> str:
    return f"This API token lacks the scope {needed}."


def _is_project_code(app_config) -> bool:
    path = Path(app_config.path)
    return path.is_relative_to(settings.BASE_DIR) and "site-packages" not in path.parts


def required_scope(view, method: str) -> str | None:
    """The scope a token needs to call `view` with `method`: a write needs `<area>:write`, a
    read `<area>:read`. NO_SCOPE_NEEDED for third-party views (the API root, the schema), which
    show no tenant data; None when a view of ours has no area, which no token may call."""
    write = method not in SAFE_METHODS
    area = getattr(view, "write_area", None)
    if not write:
        area = getattr(view, "read_area", None) or area
    if area is None:
        app_config = apps.get_containing_app_config(type(view).__module__)
        if app_config is None or not _is_project_code(app_config):
            return NO_SCOPE_NEEDED
        area = APP_AREAS.get(app_config.label)
    return None if area is None else scope(area, write=write)


def check_token_scope(*, token: ApiToken, view, method: str) -> None:
    needed = required_scope(view, method)
    if needed is None:
        raise exceptions.PermissionDenied(
            "API tokens cannot use this endpoint: it declares no area (read_area/write_area)."
        )
    if needed and not token.allows(needed):
        raise exceptions.PermissionDenied(missing_scope_message(needed))
    # A brand-limited token may only use endpoints that read their brands through
    # brands_for_user (which applies the limit); one that answers for the whole agency (its
    # audit log, say) would show it the other brands. Such views opt in with
    # `honours_brand_limit = True` once they do.
    if needed and token.brand_ids and not getattr(view, "honours_brand_limit", False):
        raise exceptions.PermissionDenied(
            "This token is limited to some brands, and this endpoint answers for the whole "
            "agency: use a token that is not limited to brands."
        )


class TokenScopePermission(BasePermission):
    """A token-authenticated request needs the scope of the view's area; a browser session is
    limited by its user's roles only. In DEFAULT_PERMISSION_CLASSES, and added by the viewset
    bases even when a subclass sets its own permission_classes."""

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiToken):
            check_token_scope(token=request.auth, view=view, method=request.method)
        return True


def enforces_token_scopes(view) -> bool:
    return any(isinstance(p, TokenScopePermission) for p in view.get_permissions())
