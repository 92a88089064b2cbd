"""The analytics dashboard of a brand: organic and paid in one view, for a chosen period.

Everyone who may see the brand reads it, its clients included (read-only); admins, managers and
marketers may also ask for a fresh metrics sync. The page's body
(templates/reports/analytics/_dashboard_body.html) needs only `report` and `brand`, so the
client portal renders the same body.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from agency.models import Brand
from agency.permissions import Area, brand_for_user, can_write
from reports import selectors

__all__ = ["PeriodForm", "dashboard", "metrics_refresh", "urlpatterns"]

MAX_PERIOD_DAYS = 731
DEFAULT_PERIOD = "30"


class PeriodForm(forms.Form):
    """Which days a report covers: a named period ending today, or custom first and last days
    (in the brand's time zone, both included)."""

    period = forms.ChoiceField(
        choices=list(selectors.PERIODS.items()),
        required=False,
        initial=DEFAULT_PERIOD,
        # The template lays the choices out as radio buttons, one label each.
        widget=forms.RadioSelect,
    )
    start = forms.DateField(
        required=False, label="First day", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="Last day", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.brand = brand
        self.fields["period"].error_messages["invalid_choice"] = (
            "Choose one of the listed periods, or custom dates."
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        period = data.get("period") or ("custom" if start or end else DEFAULT_PERIOD)
        data["period"] = period
        if period != "custom":
            data["start"], data["end"] = selectors.period_dates(brand=self.brand, period=period)
            return data
        if self.errors:
            return data
        if not start or not end:
            raise forms.ValidationError(
                "For custom dates, choose both the first and the last day.", code="incomplete"
            )
        if start > end:
            raise forms.ValidationError(
                f"The first day ({_words(start)}) is after the last day ({_words(end)}); "
                "swap them.",
                code="reversed",
            )
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise forms.ValidationError(
                f"A report covers at most {MAX_PERIOD_DAYS} days; choose a shorter period.",
                code="too_long",
            )
        return data

    def dates(self) -> tuple[date, date]:
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return selectors.period_dates(brand=self.brand, period=DEFAULT_PERIOD)


def _words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@login_required
@require_GET
def dashboard(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id)
    form = PeriodForm(request.GET or None, brand=brand)
    start, end = form.dates()
    report = selectors.brand_report(brand=brand, start=start, end=end)
    sort = request.GET.get("sort", "engagements")
    report["best_posts"] = selectors.sort_best_posts(report["best_posts"], sort=sort)
    return render(
        request,
        "reports/analytics/dashboard.html",
        {
            "brand": brand,
            "report": report,
            "form": form,
            "sort": sort if sort in selectors.BEST_POST_SORTS else "engagements",
            "can_refresh": can_write(brand.user_role, Area.REPORTS),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_POST
def metrics_refresh(request, brand_id):
    """Ask a worker to sync yesterday and today again now, instead of waiting for the beat."""
    from reports.tasks import sync_brand_metrics

    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.REPORTS)
    transaction.on_commit(lambda: sync_brand_metrics.delay(str(brand.pk)))
    messages.success(
        request, f"Fetching the latest numbers of {brand.name}; reload this page in a minute."
    )
    return redirect("reports:dashboard", brand_id=brand.pk)


urlpatterns = [
    path("brands/<uuid:brand_id>/reports/", dashboard, name="dashboard"),
    path("brands/<uuid:brand_id>/reports/refresh/", metrics_refresh, name="metrics-refresh"),
]
