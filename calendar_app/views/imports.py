"""Pages of the CSV import: upload and column help, then one import's errors, progress and
summary. Writes go through calendar_app.services.imports, reads through its selectors."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from agency.permissions import Area, brand_for_user, can_write
from calendar_app import selectors, services
from calendar_app.models import ImportJob

# What the upload page and docs/csv-import.md explain, column by column.
COLUMN_HELP = [
    (
        "account",
        True,
        "The account's handle (@acmecoffee), or its id. Several accounts: separate them with |. "
        "If two accounts share a handle, write platform:handle (instagram:@acmecoffee).",
    ),
    ("text", True, "The text of the post. It may be empty if the row has media."),
    (
        "time",
        True,
        "YYYY-MM-DD HH:MM in the brand's time zone, or ISO 8601 with an offset "
        "(2025-06-01T09:30+02:00). Must be in the future.",
    ),
    (
        "media",
        False,
        "Names of files in the brand's media library, separated by |. Links are not fetched: "
        "add the file to the library first.",
    ),
    ("first_comment", False, "Posted as the first comment where the platform allows it."),
    ("tags", False, "Your own labels, separated by commas or |."),
    ("title", False, "Internal name of the post, never published."),
    ("link", False, "A link to share with the post (the brand's UTM template is added)."),
]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, at most {services.IMPORT_MAX_ROWS:,} rows and "
        f"{services.IMPORT_MAX_FILE_BYTES // 1_048_576} MB. Every row is checked before "
        "anything is imported.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > services.IMPORT_MAX_FILE_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; the limit is "
                f"{services.IMPORT_MAX_FILE_BYTES // 1_048_576} MB. Split it into several files."
            )
        return upload


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request, brand_id):
    posting = request.method == "POST"
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=posting, area=Area.CALENDAR)
    writer = can_write(brand.user_role, Area.CALENDAR)
    form = ImportForm(request.POST, request.FILES) if posting else ImportForm()
    if posting and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                brand=brand,
                by=request.user,
                file_name=upload.name,
                data=b"".join(upload.chunks()),
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            if job.status == ImportJob.Status.INVALID:
                messages.error(request, "The file has problems; nothing was imported.")
            else:
                messages.success(
                    request, f"All {job.total_rows:,} rows passed the checks; importing now."
                )
            return redirect("calendar:import-detail", job_id=job.pk)
    return render(
        request,
        "calendar_app/imports/import_page.html",
        {
            "brand": brand,
            "form": form if writer else None,
            "can_write": writer,
            "columns": COLUMN_HELP,
            "jobs": selectors.import_jobs_for_brand(brand=brand),
        },
        status=400 if posting else 200,
    )


@login_required
@require_GET
def import_example(request, brand_id):
    """A small CSV with this brand's own accounts, to start a file from."""
    brand = brand_for_user(user=request.user, brand_id=brand_id)
    handles = [a.handle for a in brand.social_accounts.all()[:2]] or ["@youraccount"]
    day = (timezone.now().astimezone(brand.zone) + timedelta(days=7)).date()
    lines = [
        "account,text,time,media,first_comment,tags,title,link",
        f'{handles[0]},"Our summer menu is here!",{day} 09:30,,,"summer,menu",Summer menu,',
        f'{"|".join(handles)},"See you at the market on Saturday.",{day} 17:00,,,events,,',
    ]
    response = HttpResponse("\r\n".join(lines) + "\r\n", content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{brand.slug}-import-example.csv"'
    return response


def _job_or_404(request, job_id) -> ImportJob:
    try:
        return selectors.import_job_for_user(user=request.user, job_id=job_id)
    except ImportJob.DoesNotExist as exc:
        raise Http404("No such import.") from exc


def _job_context(job: ImportJob) -> dict:
    finished = job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    return {
        "job": job,
        "brand": job.brand,
        "finished": finished,
        "summary": selectors.import_summary(job=job)
        if job.status == ImportJob.Status.DONE
        else None,
    }


@login_required
@require_GET
def import_detail(request, job_id):
    job = _job_or_404(request, job_id)
    return render(request, "calendar_app/imports/import_detail.html", _job_context(job))


@login_required
@require_GET
def import_progress(request, job_id):
    """The polled part of the detail page; without hx-trigger once the job has ended, which is
    what stops the polling."""
    job = _job_or_404(request, job_id)
    return render(request, "calendar_app/imports/_progress.html", _job_context(job))


urlpatterns = [
    path("brands/<uuid:brand_id>/import/", import_page, name="import"),
    path("brands/<uuid:brand_id>/import/example.csv", import_example, name="import-example"),
    path("imports/<uuid:job_id>/", import_detail, name="import-detail"),
    path("imports/<uuid:job_id>/progress/", import_progress, name="import-progress"),
]
