"""The marketer's pages: campaigns, their ad sets (with the targeting form) and ads, audiences,
and "Boost this post".

Ads are staff-only: a brand the user does not see is a 404, a client of the brand gets a 403,
a manager reads and cannot write (403), marketers and admins write.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from ads import selectors, services
from ads.forms import (
    AdForm,
    AdSetForm,
    AudienceForm,
    BoostForm,
    CampaignForm,
    LocationFormSet,
    attach_targeting_errors,
    targeting_document,
    targeting_initial,
)
from ads.targeting import to_meta_targeting_spec
from agency.forms import attach_service_errors
from agency.models import Brand, Role
from agency.permissions import Area, brand_for_user, can_write
from calendar_app.models import Media, TargetState


def _ads_brand(request, brand_id, *, write: bool = False) -> Brand:
    brand = brand_for_user(
        user=request.user, brand_id=brand_id, write=write, area=Area.ADS if write else None
    )
    if brand.user_role == Role.CLIENT:
        raise PermissionDenied("Ads are the agency's working tools; their results are in reports.")
    return brand


def _found(getter, **kwargs):
    try:
        return getter(**kwargs)
    except (ObjectDoesNotExist, ValidationError, ValueError) as exc:
        raise Http404("Nothing of the brands you work on has this id.") from exc


@login_required
def ads_home(request):
    """The nav's "Ads": the current brand's campaigns, or the first brand the user works on."""
    brand_id = request.session.get("current_brand_id")
    brands = selectors.ads_brands_for_user(user=request.user)
    brand = (brands.filter(pk=brand_id).first() if brand_id else None) or brands.first()
    if brand is None:
        raise Http404("You work on no brand's ads.")
    return redirect("ads:campaign-list", brand_id=brand.pk)


@login_required
def campaign_list(request, brand_id):
    brand = _ads_brand(request, brand_id)
    campaigns = list(selectors.campaigns_for_brand(brand=brand))
    has_kpis, kpis_problem = _attach_kpis(brand, campaigns)
    return render(
        request,
        "ads/campaigns/campaign_list.html",
        {
            "brand": brand,
            "campaigns": campaigns,
            "has_kpis": has_kpis,
            "kpis_problem": kpis_problem,
            "can_write": can_write(brand.user_role, Area.ADS),
        },
    )


def _attach_kpis(brand: Brand, campaigns: list) -> tuple[bool, str]:
    """Each campaign's KPIs over its whole run, from the insights selectors when they exist.

    The brand-wide selector reads every campaign in one query (calling `campaign_kpis` per row
    would be one query per campaign); it reports in the brand's main currency.
    """
    bulk = getattr(selectors, "brand_campaign_kpis", None)
    if bulk is None or not campaigns:
        return False, ""
    today = timezone.now().astimezone(brand.zone).date()
    start = min(c.start_date for c in campaigns)
    end = max([today, *(c.end_date for c in campaigns if c.end_date)])
    try:
        rows = bulk(brand=brand, start=start, end=end)
    except ValidationError as exc:
        return False, " ".join(exc.messages)
    by_id = {row.object_id: row for row in rows}
    for campaign in campaigns:
        campaign.kpis = by_id.get(str(campaign.pk))
    return True, ""


@login_required
def campaign_create(request, brand_id):
    brand = _ads_brand(request, brand_id, write=True)
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(brand=brand, by=request.user, **form.service_data())
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Campaign “{campaign}” created.")
            return redirect("ads:campaign-detail", campaign_id=campaign.pk)
    return render(
        request,
        "ads/campaigns/campaign_form.html",
        {"form": form, "brand": brand, "campaign": None},
    )


@login_required
def campaign_detail(request, campaign_id):
    campaign = _found(selectors.campaign_for_user, user=request.user, campaign_id=campaign_id)
    brand = _ads_brand(request, campaign.brand_id)
    campaign = selectors.campaign_with_ad_sets(campaign=campaign)
    return render(
        request,
        "ads/campaigns/campaign_detail.html",
        {
            "brand": brand,
            "campaign": campaign,
            "can_write": can_write(brand.user_role, Area.ADS),
        },
    )


@login_required
def campaign_edit(request, campaign_id):
    campaign = _found(selectors.campaign_for_user, user=request.user, campaign_id=campaign_id)
    brand = _ads_brand(request, campaign.brand_id, write=True)
    initial = {f: getattr(campaign, f) for f in services.CAMPAIGN_FIELDS}
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(campaign=campaign, by=request.user, data=form.service_data())
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, "Campaign saved.")
            return redirect("ads:campaign-detail", campaign_id=campaign.pk)
    return render(
        request,
        "ads/campaigns/campaign_form.html",
        {"form": form, "brand": brand, "campaign": campaign},
    )


def _ad_set_page(request, *, brand, campaign, ad_set):
    audiences = list(selectors.audiences_for_brand(brand=brand))
    accounts = list(brand.social_accounts.all())
    if ad_set is None:
        initial, rows = {}, []
    else:
        initial, rows = targeting_initial(ad_set.targeting)
        initial.update(
            {
                f: getattr(ad_set, f)
                for f in (
                    "name",
                    "status",
                    "budget_kind",
                    "budget_amount",
                    "start_date",
                    "end_date",
                )
            }
        )
    form = AdSetForm(request.POST or None, initial=initial, audiences=audiences, accounts=accounts)
    formset = LocationFormSet(request.POST or None, initial=rows, prefix="locations")
    location_errors: list[str] = []
    status = 200
    if request.method == "POST":
        if form.is_valid() and formset.is_valid():
            doc, row_of = targeting_document(form, formset)
            try:
                if ad_set is None:
                    ad_set = services.ad_set_create(
                        campaign=campaign, by=request.user, targeting=doc, **form.ad_set_fields()
                    )
                else:
                    services.ad_set_update(
                        ad_set=ad_set,
                        by=request.user,
                        data={**form.ad_set_fields(), "targeting": doc},
                    )
            except ValidationError as exc:
                location_errors = attach_targeting_errors(form, formset, row_of, exc)
            else:
                messages.success(request, f"Ad set “{ad_set}” saved.")
                return redirect("ads:campaign-detail", campaign_id=campaign.pk)
        status = 400
    return render(
        request,
        "ads/campaigns/ad_set_form.html",
        {
            "brand": brand,
            "campaign": campaign,
            "ad_set": ad_set,
            "form": form,
            "formset": formset,
            "location_errors": location_errors,
        },
        status=status,
    )


@login_required
def ad_set_create(request, campaign_id):
    campaign = _found(selectors.campaign_for_user, user=request.user, campaign_id=campaign_id)
    brand = _ads_brand(request, campaign.brand_id, write=True)
    return _ad_set_page(request, brand=brand, campaign=campaign, ad_set=None)


@login_required
def ad_set_edit(request, ad_set_id):
    ad_set = _found(selectors.ad_set_for_user, user=request.user, ad_set_id=ad_set_id)
    brand = _ads_brand(request, ad_set.campaign.brand_id, write=True)
    return _ad_set_page(request, brand=brand, campaign=ad_set.campaign, ad_set=ad_set)


@login_required
def ad_set_meta_spec(request, ad_set_id):
    ad_set = _found(selectors.ad_set_for_user, user=request.user, ad_set_id=ad_set_id)
    brand = _ads_brand(request, ad_set.campaign.brand_id)
    try:
        spec = to_meta_targeting_spec(
            ad_set.targeting,
            custom_audience_ids={str(a.pk): a.external_id for a in ad_set.audiences.all()},
        )
    except ValidationError as exc:
        spec, problem = None, " ".join(exc.messages)
    else:
        problem = ""
    return render(
        request,
        "ads/campaigns/meta_spec.html",
        {
            "brand": brand,
            "ad_set": ad_set,
            "campaign": ad_set.campaign,
            "spec_json": json.dumps(spec, indent=2, ensure_ascii=False) if spec else "",
            "problem": problem,
        },
    )


def _ad_page(request, *, brand, ad_set, ad):
    initial = {}
    if ad is not None:
        initial = {f: getattr(ad, f) for f in services.AD_FIELDS}
        initial["media"] = list(ad.media.all())
    form = AdForm(
        request.POST or None,
        initial=initial,
        media_queryset=Media.objects.filter(brand=brand).order_by("name"),
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if ad is None:
                ad = services.ad_create(ad_set=ad_set, by=request.user, **data)
            else:
                services.ad_update(ad=ad, by=request.user, data=data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Ad “{ad}” saved.")
            return redirect("ads:campaign-detail", campaign_id=ad_set.campaign_id)
    return render(
        request,
        "ads/campaigns/ad_form.html",
        {"brand": brand, "ad_set": ad_set, "campaign": ad_set.campaign, "ad": ad, "form": form},
    )


@login_required
def ad_create(request, ad_set_id):
    ad_set = _found(selectors.ad_set_for_user, user=request.user, ad_set_id=ad_set_id)
    brand = _ads_brand(request, ad_set.campaign.brand_id, write=True)
    return _ad_page(request, brand=brand, ad_set=ad_set, ad=None)


@login_required
def ad_edit(request, ad_id):
    ad = _found(selectors.ad_for_user, user=request.user, ad_id=ad_id)
    brand = _ads_brand(request, ad.ad_set.campaign.brand_id, write=True)
    return _ad_page(request, brand=brand, ad_set=ad.ad_set, ad=ad)


@login_required
def audience_list(request, brand_id):
    brand = _ads_brand(request, brand_id)
    return render(
        request,
        "ads/campaigns/audience_list.html",
        {
            "brand": brand,
            "audiences": selectors.audiences_for_brand(brand=brand),
            "can_write": can_write(brand.user_role, Area.ADS),
        },
    )


def _audience_page(request, *, brand, audience):
    initial = {f: getattr(audience, f) for f in services.AUDIENCE_FIELDS} if audience else {}
    form = AudienceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if audience is None:
                audience = services.audience_create(
                    brand=brand, by=request.user, **form.cleaned_data
                )
            else:
                services.audience_update(audience=audience, by=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Audience “{audience}” saved.")
            return redirect("ads:audience-list", brand_id=brand.pk)
    return render(
        request,
        "ads/campaigns/audience_form.html",
        {"brand": brand, "audience": audience, "form": form},
    )


@login_required
def audience_create(request, brand_id):
    brand = _ads_brand(request, brand_id, write=True)
    return _audience_page(request, brand=brand, audience=None)


@login_required
def audience_edit(request, audience_id):
    audience = _found(selectors.audience_for_user, user=request.user, audience_id=audience_id)
    brand = _ads_brand(request, audience.brand_id, write=True)
    return _audience_page(request, brand=brand, audience=audience)


@login_required
@require_POST
def audience_delete(request, audience_id):
    audience = _found(selectors.audience_for_user, user=request.user, audience_id=audience_id)
    brand = _ads_brand(request, audience.brand_id, write=True)
    name = audience.name
    try:
        services.audience_delete(audience=audience, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Audience “{name}” deleted.")
    return redirect("ads:audience-list", brand_id=brand.pk)


@login_required
def post_boost(request, target_id):
    target = _found(selectors.post_target_for_boost, user=request.user, target_id=target_id)
    brand = _ads_brand(request, target.post.brand_id, write=True)
    form = BoostForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = services.post_boost(
                    post_target=target,
                    by=request.user,
                    budget_amount=data["budget_amount"],
                    currency=data["currency"],
                    days=data["days"],
                    targeting=form.targeting(default_country=services.brand_default_country(brand)),
                )
            except ValidationError as exc:
                attach_service_errors(form, exc)
            else:
                messages.success(
                    request, "Boost drafted: check its targeting and ad, then set it live."
                )
                return redirect("ads:campaign-detail", campaign_id=campaign.pk)
        status = 400
    return render(
        request,
        "ads/campaigns/boost_form.html",
        {
            "brand": brand,
            "target": target,
            "post": target.post,
            "form": form,
            "published": target.state == TargetState.PUBLISHED,
            "platform": services.boost_platform(target.account.platform),
            "default_country": services.brand_default_country(brand),
        },
        status=status,
    )


urlpatterns = [
    path("campaigns/", ads_home, name="ads-home"),
    path("brands/<uuid:brand_id>/campaigns/", campaign_list, name="campaign-list"),
    path("brands/<uuid:brand_id>/campaigns/new/", campaign_create, name="campaign-create"),
    path("campaigns/<uuid:campaign_id>/", campaign_detail, name="campaign-detail"),
    path("campaigns/<uuid:campaign_id>/edit/", campaign_edit, name="campaign-edit"),
    path("campaigns/<uuid:campaign_id>/ad-sets/new/", ad_set_create, name="ad-set-create"),
    path("ad-sets/<uuid:ad_set_id>/edit/", ad_set_edit, name="ad-set-edit"),
    path("ad-sets/<uuid:ad_set_id>/meta-spec/", ad_set_meta_spec, name="ad-set-meta-spec"),
    path("ad-sets/<uuid:ad_set_id>/ads/new/", ad_create, name="ad-create"),
    path("ads/<uuid:ad_id>/edit/", ad_edit, name="ad-edit"),
    path("brands/<uuid:brand_id>/audiences/", audience_list, name="audience-list"),
    path("brands/<uuid:brand_id>/audiences/new/", audience_create, name="audience-create"),
    path("audiences/<uuid:audience_id>/edit/", audience_edit, name="audience-edit"),
    path("audiences/<uuid:audience_id>/delete/", audience_delete, name="audience-delete"),
    path("targets/<uuid:target_id>/boost/", post_boost, name="post-boost"),
]
