"""/api/v1/ influencers, collaborations, deliverables, attributed sales, tracked links and UTM
presets. Staff only (a client hears 403); managers read, admins and marketers write.

Influencers belong to an agency, not a brand, so their viewset scopes by the caller's agencies;
everything else is brand-owned and sits on BrandScopedViewSet. Writes call ads.services.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from ads import selectors, services
from ads.models import (
    MONEY,
    AttributedSale,
    Campaign,
    Collaboration,
    Deliverable,
    Influencer,
    LinkClickDaily,
    TrackedLink,
    UtmPreset,
)
from agency.api import ApiConventionsMixin, AutoSchema, BrandScopedViewSet
from agency.permissions import Area, brands_for_user, is_staff_of_any_agency
from agency.serializers import BrandField, MemberAgencyField

__all__ = [
    "AttributedSaleViewSet",
    "CollaborationViewSet",
    "DeliverableViewSet",
    "InfluencerViewSet",
    "TrackedLinkViewSet",
    "UtmPresetViewSet",
]


class IsAgencyStaff(BasePermission):
    """The marketer's side is the agency's own work: clients do not see it."""

    message = "Influencers, collaborations and links are for agency staff."

    def has_permission(self, request, view):
        return is_staff_of_any_agency(request.user)


STAFF_ONLY = [IsAuthenticated, IsAgencyStaff]


# Model validation (three capitals) runs in the services, after they upper-case the code.
def _currency(**kwargs):
    return serializers.CharField(max_length=3, help_text="ISO 4217, e.g. EUR.", **kwargs)


def _staff_brands(request):
    return selectors.staff_brands_for_user(user=request.user).values("pk")


class _Visible(serializers.PrimaryKeyRelatedField):
    def visible(self, request):
        raise NotImplementedError

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return self.queryset.none()
        return self.visible(request)


@extend_schema_field(OpenApiTypes.UUID)
class VisibleInfluencerField(_Visible):
    queryset = Influencer.objects.all()

    def visible(self, request):
        return Influencer.objects.filter(
            agency__in=selectors.influencer_agencies_for_user(user=request.user).values("pk")
        )


@extend_schema_field(OpenApiTypes.UUID)
class VisibleCollaborationField(_Visible):
    queryset = Collaboration.objects.all()

    def visible(self, request):
        return Collaboration.objects.filter(brand__in=_staff_brands(request)).select_related(
            "brand"
        )


@extend_schema_field(OpenApiTypes.UUID)
class VisibleTrackedLinkField(_Visible):
    queryset = TrackedLink.objects.all()

    def visible(self, request):
        return TrackedLink.objects.filter(brand__in=_staff_brands(request))


@extend_schema_field(OpenApiTypes.UUID)
class VisibleCampaignField(_Visible):
    queryset = Campaign.objects.all()

    def visible(self, request):
        return Campaign.objects.filter(brand__in=brands_for_user(user=request.user).values("pk"))


class _Unmoved:
    """A field that names the owner may be given on update only if it stays the same."""

    owner_field: str

    def validate(self, attrs):
        attrs = super().validate(attrs)
        owner = attrs.get(self.owner_field)
        if self.instance is not None and owner is not None:
            if owner.pk != getattr(self.instance, f"{self.owner_field}_id"):
                raise serializers.ValidationError(
                    {self.owner_field: [f"The {self.owner_field} of a record cannot change."]}
                )
            attrs.pop(self.owner_field)
        return attrs


# -- influencers ---------------------------------------------------------------------------------


class InfluencerSerializer(_Unmoved, serializers.ModelSerializer):
    owner_field = "agency"
    agency = MemberAgencyField()
    handles = serializers.DictField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text='Platform to handle, e.g. {"instagram": "@ann"}. Platforms: '
        + ", ".join(sorted(services.INFLUENCER_PLATFORMS))
        + ".",
    )
    collaboration_count = serializers.IntegerField(read_only=True)
    currency = _currency(required=False)

    class Meta:
        model = Influencer
        fields = [
            "id",
            "agency",
            "name",
            "handles",
            "audience_size",
            "rate",
            "currency",
            "notes",
            "collaboration_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class InfluencerFilter(django_filters.FilterSet):
    agency = django_filters.UUIDFilter(field_name="agency_id")
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Influencer
        fields = ["agency"]


# Agency-owned, so not a BrandScopedViewSet: the queryset is the caller's agencies' directory
# (influencers_for_user), and writes need an ads-writing role in the influencer's agency.
class InfluencerViewSet(ApiConventionsMixin, viewsets.ModelViewSet):
    """The influencer directory of the agencies you are staff of."""

    serializer_class = InfluencerSerializer
    filterset_class = InfluencerFilter
    permission_classes = STAFF_ONLY
    ordering_fields = ["name", "audience_size", "created_at"]
    schema = AutoSchema()
    # The directory is agency-wide: a token limited to some brands is refused.
    honours_brand_limit = False

    def get_queryset(self):
        return selectors.influencers_for_user(user=self.request.user)

    def check_agency_write(self, agency) -> None:
        writable = selectors.influencer_agencies_for_user(user=self.request.user, write=True)
        if not writable.filter(pk=agency.pk).exists():
            raise exceptions.PermissionDenied(
                f"Your role can read but not change the influencer directory of {agency}."
            )

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_agency_write(obj.agency)

    def _read(self, influencer, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=influencer.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        agency = data.pop("agency")
        self.check_agency_write(agency)
        influencer = services.influencer_create(agency=agency, by=request.user, **data)
        return self._read(influencer, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        influencer = self.get_object()
        serializer = self.get_serializer(
            influencer, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        services.influencer_update(
            influencer=influencer, by=request.user, data=serializer.validated_data
        )
        return self._read(influencer)

    def perform_destroy(self, instance):
        services.influencer_delete(influencer=instance, by=self.request.user)


# -- collaborations and deliverables -------------------------------------------------------------


class DeliverableSerializer(_Unmoved, serializers.ModelSerializer):
    owner_field = "collaboration"
    collaboration = VisibleCollaborationField()
    is_late = serializers.SerializerMethodField(
        help_text="Past its due date (UTC) and not published."
    )

    class Meta:
        model = Deliverable
        fields = [
            "id",
            "collaboration",
            "description",
            "due_date",
            "status",
            "url",
            "is_late",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def get_is_late(self, obj) -> bool:
        return obj.status != Deliverable.Status.PUBLISHED and obj.due_date < selectors.today_utc()


class CollaborationSerializer(_Unmoved, serializers.ModelSerializer):
    owner_field = "brand"
    brand = BrandField()
    influencer = VisibleInfluencerField()
    tracked_link = VisibleTrackedLinkField(required=False, allow_null=True)
    link_destination = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="On create: make a new tracked link to this http(s) address for it.",
    )
    link_code = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="A custom code for that new link; blank: random.",
    )
    revenue = serializers.DecimalField(
        **MONEY, read_only=True, help_text="Attributed sales in the fee's currency."
    )
    other_revenue = serializers.DictField(
        child=serializers.DecimalField(**MONEY),
        read_only=True,
        help_text="Sales in other currencies, per currency: not converted, not in the ROI.",
    )
    roi = serializers.DecimalField(
        max_digits=20,
        decimal_places=4,
        read_only=True,
        allow_null=True,
        help_text="(revenue - fee) / fee; null when the fee is 0.",
    )
    late_deliverables = serializers.IntegerField(read_only=True)
    deliverables = DeliverableSerializer(many=True, read_only=True)
    currency = _currency(required=False)

    class Meta:
        model = Collaboration
        fields = [
            "id",
            "brand",
            "influencer",
            "name",
            "start_date",
            "end_date",
            "fee",
            "currency",
            "promo_code",
            "tracked_link",
            "link_destination",
            "link_code",
            "revenue",
            "other_revenue",
            "roi",
            "late_deliverables",
            "deliverables",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class CollaborationFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    influencer = django_filters.UUIDFilter(field_name="influencer_id")

    class Meta:
        model = Collaboration
        fields = ["brand", "influencer"]


class _StaffBrandScoped(BrandScopedViewSet):
    """BrandScopedViewSet for the staff-only ads side: a client's brands drop out too."""

    write_area = Area.ADS
    permission_classes = STAFF_ONLY

    def scope_queryset(self, queryset):
        return queryset.filter(**{f"{self.brand_lookup}__in": _staff_brands(self.request)})


