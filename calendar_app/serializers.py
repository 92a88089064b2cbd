"""API shapes of the calendar: posts and their targets, approvals, media, queue slots and the
calendar range. They validate fields; services do the writing."""

from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agency.models import Platform, SocialAccount
from agency.permissions import brands_for_user
from agency.serializers import BrandField, named_choice_field
from calendar_app.models import (
    ApprovalDecision,
    Media,
    Post,
    PostTarget,
    PublishAttempt,
    QueueSlot,
    TargetState,
)
from calendar_app.selectors import CalendarState

TargetStateField = named_choice_field("TargetStateEnum", TargetState.choices)
CalendarStateField = named_choice_field("CalendarStateEnum", CalendarState.choices)
MediaKindField = named_choice_field("MediaKindEnum", Media.Kind.choices)
DecisionKindField = named_choice_field("ApprovalDecisionKindEnum", ApprovalDecision.Kind.choices)


@extend_schema_field(OpenApiTypes.UUID)
class VisibleAccountField(serializers.PrimaryKeyRelatedField):
    """A social account of a brand the requesting user can see."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return SocialAccount.objects.none()
        return SocialAccount.objects.filter(
            brand__in=brands_for_user(user=request.user).values("pk")
        )


class PostTargetSerializer(serializers.ModelSerializer):
    state = TargetStateField(read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    account_handle = serializers.CharField(source="account.handle", read_only=True)
    # Empty until published: a plain string, since "" is not a valid `uri` for the schema.
    external_url = serializers.CharField(
        read_only=True, help_text="The post on the platform (a URL); empty until published."
    )

    class Meta:
        model = PostTarget
        fields = [
            "id",
            "account",
            "account_handle",
            "platform",
            "state",
            "text_override",
            "first_comment",
            "due_at",
            "attempts",
            "external_id",
            "external_url",
            "published_at",
            "last_error",
            "needs_attention",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.UUID)
class VisibleMediaField(serializers.PrimaryKeyRelatedField):
    """A file in the library of a brand the requesting user can see."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Media.objects.none()
        return Media.objects.filter(brand__in=brands_for_user(user=request.user).values("pk"))


class PostSerializer(serializers.ModelSerializer):
    targets = PostTargetSerializer(many=True, read_only=True)
    media = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    author = serializers.CharField(source="author.username", read_only=True, default=None)
    brand_time_zone = serializers.CharField(
        source="brand.time_zone",
        read_only=True,
        help_text="The brand's IANA zone; times in this API are UTC.",
    )
    link = serializers.CharField(read_only=True, help_text="The post's link (a URL), or empty.")

    class Meta:
        model = Post
        fields = [
            "id",
            "brand",
            "brand_time_zone",
            "author",
            "title",
            "text",
            "link",
            "tags",
            "scheduled_at",
            "approval_state",
            "media",
            "targets",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["brand", "scheduled_at", "approval_state", "created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # The viewset names the brands the caller reads as a client: the internal title stays
        # with the agency, as in the portal.
        if instance.brand_id in self.context.get("client_brand_ids", ()):
            data["title"] = ""
        return data


class TargetInputSerializer(serializers.Serializer):
    account = VisibleAccountField()
    text_override = serializers.CharField(required=False, allow_blank=True, default="")
    first_comment = serializers.CharField(required=False, allow_blank=True, default="")


class PostCreateSerializer(serializers.Serializer):
    brand = BrandField()
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    text = serializers.CharField(required=False, allow_blank=True, default="")
    link = serializers.URLField(required=False, allow_blank=True, default="", max_length=2000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list
    )
    targets = TargetInputSerializer(many=True, allow_empty=False)
    media = VisibleMediaField(
        many=True, required=False, default=list, help_text="Files of the brand's library."
    )
    scheduled_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="ISO 8601 with an offset; without one it is read as UTC. Empty: a draft.",
    )

    def validate(self, attrs):
        accounts = [t["account"] for t in attrs["targets"]]
        if len({a.pk for a in accounts}) != len(accounts):
            raise serializers.ValidationError({"targets": ["Each account may appear once."]})
        foreign = [a for a in accounts if a.brand_id != attrs["brand"].pk]
        if foreign:
            raise serializers.ValidationError(
                {"targets": [f"{foreign[0]} does not belong to {attrs['brand']}."]}
            )
        if any(m.brand_id != attrs["brand"].pk for m in attrs["media"]):
            raise serializers.ValidationError(
                {"media": ["Media must come from this brand's library."]}
            )
        return attrs


class PostUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    text = serializers.CharField(required=False, allow_blank=True)
    link = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)


class ScheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(help_text="ISO 8601; without an offset it is UTC.")


class RetrySerializer(serializers.Serializer):
    target = serializers.UUIDField(
        required=False, help_text="One target to retry; without it, every failed/unconfirmed one."
    )


class PublishAttemptSerializer(serializers.ModelSerializer):
    account = serializers.UUIDField(source="target.account_id", read_only=True)
    account_handle = serializers.CharField(source="target.account.handle", read_only=True)

    class Meta:
        model = PublishAttempt
        fields = [
            "id",
            "target",
            "account",
            "account_handle",
            "started_at",
            "finished_at",
            "result",
            "http_status",
            "error_class",
            "error_message",
            "response_excerpt",
        ]
        read_only_fields = fields


# -- targets -------------------------------------------------------------------------------------


