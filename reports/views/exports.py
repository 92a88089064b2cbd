"""Pages of the exports: CSV of each report table, the PDF with its progress and download, and
scheduled e-mailed reports with their delivery log.

Who may do what: anyone who may read the brand (its clients included) downloads CSV, requests
a PDF and downloads it; only staff who write reports configure schedules (clients get a 403,
other tenants a 404).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, brand_for_user, can_write
from reports.models import ReportExport, ScheduledReport
from reports.selectors import exports as selectors
from reports.services import exports as services

__all__ = ["urlpatterns"]


# -- the period --------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    start = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label="Last day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Both days are included, in the brand's time zone.",
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError("The last day is before the first day.")
            if (end - start).days + 1 > services.REPORT_MAX_DAYS:
                raise ValidationError(
                    f"A report covers at most {services.REPORT_MAX_DAYS} days; "
                    "choose a shorter period."
                )
        return data


def _default_period(brand) -> dict:
    """The last complete calendar month in the brand's zone: what clients ask for most."""
    start, end = services.report_period_last_complete(
        frequency=ScheduledReport.Frequency.MONTHLY,
        today=timezone.localdate(timezone=brand.zone),
    )
    return {"start": start, "end": end}


# -- CSV ---------------------------------------------------------------------------------------


@login_required
@require_GET
def report_csv(request, brand_id, table):
    brand = brand_for_user(user=request.user, brand_id=brand_id)
    if table not in selectors.REPORT_TABLES:
        raise Http404("No such report table.")
    form = PeriodForm(request.GET or None, initial=_default_period(brand))
    if request.GET:
        if not form.is_valid():
            errors = "; ".join(e for errs in form.errors.values() for e in errs)
            return HttpResponse(
                f"Bad period: {errors}", status=400, content_type="text/plain; charset=utf-8"
            )
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    else:
        start, end = _default_period(brand).values()
    body = selectors.report_csv(brand=brand, start=start, end=end, table=table)
    # The BOM makes Excel read the file as UTF-8 (names with accents, emoji in posts).
    response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{brand.slug}-{table}-{start:%Y-%m-%d}-{end:%Y-%m-%d}.csv"'
    )
    return response


# -- PDF ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def report_pdf(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id)
    posting = request.method == "POST"
    form = PeriodForm(request.POST if posting else None, initial=_default_period(brand))
    if posting and form.is_valid():
        try:
            export = services.report_export_request(
                brand=brand,
                by=request.user,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("reports:export-detail", export_id=export.pk)
    start, end = _default_period(brand).values()
    return render(
        request,
        "reports/exports/pdf_page.html",
        {
            "brand": brand,
            "form": form,
            "exports": selectors.report_exports_for_brand(brand=brand),
            "tables": list(selectors.REPORT_TABLES),
            "csv_query": f"start={start:%Y-%m-%d}&end={end:%Y-%m-%d}",
            "can_schedule": can_write(brand.user_role, Area.REPORTS),
        },
        status=400 if posting else 200,
    )


def _export_or_404(request, export_id) -> ReportExport:
    try:
        return selectors.report_export_for_user(user=request.user, export_id=export_id)
    except ReportExport.DoesNotExist as exc:
        raise Http404("No such report.") from exc


def _export_context(export: ReportExport) -> dict:
    return {
        "export": export,
        "brand": export.brand,
        "finished": export.status in (ReportExport.Status.DONE, ReportExport.Status.FAILED),
    }


@login_required
@require_GET
def export_detail(request, export_id):
    export = _export_or_404(request, export_id)
    return render(request, "reports/exports/export_detail.html", _export_context(export))


@login_required
@require_GET
def export_progress(request, export_id):
    """The polled part of the detail page: without hx-trigger once the export has ended, which
    is what stops the polling."""
    export = _export_or_404(request, export_id)
    return render(request, "reports/exports/_progress.html", _export_context(export))


@login_required
@require_GET
def export_download(request, export_id):
    export = _export_or_404(request, export_id)
    if export.status != ReportExport.Status.DONE or not export.file:
        raise Http404("This report is not ready.")
    name = (
        f"{export.brand.slug}-report-{export.period_start:%Y-%m-%d}-"
        f"{export.period_end:%Y-%m-%d}.pdf"
    )
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=name, content_type="application/pdf"
    )


