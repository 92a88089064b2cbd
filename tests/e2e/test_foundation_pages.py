"""The foundation's pages in a real browser: log in, see the brands, open a brand, log out."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_logs_in_sees_brands_and_opens_one(
    log_in, page, screenshot, manager, brand, account
):
    log_in(manager)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.locator("main").get_by_text("Acme Coffee").first.is_visible()
    screenshot("dashboard")
    page.get_by_role("link", name="Brands").click()
    page.get_by_role("link", name="Acme Coffee").click()
    assert page.locator("main").get_by_text("@acmecoffee").first.is_visible()
    screenshot("brand-detail")
    assert page.js_errors == []


def test_wrong_password_is_refused_in_words(log_in, page, manager):
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("correct username and password").is_visible()
    assert "/auth/login/" in page.url


def test_outsider_cannot_open_another_agencys_brand(log_in, page, outsider, brand):
    log_in(outsider)
    response = page.goto(f"/brands/{brand.pk}/")
    assert response.status == 404
    assert "Acme Coffee" not in page.content()
