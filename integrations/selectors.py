"""Reads of outgoing webhooks, and who may see and change them.

Endpoints belong to an agency. Its staff (admin, manager, marketer) read them and their
deliveries; only its admins change them, replay and send test events. Anyone else, a client of
one of its brands included, is told the endpoint does not exist (404).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from agency.models import Agency, Brand, Membership, Role
from integrations.models import Delivery, DeliveryAttempt, WebhookEndpoint

__all__ = [
    "admin_agencies_for",
    "deliveries_for_endpoint",
    "deliveries_for_user",
    "delivery_for_user",
    "endpoint_brands_for_user",
    "endpoint_for_user",
    "endpoints_for_user",
    "is_staff",
    "staff_role",
]


def _staff_agencies(user) -> QuerySet:
    if not user.is_authenticated:
        return Membership.objects.none().values("agency")
    return Membership.objects.filter(user=user).values("agency")


def staff_role(*, user, agency_id) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, agency_id=agency_id).values_list("role", flat=True)
    ).first()


def admin_agencies_for(*, user) -> QuerySet[Agency]:
    if not user.is_authenticated:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=user, memberships__role=Role.ADMIN).distinct()


def endpoint_brands_for_user(*, user) -> QuerySet[Brand]:
    """Brands an endpoint of the user's admin agencies may be restricted to."""
    return Brand.objects.filter(agency__in=admin_agencies_for(user=user)).order_by("name")


def endpoints_for_user(*, user) -> QuerySet[WebhookEndpoint]:
    """Every endpoint of the agencies the user is staff of, with its delivery counts."""
    return (
        WebhookEndpoint.objects.filter(agency__in=_staff_agencies(user))
        .select_related("agency", "brand", "created_by")
        .annotate(
            delivery_count=Count("deliveries"),
            failed_count=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED)),
            pending_count=Count(
                "deliveries",
                filter=Q(deliveries__state__in=[Delivery.State.PENDING, Delivery.State.DELIVERING]),
            ),
        )
        .order_by("agency__name", "-created_at")
    )


def _check_write(*, user, agency: Agency) -> None:
    if staff_role(user=user, agency_id=agency.pk) != Role.ADMIN:
        raise PermissionDenied(
            f"Only an admin of {agency} can change its webhooks; your role can read them."
        )


def endpoint_for_user(*, user, endpoint_id, write: bool = False) -> WebhookEndpoint:
    """The endpoint if the user is staff of its agency (else 404), and its admin when writing
    (else 403)."""
    try:
        endpoint = (
            WebhookEndpoint.objects.filter(agency__in=_staff_agencies(user))
            .select_related("agency", "brand", "created_by")
            .get(pk=endpoint_id)
        )
    except (WebhookEndpoint.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("No such webhook endpoint.") from exc
    if write:
        _check_write(user=user, agency=endpoint.agency)
    return endpoint


def deliveries_for_user(*, user) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(endpoint__agency__in=_staff_agencies(user))
        .select_related("endpoint", "brand")
        .order_by("-created_at")
    )


def deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(endpoint=endpoint).select_related("brand").order_by("-created_at")
    )


def delivery_for_user(*, user, delivery_id, write: bool = False) -> Delivery:
    """The delivery with its endpoint and its attempts (newest first)."""
    try:
        delivery = (
            deliveries_for_user(user=user)
            .select_related("endpoint__agency")
            .prefetch_related(
                Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-id"))
            )
            .get(pk=delivery_id)
        )
    except (Delivery.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("No such webhook delivery.") from exc
    if write:
        _check_write(user=user, agency=delivery.endpoint.agency)
    return delivery


def is_staff(*, user) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user).exists()
