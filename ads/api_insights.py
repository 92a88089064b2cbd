"""/api/v1/insights/: daily paid insights (read only) and their KPIs.

Staff only: a client of the brand gets a 404, like on the dashboard's insights pages (the client
portal shows paid results through reports). Nothing here writes: syncs and imports are pages
and tasks.
"""

from __future__ import annotations

import django_filters
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from ads import selectors
from ads.models import Campaign, InsightDaily
from agency.api import BrandScopedViewSet, ErrorSerializer
from agency.models import Role
from agency.permissions import Area, brands_for_user


def staff_brands(user):
    return brands_for_user(user=user).exclude(user_role=Role.CLIENT)


class InsightFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    campaign = django_filters.UUIDFilter(field_name="campaign_id")
    ad_set = django_filters.UUIDFilter(field_name="ad_set_id")
    ad = django_filters.UUIDFilter(field_name="ad_id")
    start = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = InsightDaily
        fields = ["brand", "campaign", "ad_set", "ad", "source"]


class InsightSerializer(serializers.ModelSerializer):
    class Meta:
        model = InsightDaily
        fields = [
            "id",
            "brand",
            "campaign",
            "ad_set",
            "ad",
            "date",
            "impressions",
            "reach",
            "clicks",
            "spend",
            "conversions",
            "conversion_value",
            "currency",
            "source",
            "synced_at",
        ]
        read_only_fields = fields


class KpiQuerySerializer(serializers.Serializer):
    campaign = serializers.UUIDField(required=False, help_text="KPIs of this campaign…")
    brand = serializers.UUIDField(required=False, help_text="…or of this brand (needs start, end)")
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)

    def validate(self, attrs):
        if bool(attrs.get("campaign")) == bool(attrs.get("brand")):
            raise serializers.ValidationError("Give either a campaign or a brand.")
        if attrs.get("brand") and not (attrs.get("start") and attrs.get("end")):
            raise serializers.ValidationError("Brand KPIs need a start and an end day.")
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError("The start must not be after the end.")
        return attrs


class KpiSerializer(serializers.Serializer):
    label = serializers.CharField()
    object_id = serializers.CharField()
    day = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    spend = serializers.DecimalField(max_digits=16, decimal_places=2)
    conversions = serializers.DecimalField(max_digits=16, decimal_places=2)
    conversion_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cost = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    ctr = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    cpc = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    cpm = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    cpa = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    conversion_rate = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    roas = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    roi = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)


class KpiReportSerializer(serializers.Serializer):
    total = KpiSerializer()
    campaigns = KpiSerializer(many=True, help_text="Per campaign (brand KPIs only).")
    daily = KpiSerializer(many=True, help_text="Per day (campaign KPIs only).")


class InsightViewSet(BrandScopedViewSet):
    """Daily paid insights of the brands you work on, and their KPIs (read only)."""

    queryset = InsightDaily.objects.all()
    serializer_class = InsightSerializer
    write_area = Area.ADS
    filterset_class = InsightFilter
    ordering_fields = ["date", "spend"]
    ordering = ["-date", "id"]
    http_method_names = ["get", "head", "options"]

    def scope_queryset(self, queryset):
        return queryset.filter(brand__in=staff_brands(self.request.user).values("pk"))

    # 400: the query is checked (a campaign or a brand, a period in order); 404: no such
    # campaign or brand among those the caller works on.
    @extend_schema(
        parameters=[KpiQuerySerializer],
        responses={200: KpiReportSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def kpis(self, request):
        """Totals and KPIs (CTR, CPC, CPM, CPA, conversion rate, ROAS, ROI) of a campaign with
        its daily series, or of a brand with one row per campaign. A KPI whose denominator is
        zero is null. Amounts are converted with the agency's currency rates."""
        query = KpiQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        window = {"start": params.get("start"), "end": params.get("end")}
        currency = params.get("currency")
        brands = staff_brands(request.user)
        if params.get("campaign"):
            campaign = (
                Campaign.objects.filter(pk=params["campaign"], brand__in=brands.values("pk"))
                .select_related("brand")
                .first()
            )
            if campaign is None:
                raise Http404("No such campaign.")
            report = {
                "total": selectors.campaign_kpis(campaign=campaign, currency=currency, **window),
                "campaigns": [],
                "daily": selectors.campaign_daily_kpis(
                    campaign=campaign, currency=currency, **window
                ),
            }
        else:
            brand = brands.filter(pk=params["brand"]).first()
            if brand is None:
                raise Http404("No such brand.")
            rows = selectors.brand_campaign_kpis(brand=brand, currency=currency, **window)
            total = selectors.Kpis(
                currency=rows[0].currency
                if rows
                else (currency or selectors.brand_default_currency(brand=brand)),
                label=brand.name,
                object_id=str(brand.pk),
            )
            for row in rows:
                total.add(row)
            report = {"total": total, "campaigns": rows, "daily": []}
        return Response(KpiReportSerializer(_report_data(report)).data)


def _report_data(report: dict) -> dict:
    def one(kpis):
        return {**kpis.as_dict(), "label": kpis.label, "object_id": kpis.object_id, "day": kpis.day}

    return {
        "total": one(report["total"]),
        "campaigns": [one(k) for k in report["campaigns"]],
        "daily": [one(k) for k in report["daily"]],
    }
