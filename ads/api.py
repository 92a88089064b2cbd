"""/api/v1/campaigns/, ad-sets/, ads/ and audiences/: the paid hierarchy, written through
ads.services. Ads are staff-only: rows of brands the caller reads as a client are not listed,
so they are 404s like another tenant's."""

import django_filters
from django.db.models import Count, Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from ads import services
from ads.models import Ad, AdPlatform, AdSet, Audience, Campaign
from ads.selectors import ads_brands_for_user
from ads.serializers import (
    AdSerializer,
    AdSetSerializer,
    AdSetUpdateSerializer,
    AdUpdateSerializer,
    AudienceSerializer,
    AudienceUpdateSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
)
from ads.targeting import to_meta_targeting_spec
from agency.api import BrandScopedViewSet
from agency.permissions import Area

__all__ = ["AdSetViewSet", "AdViewSet", "AudienceViewSet", "CampaignViewSet"]

NO_DELETE = ["get", "post", "put", "patch", "head", "options"]


class CampaignFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    platform = django_filters.ChoiceFilter(choices=AdPlatform.choices)
    status = django_filters.ChoiceFilter(choices=Campaign.Status.choices)

    class Meta:
        model = Campaign
        fields = ["brand", "platform", "status"]


class AdSetFilter(django_filters.FilterSet):
    campaign = django_filters.UUIDFilter(field_name="campaign_id")
    brand = django_filters.UUIDFilter(field_name="campaign__brand_id")
    status = django_filters.ChoiceFilter(choices=Campaign.Status.choices)

    class Meta:
        model = AdSet
        fields = ["campaign", "brand", "status"]


class AdFilter(django_filters.FilterSet):
    ad_set = django_filters.UUIDFilter(field_name="ad_set_id")
    campaign = django_filters.UUIDFilter(field_name="ad_set__campaign_id")

    class Meta:
        model = Ad
        fields = ["ad_set", "campaign"]


class AudienceFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    kind = django_filters.ChoiceFilter(choices=Audience.Kind.choices)

    class Meta:
        model = Audience
        fields = ["brand", "kind"]


class _AdsViewSet(BrandScopedViewSet):
    write_area = Area.ADS
    update_serializer_class = None

    def scope_queryset(self, queryset):
        # On top of the base's "brands the user sees": only those they are staff of.
        staff = ads_brands_for_user(user=self.request.user).values("pk")
        return queryset.filter(**{f"{self.brand_lookup}__in": staff})

    def get_serializer_class(self):
        if self.action in ("update", "partial_update") and self.update_serializer_class:
            return self.update_serializer_class
        return super().get_serializer_class()


@extend_schema_view(
    update=extend_schema(request=CampaignUpdateSerializer, responses=CampaignSerializer),
    partial_update=extend_schema(request=CampaignUpdateSerializer, responses=CampaignSerializer),
)
class CampaignViewSet(_AdsViewSet):
    """Paid campaigns of the brands you work on. Marketers and admins write; managers read."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    update_serializer_class = CampaignUpdateSerializer
    filterset_class = CampaignFilter
    ordering_fields = ["start_date", "name", "created_at"]
    http_method_names = NO_DELETE

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).select_related("brand")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.campaign_create(
            brand=data.pop("brand"), by=self.request.user, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.campaign_update(
            campaign=serializer.instance, by=self.request.user, data=serializer.validated_data
        )


@extend_schema_view(
    update=extend_schema(request=AdSetUpdateSerializer, responses=AdSetSerializer),
    partial_update=extend_schema(request=AdSetUpdateSerializer, responses=AdSetSerializer),
)
class AdSetViewSet(_AdsViewSet):
    """Ad sets: who sees the ads (the targeting document) and with which budget."""

    queryset = AdSet.objects.all()
    serializer_class = AdSetSerializer
    update_serializer_class = AdSetUpdateSerializer
    brand_lookup = "campaign__brand"
    filterset_class = AdSetFilter
    ordering_fields = ["name", "created_at"]
    http_method_names = NO_DELETE

    def scope_queryset(self, queryset):
        return (
            super()
            .scope_queryset(queryset)
            .select_related("campaign__brand")
            .prefetch_related(Prefetch("audiences", queryset=Audience.objects.only("pk")))
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.ad_set_create(
            campaign=data.pop("campaign"), by=self.request.user, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.ad_set_update(
            ad_set=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The ad set's targeting as Meta's Marketing API targeting spec.",
    )
    @action(detail=True, methods=["get"], url_path="meta-spec")
    def meta_spec(self, request, pk=None):
        """The targeting exported as Meta's own targeting spec (custom audiences by their
        Meta ids where known)."""
        ad_set = self.get_object()
        return Response(
            to_meta_targeting_spec(
                ad_set.targeting,
                custom_audience_ids={
                    str(a.pk): a.external_id for a in ad_set.audiences.all().only("external_id")
                },
            )
        )


@extend_schema_view(
    update=extend_schema(request=AdUpdateSerializer, responses=AdSerializer),
    partial_update=extend_schema(request=AdUpdateSerializer, responses=AdSerializer),
)
class AdViewSet(_AdsViewSet):
    """Ads: the creative (text, link, media, call to action) of an ad set."""

    queryset = Ad.objects.all()
    serializer_class = AdSerializer
    update_serializer_class = AdUpdateSerializer
    brand_lookup = "ad_set__campaign__brand"
    filterset_class = AdFilter
    ordering_fields = ["name", "created_at"]
    http_method_names = NO_DELETE

    def scope_queryset(self, queryset):
        return (
            super()
            .scope_queryset(queryset)
            .select_related("ad_set__campaign__brand")
            .prefetch_related("media")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.ad_create(
            ad_set=data.pop("ad_set"), by=self.request.user, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.ad_update(
            ad=serializer.instance, by=self.request.user, data=serializer.validated_data
        )


@extend_schema_view(
    update=extend_schema(request=AudienceUpdateSerializer, responses=AudienceSerializer),
    partial_update=extend_schema(request=AudienceUpdateSerializer, responses=AudienceSerializer),
)
class AudienceViewSet(_AdsViewSet):
    """Saved audiences and personas, reusable across the brand's ad sets. One that an ad set
    uses cannot be deleted."""

    queryset = Audience.objects.all()
    serializer_class = AudienceSerializer
    update_serializer_class = AudienceUpdateSerializer
    filterset_class = AudienceFilter
    ordering_fields = ["name", "created_at"]

    def scope_queryset(self, queryset):
        return (
            super()
            .scope_queryset(queryset)
            .select_related("brand")
            .annotate(ad_set_count=Count("ad_sets"))
            # An aggregate drops Meta.ordering; pagination needs a stable order.
            .order_by("name")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        audience = services.audience_create(brand=data.pop("brand"), by=self.request.user, **data)
        audience.ad_set_count = 0
        serializer.instance = audience

    def perform_update(self, serializer):
        audience = services.audience_update(
            audience=serializer.instance, by=self.request.user, data=serializer.validated_data
        )
        serializer.instance = audience

    def perform_destroy(self, instance):
        services.audience_delete(audience=instance, by=self.request.user)