class PostTargetDetailSerializer(PostTargetSerializer):
    """A target on its own: the post on one account, with where it belongs."""

    post = serializers.UUIDField(source="post_id", read_only=True)
    brand = serializers.UUIDField(source="post.brand_id", read_only=True)
    brand_time_zone = serializers.CharField(
        source="post.brand.time_zone",
        read_only=True,
        help_text="The brand's IANA zone; times in this API are UTC.",
    )
    effective_text = serializers.CharField(
        read_only=True, help_text="What the account publishes: its variant, else the post's text."
    )

    class Meta(PostTargetSerializer.Meta):
        fields = [
            "id",
            "post",
            "brand",
            "brand_time_zone",
            *PostTargetSerializer.Meta.fields[1:],
            "effective_text",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TargetRescheduleSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        help_text="The new time, ISO 8601; without an offset it is read as UTC."
    )


class MarkPublishedSerializer(serializers.Serializer):
    url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="Where the post can be seen on the platform, if known.",
    )


# -- approvals -----------------------------------------------------------------------------------


class ApprovalCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Optional words for the author."
    )


class ChangesRequestSerializer(serializers.Serializer):
    # Blank is let through so the service's own message says what is missing.
    comment = serializers.CharField(allow_blank=True, help_text="What should change (required).")


class ApprovalDecisionSerializer(serializers.ModelSerializer):
    kind = DecisionKindField(read_only=True)
    by = serializers.CharField(source="by.username", read_only=True, default=None)

    class Meta:
        model = ApprovalDecision
        fields = ["id", "kind", "comment", "by", "created_at"]
        read_only_fields = fields


# -- media ---------------------------------------------------------------------------------------


class MediaSerializer(serializers.ModelSerializer):
    kind = MediaKindField(read_only=True)
    url = serializers.FileField(source="file", read_only=True, use_url=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True, default=None)
    already_in_library = serializers.SerializerMethodField(
        help_text="On upload: true when the same file was in the library already (nothing new "
        "was stored)."
    )

    class Meta:
        model = Media
        fields = [
            "id",
            "brand",
            "name",
            "url",
            "kind",
            "mime_type",
            "size",
            "width",
            "height",
            "duration",
            "alt_text",
            "checksum",
            "uploaded_by",
            "already_in_library",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_already_in_library(self, obj) -> bool:
        return bool(getattr(obj, "already_in_library", False))


class MediaUploadSerializer(serializers.Serializer):
    brand = BrandField()
    upload = serializers.FileField(
        help_text="An image (JPEG, PNG, GIF, WebP) or a video (MP4, MOV), sent as multipart."
    )
    alt_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class MediaUpdateSerializer(serializers.Serializer):
    alt_text = serializers.CharField(allow_blank=True, max_length=1000)


# -- queue slots ---------------------------------------------------------------------------------


class QueueSlotSerializer(serializers.ModelSerializer):
    account = VisibleAccountField()
    account_handle = serializers.CharField(source="account.handle", read_only=True)
    brand = serializers.UUIDField(source="account.brand_id", read_only=True)
    brand_time_zone = serializers.CharField(
        source="account.brand.time_zone",
        read_only=True,
        help_text="The zone `time` is read in: 09:00 stays 09:00 there in summer and winter.",
    )
    weekday = serializers.ChoiceField(
        choices=QueueSlot.Weekday.choices, help_text="0 is Monday, 6 is Sunday."
    )
    time = serializers.TimeField(
        help_text="Wall-clock time in the brand's zone, e.g. 09:30 (seconds are dropped)."
    )

    class Meta:
        model = QueueSlot
        fields = [
            "id",
            "account",
            "account_handle",
            "brand",
            "brand_time_zone",
            "weekday",
            "time",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        # The service reports a duplicate slot in words; a second check here would pre-empt it.
        validators = []


# -- the calendar range --------------------------------------------------------------------------


# As on the dashboard's calendar: a year and a bit is plenty, and the answer stays bounded.
MAX_RANGE = timedelta(days=400)


class CalendarQuerySerializer(serializers.Serializer):
    brand = serializers.UUIDField(required=False, help_text="One brand; without it, every brand.")
    start = serializers.DateTimeField(
        help_text="Start of the range (included), ISO 8601; without an offset it is UTC."
    )
    end = serializers.DateTimeField(help_text="End of the range (excluded), like start.")
    account = serializers.UUIDField(required=False)
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)
    state = serializers.ChoiceField(
        choices=CalendarState.choices,
        required=False,
        help_text="As the calendar shows it; without it, everything but cancelled.",
    )
    tag = serializers.CharField(required=False, max_length=50)

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must come after the start."]})
        if attrs["end"] - attrs["start"] > MAX_RANGE:
            raise serializers.ValidationError(
                {"end": [f"Choose a range of at most {MAX_RANGE.days} days."]}
            )
        return attrs


class CalendarEventSerializer(serializers.Serializer):
    """One post target on the calendar, as the dashboard's calendar shows it."""

    id = serializers.UUIDField(help_text="The post target.")
    post = serializers.UUIDField()
    brand = serializers.UUIDField()
    brand_name = serializers.CharField()
    time_zone = serializers.CharField(help_text="The brand's IANA zone.")
    start = serializers.DateTimeField(help_text="When it publishes (or did), UTC.")
    local_start = serializers.CharField(
        help_text="The same instant as wall-clock time in the brand's zone, with its offset."
    )
    title = serializers.CharField(allow_blank=True, help_text="The post's internal title.")
    text = serializers.CharField(allow_blank=True, help_text="What this account publishes.")
    account = serializers.UUIDField()
    account_handle = serializers.CharField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    state = CalendarStateField(help_text="As the calendar shows it.")
    state_label = serializers.CharField()
    target_state = TargetStateField()
    approval_state = serializers.ChoiceField(choices=Post.Approval.choices)
    tags = serializers.ListField(child=serializers.CharField())
    external_url = serializers.CharField(allow_blank=True)
    editable = serializers.BooleanField(
        help_text="Whether the caller may move it (POST /post-targets/{id}/reschedule/)."
    )
