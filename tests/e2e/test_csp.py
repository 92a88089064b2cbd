"""The Content-Security-Policy in a real browser: the main pages run with no violation.

Each page is opened in headless Chromium with the site's real policy (script-src 'self', styles
from 'self' or with the request's nonce). A violation shows two ways and both are collected: a
`securitypolicyviolation` event in the page and a console error naming the Content Security
Policy. FullCalendar (its own <style> element, given the nonce), Chart.js, htmx (its indicator
styles turned off) and the brand colours (data attributes, set from static JS) are all on these
pages.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports.services.analytics import metrics_backfill
from tests.security.factories_world import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def watched(page):
    """The page, collecting CSP violations from events and from the console."""
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(COLLECT)

    def violations() -> list[str]:
        page.wait_for_timeout(300)  # a violation event is dispatched asynchronously
        return [*page.evaluate("window.__csp || []"), *console]

    page.csp_violations = violations
    page.csp_console = console
    return page


@pytest.fixture
def world(brand, manager, client_user, account):
    w = build_world(brand=brand, staff=manager, client=client_user)
    # A post on the calendar this month, and daily metrics for the report charts.
    post = w["post"]
    post.scheduled_at = timezone.now() + timedelta(hours=2)
    post.save()
    metrics_backfill(brand=brand, days=30)
    return w


def _visit(page, path, ready=None):
    response = page.goto(path)
    assert response.status < 400, f"{path}: {response.status}"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    if ready:
        page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")


def test_the_main_dashboard_pages_run_without_a_csp_violation(
    log_in, watched, screenshot, admin, world
):
    brand = world["brand"]
    log_in(admin)
    pages = [
        ("/", ".tile"),
        ("/brands/", ".swatch"),
        (f"/brands/{brand.pk}/", ".page-head"),
        (f"/calendar/?brand={brand.pk}", "#calendar .fc-daygrid, #calendar .fc-view"),
        (f"/brands/{brand.pk}/compose/", "#composer-form"),
        ("/inbox/", None),
        (f"/inbox/{world['conversation'].pk}/", None),
        (f"/campaigns/{world['campaign'].pk}/insights/", "canvas"),
        (f"/brands/{brand.pk}/reports/", "canvas"),
        (f"/brands/{brand.pk}/media/", None),
        ("/settings/tokens/", None),
    ]
    problems = {}
    for path, ready in pages:
        _visit(watched, path, ready)
        found = watched.csp_violations()
        if found:
            problems[path] = found
    screenshot("csp-calendar") if not problems else None
    assert not problems, "\n".join(f"{p}: {v}" for p, vs in problems.items() for v in vs)
    assert not watched.js_errors, watched.js_errors


def test_fullcalendar_gets_the_nonce_and_its_styles_apply(log_in, watched, admin, world):
    log_in(admin)
    _visit(watched, f"/calendar/?brand={world['brand'].pk}", "#calendar .fc-view")
    nonce = watched.evaluate(
        "document.querySelector('style[data-fullcalendar]') && "
        "document.querySelector('style[data-fullcalendar]').nonce"
    )
    assert nonce, "FullCalendar did not add its <style> with the nonce"
    # Its layout rules are in force: the toolbar is a flex row, as FullCalendar's CSS says.
    display = watched.evaluate(
        "getComputedStyle(document.querySelector('.fc-header-toolbar')).display"
    )
    assert display == "flex"
    assert not watched.csp_violations()


def test_the_brand_colour_is_applied_without_an_inline_style(log_in, watched, admin, world):
    brand = world["brand"]
    brand.primary_color = "#123456"
    brand.save()
    log_in(admin)
    _visit(watched, "/brands/", ".swatch")
    colour = watched.evaluate("getComputedStyle(document.querySelector('.swatch')).backgroundColor")
    assert colour == "rgb(18, 52, 86)"
    assert watched.locator("[style]").count() == watched.locator("[data-brand-color]").count()


def test_the_client_portal_runs_without_a_csp_violation(browser, live_server, client_user, world):
    from tests.factories import DEFAULT_PASSWORD

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security" in m.text else None)
    page.add_init_script(COLLECT)
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(client_user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/auth/login/" not in url)
    brand = world["brand"]
    for path in (f"/portal/{brand.pk}/", f"/portal/{brand.pk}/calendar/", "/portal/approvals/"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        assert not page.evaluate("window.__csp"), path
    assert not console
    context.close()


def test_the_detector_sees_a_violation(log_in, watched, admin, world):
    """The control: an inline style attribute added to the page is reported, so the empty
    lists above mean no violation, not a deaf listener."""
    log_in(admin)
    _visit(watched, "/brands/", None)
    watched.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<div style=\"color: red\">x</div>')"
    )
    assert any("style-src" in v for v in watched.csp_violations())
