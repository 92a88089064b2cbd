"""Influencer pages: the agency's directory, each brand's collaborations with revenue and ROI,
deliverables, and the CSV import of attributed sales. Staff only: a client gets a 404;
managers read; admins and marketers change (agency.permissions, Area.ADS)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from ads import selectors, services
from ads.models import Collaboration, Deliverable, Influencer, TrackedLink
from ads.views import ads_brand
from agency.forms import DashboardForm, attach_service_errors
from agency.models import Agency, Brand
from agency.permissions import Area, can_write

# -- access --------------------------------------------------------------------------------------


def _influencer(request, influencer_id, *, write: bool = False) -> Influencer:
    influencer = selectors.influencers_for_user(user=request.user).filter(pk=influencer_id).first()
    if influencer is None:
        raise Http404("No such influencer.")
    influencer.can_write = (
        selectors.influencer_agencies_for_user(user=request.user, write=True)
        .filter(pk=influencer.agency_id)
        .exists()
    )
    if write and not influencer.can_write:
        raise PermissionDenied("Your role can read but not change the influencer directory.")
    return influencer


def _collaboration(request, collaboration_id, *, write: bool = False) -> Collaboration:
    collab = (
        Collaboration.objects.select_related("influencer", "tracked_link")
        .filter(pk=collaboration_id)
        .first()
    )
    if collab is None:
        raise Http404("No such collaboration.")
    collab.brand = ads_brand(request, collab.brand_id, write=write)
    return collab


# -- forms ---------------------------------------------------------------------------------------


class HandlesField(forms.CharField):
    """One `platform: handle` per line, read into {"platform": "handle"}."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return value

    def to_python(self, value):
        handles: dict[str, str] = {}
        for line in (value or "").splitlines():
            if not line.strip():
                continue
            platform, sep, handle = line.partition(":")
            if not sep or not handle.strip():
                raise ValidationError(f"Write “{line.strip()}” as platform: handle.")
            handles[platform.strip().lower()] = handle.strip()
        return handles


class InfluencerForm(DashboardForm):
    agency = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=200)
    handles = HandlesField(
        required=False,
        help_text="One per line, e.g. instagram: @ann. Platforms: "
        + ", ".join(sorted(services.INFLUENCER_PLATFORMS))
        + ".",
    )
    audience_size = forms.IntegerField(min_value=0, initial=0, required=False)
    rate = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = forms.CharField(max_length=3, initial="EUR")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        field.queryset = agencies
        choices = list(agencies)
        if len(choices) == 1:
            field.widget = forms.HiddenInput()
            field.initial = choices[0].pk


class CollaborationForm(DashboardForm):
    influencer = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=200)
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    fee = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, initial=0)
    currency = forms.CharField(max_length=3, initial="EUR")
    promo_code = forms.CharField(
        max_length=50, required=False, help_text="Unique within the brand, whatever its case."
    )
    tracked_link = forms.ModelChoiceField(queryset=None, required=False, label="Existing link")
    link_destination = forms.CharField(
        max_length=2000,
        required=False,
        label="Or a new tracked link to",
        help_text="A full https:// address; a short link is made for it.",
    )
    link_code = forms.SlugField(
        max_length=32, required=False, label="Custom code", help_text="Blank: a random code."
    )

    def __init__(self, *args, brand: Brand, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["influencer"].queryset = Influencer.objects.filter(agency_id=brand.agency_id)
        self.fields["tracked_link"].queryset = TrackedLink.objects.filter(brand=brand)
        if editing:
            del self.fields["link_destination"]
            del self.fields["link_code"]


class DeliverableForm(DashboardForm):
    description = forms.CharField(max_length=300)
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        choices=[c for c in Deliverable.Status.choices if c[0] != Deliverable.Status.LATE],
        initial=Deliverable.Status.PLANNED,
    )
    url = forms.URLField(max_length=1000, required=False, assume_scheme="https")


class DeliverableStatusForm(DashboardForm):
    status = forms.ChoiceField(
        choices=[c for c in Deliverable.Status.choices if c[0] != Deliverable.Status.LATE]
    )
    url = forms.URLField(max_length=1000, required=False, assume_scheme="https")


class SalesImportForm(DashboardForm):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, at most {services.SALES_IMPORT_MAX_ROWS:,} rows. Every row is "
        "checked before anything is saved.",
    )


