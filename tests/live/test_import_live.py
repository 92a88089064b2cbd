"""The CSV import with a real Celery worker on the test PostgreSQL and Redis: uploaded through
the page, imported by the worker in several chunks, exactly once despite a duplicate delivery."""

from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from calendar_app.import_tasks import import_posts
from calendar_app.models import ImportJob, Post, PostTarget, TargetState
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_uploaded_file_is_imported_once_by_a_real_worker(
    login, manager, brand, account, celery_worker_process, settings
):
    rows = 1_200  # three chunks
    day = (timezone.now().astimezone(brand.zone) + timedelta(days=2)).date()
    at = datetime(day.year, day.month, day.day, 10, 15, tzinfo=brand.zone)
    lines = ["account,text,time"] + [
        f"@acmecoffee,Live row {n},{at:%Y-%m-%d %H:%M}" for n in range(rows)
    ]
    data = ("\n".join(lines) + "\n").encode()
    client = login(manager)

    response = client.post(
        reverse("calendar:import", args=[brand.pk]),
        {"file": SimpleUploadedFile("live.csv", data, content_type="text/csv")},
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert job.status == ImportJob.Status.QUEUED
    import_posts.delay(str(job.pk))  # a duplicate delivery racing the first
    # The worker reads the stored file: it must see the same media folder as this process.
    worker = celery_worker_process(
        queues=["celery"], concurrency=2, env={"DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    )

    def done():
        return ImportJob.objects.get(pk=job.pk).status in ("done", "failed")

    assert wait_for(done, timeout=90, processes=[worker]), worker.log_tail()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.errors
    assert (job.processed_rows, job.created_posts) == (rows, rows)
    assert Post.objects.filter(import_job=job).count() == rows
    assert Post.objects.values("text").distinct().count() == rows
    assert PostTarget.objects.filter(state=TargetState.SCHEDULED, due_at=at).count() == rows
    progress = client.get(reverse("calendar:import-progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in progress
    assert f"Posts created</dt><dd>{rows}</dd>" in progress
