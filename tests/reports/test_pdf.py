"""The PDF report: what it shows (read back with pypdf), its SVG charts, that WeasyPrint never
reaches the network, and the export task and pages with their progress."""

import io
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from pypdf import PdfReader

from agency.models import Notification
from calendar_app.models import TargetState
from reports import pdf as report_pdf
from reports.models import AccountMetricsDaily, Goal, PostMetricsDaily, ReportExport
from reports.services import exports as export_services
from tests.factories import PostFactory, PostTargetFactory

MAY_START, MAY_END = date(2025, 5, 1), date(2025, 5, 31)
# The smallest valid PNG: one transparent pixel.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4a20000000049454e44ae426082"
)


def seed_report(brand, account):
    """May 2025 and the April before it, as the platforms would have synced them: followers
    grow from 1,201 to 1,231; every May day 1,000 impressions, 800 reach and 40 engagements
    (so 5.00% engagement rate); April at 500 reach and 10 engagements a day. One published
    post with 300 engagements on 600 reach."""
    days = []
    for offset in range(31):
        day = MAY_START + timedelta(days=offset)
        days.append(
            AccountMetricsDaily(
                account=account,
                date=day,
                followers=1201 + offset,
                impressions=1000,
                reach=800,
                engagements=40,
                link_clicks=3,
            )
        )
    for offset in range(1, 31):
        days.append(
            AccountMetricsDaily(
                account=account,
                date=MAY_START - timedelta(days=offset),
                followers=1100,
                impressions=600,
                reach=500,
                engagements=10,
                link_clicks=1,
            )
        )
    AccountMetricsDaily.objects.bulk_create(days)
    target = PostTargetFactory(
        post=PostFactory(brand=brand, text="Cold brew, =1+1 and friends: our summer menu"),
        account=account,
        state=TargetState.PUBLISHED,
        external_id="sandbox-1",
        external_url="https://sandbox.example.com/p/1",
        published_at=datetime(2025, 5, 6, 7, 30, tzinfo=UTC),  # 09:30 in Berlin
    )
    PostMetricsDaily.objects.create(
        target=target, date=date(2025, 5, 7), engagements=120, reach=300
    )
    PostMetricsDaily.objects.create(
        target=target, date=date(2025, 5, 20), engagements=300, reach=600
    )
    return target


@pytest.fixture
def may(brand, account):
    return seed_report(brand, account)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # Table cells wrap; the words matter, not where the lines break.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# -- what the PDF says ---------------------------------------------------------------------------


def test_pdf_shows_brand_period_and_key_numbers_as_on_the_page(brand, may):
    text = pdf_text(report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END))

    assert "Acme Coffee" in text
    assert "1 May 2025" in text and "31 May 2025" in text
    assert "1,231" in text  # followers on the last day
    assert "5.00%" in text  # 1,240 engagements / 24,800 reach
    assert "31,000" in text  # impressions
    assert "Cold brew" in text
    assert "Tue 6 May, 09:30" in text  # published 07:30 UTC, shown in Berlin time
    # April: 300 engagements on 15,000 reach = 2.00%, so the rate rose by 150%.
    assert "2.00%" in text and "+150.0%" in text


def test_pdf_opens_with_the_goals_and_their_status(brand, may, account):
    Goal.objects.create(
        brand=brand,
        name="Reach 1,500 followers by summer",
        metric=Goal.Metric.FOLLOWERS,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(1500),
        baseline=Decimal(1000),
        start_date=date(2025, 4, 1),
        due_date=date(2025, 8, 31),
    )

    text = pdf_text(report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END))

    summary = text.index("Executive summary")
    assert summary < text.index("Key numbers")
    assert "Reach 1,500 followers by summer" in text
    assert "1,231 1,500 46%" in text  # now, target, (1,231 - 1,000) / 500
    assert "On track" in text


def test_pdf_without_any_data_says_so_instead_of_failing(brand):
    text = pdf_text(report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END))

    assert "No goals run in this period" in text
    assert "No post was published in this period" in text


def _images(data: bytes) -> list:
    return [image for page in PdfReader(io.BytesIO(data)).pages for image in page.images]


def test_pdf_draws_the_brand_logo_from_media(brand, may):
    without = report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END)
    brand.logo.save("acme.png", ContentFile(PIXEL_PNG), save=True)

    data = report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END)

    assert _images(without) == []
    assert {image.name for image in _images(data)} and _images(data)[0].data


def test_pdf_rendering_never_opens_a_network_connection(brand, may):
    connect = mock.Mock(side_effect=OSError("no network in tests"))
    html = (
        '<img src="https://example.com/tracker.png"><img src="file:///etc/hostname">'
        '<link rel="stylesheet" href="http://example.com/x.css"><p>hello</p>'
    )
    with mock.patch.object(socket.socket, "connect", connect):
        data = report_pdf.html_to_pdf(html)
        report_pdf.report_pdf_render(brand=brand, start=MAY_START, end=MAY_END)

    assert "hello" in pdf_text(data)
    connect.assert_not_called()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/logo.png",
        "http://report.agency.invalid/static/css/app.css",
        "file:///etc/passwd",
        "data:text/plain,hi",
        f"{report_pdf.REPORT_BASE_URL}media/../../../etc/passwd",
        f"{report_pdf.REPORT_BASE_URL}static/../../../etc/passwd",
        f"{report_pdf.REPORT_BASE_URL}elsewhere/x.png",
    ],
)
def test_fetcher_refuses_everything_but_our_own_files(url):
    with pytest.raises(ValueError, match="Refused"):
        report_pdf.LocalFilesFetcher().fetch(url)


