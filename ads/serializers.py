"""API shapes of campaigns, ad sets, ads and audiences. They check fields; ads.services
validates the rest (the targeting document among it) and writes."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ads.models import Ad, AdSet, Audience, Campaign
from ads.selectors import ads_brands_for_user
from agency.serializers import BrandField
from calendar_app.models import Media

__all__ = [
    "AdSerializer",
    "AdSetSerializer",
    "AudienceSerializer",
    "CampaignSerializer",
    "CampaignStatus",
]


# Named here so the schema's enum overrides can import it (a nested class has no import path).
CampaignStatus = Campaign.Status


def _ads_brands(context):
    request = context.get("request")
    if request is None:
        return None
    return ads_brands_for_user(user=request.user).values("pk")


@extend_schema_field(OpenApiTypes.UUID)
class VisibleCampaignField(serializers.PrimaryKeyRelatedField):
    """A campaign of a brand whose ads the requesting user works on."""

    def get_queryset(self):
        brands = _ads_brands(self.context)
        if brands is None:
            return Campaign.objects.none()
        return Campaign.objects.filter(brand__in=brands).select_related("brand")


@extend_schema_field(OpenApiTypes.UUID)
class VisibleAdSetField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        brands = _ads_brands(self.context)
        if brands is None:
            return AdSet.objects.none()
        return AdSet.objects.filter(campaign__brand__in=brands).select_related("campaign__brand")


@extend_schema_field(OpenApiTypes.UUID)
class VisibleMediaField(serializers.PrimaryKeyRelatedField):
    """Media of a visible brand; the service refuses media of another brand than the ad's."""

    def get_queryset(self):
        brands = _ads_brands(self.context)
        if brands is None:
            return Media.objects.none()
        return Media.objects.filter(brand__in=brands)


class CampaignSerializer(serializers.ModelSerializer):
    brand = BrandField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "brand",
            "name",
            "platform",
            "objective",
            "status",
            "start_date",
            "end_date",
            "budget_kind",
            "budget_amount",
            "currency",
            "external_id",
            "ad_account_id",
            "agency_fee",
            "other_costs",
            "revenue_override",
            "boosted_post",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["boosted_post", "created_at", "updated_at"]
        validators = []


class CampaignUpdateSerializer(CampaignSerializer):
    # A campaign stays with its brand.
    brand = serializers.PrimaryKeyRelatedField(read_only=True)


class AdSetSerializer(serializers.ModelSerializer):
    campaign = VisibleCampaignField()
    targeting = serializers.JSONField(
        help_text="The targeting document (see ads/targeting.py): age_min, age_max, genders, "
        "locations (required), languages, interests, behaviours, custom_audiences, "
        "lookalike_audiences, retargeting, exclusions, placements, devices. Stored normalised; "
        "errors come back keyed by path, e.g. `targeting.locations.0.radius_km`."
    )
    audiences = serializers.PrimaryKeyRelatedField(
        many=True,
        read_only=True,
        help_text="Audiences the targeting names (included, lookalike sources, excluded).",
    )

    class Meta:
        model = AdSet
        fields = [
            "id",
            "campaign",
            "name",
            "status",
            "budget_kind",
            "budget_amount",
            "start_date",
            "end_date",
            "targeting",
            "audiences",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class AdSetUpdateSerializer(AdSetSerializer):
    campaign = serializers.PrimaryKeyRelatedField(read_only=True)


class AdSerializer(serializers.ModelSerializer):
    ad_set = VisibleAdSetField()
    media = VisibleMediaField(many=True, required=False)

    class Meta:
        model = Ad
        fields = [
            "id",
            "ad_set",
            "name",
            "creative_text",
            "link",
            "media",
            "call_to_action",
            "status",
            "boosted_post",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["boosted_post", "created_at", "updated_at"]


class AdUpdateSerializer(AdSerializer):
    ad_set = serializers.PrimaryKeyRelatedField(read_only=True)


class AudienceSerializer(serializers.ModelSerializer):
    brand = BrandField()
    spec = serializers.JSONField(
        required=False,
        help_text="Saved targeting and personas: a targeting document. Other kinds: their "
        "source, free-form.",
    )
    ad_set_count = serializers.IntegerField(read_only=True, help_text="Ad sets that use it.")

    class Meta:
        model = Audience
        fields = [
            "id",
            "brand",
            "name",
            "kind",
            "description",
            "spec",
            "external_id",
            "ad_set_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []


class AudienceUpdateSerializer(AudienceSerializer):
    brand = serializers.PrimaryKeyRelatedField(read_only=True)
