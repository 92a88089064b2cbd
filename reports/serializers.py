"""API shapes of reports: organic metric snapshots, SMART goals with their live progress, PDF
reports and scheduled reports. They describe and validate fields; services do the writing."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agency.api import BrandField
from agency.models import Membership, SocialAccount
from agency.permissions import brands_for_user
from reports.models import (
    AccountMetricsDaily,
    Goal,
    PostMetricsDaily,
    ReportExport,
    ScheduledReport,
)
from reports.selectors.goals import goal_progress
from reports.services.exports import REPORT_MAX_DAYS, REPORT_MAX_RECIPIENTS

__all__ = [
    "AccountMetricSerializer",
    "GoalProgressSerializer",
    "GoalSerializer",
    "GoalUpdateSerializer",
    "PostMetricSerializer",
    "ReportExportRequestSerializer",
    "ReportExportSerializer",
    "ScheduledReportSerializer",
    "ScheduledReportUpdateSerializer",
]

# Wide enough for any sum of daily counts; the schema's pattern says so, and values must fit it.
NUMBER = {"max_digits": 24, "decimal_places": 4}


# -- organic metrics ----------------------------------------------------------------------------


class AccountMetricSerializer(serializers.ModelSerializer):
    brand = serializers.UUIDField(source="account.brand_id", read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)

    class Meta:
        model = AccountMetricsDaily
        fields = [
            "id",
            "brand",
            "account",
            "platform",
            "date",
            "followers",
            "impressions",
            "reach",
            "engagements",
            "profile_views",
            "link_clicks",
            "synced_at",
        ]
        read_only_fields = fields


class PostMetricSerializer(serializers.ModelSerializer):
    brand = serializers.UUIDField(source="target.post.brand_id", read_only=True)
    post = serializers.UUIDField(source="target.post_id", read_only=True)
    account = serializers.UUIDField(source="target.account_id", read_only=True)

    class Meta:
        model = PostMetricsDaily
        fields = [
            "id",
            "brand",
            "post",
            "account",
            "target",
            "date",
            "impressions",
            "reach",
            "engagements",
            "link_clicks",
            "video_views",
            "synced_at",
        ]
        read_only_fields = fields


# -- goals --------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.UUID)
class VisibleAccountField(serializers.PrimaryKeyRelatedField):
    """A social account of a brand the requesting user can see; any other id does not exist."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return SocialAccount.objects.none()
        return SocialAccount.objects.filter(brand__in=brands_for_user(user=request.user))


@extend_schema_field(OpenApiTypes.INT)
class ColleagueField(serializers.PrimaryKeyRelatedField):
    """A user who works at one of the requesting user's agencies (the service then checks it is
    the goal's brand's agency); anyone else does not exist."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return get_user_model().objects.none()
        agencies = Membership.objects.filter(user=request.user).values("agency")
        return get_user_model().objects.filter(memberships__agency__in=agencies).distinct()


class GoalProgressSerializer(serializers.Serializer):
    """Computed from the metrics on every read (reports.selectors.goals.goal_progress)."""

    as_of = serializers.DateField(help_text="The last day counted: today, or the due date.")
    current = serializers.DecimalField(
        **NUMBER, allow_null=True, help_text="The metric's value; null when there is no data."
    )
    baseline = serializers.DecimalField(
        **NUMBER, allow_null=True, help_text="The starting value used (given or derived)."
    )
    expected = serializers.DecimalField(
        **NUMBER,
        allow_null=True,
        help_text="Where a straight line from baseline to target stands as of today.",
    )
    progress = serializers.FloatField(
        allow_null=True, help_text="Fraction of the way from baseline to target, 0 to 1."
    )
    progress_percent = serializers.IntegerField(allow_null=True)
    expected_progress = serializers.FloatField(help_text="Fraction of the window elapsed.")
    status = serializers.ChoiceField(choices=Goal.Status.choices)
    unit = serializers.CharField(help_text="'%', 'min', 'x' or empty for a count or amount.")


class GoalSerializer(serializers.ModelSerializer):
    brand = BrandField()
    account = VisibleAccountField(
        required=False, allow_null=True, help_text="One account, or null for the whole brand."
    )
    owner = ColleagueField(
        required=False, allow_null=True, help_text="Hears when the goal's status changes."
    )
    target = serializers.DecimalField(max_digits=16, decimal_places=4)
    baseline = serializers.DecimalField(
        max_digits=16, decimal_places=4, required=False, allow_null=True
    )
    live = serializers.SerializerMethodField()

    class Meta:
        model = Goal
        fields = [
            "id",
            "brand",
            "name",
            "metric",
            "account",
            "direction",
            "target",
            "baseline",
            "start_date",
            "due_date",
            "owner",
            "live",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        # The recorded status is the hourly sweep's bookkeeping; `live.status` is the truth.
        read_only_fields = ["status_changed_at", "created_at", "updated_at"]
        # Checked in words by reports.services.goals (due after start); not as a DB constraint.
        validators = []

    @extend_schema_field(GoalProgressSerializer)
    def get_live(self, goal):
        progress = goal_progress(goal=goal)
        return GoalProgressSerializer(progress).data


class GoalUpdateSerializer(GoalSerializer):
    """A goal stays with its brand: `brand` is read-only here."""

    brand = serializers.UUIDField(source="brand_id", read_only=True)


# -- PDF reports --------------------------------------------------------------------------------


class ReportExportRequestSerializer(serializers.Serializer):
    brand = BrandField()
    start = serializers.DateField(help_text="First day, in the brand's time zone.")
    end = serializers.DateField(help_text="Last day (included).")

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The period ends before it starts."]})
        if (attrs["end"] - attrs["start"]).days + 1 > REPORT_MAX_DAYS:
            raise serializers.ValidationError(
                {"end": [f"A report covers at most {REPORT_MAX_DAYS} days."]}
            )
        return attrs


class ReportExportSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, default=None
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportExport
        fields = [
            "id",
            "brand",
            "period_start",
            "period_end",
            "status",
            "progress",
            "error",
            "requested_by",
            "download_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, export) -> str | None:
        if export.status != ReportExport.Status.DONE or not export.file:
            return None
        request = self.context.get("request")
        path = f"/api/v1/reports/{export.pk}/download/"
        return request.build_absolute_uri(path) if request else path


# -- scheduled reports --------------------------------------------------------------------------


class FlatListField(serializers.ListField):
    """A list whose item errors are one flat list of messages ("Item 2: ..."): the API's error
    shape is a list of strings per field, where DRF would key them by index."""

    def run_child_validation(self, data):
        values, messages = [], []
        for index, item in enumerate(data, start=1):
            try:
                values.append(self.child.run_validation(item))
            except serializers.ValidationError as exc:
                details = exc.detail if isinstance(exc.detail, list) else [exc.detail]
                messages += [f"Item {index}: {message}" for message in details]
        if messages:
            raise serializers.ValidationError(messages)
        return values


class ScheduledReportSerializer(serializers.ModelSerializer):
    brand = BrandField()
    # Plain strings here: the service checks the addresses and names the bad ones in one
    # message.
    recipients = FlatListField(
        child=serializers.CharField(max_length=254),
        min_length=1,
        max_length=REPORT_MAX_RECIPIENTS,
        help_text="E-mail addresses; each receives the PDF. Duplicates are dropped.",
    )

    class Meta:
        model = ScheduledReport
        fields = ["id", "brand", "name", "frequency", "recipients", "active", "created_at"]
        read_only_fields = ["created_at"]


class ScheduledReportUpdateSerializer(ScheduledReportSerializer):
    brand = serializers.UUIDField(source="brand_id", read_only=True)
