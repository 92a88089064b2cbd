"""API shapes of posts and their targets. They validate fields; services do the writing."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agency.models import SocialAccount
from agency.permissions import brands_for_user
from agency.serializers import BrandField
from calendar_app.models import Post, PostTarget, PublishAttempt


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
    platform = serializers.CharField(source="account.platform", read_only=True)
    account_handle = serializers.CharField(source="account.handle", read_only=True)

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


class PostSerializer(serializers.ModelSerializer):
    targets = PostTargetSerializer(many=True, read_only=True)
    author = serializers.CharField(source="author.username", read_only=True, default=None)
    brand_time_zone = serializers.CharField(
        source="brand.time_zone",
        read_only=True,
        help_text="The brand's IANA zone; times in this API are UTC.",
    )

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
            "targets",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["brand", "scheduled_at", "approval_state", "created_at", "updated_at"]


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
