"""Insights pages: a campaign's KPIs and daily chart (with CSV import and "Sync now"), the
brand's ROI per campaign, and the agency's currency rates.

Staff only: a client of the brand gets a 404; a manager reads, admins and marketers change.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from ads import selectors, services
from ads.models import Campaign, CurrencyRate
from ads.views import ads_brand
from agency.forms import DashboardForm, attach_service_errors
from agency.models import Membership, Role
from agency.permissions import WRITERS, Area, can_write

ROI_WINDOW_DAYS = 30


def ads_campaign(request, campaign_id, *, write: bool = False) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).only("pk", "brand_id").first()
    if campaign is None:
        raise Http404("No such campaign.")
    brand = ads_brand(request, campaign.brand_id, write=write)
    campaign = Campaign.objects.get(pk=campaign_id)
    campaign.brand = brand
    return campaign


def agency_membership(request, agency_id, *, write: bool = False) -> Membership:
    membership = (
        Membership.objects.filter(user=request.user, agency_id=agency_id)
        .select_related("agency")
        .first()
    )
    if membership is None:
        raise Http404("No such agency.")
    if write and membership.role not in WRITERS[Area.ADS]:
        raise PermissionDenied(
            f"Your role ({Role(membership.role).label}) can read but not change the currency "
            f"rates of {membership.agency}."
        )
    return membership


# -- presentation helpers -------------------------------------------------------------------------


def _money(value: Decimal | None, currency: str) -> str:
    return "n/a" if value is None else f"{value:,.2f} {currency}"


def _percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value * 100:,.2f} %"


def kpi_rows(kpis: selectors.Kpis) -> list[tuple[str, str, str]]:
    """(label, shown value, how it is computed) for the KPI table."""
    c = kpis.currency
    rows = [
        ("Impressions", f"{kpis.impressions:,}", ""),
        ("Clicks", f"{kpis.clicks:,}", ""),
        ("Spend", _money(kpis.spend, c), ""),
        ("Conversions", f"{kpis.conversions:,.2f}".rstrip("0").rstrip("."), ""),
        ("Conversion value", _money(kpis.conversion_value, c), ""),
        ("CTR", _percent(kpis.ctr), "clicks / impressions"),
        ("CPC", _money(kpis.cpc, c), "spend / clicks"),
        ("CPM", _money(kpis.cpm, c), "spend / impressions x 1000"),
        ("CPA", _money(kpis.cpa, c), "spend / conversions"),
        ("Conversion rate", _percent(kpis.conversion_rate), "conversions / clicks"),
        ("ROAS", "n/a" if kpis.roas is None else f"{kpis.roas:,.2f}x", "conversion value / spend"),
    ]
    if kpis.cost is not None:
        rows += [
            ("Revenue", _money(kpis.revenue, c), "revenue override, else conversion value"),
            ("Cost", _money(kpis.cost, c), "spend + agency fee + other costs"),
            ("ROI", _percent(kpis.roi), "(revenue - cost) / cost"),
        ]
    return rows


def chart_data(daily: list[selectors.Kpis], currency: str) -> dict:
    return {
        "currency": currency,
        "labels": [k.day.isoformat() for k in daily],
        "spend": [str(k.spend) for k in daily],
        "clicks": [k.clicks for k in daily],
        "conversions": [str(k.conversions) for k in daily],
    }


class WindowForm(DashboardForm):
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$",
        required=False,
        max_length=3,
        help_text="Three letters, e.g. EUR. Empty: the campaign's own.",
        error_messages={"invalid": "Use a three-letter currency code such as EUR."},
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("The first day must not be after the last.")
        if data.get("currency"):
            data["currency"] = data["currency"].upper()
        return data


def campaign_panel_context(request, campaign: Campaign) -> dict:
    window = WindowForm(request.GET or None)
    criteria = window.cleaned_data if window.is_valid() else {}
    start, end = criteria.get("start"), criteria.get("end")
    currency = criteria.get("currency") or campaign.currency
    context = {
        "campaign": campaign,
        "brand": campaign.brand,
        "window": window,
        "currency": currency,
        "kpis": None,
        "error": "",
    }
    try:
        kpis = selectors.campaign_kpis(campaign=campaign, start=start, end=end, currency=currency)
        daily = selectors.campaign_daily_kpis(
            campaign=campaign, start=start, end=end, currency=currency
        )
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return context
    context.update(
        kpis=kpis,
        kpi_rows=kpi_rows(kpis),
        daily=daily,
        chart=chart_data(daily, currency),
        chart_id=f"insights-data-{campaign.pk}",
    )
    return context


# -- pages ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def campaign_insights(request, campaign_id):
    campaign = ads_campaign(request, campaign_id)
    context = campaign_panel_context(request, campaign)
    context.update(
        can_write=can_write(campaign.brand.user_role, Area.ADS),
        can_sync=campaign.platform in selectors.SYNCED_PLATFORMS,
        import_form=ImportForm(),
        rows=selectors.insights_for_campaign(campaign=campaign)[:100],
    )
    return render(
        request,
        "ads/insights/campaign.html",
        context,
        status=400 if context["window"].errors else 200,
    )


@login_required
@require_http_methods(["GET"])
def campaign_insights_panel(request, campaign_id):
    """The KPI table and daily chart alone: what _campaign_panel.html loads with HTMX."""
    campaign = ads_campaign(request, campaign_id)
    return render(request, "ads/insights/_kpis.html", campaign_panel_context(request, campaign))


@login_required
@require_POST
def campaign_insights_sync(request, campaign_id):
    campaign = ads_campaign(request, campaign_id, write=True)
    target = reverse("ads:campaign-insights", args=[campaign.pk])
    if campaign.platform not in selectors.SYNCED_PLATFORMS:
        messages.error(
            request,
            f"agency cannot sync insights from {campaign.get_platform_display()}; import them "
            "as a CSV file instead.",
        )
        return redirect(target)
    if not campaign.external_id:
        messages.error(
            request, f"“{campaign}” has no platform id yet, so there is nothing to sync."
        )
        return redirect(target)
    from ads.tasks import sync_campaign_insights

    campaign_id = str(campaign.pk)
    transaction.on_commit(lambda: sync_campaign_insights.delay(campaign_id))
    messages.success(
        request, f"Syncing the insights of “{campaign}”; reload in a minute to see them."
    )
    return redirect(target)


class ImportForm(DashboardForm):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: " + ", ".join(services.CSV_COLUMNS) + ". ad_set and ad may be empty.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


@login_required
@require_http_methods(["GET", "POST"])
def brand_insights_import(request, brand_id):
    brand = ads_brand(request, brand_id, write=request.method == "POST")
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = services.insights_import_csv(
                brand=brand, file=form.cleaned_data["file"], by=request.user
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(
                request,
                f"Imported {result.rows} row{'s' if result.rows != 1 else ''} for "
                f"{result.campaigns} campaign{'s' if result.campaigns != 1 else ''}; "
                f"{result.days} day{'s' if result.days != 1 else ''} replaced.",
            )
            following = form.cleaned_data.get("next") or ""
            if following and url_has_allowed_host_and_scheme(
                following, allowed_hosts={request.get_host()}
            ):
                return redirect(following)
            return redirect("ads:brand-roi", brand_id=brand.pk)
    return render(
        request,
        "ads/insights/import.html",
        {"brand": brand, "form": form, "errors": errors, "columns": services.CSV_COLUMNS},
        status=400 if (errors or form.errors) else 200,
    )


ROI_SORTS = {
    "name": lambda k: k.label.lower(),
    "spend": lambda k: k.spend,
    "conversions": lambda k: k.conversions,
    "value": lambda k: k.conversion_value,
    "cost": lambda k: k.cost,
    "cpa": lambda k: k.cpa,
    "roas": lambda k: k.roas,
    "roi": lambda k: k.roi,
}


def _sorted(rows: list, key: str, descending: bool) -> list:
    getter = ROI_SORTS[key]
    known = [r for r in rows if getter(r) is not None]
    unknown = [r for r in rows if getter(r) is None]
    # Rows whose KPI is n/a go last whichever way the column is sorted.
    return sorted(known, key=getter, reverse=descending) + unknown


@login_required
@require_http_methods(["GET"])
def brand_roi(request, brand_id):
    brand = ads_brand(request, brand_id)
    today = timezone.now().astimezone(brand.zone).date()
    window = WindowForm(request.GET or None)
    criteria = window.cleaned_data if window.is_valid() else {}
    end = criteria.get("end") or today
    start = criteria.get("start") or end - dt.timedelta(days=ROI_WINDOW_DAYS - 1)
    currency = criteria.get("currency") or selectors.brand_default_currency(brand=brand)
    sort = request.GET.get("sort") if request.GET.get("sort") in ROI_SORTS else "roi"
    descending = request.GET.get("dir", "desc") != "asc"
    context = {
        "brand": brand,
        "window": window,
        "start": start,
        "end": end,
        "currency": currency,
        "sort": sort,
        "descending": descending,
        "error": "",
        "rows": [],
        "total": None,
        "can_write": can_write(brand.user_role, Area.ADS),
    }
    try:
        rows = selectors.brand_campaign_kpis(brand=brand, start=start, end=end, currency=currency)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
    else:
        total = selectors.Kpis(currency=currency, label="All campaigns")
        for row in rows:
            total.add(row)
        context["rows"] = _sorted(rows, sort, descending)
        context["total"] = total
    query = request.GET.copy()
    query.pop("sort", None)
    query.pop("dir", None)
    context["query"] = query.urlencode()
    context["columns"] = [
        ("name", "Campaign"),
        ("spend", "Spend"),
        ("conversions", "Conversions"),
        ("value", "Conversion value"),
        ("cost", "Cost"),
        ("cpa", "CPA"),
        ("roas", "ROAS"),
        ("roi", "ROI"),
    ]
    context["display"] = [
        {
            "kpis": k,
            "cells": [
                _money(k.spend, currency),
                f"{k.conversions:,.2f}",
                _money(k.conversion_value, currency),
                _money(k.cost, currency),
                _money(k.cpa, currency),
                "n/a" if k.roas is None else f"{k.roas:,.2f}x",
                _percent(k.roi),
            ],
        }
        for k in context["rows"]
    ]
    if context["total"] is not None:
        t = context["total"]
        context["total_cells"] = [
            _money(t.spend, currency),
            f"{t.conversions:,.2f}",
            _money(t.conversion_value, currency),
            _money(t.cost, currency),
            _money(t.cpa, currency),
            "n/a" if t.roas is None else f"{t.roas:,.2f}x",
            _percent(t.roi),
        ]
    # Influencer collaborations beside the paid campaigns: one brand, both kinds of spend.
    from ads.selectors.influencers import collaborations_for_brand

    context["collaborations"] = collaborations_for_brand(brand=brand)
    return render(request, "ads/insights/roi.html", context, status=400 if window.errors else 200)


class CurrencyRateForm(DashboardForm):
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", max_length=3, help_text="The currency converted, e.g. USD."
    )
    base = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", max_length=3, help_text="What it is converted into, e.g. EUR."
    )
    rate = forms.DecimalField(
        max_digits=18,
        decimal_places=8,
        min_value=Decimal("0.00000001"),
        help_text="1 unit of the currency is this many units of the base.",
    )
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


@login_required
@require_http_methods(["GET", "POST"])
def currency_rates(request, agency_id):
    membership = agency_membership(request, agency_id, write=request.method == "POST")
    agency = membership.agency
    form = CurrencyRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate = services.currency_rate_create(
                agency=agency, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="valid_from")
        else:
            messages.success(request, f"Saved: {rate}.")
            return redirect("ads:currency-rates", agency_id=agency.pk)
    return render(
        request,
        "ads/insights/currency_rates.html",
        {
            "agency": agency,
            "form": form,
            "rates": selectors.currency_rates_for_agency(agency=agency),
            "can_write": membership.role in WRITERS[Area.ADS],
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def currency_rate_delete(request, agency_id, rate_id):
    membership = agency_membership(request, agency_id, write=True)
    rate = get_object_or_404(CurrencyRate, agency=membership.agency, pk=rate_id)
    label = str(rate)
    services.currency_rate_delete(rate=rate, by=request.user)
    messages.success(request, f"Deleted: {label}.")
    return redirect("ads:currency-rates", agency_id=membership.agency_id)


urlpatterns = [
    path("campaigns/<uuid:campaign_id>/insights/", campaign_insights, name="campaign-insights"),
    path(
        "campaigns/<uuid:campaign_id>/insights/panel/",
        campaign_insights_panel,
        name="campaign-insights-panel",
    ),
    path(
        "campaigns/<uuid:campaign_id>/insights/sync/",
        campaign_insights_sync,
        name="campaign-insights-sync",
    ),
    path("brands/<uuid:brand_id>/insights/import/", brand_insights_import, name="insights-import"),
    path("brands/<uuid:brand_id>/roi/", brand_roi, name="brand-roi"),
    path("agencies/<uuid:agency_id>/currency-rates/", currency_rates, name="currency-rates"),
    path(
        "agencies/<uuid:agency_id>/currency-rates/<uuid:rate_id>/delete/",
        currency_rate_delete,
        name="currency-rate-delete",
    ),
]
