"""/api/v1/audit-events/: who did what to which object, when (read only).

Staff (admin, manager, marketer) see every event of the agencies they work at, those about no
brand (API tokens, for one) included. Client users see none: the list is empty and any event is
a 404, as for another agency's.

An event is scoped by its agency, not its brand (the brand is optional), so this is not a
BrandScopedViewSet: its one queryset is `audit_events_for_user` below.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from agency.api import ApiConventionsMixin, AutoSchema
from agency.models import AuditEvent, Membership
from agency.permissions import Area

__all__ = ["AuditEventFilter", "AuditEventSerializer", "AuditEventViewSet", "audit_events_for_user"]


def audit_events_for_user(*, user) -> QuerySet[AuditEvent]:
    """The events of the agencies the user is staff of; none for anyone else."""
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    agencies = Membership.objects.filter(user=user).values("agency")
    return AuditEvent.objects.filter(agency__in=agencies).select_related("actor")


class _PeriodForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The period ends before it starts.")
        return data


class AuditEventFilter(django_filters.FilterSet):
    agency = django_filters.UUIDFilter(field_name="agency_id")
    brand = django_filters.UUIDFilter(field_name="brand_id")
    action = django_filters.CharFilter(
        method="filter_action",
        label="An action (goal.created), or all of a kind with a trailing dot (goal.)",
    )
    actor = django_filters.NumberFilter(field_name="actor_id")
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    start = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="First day (UTC)"
    )
    end = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="Last day (UTC), included"
    )

    class Meta:
        model = AuditEvent
        fields = ["agency", "brand", "action", "actor", "target_type", "target_id"]
        form = _PeriodForm

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)


class AuditEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "agency",
            "brand",
            "actor",
            "actor_username",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "data",
        ]
        read_only_fields = fields


class AuditEventViewSet(ApiConventionsMixin, viewsets.ReadOnlyModelViewSet):
    """The audit trail of your agency: newest first, filterable by brand, action and day."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    lookup_field = "uuid"
    lookup_url_kwarg = "id"
    schema = AutoSchema()
    # Token scope agency:read. It answers for the whole agency, so a token limited to some
    # brands is refused.
    read_area = Area.AGENCY
    honours_brand_limit = False
    # An event is never edited: the moment it was written is its only version.
    etag_version_field = "created_at"

    def get_queryset(self):
        return audit_events_for_user(user=self.request.user)
