"""Scheduled e-mailed reports: one e-mail per period however often (and however concurrently)
beat fires, retries after a failure without sending twice, and the pages for staff only."""

import smtplib
import threading
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django.urls import reverse

from agency.models import Notification
from reports import tasks
from reports.models import ReportDelivery, ScheduledReport
from reports.services import exports as services

# Tuesday 3 June 2025, 10:00 in Berlin.
TUESDAY = datetime(2025, 6, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def weekly(brand, manager):
    return services.scheduled_report_create(
        brand=brand,
        by=manager,
        name="Weekly for the team",
        frequency=ScheduledReport.Frequency.WEEKLY,
        recipients=["ceo@acme.example", "Marketing@acme.example"],
    )


@pytest.fixture
def run_tasks_inline(django_capture_on_commit_callbacks):
    """Beat's enqueued sends run right here, once the enqueueing transaction commits."""

    def _tick(now=None):
        with (
            mock.patch.object(
                tasks.send_report_delivery, "delay", side_effect=tasks.send_report_delivery
            ),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return services.report_deliveries_enqueue_due(now=now)

    return _tick


# -- periods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "today", "period"),
    [
        ("weekly", date(2025, 6, 4), (date(2025, 5, 26), date(2025, 6, 1))),  # a Wednesday
        ("weekly", date(2025, 6, 2), (date(2025, 5, 26), date(2025, 6, 1))),  # a Monday
        ("weekly", date(2025, 6, 1), (date(2025, 5, 19), date(2025, 5, 25))),  # a Sunday
        ("monthly", date(2025, 3, 1), (date(2025, 2, 1), date(2025, 2, 28))),
        ("monthly", date(2025, 1, 31), (date(2024, 12, 1), date(2024, 12, 31))),
    ],
)
def test_last_complete_period(frequency, today, period):
    assert services.report_period_last_complete(frequency=frequency, today=today) == period


def test_week_is_complete_at_midnight_in_the_brands_zone_not_in_utc(weekly):
    # Monday 00:30 in Berlin is still Sunday 22:30 in UTC.
    services.report_delivery_due(schedule=weekly, now=datetime(2025, 6, 1, 22, 30, tzinfo=UTC))

    assert ReportDelivery.objects.get().period_start == date(2025, 5, 26)


# -- one e-mail per period --------------------------------------------------------------------


def test_beat_firing_twice_sends_one_email_with_the_pdf(weekly, run_tasks_inline):
    run_tasks_inline(TUESDAY)
    run_tasks_inline(TUESDAY + timedelta(hours=1))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ceo@acme.example", "Marketing@acme.example"]
    assert "Acme Coffee" in message.subject and "26 May 2025 to 1 Jun 2025" in message.subject
    ((name, content, mimetype),) = message.attachments
    assert name == "acme-coffee-report-2025-05-26-2025-06-01.pdf"
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (ReportDelivery.Status.SENT, 1)
    assert delivery.sent_at is not None


def test_calling_the_beat_task_twice_sends_one_email(weekly, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(
            tasks.send_report_delivery, "delay", side_effect=tasks.send_report_delivery
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.send_due_reports()
        tasks.send_due_reports()

    assert len(mail.outbox) == 1
    assert ReportDelivery.objects.get().status == ReportDelivery.Status.SENT


def test_the_next_period_sends_again(weekly, run_tasks_inline):
    run_tasks_inline(TUESDAY)
    run_tasks_inline(TUESDAY + timedelta(days=7))
    run_tasks_inline(TUESDAY + timedelta(days=7, hours=1))

    assert len(mail.outbox) == 2
    assert list(ReportDelivery.objects.values_list("period_start", flat=True)) == [
        date(2025, 6, 2),
        date(2025, 5, 26),
    ]


def test_a_mail_failure_is_recorded_and_the_next_tick_sends_it_once(weekly, run_tasks_inline):
    outage = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    with mock.patch.object(EmailMessage, "send", side_effect=outage):
        run_tasks_inline(TUESDAY)
    failed = ReportDelivery.objects.get()

    run_tasks_inline(TUESDAY + timedelta(hours=1))
    run_tasks_inline(TUESDAY + timedelta(hours=2))

    assert (failed.status, failed.attempts) == (ReportDelivery.Status.FAILED, 1)
    assert failed.error == "The e-mail could not be sent: Connection unexpectedly closed"
    assert len(mail.outbox) == 1
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")


def test_after_the_last_attempt_fails_the_managers_hear_of_it_once(
    weekly, manager, run_tasks_inline
):
    with mock.patch.object(EmailMessage, "send", side_effect=smtplib.SMTPException("refused")):
        for hour in range(services.REPORT_DELIVERY_MAX_ATTEMPTS + 2):
            run_tasks_inline(TUESDAY + timedelta(hours=hour))

    delivery = ReportDelivery.objects.get()
    assert delivery.attempts == services.REPORT_DELIVERY_MAX_ATTEMPTS
    assert Notification.objects.filter(user=manager, title__contains="was not sent").count() == 1


def test_a_fresh_pending_delivery_is_left_to_its_creator_and_a_stale_one_is_retried(
    weekly, run_tasks_inline
):
    with mock.patch.object(tasks.send_report_delivery, "delay"):  # the worker never runs it
        services.report_deliveries_enqueue_due(now=TUESDAY)
    ReportDelivery.objects.update(created_at=TUESDAY)

    assert run_tasks_inline(TUESDAY + timedelta(minutes=10)) == 0
    assert mail.outbox == []
    assert run_tasks_inline(TUESDAY + services.REPORT_DELIVERY_STALE + timedelta(minutes=1)) == 1
    assert len(mail.outbox) == 1


def test_a_duplicate_send_task_sends_nothing_more(weekly, run_tasks_inline):
    run_tasks_inline(TUESDAY)
    delivery = ReportDelivery.objects.get()

    assert tasks.send_report_delivery(delivery.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_a_paused_schedule_sends_nothing(weekly, manager, run_tasks_inline):
    services.scheduled_report_update(schedule=weekly, by=manager, data={"active": False})

    run_tasks_inline(TUESDAY)

    assert mail.outbox == [] and not ReportDelivery.objects.exists()


def test_a_failing_pdf_marks_the_delivery_failed_with_the_reason(weekly, run_tasks_inline):
    with mock.patch("reports.pdf.html_to_pdf", side_effect=RuntimeError("font missing")):
        run_tasks_inline(TUESDAY)

    delivery = ReportDelivery.objects.get()
    assert delivery.status == ReportDelivery.Status.FAILED
    assert delivery.error == "The report could not be generated: font missing"
    assert mail.outbox == []


# -- concurrency, on PostgreSQL ---------------------------------------------------------------


def _in_threads(target, count=2):
    barrier = threading.Barrier(count)
    errors = []

    def run():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_beat_ticks_send_one_email(weekly):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL (scripts/test.sh)")
    with mock.patch.object(
        tasks.send_report_delivery, "delay", side_effect=tasks.send_report_delivery
    ):
        _in_threads(lambda: services.report_deliveries_enqueue_due(now=TUESDAY))

    assert len(mail.outbox) == 1
    assert ReportDelivery.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_retries_of_a_failed_delivery_send_one_email(weekly):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL (scripts/test.sh)")
    start, end = services.report_period_last_complete(frequency="weekly", today=date(2025, 6, 3))
    delivery = ReportDelivery.objects.create(
        schedule=weekly,
        period_start=start,
        period_end=end,
        recipients=weekly.recipients,
        status=ReportDelivery.Status.FAILED,
        attempts=1,
    )
    real_send = EmailMessage.send

    def slow_send(self, *args, **kwargs):
        threading.Event().wait(0.5)  # the other thread arrives while this one holds the row
        return real_send(self, *args, **kwargs)

    with mock.patch.object(EmailMessage, "send", slow_send):
        _in_threads(lambda: services.report_delivery_send(delivery_id=delivery.pk))

    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (ReportDelivery.Status.SENT, 2)


# -- schedules --------------------------------------------------------------------------------


def test_recipients_are_checked_and_deduplicated():
    assert services.recipients_clean("a@x.example, A@x.example;\nb@x.example") == [
        "a@x.example",
        "b@x.example",
    ]
    with pytest.raises(Exception, match="Not an e-mail address: nope"):
        services.recipients_clean("a@x.example, nope")
    with pytest.raises(Exception, match="at least one"):
        services.recipients_clean(" , ")


def test_manager_schedules_a_report_with_validated_recipients(login, brand, manager):
    client = login(manager)
    url = reverse("reports:schedule-list", args=[brand.pk])

    bad = client.post(url, {"name": "Monthly", "frequency": "monthly", "recipients": "x@, y"})
    good = client.post(
        url,
        {
            "name": "Monthly",
            "frequency": "monthly",
            "recipients": "board@acme.example\nceo@acme.example",
            "active": "on",
        },
    )

    assert bad.status_code == 400 and "Not an e-mail address: x@, y" in bad.content.decode()
    assert good.status_code == 302
    schedule = ScheduledReport.objects.get()
    assert schedule.recipients == ["board@acme.example", "ceo@acme.example"]
    assert (schedule.frequency, schedule.active, schedule.created_by) == ("monthly", True, manager)
    assert brand.audit_events.filter(action="scheduled_report.created").exists()
    assert "Monthly" in client.get(url).content.decode()


def test_manager_edits_and_deletes_a_schedule(login, weekly, manager):
    client = login(manager)

    edited = client.post(
        reverse("reports:schedule-edit", args=[weekly.pk]),
        {"name": "Weekly", "frequency": "monthly", "recipients": "only@acme.example"},
    )
    weekly.refresh_from_db()
    deleted = client.post(reverse("reports:schedule-delete", args=[weekly.pk]))

    assert edited.status_code == 302
    assert (weekly.frequency, weekly.recipients, weekly.active) == (
        "monthly",
        ["only@acme.example"],
        False,
    )
    assert deleted.status_code == 302 and not ScheduledReport.objects.exists()


def test_delivery_log_lists_each_period_with_its_outcome(login, weekly, manager, run_tasks_inline):
    with mock.patch.object(EmailMessage, "send", side_effect=smtplib.SMTPException("refused")):
        run_tasks_inline(TUESDAY)

    page = login(manager).get(reverse("reports:schedule-deliveries", args=[weekly.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert "26 May 2025 \u2013 1 Jun 2025" in text and "Failed" in text and "refused" in text


def test_client_reads_reports_but_cannot_configure_schedules(login, brand, weekly, client_user):
    client = login(client_user)
    form = {"name": "Mine", "frequency": "weekly", "recipients": "me@acme.example"}

    assert client.get(reverse("reports:schedule-list", args=[brand.pk])).status_code == 403
    assert client.post(reverse("reports:schedule-list", args=[brand.pk]), form).status_code == 403
    assert client.get(reverse("reports:schedule-edit", args=[weekly.pk])).status_code == 403
    assert client.post(reverse("reports:schedule-delete", args=[weekly.pk])).status_code == 403
    assert client.get(reverse("reports:schedule-deliveries", args=[weekly.pk])).status_code == 403
    assert ScheduledReport.objects.get().name == "Weekly for the team"


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_see_no_schedule(persona, personas, login, brand, weekly):
    client = login(personas[persona])

    assert client.get(reverse("reports:schedule-list", args=[brand.pk])).status_code == 404
    assert client.get(reverse("reports:schedule-edit", args=[weekly.pk])).status_code == 404
    assert client.post(reverse("reports:schedule-delete", args=[weekly.pk])).status_code == 404
    assert client.get(reverse("reports:schedule-deliveries", args=[weekly.pk])).status_code == 404
    assert ScheduledReport.objects.exists()
