"""/api/v1/ resources of reports: organic metric snapshots, SMART goals, PDF reports and
scheduled reports.

Who may do what, as on the dashboard and in the client portal:

- metrics, goals and PDF reports: read by everyone who sees the brand, its client users
  included (the portal shows them);
- goals and scheduled reports: written by the roles that write reports (admin, manager,
  marketer); a client gets a 403;
- a PDF report may be requested by anyone who reads the brand, clients included, as the
  portal's "PDF report" page allows: it writes nothing of the brand, only renders its numbers;
- scheduled reports (their recipients are e-mail addresses) are the agency's: a client does not
  see them at all, so they are 404s like another tenant's.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from agency.api import BrandScopedViewSet
from agency.models import Role
from agency.permissions import Area, brand_for_user, brands_for_user
from reports import services
from reports.filters import (
    AccountMetricFilter,
    GoalFilter,
    PostMetricFilter,
    ReportExportFilter,
    ScheduledReportFilter,
)
from reports.models import (
    AccountMetricsDaily,
    Goal,
    PostMetricsDaily,
    ReportDelivery,
    ReportExport,
    ScheduledReport,
)
from reports.selectors.exports import report_deliveries_for_schedule
from reports.serializers import (
    AccountMetricSerializer,
    GoalSerializer,
    GoalUpdateSerializer,
    PostMetricSerializer,
    ReportExportRequestSerializer,
    ReportExportSerializer,
    ScheduledReportSerializer,
    ScheduledReportUpdateSerializer,
)

__all__ = [
    "AccountMetricViewSet",
    "GoalViewSet",
    "PostMetricViewSet",
    "ReportExportViewSet",
    "ScheduledReportViewSet",
]

READ_ONLY = ["get", "head", "options"]


# -- organic metrics ----------------------------------------------------------------------------


class AccountMetricViewSet(BrandScopedViewSet):
    """Daily snapshots of each social account (followers, impressions, reach, engagements,
    profile views, link clicks), as synced from the platforms. Read only."""

    queryset = AccountMetricsDaily.objects.all()
    serializer_class = AccountMetricSerializer
    write_area = Area.REPORTS
    brand_lookup = "account__brand"
    filterset_class = AccountMetricFilter
    ordering_fields = ["date"]
    ordering = ["-date", "id"]
    http_method_names = READ_ONLY

    def scope_queryset(self, queryset):
        return queryset.select_related("account")


class PostMetricViewSet(BrandScopedViewSet):
    """Daily snapshots of each published post target: cumulative totals as of that day.
    Read only."""

    queryset = PostMetricsDaily.objects.all()
    serializer_class = PostMetricSerializer
    write_area = Area.REPORTS
    brand_lookup = "target__post__brand"
    filterset_class = PostMetricFilter
    ordering_fields = ["date", "engagements", "reach", "impressions"]
    ordering = ["-date", "id"]
    http_method_names = READ_ONLY

    def scope_queryset(self, queryset):
        return queryset.select_related("target__post")


# -- goals --------------------------------------------------------------------------------------


@extend_schema_view(
    update=extend_schema(request=GoalUpdateSerializer, responses=GoalUpdateSerializer),
    partial_update=extend_schema(request=GoalUpdateSerializer, responses=GoalUpdateSerializer),
)
class GoalViewSet(BrandScopedViewSet):
    """SMART goals of the brands you can see, each with its live progress and status (computed
    from the metrics on every read, so a page of goals costs a few queries per goal). Admins,
    managers and marketers write; clients read."""

    queryset = Goal.objects.all()
    serializer_class = GoalSerializer
    write_area = Area.REPORTS
    filterset_class = GoalFilter
    ordering_fields = ["due_date", "start_date", "name", "created_at"]
    ordering = ["due_date", "name", "id"]

    def scope_queryset(self, queryset):
        return queryset.select_related("brand", "account", "owner")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return GoalUpdateSerializer
        return GoalSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        brand = data.pop("brand")
        serializer.instance = services.goal_create(brand=brand, by=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = services.goal_update(
            goal=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.goal_delete(goal=instance, by=self.request.user)


# -- PDF reports --------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=ReportExportRequestSerializer,
        responses={202: ReportExportSerializer},
        description="Queue the PDF report of a brand for a period (both days included, at most "
        "366). Answers 202 at once; poll the report until `status` is `done` (then "
        "`download_url` is set) or `failed` (then `error` says why).",
    ),
)
class ReportExportViewSet(BrandScopedViewSet):
    """PDF reports of a brand for a period, generated by a worker: request, poll, download."""

    queryset = ReportExport.objects.all()
    serializer_class = ReportExportSerializer
    write_area = Area.REPORTS
    filterset_class = ReportExportFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def scope_queryset(self, queryset):
        return queryset.select_related("requested_by")

    def get_serializer_class(self):
        if self.action == "create":
            return ReportExportRequestSerializer
        return ReportExportSerializer

    def create(self, request, *args, **kwargs):
        serializer = ReportExportRequestSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Reading the brand is enough (see the module docstring); BrandField already limited
        # the choice to brands the caller sees, this re-reads it with the caller's role.
        brand = brand_for_user(user=request.user, brand_id=data["brand"].pk)
        export = services.report_export_request(
            brand=brand, by=request.user, start=data["start"], end=data["end"]
        )
        body = ReportExportSerializer(export, context=self.get_serializer_context()).data
        location = reverse("api:report-detail", args=[export.pk])
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The PDF, as an attachment."
            ),
        },
        description="The PDF once the report is `done`; 404 before that (and for a report of a "
        "brand you cannot see).",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def download(self, request, pk=None):
        export = self.get_object()
        if export.status != ReportExport.Status.DONE or not export.file:
            raise Http404("This report is not ready.")
        brand = brand_for_user(user=request.user, brand_id=export.brand_id)
        name = (
            f"{brand.slug}-report-{export.period_start:%Y-%m-%d}-{export.period_end:%Y-%m-%d}.pdf"
        )
        try:
            handle = export.file.open("rb")
        except FileNotFoundError as exc:
            # The row outlived its file (media wiped or moved): there is nothing to send.
            raise Http404("The file of this report is gone; request the report again.") from exc
        return FileResponse(
            handle, as_attachment=True, filename=name, content_type="application/pdf"
        )


# -- scheduled reports --------------------------------------------------------------------------


class ReportDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportDelivery
        fields = [
            "id",
            "period_start",
            "period_end",
            "status",
            "recipients",
            "sent_at",
            "attempts",
            "error",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    update=extend_schema(
        request=ScheduledReportUpdateSerializer, responses=ScheduledReportUpdateSerializer
    ),
    partial_update=extend_schema(
        request=ScheduledReportUpdateSerializer, responses=ScheduledReportUpdateSerializer
    ),
)
class ScheduledReportViewSet(BrandScopedViewSet):
    """Reports e-mailed as a PDF once per week or month. The agency's staff only: a brand's
    client users do not see its schedules."""

    queryset = ScheduledReport.objects.all()
    serializer_class = ScheduledReportSerializer
    write_area = Area.REPORTS
    filterset_class = ScheduledReportFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]

    def scope_queryset(self, queryset):
        staff = brands_for_user(user=self.request.user).exclude(user_role=Role.CLIENT)
        return queryset.filter(brand__in=staff.values("pk")).select_related("brand")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ScheduledReportUpdateSerializer
        return ScheduledReportSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.scheduled_report_create(
            brand=data.pop("brand"), by=self.request.user, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.scheduled_report_update(
            schedule=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.scheduled_report_delete(schedule=instance, by=self.request.user)

    @extend_schema(request=None, responses={200: ReportDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """The schedule's e-mails, one per period, newest first."""
        schedule = self.get_object()
        page = self.paginate_queryset(report_deliveries_for_schedule(schedule=schedule))
        return self.get_paginated_response(ReportDeliverySerializer(page, many=True).data)