class CollaborationViewSet(_StaffBrandScoped):
    """Influencer collaborations with revenue and ROI; deliverables are listed inside."""

    queryset = Collaboration.objects.all()
    serializer_class = CollaborationSerializer
    filterset_class = CollaborationFilter
    ordering_fields = ["start_date", "created_at"]
    ordering = ["-start_date", "pk"]

    def scope_queryset(self, queryset):
        return selectors.collaborations_with_revenue(
            super().scope_queryset(queryset)
        ).prefetch_related("deliverables")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return None if page is None else selectors.attach_revenue_by_currency(page)

    def get_object(self):
        [collab] = selectors.attach_revenue_by_currency([super().get_object()])
        return collab

    def _read(self, collab, code=status.HTTP_200_OK):
        [fresh] = selectors.attach_revenue_by_currency([self.get_queryset().get(pk=collab.pk)])
        return Response(self.get_serializer(fresh).data, status=code)

    # create and update answer with revenue and ROI, which only the read query has, so they
    # read the row back; the brand checks are the base's own helpers.
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        brand = self.check_brand_write(data.pop("brand"))
        collab = services.collaboration_create(brand=brand, by=request.user, **data)
        return self._read(collab, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        collab = self.get_object()
        serializer = self.get_serializer(
            collab, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        data = {
            k: v
            for k, v in serializer.validated_data.items()
            if k not in ("link_destination", "link_code")
        }
        services.collaboration_update(collaboration=collab, by=request.user, data=data)
        return self._read(collab)

    def perform_destroy(self, instance):
        services.collaboration_delete(collaboration=instance, by=self.request.user)


class DeliverableFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="collaboration__brand_id")
    collaboration = django_filters.UUIDFilter(field_name="collaboration_id")
    status = django_filters.ChoiceFilter(choices=Deliverable.Status.choices)
    late = django_filters.BooleanFilter(method="filter_late", label="Past due, not published")

    class Meta:
        model = Deliverable
        fields = ["brand", "collaboration", "status"]

    def filter_late(self, queryset, name, value):
        late = Q(due_date__lt=selectors.today_utc()) & ~Q(status=Deliverable.Status.PUBLISHED)
        return queryset.filter(late) if value else queryset.exclude(late)


class DeliverableViewSet(_StaffBrandScoped):
    """What an influencer delivers for a collaboration, with due dates and status."""

    queryset = Deliverable.objects.all()
    serializer_class = DeliverableSerializer
    brand_lookup = "collaboration__brand"
    filterset_class = DeliverableFilter
    ordering_fields = ["due_date", "created_at"]
    ordering = ["due_date", "pk"]

    def perform_create(self, serializer):
        serializer.instance = services.deliverable_create(
            by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.deliverable_update(
            deliverable=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.deliverable_delete(deliverable=instance, by=self.request.user)


class AttributedSaleSerializer(serializers.ModelSerializer):
    collaboration = VisibleCollaborationField()
    currency = _currency()

    class Meta:
        model = AttributedSale
        fields = ["id", "collaboration", "date", "order_ref", "amount", "currency", "via"]
        read_only_fields = ["via"]
        # The service refuses a repeated order in words; the model's own check would only
        # say "already exists".
        validators: list = []


class AttributedSaleViewSet(_StaffBrandScoped):
    """Record one sale attributed to a collaboration (the CSV import is on the dashboard)."""

    queryset = AttributedSale.objects.all()
    serializer_class = AttributedSaleSerializer
    brand_lookup = "collaboration__brand"
    http_method_names = ["post", "options"]

    def perform_create(self, serializer):
        serializer.instance = services.attributed_sale_create(
            by=self.request.user, via="api", **serializer.validated_data
        )


# -- tracked links and presets -------------------------------------------------------------------


class TrackedLinkSerializer(serializers.ModelSerializer):
    brand = BrandField()
    campaign = VisibleCampaignField(required=False, allow_null=True)
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="A custom code (letters, digits, - and _); blank: a random one.",
    )
    short_url = serializers.SerializerMethodField()
    total_clicks = serializers.IntegerField(read_only=True)
    total_unique_visitors = serializers.IntegerField(read_only=True)

    class Meta:
        model = TrackedLink
        fields = [
            "id",
            "brand",
            "code",
            "short_url",
            "destination",
            "name",
            "campaign",
            "total_clicks",
            "total_unique_visitors",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def get_short_url(self, obj) -> str:
        request = self.context.get("request")
        url = f"/l/{obj.code}"
        return request.build_absolute_uri(url) if request is not None else url


class LinkClickDailySerializer(serializers.ModelSerializer):
    class Meta:
        model = LinkClickDaily
        fields = ["date", "clicks", "unique_visitors"]


class TrackedLinkDetailSerializer(TrackedLinkSerializer):
    daily = serializers.SerializerMethodField(help_text="Clicks per UTC day, oldest first.")

    class Meta(TrackedLinkSerializer.Meta):
        fields = [*TrackedLinkSerializer.Meta.fields, "daily"]

    @extend_schema_field(LinkClickDailySerializer(many=True))
    def get_daily(self, obj):
        return LinkClickDailySerializer(selectors.link_clicks_daily(link=obj), many=True).data


class TrackedLinkFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    campaign = django_filters.UUIDFilter(field_name="campaign_id")

    class Meta:
        model = TrackedLink
        fields = ["brand", "campaign"]


class TrackedLinkViewSet(_StaffBrandScoped):
    """Short links served at /l/<code>, with their clicks; a link is not changed once made,
    as it may already be printed or posted."""

    queryset = TrackedLink.objects.all()
    serializer_class = TrackedLinkSerializer
    filterset_class = TrackedLinkFilter
    ordering_fields = ["created_at", "code"]
    ordering = ["-created_at", "pk"]
    http_method_names = ["get", "post", "head", "options"]

    def scope_queryset(self, queryset):
        return selectors.tracked_links_with_clicks(super().scope_queryset(queryset))

    def get_serializer_class(self):
        return TrackedLinkDetailSerializer if self.action == "retrieve" else TrackedLinkSerializer

    @extend_schema(responses={201: TrackedLinkDetailSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        brand = self.check_brand_write(data.pop("brand"))
        link = services.tracked_link_create(brand=brand, by=request.user, **data)
        link = self.get_queryset().get(pk=link.pk)
        data = TrackedLinkDetailSerializer(link, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class UtmPresetSerializer(_Unmoved, serializers.ModelSerializer):
    owner_field = "brand"
    brand = BrandField()

    class Meta:
        model = UtmPreset
        fields = ["id", "brand", "name", "source", "medium", "campaign", "content", "term"]
        # The service says "already has a preset called ..." whatever the case.
        validators: list = []


class UtmPresetFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")

    class Meta:
        model = UtmPreset
        fields = ["brand"]


class UtmPresetViewSet(_StaffBrandScoped):
    """A brand's saved UTM values, to fill the link builder."""

    queryset = UtmPreset.objects.all()
    serializer_class = UtmPresetSerializer
    filterset_class = UtmPresetFilter
    ordering_fields = ["name"]
    ordering = ["name", "pk"]

    def perform_create(self, serializer):
        serializer.instance = services.utm_preset_create(
            by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.utm_preset_update(
            preset=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.utm_preset_delete(preset=instance, by=self.request.user)