def test_fetcher_serves_static_and_media_files_from_disk(brand):
    brand.logo.save("acme.png", ContentFile(PIXEL_PNG), save=True)
    fetcher = report_pdf.LocalFilesFetcher()

    css = fetcher.fetch(f"{report_pdf.REPORT_BASE_URL}static/css/app.css")
    logo = fetcher.fetch(report_pdf.REPORT_BASE_URL + brand.logo.url.lstrip("/"))

    assert css.read() and css.content_type == "text/css"
    assert logo.read() == PIXEL_PNG and logo.content_type == "image/png"


# -- the charts ------------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def _svg(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own markup


def test_line_chart_is_an_image_with_a_title_and_a_description_in_words():
    points = [(date(2025, 5, 1), 10), (date(2025, 5, 2), 30), (date(2025, 5, 3), 20)]

    root = _svg(report_pdf.svg_chart(points=points, title="Followers per day", chart_id="f"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "f-title f-desc"
    assert root.find(f"{SVG}title").text == "Followers per day"
    desc = root.find(f"{SVG}desc").text
    assert "3 days from 1 May to 3 May" in desc
    assert "Highest 30 on 2 May" in desc and "lowest 10 on 1 May" in desc
    line = root.find(f"{SVG}polyline")
    assert len(line.get("points").split()) == 3


def test_line_chart_puts_the_highest_value_at_the_top_and_zero_at_the_bottom():
    points = [(date(2025, 5, 1), 0), (date(2025, 5, 2), 50)]

    root = _svg(report_pdf.svg_chart(points=points, title="t", height=100))

    ys = [float(p.split(",")[1]) for p in root.find(f"{SVG}polyline").get("points").split()]
    assert ys[0] > ys[1]  # SVG y grows downwards
    assert ys[1] == 8.0  # the top margin


def test_bar_chart_draws_one_bar_per_known_day_and_none_for_missing():
    points = [(date(2025, 5, 1), 5), (date(2025, 5, 2), None), (date(2025, 5, 3), 0)]

    root = _svg(report_pdf.svg_chart(points=points, title="Engagements", kind="bar"))

    assert len(root.findall(f".//{SVG}rect")) == 2


def test_line_chart_leaves_a_gap_where_a_value_is_missing():
    points = [(date(2025, 5, d), v) for d, v in [(1, 1), (2, 2), (3, None), (4, 3), (5, 4)]]

    root = _svg(report_pdf.svg_chart(points=points, title="t"))

    assert len(root.findall(f"{SVG}polyline")) == 2


def test_chart_of_equal_values_is_flat_and_does_not_divide_by_zero():
    points = [(date(2025, 5, d), 0) for d in range(1, 4)]

    root = _svg(report_pdf.svg_chart(points=points, title="t"))

    ys = {p.split(",")[1] for p in root.find(f"{SVG}polyline").get("points").split()}
    assert len(ys) == 1


def test_chart_without_data_says_so():
    root = _svg(report_pdf.svg_chart(points=[(date(2025, 5, 1), None)], title="t"))

    assert root.find(f"{SVG}desc").text == "No data in this period."
    assert root.find(f"{SVG}polyline") is None


def test_chart_escapes_its_title_and_refuses_a_colour_that_is_not_hex():
    markup = report_pdf.svg_chart(
        points=[(date(2025, 5, 1), 1), (date(2025, 5, 2), 2)],
        title="<script>alert(1)</script>",
        color='red" onload="x',
    )

    root = _svg(markup)
    assert root.find(f"{SVG}title").text == "<script>alert(1)</script>"
    assert "<script>" not in str(markup) and "onload" not in str(markup)


# -- the export task -------------------------------------------------------------------------------


def _queued(brand, by, django_capture_on_commit_callbacks):
    with (
        mock.patch("reports.tasks.generate_report.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        export = export_services.report_export_request(
            brand=brand, by=by, start=MAY_START, end=MAY_END
        )
    delay.assert_called_once_with(str(export.pk))
    return export


def test_requesting_an_export_queues_it_and_enqueues_the_task_on_commit(
    brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)

    assert export.status == ReportExport.Status.QUEUED and export.progress == 0
    assert brand.audit_events.filter(action="report_export.requested").count() == 1


def test_export_of_a_period_that_ends_before_it_starts_is_refused(brand, manager):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        export_services.report_export_request(brand=brand, by=manager, start=MAY_END, end=MAY_START)
    assert not ReportExport.objects.exists()


def test_generating_saves_progress_steps_and_stores_the_pdf(
    brand, manager, may, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)
    seen = []
    real = report_pdf.html_to_pdf

    def spy(html):
        seen.append(ReportExport.objects.get(pk=export.pk).progress)
        return real(html)

    with mock.patch.object(report_pdf, "html_to_pdf", spy):
        from reports.tasks import generate_report

        assert generate_report(str(export.pk)) == "done"

    export.refresh_from_db()
    assert seen == [50]
    assert (export.status, export.progress) == (ReportExport.Status.DONE, 100)
    assert export.file.name.startswith("reports/") and export.file.name.endswith(".pdf")
    with export.file.open("rb") as handle:
        assert "Acme Coffee" in pdf_text(handle.read())


def test_claim_sets_ten_percent_and_a_second_delivery_exits(
    brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)

    first = export_services.report_export_claim(export_id=export.pk)
    second = export_services.report_export_claim(export_id=export.pk)

    assert first is not None and first.progress == 10
    assert second is None
    assert export_services.report_export_run(export_id=export.pk) == "skipped"


def test_a_running_export_abandoned_past_its_lease_is_taken_over(
    brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)
    export_services.report_export_claim(export_id=export.pk)
    ReportExport.objects.filter(pk=export.pk).update(
        updated_at=datetime.now(UTC) - export_services.REPORT_EXPORT_LEASE - timedelta(minutes=1)
    )

    assert export_services.report_export_claim(export_id=export.pk) is not None


def test_a_failure_ends_failed_with_the_reason_in_words_and_notifies_the_requester(
    brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)

    with mock.patch.object(report_pdf, "html_to_pdf", side_effect=OSError("disk full")):
        assert export_services.report_export_run(export_id=export.pk) == "failed"

    export.refresh_from_db()
    assert export.status == ReportExport.Status.FAILED
    assert export.error == "The report could not be generated: disk full"
    note = Notification.objects.get(user=manager)
    assert "could not be generated" in note.title and note.url == f"/reports/exports/{export.pk}/"


# -- the pages -----------------------------------------------------------------------------------


def test_pdf_page_request_redirects_to_the_progress_page(
    login, brand, manager, django_capture_on_commit_callbacks
):
    client = login(manager)
    with (
        mock.patch("reports.tasks.generate_report.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("reports:export-pdf", args=[brand.pk]),
            {"start": "2025-05-01", "end": "2025-05-31"},
        )

    export = ReportExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:export-detail", args=[export.pk])
    delay.assert_called_once_with(str(export.pk))
    assert (export.period_start, export.period_end) == (MAY_START, MAY_END)


def test_pdf_page_refuses_a_backwards_period(login, brand, manager):
    response = login(manager).post(
        reverse("reports:export-pdf", args=[brand.pk]), {"start": "2025-05-31", "end": "2025-05-01"}
    )

    assert response.status_code == 400
    assert not ReportExport.objects.exists()


def test_progress_partial_polls_while_running_and_stops_with_a_download_link_when_done(
    login, brand, manager, may, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)
    client = login(manager)
    url = reverse("reports:export-progress", args=[export.pk])

    waiting = client.get(url, headers={"HX-Request": "true"}).content.decode()
    export_services.report_export_run(export_id=export.pk)
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert "hx-trigger" in waiting and 'value="0"' in waiting
    assert "hx-trigger" not in done
    assert reverse("reports:export-download", args=[export.pk]) in done


def test_progress_shows_the_failure_in_words(
    login, brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)
    export_services.report_export_fail(export=export, message="The report could not be generated")

    page = login(manager).get(reverse("reports:export-detail", args=[export.pk]))

    assert "The report could not be generated" in page.content.decode()
    assert "hx-trigger" not in page.content.decode()


def test_the_client_of_the_brand_may_request_and_download_its_pdf(
    login, brand, client_user, may, django_capture_on_commit_callbacks
):
    export = _queued(brand, client_user, django_capture_on_commit_callbacks)
    export_services.report_export_run(export_id=export.pk)

    response = login(client_user).get(reverse("reports:export-download", args=[export.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert "Acme Coffee" in pdf_text(b"".join(response.streaming_content))


def test_download_before_the_pdf_is_ready_is_not_found(
    login, brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)

    response = login(manager).get(reverse("reports:export-download", args=[export.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_see_nothing_of_an_export(
    persona, personas, login, brand, manager, may, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)
    export_services.report_export_run(export_id=export.pk)
    client = login(personas[persona])

    for name in ("export-detail", "export-progress", "export-download"):
        assert client.get(reverse(f"reports:{name}", args=[export.pk])).status_code == 404
    assert client.get(reverse("reports:export-pdf", args=[brand.pk])).status_code == 404
    assert (
        client.post(
            reverse("reports:export-pdf", args=[brand.pk]),
            {"start": "2025-05-01", "end": "2025-05-31"},
        ).status_code
        == 404
    )


def test_pdf_page_lists_recent_exports_of_the_brand(
    login, brand, manager, django_capture_on_commit_callbacks
):
    export = _queued(brand, manager, django_capture_on_commit_callbacks)

    page = login(manager).get(reverse("reports:export-pdf", args=[brand.pk]))

    assert page.status_code == 200
    assert reverse("reports:export-detail", args=[export.pk]) in page.content.decode()