# -- scheduled reports -------------------------------------------------------------------------


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="For example: Monthly report for the board.")
    frequency = forms.ChoiceField(
        choices=ScheduledReport.Frequency.choices,
        help_text="The report goes out in the first hour after the period ends, in the brand's "
        "time zone. A new schedule sends the last complete period within the hour.",
    )
    recipients = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E-mail addresses, one per line or separated by commas. They all receive one "
        "e-mail with the PDF attached.",
    )
    active = forms.BooleanField(required=False, initial=True, label="Send this report")

    def clean_recipients(self):
        return services.recipients_clean(self.cleaned_data["recipients"])


def _schedule_or_404(request, schedule_id) -> ScheduledReport:
    try:
        schedule = selectors.scheduled_report_for_user(user=request.user, schedule_id=schedule_id)
    except ScheduledReport.DoesNotExist as exc:
        raise Http404("No such scheduled report.") from exc
    # 403 for the brand's clients: they read reports, they do not configure them.
    schedule.brand = brand_for_user(
        user=request.user, brand_id=schedule.brand_id, write=True, area=Area.REPORTS
    )
    return schedule


@login_required
@require_http_methods(["GET", "POST"])
def schedule_list(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.REPORTS)
    posting = request.method == "POST"
    form = ScheduleForm(request.POST if posting else None)
    if posting and form.is_valid():
        try:
            schedule = services.scheduled_report_create(
                brand=brand, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"“{schedule.name}” is scheduled.")
            return redirect("reports:schedule-list", brand_id=brand.pk)
    return render(
        request,
        "reports/exports/schedule_list.html",
        {
            "brand": brand,
            "form": form,
            "schedules": selectors.scheduled_reports_for_brand(brand=brand),
        },
        status=400 if posting else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request, schedule_id):
    schedule = _schedule_or_404(request, schedule_id)
    posting = request.method == "POST"
    initial = {
        "name": schedule.name,
        "frequency": schedule.frequency,
        "recipients": "\n".join(schedule.recipients),
        "active": schedule.active,
    }
    form = ScheduleForm(request.POST if posting else None, initial=initial)
    if posting and form.is_valid():
        try:
            services.scheduled_report_update(
                schedule=schedule, by=request.user, data=form.cleaned_data
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"“{schedule.name}” is saved.")
            return redirect("reports:schedule-list", brand_id=schedule.brand_id)
    return render(
        request,
        "reports/exports/schedule_form.html",
        {"brand": schedule.brand, "schedule": schedule, "form": form},
        status=400 if posting else 200,
    )


@login_required
@require_POST
def schedule_delete(request, schedule_id):
    schedule = _schedule_or_404(request, schedule_id)
    brand_id, name = schedule.brand_id, schedule.name
    services.scheduled_report_delete(schedule=schedule, by=request.user)
    messages.success(request, f"“{name}” is deleted; no more reports will be sent.")
    return redirect("reports:schedule-list", brand_id=brand_id)


@login_required
@require_GET
def schedule_deliveries(request, schedule_id):
    schedule = _schedule_or_404(request, schedule_id)
    return render(
        request,
        "reports/exports/schedule_deliveries.html",
        {
            "brand": schedule.brand,
            "schedule": schedule,
            "deliveries": selectors.report_deliveries_for_schedule(schedule=schedule),
            "stale_after": int(services.REPORT_DELIVERY_STALE / timedelta(minutes=1)),
            "max_attempts": services.REPORT_DELIVERY_MAX_ATTEMPTS,
        },
    )


urlpatterns = [
    path("brands/<uuid:brand_id>/reports/export/<slug:table>.csv", report_csv, name="export-csv"),
    path("brands/<uuid:brand_id>/reports/pdf/", report_pdf, name="export-pdf"),
    path("reports/exports/<uuid:export_id>/", export_detail, name="export-detail"),
    path("reports/exports/<uuid:export_id>/progress/", export_progress, name="export-progress"),
    path("reports/exports/<uuid:export_id>/download/", export_download, name="export-download"),
    path("brands/<uuid:brand_id>/reports/schedules/", schedule_list, name="schedule-list"),
    path("reports/schedules/<uuid:schedule_id>/", schedule_edit, name="schedule-edit"),
    path("reports/schedules/<uuid:schedule_id>/delete/", schedule_delete, name="schedule-delete"),
    path(
        "reports/schedules/<uuid:schedule_id>/deliveries/",
        schedule_deliveries,
        name="schedule-deliveries",
    ),
]
