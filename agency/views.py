"""Dashboard pages of the shared kernel: brands, social accounts, tokens, notifications.

Each view checks access with agency.permissions, reads through selectors and writes through
services; nothing here touches a model's save().
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.static import serve

from agency import services
from agency.forms import (
    ApiTokenForm,
    BrandCreateForm,
    BrandForm,
    SocialAccountForm,
    attach_service_errors,
)
from agency.models import ApiToken
from agency.permissions import (
    Area,
    admin_agencies,
    brand_for_user,
    brands_for_user,
    can_write,
    is_staff_of_any_agency,
)
from agency.selectors import (
    api_tokens_for_user,
    audit_events_for_brand,
    background_health,
    brands_with_account_counts,
    notifications_for_user,
    social_accounts_for_user,
)

RECENT_AUDIT_EVENTS = 20
NOTIFICATIONS_PER_PAGE = 50


def _seen_ago(last_seen, now) -> str:
    seconds = int((now - last_seen).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{timesince(last_seen, now)} ago"


def _health_in_words() -> list[dict]:
    now = timezone.now()
    lines = []
    for name, state in background_health().items():
        label = {"worker": "Worker", "beat": "Scheduler (beat)"}.get(name, name.title())
        if state["last_seen"] is None:
            text = f"{label} not running: it has never reported."
        elif state["alive"]:
            text = f"{label} last seen {_seen_ago(state['last_seen'], now)}."
        else:
            text = f"{label} not running: last seen {_seen_ago(state['last_seen'], now)}."
        lines.append({"name": name, "alive": state["alive"], "text": text})
    return lines


@login_required
def dashboard(request):
    return render(
        request,
        "agency/dashboard.html",
        {
            "brands": brands_with_account_counts(user=request.user),
            "health": _health_in_words(),
            "can_create_brand": admin_agencies(request.user).exists(),
        },
    )


@require_GET
def media(request, path):
    """An uploaded file, in every mode (see agency/urls.py): SecurityHeadersMiddleware hardens
    the answer. serve() refuses any path outside MEDIA_ROOT."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


@require_GET
def healthz(request):
    """Liveness for load balancers and docker-compose: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@login_required
@require_POST
def switch_brand(request):
    brand_id = request.POST.get("brand_id", "")
    if brand_id:
        brand = brand_for_user(user=request.user, brand_id=brand_id)
        request.session["current_brand_id"] = str(brand.pk)
    else:
        request.session.pop("current_brand_id", None)
    return redirect(_safe_next(request, reverse("dashboard")))


# Brands


@login_required
def brand_list(request):
    return render(
        request,
        "agency/brand_list.html",
        {
            "brands": brands_with_account_counts(user=request.user),
            "can_create_brand": admin_agencies(request.user).exists(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def brand_create(request):
    agencies = admin_agencies(request.user)
    if not agencies.exists():
        raise PermissionDenied("Only an agency admin can add a brand.")
    form = BrandCreateForm(request.POST or None, request.FILES or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        try:
            brand = services.brand_create(
                agency=form.chosen_agency, by=request.user, **form.service_data()
            )
        except ValidationError as error:
            attach_service_errors(form, error, unique_field="slug")
        else:
            messages.success(request, f"{brand.name} was added.")
            return redirect("brand-detail", brand_id=brand.pk)
    return render(request, "agency/brand_form.html", {"form": form, "brand": None})


@login_required
def brand_detail(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id)
    return render(
        request,
        "agency/brand_detail.html",
        {
            "brand": brand,
            "accounts": brand.social_accounts.all(),
            "audit_events": audit_events_for_brand(brand=brand)[:RECENT_AUDIT_EVENTS],
            "can_edit_brand": can_write(brand.user_role, Area.AGENCY),
            "can_edit_accounts": can_write(brand.user_role, Area.ACCOUNTS),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def brand_edit(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.AGENCY)
    initial = {name: getattr(brand, name) for name in BrandForm.base_fields if name != "logo"}
    form = BrandForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.brand_update(brand=brand, by=request.user, data=form.service_data())
        except ValidationError as error:
            attach_service_errors(form, error, unique_field="slug")
        else:
            messages.success(request, f"{brand.name} was saved.")
            return redirect("brand-detail", brand_id=brand.pk)
    return render(request, "agency/brand_form.html", {"form": form, "brand": brand})


# Social accounts


def _account_for_writing(request, account_id):
    """The account through a brand the user sees (else 404) and may manage accounts of (403)."""
    account = get_object_or_404(social_accounts_for_user(user=request.user), pk=account_id)
    account.brand = brand_for_user(
        user=request.user, brand_id=account.brand_id, write=True, area=Area.ACCOUNTS
    )
    return account


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.ACCOUNTS)
    form = SocialAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.social_account_create(
                brand=brand, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            attach_service_errors(form, error, unique_field="handle")
        else:
            messages.success(request, f"{account} was added to {brand.name}.")
            return redirect("brand-detail", brand_id=brand.pk)
    return render(
        request, "agency/account_form.html", {"form": form, "brand": brand, "account": None}
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request, account_id):
    account = _account_for_writing(request, account_id)
    form = SocialAccountForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            services.social_account_update(account=account, by=request.user, data=form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error, unique_field="handle")
        else:
            messages.success(request, f"{account} was saved.")
            return redirect("brand-detail", brand_id=account.brand_id)
    return render(
        request,
        "agency/account_form.html",
        {"form": form, "brand": account.brand, "account": account},
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_disconnect(request, account_id):
    account = _account_for_writing(request, account_id)
    if request.method == "POST":
        services.social_account_disconnect(account=account, by=request.user)
        messages.success(request, f"{account} was disconnected and its credentials erased.")
        return redirect("brand-detail", brand_id=account.brand_id)
    return render(request, "agency/account_disconnect.html", {"account": account})


# Settings: API tokens


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = ApiTokenForm(
        request.POST or None,
        brands=brands_for_user(user=request.user),
        read_only=not is_staff_of_any_agency(request.user),
    )
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_key = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"] or ApiToken.Kind.PERSONAL,
                scopes=form.scopes(),
                brands=form.cleaned_data["brands"],
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            # Rendered, not redirected: the key exists only in this response and is never stored.
            form = ApiTokenForm(
                brands=brands_for_user(user=request.user),
                read_only=not is_staff_of_any_agency(request.user),
            )
    return render(
        request,
        "agency/token_list.html",
        {"form": form, "tokens": api_tokens_for_user(user=request.user), "new_key": new_key},
    )


@login_required
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(api_tokens_for_user(user=request.user), pk=token_id)
    services.api_token_revoke(token=token, by=request.user)
    messages.success(request, f"The token {token.name} was revoked; it no longer works.")
    return redirect("token-list")


# Notifications


@login_required
def notification_list(request):
    page = Paginator(notifications_for_user(user=request.user), NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "agency/notification_list.html", {"page": page})


@login_required
@require_POST
def notification_mark_all_read(request):
    count = services.notification_mark_read(user=request.user)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read.")
    return redirect("notification-list")
