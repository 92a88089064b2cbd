"""Who may read and write what: the one place tenancy and roles are decided.

Staff (admin, manager, marketer) see every brand of the agencies they are members of; a client
user sees only the brands of their ClientAccess rows and never writes, except to approve or
request changes on posts sent to them. Each role writes its own side and reads the other.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from agency.models import Brand, ClientAccess, Membership, Role


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


def can_write(role: str | None, area: str) -> bool:
    return role in WRITERS[area]


def writable_areas(role: str | None) -> list[str]:
    return [area for area, roles in WRITERS.items() if role in roles]


def brands_for_user(*, user) -> QuerySet[Brand]:
    """Every brand the user may read, each annotated with `user_role` (their role on it)."""
    if not user.is_authenticated:
        return Brand.objects.none()
    staff_role = Membership.objects.filter(user=user, agency=OuterRef("agency")).values("role")[:1]
    return (
        Brand.objects.filter(
            Q(agency__in=Membership.objects.filter(user=user).values("agency"))
            | Q(pk__in=ClientAccess.objects.filter(user=user).values("brand"))
        )
        .annotate(user_role=Coalesce(Subquery(staff_role), Value(Role.CLIENT.value)))
        .select_related("agency")
    )


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
    return brand


def is_staff_of_any_agency(user) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user).exists()


def admin_agencies(user):
    """Agencies where the user is an admin (they may create brands there)."""
    from agency.models import Agency

    if not user.is_authenticated:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=user, memberships__role=Role.ADMIN).distinct()
