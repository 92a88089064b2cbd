"""Real headless Chromium (Debian's, never a downloaded build) driving a live server.

Screenshots of the main pages go to test-artifacts/screenshots/ (kept by CI as the run's
artifacts). Tests here are marked `e2e`; they are skipped with a reason when Chromium is absent.
"""

import os
from pathlib import Path

import pytest

from tests.factories import DEFAULT_PASSWORD

CHROMIUM = os.environ.get("AGENCY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (make test installs it with apt)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, settings):
    # The live server is plain HTTP on localhost.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture
def log_in(page):
    """Log in through the real login form, as a person would."""

    def _log_in(user, password: str = DEFAULT_PASSWORD):
        page.goto("/auth/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/auth/login/" not in url)
        return page

    return _log_in


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _shot(name: str):
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


# The real-worker fixtures of tests/live, for browser tests whose pages wait on a task.
from tests.live.conftest import (  # noqa: E402,F401
    _celery_processes,
    celery_env,
    celery_worker_process,
)
