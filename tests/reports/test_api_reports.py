"""/api/v1/reports/ (PDF reports: request with a 202, poll, download) and
/api/v1/scheduled-reports/ (the e-mailed ones, the agency's staff only)."""

import io
from datetime import date
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from pypdf import PdfReader

from agency.models import AuditEvent
from reports.models import AccountMetricsDaily, ReportDelivery, ReportExport, ScheduledReport
from reports.tasks import generate_report

REPORTS = "/api/v1/reports/"
SCHEDULES = "/api/v1/scheduled-reports/"
MAY = {"start": "2025-05-01", "end": "2025-05-31"}


@pytest.fixture
def as_user(api_client):
    def _as(user):
        api_client.force_authenticate(user=user)
        return api_client

    return _as


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "detail", "fields"}
    if field is not None:
        assert field in body["fields"], body


def request_report(client, brand, django_capture_on_commit_callbacks, **period):
    with (
        mock.patch("reports.tasks.generate_report.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(REPORTS, {"brand": str(brand.pk), **(period or MAY)})
    return response, delay


@pytest.fixture
def done_export(brand, manager):
    export = ReportExport.objects.create(
        brand=brand,
        requested_by=manager,
        period_start=date(2025, 5, 1),
        period_end=date(2025, 5, 31),
        status=ReportExport.Status.DONE,
        progress=100,
    )
    export.file.save("acme.pdf", ContentFile(b"%PDF-1.4 stored report"), save=True)
    return export


# -- PDF reports --------------------------------------------------------------------------------


def test_requesting_a_report_answers_202_and_the_worker_makes_a_downloadable_pdf(
    as_user, manager, brand, account, django_capture_on_commit_callbacks
):
    AccountMetricsDaily.objects.create(account=account, date=date(2025, 5, 3), reach=800)
    client = as_user(manager)
    response, delay = request_report(client, brand, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["progress"], body["download_url"]) == ("queued", 0, None)
    assert (body["brand"], body["period_start"], body["period_end"]) == (
        str(brand.pk),
        "2025-05-01",
        "2025-05-31",
    )
    assert body["requested_by"] == manager.username
    assert response["Location"] == f"{REPORTS}{body['id']}/"
    delay.assert_called_once_with(body["id"])
    assert AuditEvent.objects.filter(action="report_export.requested", actor=manager).exists()
    assert_error(client.get(f"{REPORTS}{body['id']}/download/"), 404)

    assert generate_report(body["id"]) == "done"  # what the worker runs

    polled = client.get(f"{REPORTS}{body['id']}/").json()
    assert (polled["status"], polled["progress"]) == ("done", 100)
    assert polled["download_url"] == f"http://testserver{REPORTS}{body['id']}/download/"
    download = client.get(f"{REPORTS}{body['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert "acme-coffee-report-2025-05-01-2025-05-31.pdf" in download["Content-Disposition"]
    pdf = b"".join(download.streaming_content)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Acme Coffee" in text


def test_a_client_may_request_and_download_their_brands_report_as_in_the_portal(
    as_user, client_user, brand, done_export, django_capture_on_commit_callbacks
):
    client = as_user(client_user)
    response, delay = request_report(client, brand, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    delay.assert_called_once()
    assert ids(client.get(REPORTS)) == {response.json()["id"], str(done_export.pk)}
    download = client.get(f"{REPORTS}{done_export.pk}/download/")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 stored report"


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_get_404_for_a_report_and_its_pdf(
    request, as_user, persona, brand, done_export, django_capture_on_commit_callbacks
):
    client = as_user(request.getfixturevalue(persona))
    assert str(done_export.pk) not in ids(client.get(REPORTS))
    assert_error(client.get(f"{REPORTS}{done_export.pk}/"), 404)
    assert_error(client.get(f"{REPORTS}{done_export.pk}/download/"), 404)
    response, delay = request_report(client, brand, django_capture_on_commit_callbacks)
    assert_error(response, 400, field="brand")
    delay.assert_not_called()
    assert ReportExport.objects.count() == 1


def test_a_report_period_is_checked(as_user, manager, brand, django_capture_on_commit_callbacks):
    client = as_user(manager)
    backwards, _ = request_report(
        client, brand, django_capture_on_commit_callbacks, start="2025-05-31", end="2025-05-01"
    )
    assert_error(backwards, 400, field="end")
    too_long, _ = request_report(
        client, brand, django_capture_on_commit_callbacks, start="2024-01-01", end="2025-05-01"
    )
    assert_error(too_long, 400, field="end")
    assert not ReportExport.objects.exists()


def test_a_failed_report_says_why_and_has_nothing_to_download(as_user, manager, brand):
    export = ReportExport.objects.create(
        brand=brand,
        period_start=date(2025, 5, 1),
        period_end=date(2025, 5, 31),
        status=ReportExport.Status.FAILED,
        error="The report could not be generated: boom",
    )
    client = as_user(manager)
    body = client.get(f"{REPORTS}{export.pk}/").json()
    assert (body["status"], body["error"], body["download_url"]) == (
        "failed",
        "The report could not be generated: boom",
        None,
    )
    assert_error(client.get(f"{REPORTS}{export.pk}/download/"), 404)


def test_reports_cannot_be_changed_or_deleted_over_the_api(as_user, admin, done_export):
    client = as_user(admin)
    assert client.patch(f"{REPORTS}{done_export.pk}/", {"status": "queued"}).status_code == 405
    assert client.delete(f"{REPORTS}{done_export.pk}/").status_code == 405


def test_reports_filter_by_brand_and_status(as_user, manager, brand, sibling_brand, done_export):
    ReportExport.objects.create(
        brand=sibling_brand, period_start=date(2025, 5, 1), period_end=date(2025, 5, 31)
    )
    client = as_user(manager)
    assert len(ids(client.get(REPORTS))) == 2
    assert ids(client.get(REPORTS, {"brand": str(brand.pk)})) == {str(done_export.pk)}
    assert ids(client.get(REPORTS, {"status": "done"})) == {str(done_export.pk)}


# -- scheduled reports --------------------------------------------------------------------------


@pytest.fixture
def schedule(brand):
    return ScheduledReport.objects.create(
        brand=brand,
        name="Monthly for the board",
        frequency=ScheduledReport.Frequency.MONTHLY,
        recipients=["board@acme.example"],
    )


def test_staff_schedule_a_report_with_audited_clean_recipients(as_user, marketer, brand):
    response = as_user(marketer).post(
        SCHEDULES,
        {
            "brand": str(brand.pk),
            "name": "  Weekly numbers ",
            "frequency": "weekly",
            "recipients": ["ceo@acme.example", "CEO@acme.example", "cmo@acme.example"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Weekly numbers"
    assert body["recipients"] == ["ceo@acme.example", "cmo@acme.example"]
    assert body["active"] is True
    schedule = ScheduledReport.objects.get(pk=body["id"])
    assert (schedule.brand, schedule.created_by, schedule.frequency) == (brand, marketer, "weekly")
    assert AuditEvent.objects.filter(action="scheduled_report.created", actor=marketer).exists()


def test_a_recipient_that_is_not_an_address_is_a_400(as_user, manager, brand):
    response = as_user(manager).post(
        SCHEDULES,
        {"brand": str(brand.pk), "name": "x", "frequency": "weekly", "recipients": ["nope"]},
    )
    assert_error(response, 400, field="recipients")


def test_staff_pause_and_delete_a_schedule(as_user, manager, schedule):
    client = as_user(manager)
    paused = client.patch(f"{SCHEDULES}{schedule.pk}/", {"active": False})
    assert paused.status_code == 200, paused.content
    assert paused.json()["active"] is False
    schedule.refresh_from_db()
    assert schedule.active is False
    assert client.delete(f"{SCHEDULES}{schedule.pk}/").status_code == 204
    assert not ScheduledReport.objects.exists()
    assert AuditEvent.objects.filter(action="scheduled_report.deleted").exists()


def test_a_schedules_deliveries_are_listed_newest_first(as_user, admin, schedule):
    for month in (3, 4):
        ReportDelivery.objects.create(
            schedule=schedule,
            period_start=date(2025, month, 1),
            period_end=date(2025, month, 28),
            status=ReportDelivery.Status.SENT,
            recipients=["board@acme.example"],
        )
    response = as_user(admin).get(f"{SCHEDULES}{schedule.pk}/deliveries/")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [r["period_start"] for r in rows] == ["2025-04-01", "2025-03-01"]
    assert rows[0]["status"] == "sent"


def test_a_client_neither_sees_nor_writes_schedules(as_user, client_user, brand, schedule):
    client = as_user(client_user)
    assert ids(client.get(SCHEDULES)) == set()
    assert_error(client.get(f"{SCHEDULES}{schedule.pk}/"), 404)
    assert_error(client.patch(f"{SCHEDULES}{schedule.pk}/", {"active": False}), 404)
    created = client.post(
        SCHEDULES,
        {
            "brand": str(brand.pk),
            "name": "Mine",
            "frequency": "weekly",
            "recipients": ["me@acme.example"],
        },
    )
    assert_error(created, 403)
    assert ScheduledReport.objects.count() == 1


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_get_404_for_a_schedule(request, as_user, persona, schedule):
    client = as_user(request.getfixturevalue(persona))
    assert str(schedule.pk) not in ids(client.get(SCHEDULES))
    assert_error(client.get(f"{SCHEDULES}{schedule.pk}/"), 404)
    assert_error(client.delete(f"{SCHEDULES}{schedule.pk}/"), 404)
    assert_error(client.get(f"{SCHEDULES}{schedule.pk}/deliveries/"), 404)
    assert ScheduledReport.objects.exists()
