"""Link pages of a brand: the UTM builder (with the brand's presets), tracked short links and
their clicks per day. Staff only: a client gets a 404; managers read and build; admins and
marketers save presets and make short links."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from ads import selectors, services
from ads.models import TrackedLink, UtmPreset
from ads.views import ads_brand
from agency.forms import DashboardForm, attach_service_errors
from agency.permissions import Area, can_write

CLICK_DAYS = 90


def short_url(request, link: TrackedLink) -> str:
    return request.build_absolute_uri(reverse("tracked-link", args=[link.code]))


class UtmFieldsForm(DashboardForm):
    source = forms.CharField(max_length=100, required=False, help_text="e.g. instagram")
    medium = forms.CharField(max_length=100, required=False, help_text="e.g. social, influencer")
    campaign = forms.CharField(max_length=100, required=False, help_text="e.g. spring-sale")
    content = forms.CharField(max_length=100, required=False)
    term = forms.CharField(max_length=100, required=False)


class BuilderForm(UtmFieldsForm):
    field_order = ["destination", "preset"]
    destination = forms.CharField(
        max_length=2000, help_text="A full address: https://shop.example.com/spring"
    )
    preset = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Fills the fields you leave empty."
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preset"].queryset = selectors.utm_presets_for_brand(brand=brand)

    def utm_values(self) -> dict[str, str]:
        data = self.cleaned_data
        preset = data.get("preset")
        return {
            k: data.get(k) or (getattr(preset, k) if preset else "") for k in services.UTM_FIELDS
        }


class PresetForm(UtmFieldsForm):
    field_order = ["name"]
    name = forms.CharField(max_length=100)


class TrackedLinkForm(DashboardForm):
    destination = forms.CharField(max_length=2000, help_text="With its UTM parameters.")
    name = forms.CharField(max_length=200, required=False)
    code = forms.CharField(
        max_length=32,
        required=False,
        label="Custom code",
        help_text="Letters, digits, - and _; blank: a random code.",
    )


def _page(request, brand, *, builder=None, preset_form=None, link_form=None, status=200):
    writer = can_write(brand.user_role, Area.ADS)
    built = ""
    if builder is None:
        builder = BuilderForm(request.GET or None, brand=brand)
    if builder.is_bound and builder.is_valid():
        try:
            built = services.utm_build(
                destination=builder.cleaned_data["destination"], **builder.utm_values()
            )
        except ValidationError as exc:
            attach_service_errors(builder, exc)
    if writer and link_form is None:
        link_form = TrackedLinkForm(initial={"destination": built} if built else None)
    if writer and preset_form is None:
        preset_form = PresetForm()
    return render(
        request,
        "ads/links/index.html",
        {
            "brand": brand,
            "builder": builder,
            "built": built,
            "presets": selectors.utm_presets_for_brand(brand=brand),
            "links": selectors.tracked_links_for_brand(brand=brand),
            "preset_form": preset_form if writer else None,
            "link_form": link_form if writer else None,
            "can_write": writer,
        },
        status=400 if builder.errors and status == 200 else status,
    )


@login_required
@require_GET
def links_page(request, brand_id):
    return _page(request, ads_brand(request, brand_id))


@login_required
@require_POST
def link_create(request, brand_id):
    brand = ads_brand(request, brand_id, write=True)
    form = TrackedLinkForm(request.POST)
    if form.is_valid():
        try:
            link = services.tracked_link_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Made the short link {short_url(request, link)}.")
            return redirect("ads:link-detail", link_id=link.pk)
    return _page(request, brand, builder=BuilderForm(brand=brand), link_form=form, status=400)


@login_required
@require_POST
def preset_create(request, brand_id):
    brand = ads_brand(request, brand_id, write=True)
    form = PresetForm(request.POST)
    if form.is_valid():
        try:
            preset = services.utm_preset_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the preset “{preset.name}”.")
            return redirect("ads:links", brand_id=brand.pk)
    return _page(request, brand, builder=BuilderForm(brand=brand), preset_form=form, status=400)


@login_required
@require_POST
def preset_delete(request, preset_id):
    preset = UtmPreset.objects.filter(pk=preset_id).first()
    if preset is None:
        raise Http404("No such preset.")
    preset.brand = ads_brand(request, preset.brand_id, write=True)
    services.utm_preset_delete(preset=preset, by=request.user)
    messages.success(request, f"Deleted the preset “{preset.name}”.")
    return redirect("ads:links", brand_id=preset.brand.pk)


@login_required
@require_GET
def link_detail(request, link_id):
    link = selectors.tracked_links_with_clicks(TrackedLink.objects.filter(pk=link_id)).first()
    if link is None:
        raise Http404("No such link.")
    brand = ads_brand(request, link.brand_id)
    end = selectors.today_utc()
    days = selectors.link_clicks_daily(link=link, start=end - timedelta(days=CLICK_DAYS - 1))
    return render(
        request,
        "ads/links/detail.html",
        {
            "brand": brand,
            "link": link,
            "days": days,
            "click_days": CLICK_DAYS,
            "short_url": short_url(request, link),
        },
    )


urlpatterns = [
    path("brands/<uuid:brand_id>/links/", links_page, name="links"),
    path("brands/<uuid:brand_id>/links/new/", link_create, name="link-create"),
    path("brands/<uuid:brand_id>/links/presets/", preset_create, name="preset-create"),
    path("utm-presets/<uuid:preset_id>/delete/", preset_delete, name="preset-delete"),
    path("links/<uuid:link_id>/", link_detail, name="link-detail"),
]