# -- influencers ---------------------------------------------------------------------------------


def _staff_or_404(request) -> None:
    if not selectors.influencer_agencies_for_user(user=request.user).exists():
        raise Http404("The influencer directory is for agency staff.")


@login_required
@require_http_methods(["GET", "POST"])
def influencer_list(request):
    _staff_or_404(request)
    agencies = selectors.influencer_agencies_for_user(user=request.user, write=True)
    posting = request.method == "POST"
    if posting and not agencies.exists():
        raise PermissionDenied("Your role can read but not change the influencer directory.")
    form = InfluencerForm(request.POST or None, agencies=agencies) if agencies.exists() else None
    if posting and form.is_valid():
        try:
            influencer = services.influencer_create(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Added {influencer.name} to the directory.")
            return redirect("ads:influencer-detail", influencer_id=influencer.pk)
    return render(
        request,
        "ads/influencers/list.html",
        {"influencers": selectors.influencers_for_user(user=request.user), "form": form},
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def influencer_detail(request, influencer_id):
    posting = request.method == "POST"
    influencer = _influencer(request, influencer_id, write=posting)
    form = None
    if influencer.can_write:
        initial = {f: getattr(influencer, f) for f in services.influencers.INFLUENCER_FIELDS}
        form = InfluencerForm(
            request.POST or None,
            agencies=Agency.objects.filter(pk=influencer.agency_id),
            initial={**initial, "agency": influencer.agency_id},
        )
    if posting and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "agency"}
        try:
            services.influencer_update(influencer=influencer, by=request.user, data=data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Saved {influencer.name}.")
            return redirect("ads:influencer-detail", influencer_id=influencer.pk)
    return render(
        request,
        "ads/influencers/detail.html",
        {
            "influencer": influencer,
            "form": form,
            "collaborations": selectors.collaborations_for_influencer(influencer=influencer),
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_POST
def influencer_delete(request, influencer_id):
    influencer = _influencer(request, influencer_id, write=True)
    try:
        services.influencer_delete(influencer=influencer, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("ads:influencer-detail", influencer_id=influencer.pk)
    messages.success(request, f"Removed {influencer.name} from the directory.")
    return redirect("ads:influencer-list")


# -- collaborations ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def collaboration_list(request, brand_id):
    posting = request.method == "POST"
    brand = ads_brand(request, brand_id, write=posting)
    writer = can_write(brand.user_role, Area.ADS)
    form = CollaborationForm(request.POST or None, brand=brand) if writer else None
    if posting and form.is_valid():
        try:
            collab = services.collaboration_create(
                brand=brand, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Added the collaboration “{collab.name}”.")
            return redirect("ads:collaboration-detail", collaboration_id=collab.pk)
    return render(
        request,
        "ads/influencers/collaborations.html",
        {
            "brand": brand,
            "collaborations": selectors.collaborations_for_brand(brand=brand),
            "form": form,
            "can_write": writer,
        },
        status=400 if form is not None and form.errors else 200,
    )


def _detail(request, collab, *, edit_form=None, deliverable_form=None):
    writer = can_write(collab.brand.user_role, Area.ADS)
    if writer and edit_form is None:
        edit_form = CollaborationForm(
            brand=collab.brand,
            editing=True,
            initial={f: getattr(collab, f) for f in services.influencers.COLLABORATION_FIELDS},
        )
    if writer and deliverable_form is None:
        deliverable_form = DeliverableForm()
    brand = collab.brand
    [collab] = selectors.attach_revenue_by_currency(
        selectors.collaborations_with_revenue(Collaboration.objects.filter(pk=collab.pk))
    )
    collab.brand = brand  # the one carrying the user's role
    failed = any(f is not None and f.errors for f in (edit_form, deliverable_form))
    return render(
        request,
        "ads/influencers/collaboration.html",
        {
            "brand": collab.brand,
            "collaboration": collab,
            "deliverables": selectors.deliverables_for_collaboration(collaboration=collab),
            "sales": selectors.sales_for_collaboration(collaboration=collab)[:200],
            "edit_form": edit_form,
            "deliverable_form": deliverable_form,
            "statuses": DeliverableStatusForm.base_fields["status"].choices,
            "can_write": writer,
        },
        status=400 if failed else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def collaboration_detail(request, collaboration_id):
    posting = request.method == "POST"
    collab = _collaboration(request, collaboration_id, write=posting)
    if not posting:
        return _detail(request, collab)
    form = CollaborationForm(request.POST, brand=collab.brand, editing=True)
    if form.is_valid():
        try:
            services.collaboration_update(
                collaboration=collab, by=request.user, data=form.cleaned_data
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Saved “{collab.name}”.")
            return redirect("ads:collaboration-detail", collaboration_id=collab.pk)
    return _detail(request, collab, edit_form=form)


@login_required
@require_POST
def collaboration_delete(request, collaboration_id):
    collab = _collaboration(request, collaboration_id, write=True)
    services.collaboration_delete(collaboration=collab, by=request.user)
    messages.success(request, f"Deleted the collaboration “{collab.name}”.")
    return redirect("ads:collaboration-list", brand_id=collab.brand.pk)


@login_required
@require_POST
def deliverable_create(request, collaboration_id):
    collab = _collaboration(request, collaboration_id, write=True)
    form = DeliverableForm(request.POST)
    if form.is_valid():
        try:
            services.deliverable_create(collaboration=collab, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, "Added the deliverable.")
            return redirect("ads:collaboration-detail", collaboration_id=collab.pk)
    return _detail(request, collab, deliverable_form=form)


@login_required
@require_POST
def deliverable_update(request, deliverable_id):
    deliverable = Deliverable.objects.filter(pk=deliverable_id).first()
    if deliverable is None:
        raise Http404("No such deliverable.")
    collab = _collaboration(request, deliverable.collaboration_id, write=True)
    deliverable.collaboration = collab
    form = DeliverableStatusForm(request.POST)
    if form.is_valid():
        try:
            services.deliverable_update(
                deliverable=deliverable, by=request.user, data=form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"“{deliverable.description}” is now {deliverable.get_status_display().lower()}.",
            )
    else:
        messages.error(request, "Choose a status, and give a valid link if there is one.")
    return redirect("ads:collaboration-detail", collaboration_id=collab.pk)


@login_required
@require_http_methods(["GET", "POST"])
def sales_import(request, brand_id):
    posting = request.method == "POST"
    brand = ads_brand(request, brand_id, write=True)
    form = SalesImportForm(request.POST, request.FILES) if posting else SalesImportForm()
    problems: list[str] = []
    if posting and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.sales_import(
                brand=brand, by=request.user, data=b"".join(upload.chunks())
            )
        except ValidationError as exc:
            problems = exc.messages
        else:
            messages.success(
                request,
                f"Imported {result.created} sale(s); skipped {result.skipped} already counted.",
            )
            return redirect("ads:collaboration-list", brand_id=brand.pk)
    return render(
        request,
        "ads/influencers/sales_import.html",
        {"brand": brand, "form": form, "problems": problems, "columns": COLUMN_HELP},
        status=400 if problems or form.errors else 200,
    )


COLUMN_HELP = [
    ("date", "YYYY-MM-DD, the day of the sale."),
    ("order_ref", "The shop's order number; an order already counted is skipped."),
    ("amount", "The order's value, e.g. 49.90 (dot for decimals)."),
    ("currency", "Three letters, e.g. EUR."),
    ("promo_code", "The collaboration's promo code (any case)."),
    ("collaboration", "Or the collaboration's name or id; give one of the two."),
]


urlpatterns = [
    path("influencers/", influencer_list, name="influencer-list"),
    path("influencers/<uuid:influencer_id>/", influencer_detail, name="influencer-detail"),
    path("influencers/<uuid:influencer_id>/delete/", influencer_delete, name="influencer-delete"),
    path("brands/<uuid:brand_id>/collaborations/", collaboration_list, name="collaboration-list"),
    path(
        "brands/<uuid:brand_id>/collaborations/import-sales/",
        sales_import,
        name="sales-import",
    ),
    path(
        "collaborations/<uuid:collaboration_id>/",
        collaboration_detail,
        name="collaboration-detail",
    ),
    path(
        "collaborations/<uuid:collaboration_id>/delete/",
        collaboration_delete,
        name="collaboration-delete",
    ),
    path(
        "collaborations/<uuid:collaboration_id>/deliverables/",
        deliverable_create,
        name="deliverable-create",
    ),
    path("deliverables/<uuid:deliverable_id>/", deliverable_update, name="deliverable-update"),
]
