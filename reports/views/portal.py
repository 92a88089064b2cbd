"""The client portal: a read-only, white-labelled area for a brand's own people, and the staff's
pages that hand out (and withdraw) the magic links that open it.

Portal pages only read, through selectors, and only GET. A client sees the brands of their
ClientAccess rows (another brand is a 404); staff may preview the portal of any brand they can
see. The brand's colours reach the page through /portal/<brand>/theme.css, a stylesheet made
per brand from its validated #RRGGBB colours, so the pages need no inline style or script.
Approvals stay on the calendar's own pages under /portal/approvals/; the portal links there.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agency.forms import DashboardForm, attach_service_errors
from agency.models import Brand, Role
from agency.permissions import Area, brand_for_user
from reports import services
from reports.selectors.goals import goals_with_progress
from reports.selectors.portal import (
    PORTAL_PERIODS,
    magic_links_for_brand,
    portal_brand,
    portal_brands_for_user,
    portal_client_users,
    portal_report,
    portal_upcoming_posts,
    portal_waiting_for_approval,
)

__all__ = ["urlpatterns"]

DASHBOARD_BODY = "reports/analytics/_dashboard_body.html"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PERIOD = 28


def _portal_context(request, brand: Brand, page: str) -> dict:
    return {
        "brand": brand,
        "portal_page": page,
        "is_preview": brand.is_preview,
        "has_several_brands": portal_brands_for_user(user=request.user)[:2].count() > 1,
        "waiting_count": portal_waiting_for_approval(brand=brand),
    }


# -- the portal ---------------------------------------------------------------------------------


@login_required
@require_GET
def portal_home(request):
    brands = list(portal_brands_for_user(user=request.user))
    if not brands:
        raise PermissionDenied("Your account has no brand to show yet. Ask the agency.")
    if len(brands) == 1:
        return redirect("reports:portal-dashboard", brand_id=brands[0].pk)
    return render(request, "reports/portal/choose.html", {"brands": brands})


@login_required
@require_GET
def portal_dashboard(request, brand_id):
    brand = portal_brand(user=request.user, brand_id=brand_id)
    try:
        days = int(request.GET.get("days", DEFAULT_PERIOD))
    except ValueError:
        days = DEFAULT_PERIOD
    if days not in PORTAL_PERIODS:
        days = DEFAULT_PERIOD
    report = portal_report(brand=brand, days=days)
    try:
        select_template([DASHBOARD_BODY])
        has_body = True
    except TemplateDoesNotExist:  # the analytics include has not landed yet
        has_body = False
    return render(
        request,
        "reports/portal/dashboard.html",
        {
            **_portal_context(request, brand, "dashboard"),
            "report": report,
            "has_dashboard_body": has_body and report is not None,
            "days": days,
            "periods": PORTAL_PERIODS,
        },
    )


@login_required
@require_GET
def portal_calendar(request, brand_id):
    brand = portal_brand(user=request.user, brand_id=brand_id)
    return render(
        request,
        "reports/portal/calendar.html",
        {**_portal_context(request, brand, "calendar"), "days": portal_upcoming_posts(brand=brand)},
    )


@login_required
@require_GET
def portal_goals(request, brand_id):
    brand = portal_brand(user=request.user, brand_id=brand_id)
    return render(
        request,
        "reports/portal/goals.html",
        {**_portal_context(request, brand, "goals"), "rows": goals_with_progress(brand=brand)},
    )


@login_required
@require_GET
@cache_control(private=True, max_age=300)
def portal_theme(request, brand_id):
    """The brand's colours as CSS custom properties (and the few rules that use them)."""
    brand = portal_brand(user=request.user, brand_id=brand_id)
    # Validated on save already; checked again because this text is CSS, not escaped HTML.
    primary = brand.primary_color if _HEX.match(brand.primary_color) else "#1d4ed8"
    secondary = brand.secondary_color if _HEX.match(brand.secondary_color) else "#f59e0b"
    return render(
        request,
        "reports/portal/theme.css",
        {"primary": primary, "secondary": secondary},
        content_type="text/css; charset=utf-8",
    )


@never_cache
@require_GET
def portal_magic_login(request, token):
    try:
        link = services.magic_link_use(token=token)
    except ValidationError as error:
        status = 404 if error.code == "unknown" else 410
        return render(
            request,
            "reports/portal/link_invalid.html",
            {"reason": " ".join(error.messages)},
            status=status,
        )
    # The session is the link's, not a password's: name the backend that loads users back
    # (the first in the list only throttles password logins).
    login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("reports:portal-dashboard", brand_id=link.brand_id)


# -- the staff's portal links -------------------------------------------------------------------


class MagicLinkForm(DashboardForm):
    user = forms.ModelChoiceField(queryset=None, label="Client user")
    valid_for_days = forms.IntegerField(
        min_value=1,
        max_value=30,
        initial=7,
        label="Valid for (days)",
        help_text="The link stops working after this; you can withdraw it earlier.",
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = portal_client_users(brand=brand)


def _links_brand(request, brand_id, *, write: bool) -> Brand:
    brand = brand_for_user(
        user=request.user, brand_id=brand_id, write=write, area=Area.REPORTS if write else None
    )
    if brand.user_role == Role.CLIENT:
        raise PermissionDenied("Portal links are handed out by the agency.")
    return brand


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def magic_link_list(request, brand_id):
    brand = _links_brand(request, brand_id, write=request.method == "POST")
    form = MagicLinkForm(request.POST or None, brand=brand)
    new_url = None
    if request.method == "POST" and form.is_valid():
        try:
            link, token = services.magic_link_create(
                brand=brand,
                user=form.cleaned_data["user"],
                by=request.user,
                valid_for=dt.timedelta(days=form.cleaned_data["valid_for_days"]),
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            # Shown in this response only; never stored, never put in the session.
            new_url = services.magic_link_url(token)
            messages.success(
                request,
                f"A portal link for {link.user.get_username()} was made"
                + (f" and e-mailed to {link.user.email}." if link.user.email else "."),
            )
            form = MagicLinkForm(brand=brand)
    return render(
        request,
        "reports/portal/links.html",
        {
            "brand": brand,
            "form": form,
            "new_url": new_url,
            "links": magic_links_for_brand(brand=brand),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def magic_link_revoke(request, brand_id, link_id):
    brand = _links_brand(request, brand_id, write=True)
    link = get_object_or_404(magic_links_for_brand(brand=brand), pk=link_id)
    services.magic_link_revoke(link=link, by=request.user)
    messages.success(request, f"The portal link of {link.user.get_username()} was withdrawn.")
    return redirect("reports:magic-links", brand_id=brand.pk)


urlpatterns = [
    path("portal/", portal_home, name="portal-home"),
    path("portal/login/<str:token>/", portal_magic_login, name="portal-login"),
    path("portal/<uuid:brand_id>/", portal_dashboard, name="portal-dashboard"),
    path("portal/<uuid:brand_id>/calendar/", portal_calendar, name="portal-calendar"),
    path("portal/<uuid:brand_id>/goals/", portal_goals, name="portal-goals"),
    path("portal/<uuid:brand_id>/theme.css", portal_theme, name="portal-theme"),
    path("brands/<uuid:brand_id>/portal-links/", magic_link_list, name="magic-links"),
    path(
        "brands/<uuid:brand_id>/portal-links/<uuid:link_id>/revoke/",
        magic_link_revoke,
        name="magic-link-revoke",
    ),
]
