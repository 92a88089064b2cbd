"""API shapes of outgoing webhooks. The secret is write-never and read-once: only the answers to
create and rotate-secret carry it."""

from rest_framework import serializers

from agency.serializers import BrandField, MemberAgencyField
from integrations.models import SUBSCRIBABLE_EVENTS, Delivery, DeliveryAttempt, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    agency = MemberAgencyField(
        required=False,
        help_text="The agency the endpoint belongs to. Optional when `brand` is given or you "
        "are the admin of one agency only.",
    )
    brand = BrandField(
        required=False, allow_null=True, help_text="Only this brand's events; null: every brand."
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS), allow_empty=False
    )
    secret_hint = serializers.CharField(
        source="masked_secret",
        read_only=True,
        help_text="The first characters of the secret, to recognise it. The secret itself is "
        "only in the answer that made it.",
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "agency",
            "brand",
            "url",
            "event_types",
            "is_active",
            "description",
            "secret_hint",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every request (X-Agency-Signature). Shown in this answer only: keep it.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "trigger",
            "started_at",
            "duration_ms",
            "status_code",
            "response_excerpt",
            "error",
            "succeeded",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "brand",
            "event_type",
            "event_id",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_response_excerpt",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields
