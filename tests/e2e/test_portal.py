"""The client's visit to the portal in a real browser (issue 7): log in through the form and
land in the portal, see the dashboard with its numbers and Chart.js charts drawn, approve the
post waiting for them, and download the PDF report that a real worker prepares."""

import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from pypdf import PdfReader

from agency.models import Brand
from calendar_app.models import Post, TargetState
from calendar_app.services.approvals import post_approve, post_submit_for_approval
from calendar_app.services.posts import post_create
from reports.models import ReportExport
from reports.services.analytics import metrics_backfill

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS_DRAWN = """() => {
    const canvases = [...document.querySelectorAll("canvas[data-report-chart]")];
    return typeof window.Chart !== "undefined" && canvases.length === 3
        && canvases.every((canvas) => window.Chart.getChart(canvas) !== undefined);
}"""

CHART_SIZES = """() => [...document.querySelectorAll("canvas[data-report-chart]")].map((canvas) => {
    const box = canvas.getBoundingClientRect();
    const chart = window.Chart.getChart(canvas);
    return {
        kind: canvas.dataset.reportChart,
        width: box.width,
        height: box.height,
        points: chart.data.datasets.reduce((sum, set) => sum + set.data.length, 0),
    };
})"""


def post_waiting_for_the_client(brand, account, *, author, reviewer, at) -> Post:
    """A post through the agency's review, now with the client (internal_client workflow)."""
    Brand.objects.filter(pk=brand.pk).update(approval_workflow="internal_client")
    brand.refresh_from_db()
    post = post_create(
        brand=brand, by=author, accounts=[account], text="Our autumn blend lands", scheduled_at=at
    )
    post = post_submit_for_approval(post=post, by=author)
    post = post_approve(post=post, by=reviewer)
    assert post.approval_state == Post.Approval.CLIENT_REVIEW
    assert post.targets.get().state == TargetState.DRAFT
    return post


@pytest.mark.live
def test_client_sees_charts_approves_a_post_and_downloads_the_pdf(
    log_in,
    page,
    screenshot,
    settings,
    celery_worker_process,
    client_user,
    manager,
    admin,
    brand,
    account,
):
    # The worker stores the PDF: it must write to the media folder this live server reads.
    worker = celery_worker_process(
        queues=["celery"],
        pool="threads",
        concurrency=2,
        env={"DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT)},
    )
    counts = metrics_backfill(brand=brand, days=60)
    assert counts["accounts"] == 60, counts  # one account, a sandbox row per day
    today = timezone.localdate(timezone=brand.zone)
    at = datetime.combine(today + timedelta(days=3), time(9, 30), tzinfo=brand.zone)
    post = post_waiting_for_the_client(brand, account, author=manager, reviewer=admin, at=at)

    # The login form, then straight into the brand's portal.
    log_in(client_user)
    page.wait_for_url(f"**/portal/{brand.pk}/")
    page.get_by_role("heading", name=f"{brand.name}: how social media went").wait_for()

    # The numbers and the charts.
    kpis = page.locator("ul.kpis li.kpi")
    assert kpis.count() == 6
    values = {
        kpi.locator(".kpi__label").inner_text(): kpi.locator(".kpi__value").inner_text()
        for kpi in kpis.all()
    }
    followers = int(re.sub(r"\D", "", values["Followers"]) or 0)
    assert followers > 0, values
    assert int(re.sub(r"\D", "", values["Impressions"]) or 0) > 0, values
    page.wait_for_function(CHARTS_DRAWN)
    charts = page.evaluate(CHART_SIZES)
    assert {c["kind"] for c in charts} == {"followers", "reach", "engagement_rate"}
    for chart in charts:
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["points"] > 0, chart
    assert page.get_by_text(brand.name).first.is_visible()
    assert "Europe/Berlin" in page.locator("body").inner_text()
    assert page.get_by_text("1 post waits for your approval").is_visible()
    screenshot("portal-dashboard")
    assert page.js_errors == []

    # The post waiting for the client.
    page.get_by_role("link", name=re.compile("Waiting for your approval")).click()
    page.wait_for_url("**/portal/approvals/")
    card = page.locator("article", has_text="Our autumn blend lands")
    card.wait_for()
    assert "Europe/Berlin" in card.inner_text()
    card.get_by_role("button", name="Approve").click()
    page.get_by_text("Thank you: the post is approved.").wait_for()
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.CLIENT_APPROVED
    target = post.targets.get()
    assert target.state == TargetState.SCHEDULED
    assert target.due_at == at

    # The same session may not open the staff's pages.
    assert page.goto("/calendar/").status == 403

    # The PDF of the last 30 days, prepared by the worker, then downloaded.
    first_day, last_day = today - timedelta(days=29), today
    page.goto(f"/brands/{brand.pk}/reports/pdf/")
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Last day").fill(last_day.isoformat())
    page.get_by_role("button", name="Prepare the PDF").click()
    page.wait_for_url("**/reports/exports/*/")
    export = ReportExport.objects.get()
    assert (export.brand_id, export.requested_by_id) == (brand.pk, client_user.pk)
    assert (export.period_start, export.period_end) == (first_day, last_day)
    download_link = page.get_by_role("link", name="Download the PDF")
    try:
        # The progress partial polls every second until the worker is done.
        download_link.wait_for(timeout=120_000)
    except Exception:
        export.refresh_from_db()
        pytest.fail(f"PDF not ready: {export.status} {export.error}\n{worker.log_tail()}")
    screenshot("portal-pdf-ready")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == (
        f"{brand.slug}-report-{first_day:%Y-%m-%d}-{last_day:%Y-%m-%d}.pdf"
    )
    pdf = Path(download.path())
    assert pdf.read_bytes().startswith(b"%PDF")
    reader = PdfReader(str(pdf))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert brand.name in text
    assert page.js_errors == []
