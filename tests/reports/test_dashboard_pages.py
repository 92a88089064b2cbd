"""The analytics dashboard page: who may see it, the period chooser, what it shows, and that
its query count does not grow with the number of posts."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports import tasks
from reports.models import AccountMetricsDaily, PostMetricsDaily
from tests.factories import PostFactory, PostTargetFactory


def url(brand, **query):
    base = reverse("reports:dashboard", args=[brand.pk])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def today(brand):
    return timezone.localdate(timezone=brand.zone)


def add_posts(account, n, *, day):
    for i in range(n):
        target = PostTargetFactory(
            post=PostFactory(brand=account.brand, text=f"Roast {i}"),
            account=account,
            state="published",
            external_id=f"x{i}-{day}",
            external_url=f"https://sandbox.example.com/p/{i}",
            published_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            + timedelta(hours=8, minutes=i),
        )
        PostMetricsDaily.objects.create(target=target, date=day, engagements=10 + i, reach=100)


@pytest.fixture
def without_portal_fence(settings):
    """The view on its own, without the middleware that keeps client users inside the portal:
    its access rules must hold whatever stands in front of it."""
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "reports.middleware.ClientPortalOnlyMiddleware"
    ]


@pytest.fixture
def metrics(account):
    day = today(account.brand)
    AccountMetricsDaily.objects.create(
        account=account, date=day, followers=1234, impressions=900, reach=800, engagements=40
    )
    add_posts(account, 2, day=day)
    return account


@pytest.mark.parametrize("who", ["admin", "manager", "marketer", "client_user"])
def test_everyone_of_the_brand_reads_its_dashboard(
    who, personas, brand, metrics, login, without_portal_fence
):
    response = login(personas[who]).get(url(brand))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Reports of Acme Coffee" in body
    assert "1,234" in body  # followers
    assert "Engagement rate (of reach)" in body
    assert "Roast 1" in body


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_people_outside_the_brand_get_404(who, personas, brand, login, without_portal_fence):
    assert login(personas[who]).get(url(brand)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, brand):
    response = client.get(url(brand))
    assert response.status_code == 302 and "login" in response["Location"]


def test_kpis_explain_themselves_on_hover_and_to_screen_readers(manager, brand, metrics, login):
    body = login(manager).get(url(brand)).content.decode()
    help_text = "Engagements divided by reach (not by followers)"
    assert re.search(rf'<li class="kpi" title="{re.escape(help_text)}', body)
    assert re.search(rf'<p class="visually-hidden">{re.escape(help_text)}', body)


def test_charts_read_their_data_from_json_script_and_no_inline_js(manager, brand, metrics, login):
    body = login(manager).get(url(brand, period="7")).content.decode()
    data = re.search(r'<script id="report-daily" type="application/json">(.*?)</script>', body)
    days = json.loads(data.group(1))
    assert len(days) == 7 and days[-1]["followers"] == 1234
    scripts = re.findall(r"<script([^>]*)>", body)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert "js/report-charts.js" in body and "vendor/chart.js/chart.umd.min.js" in body


def test_the_default_period_is_the_last_30_days(manager, brand, login):
    report = login(manager).get(url(brand)).context["report"]
    assert (report["start"], report["end"]) == (today(brand) - timedelta(days=29), today(brand))


def test_named_and_custom_periods(manager, brand, login):
    client = login(manager)
    week = client.get(url(brand, period="7")).context["report"]
    assert week["start"] == today(brand) - timedelta(days=6)
    month = client.get(url(brand, period="month")).context["report"]
    assert month["start"] == today(brand).replace(day=1)
    custom = client.get(url(brand, period="custom", start="2025-03-01", end="2025-03-31"))
    assert custom.status_code == 200
    assert (custom.context["report"]["start"], custom.context["report"]["end"]) == (
        date(2025, 3, 1),
        date(2025, 3, 31),
    )
    assert (
        custom.context["report"]["previous_start"],
        custom.context["report"]["previous_end"],
    ) == (
        date(2025, 1, 29),
        date(2025, 2, 28),
    )


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"period": "custom", "start": "2025-03-31", "end": "2025-03-01"},
         "The first day (31 March 2025) is after the last day (1 March 2025)"),
        ({"period": "custom", "start": "2025-03-01"}, "choose both the first and the last day"),
        ({"period": "custom", "start": "2020-01-01", "end": "2025-01-01"}, "at most 731 days"),
        ({"period": "custom", "start": "soon", "end": "2025-01-01"}, "Enter a valid date"),
        ({"period": "fortnight"}, "Choose one of the listed periods"),
    ],
)  # fmt: skip
def test_a_wrong_period_is_explained_in_words(query, words, manager, brand, login):
    response = login(manager).get(url(brand, **query))
    assert response.status_code == 400
    assert words in response.content.decode()


def test_best_posts_sort_by_plain_links(manager, brand, account, login):
    day = today(brand)
    add_posts(account, 3, day=day)
    PostMetricsDaily.objects.filter(target__post__text="Roast 0").update(reach=900)
    client = login(manager)
    body = client.get(url(brand)).content.decode()
    assert "?sort=reach" in body
    by_engagements = client.get(url(brand)).context["report"]["best_posts"]
    assert [p["text"] for p in by_engagements] == ["Roast 2", "Roast 1", "Roast 0"]
    by_reach = client.get(url(brand, sort="reach")).context["report"]["best_posts"]
    assert [p["text"] for p in by_reach] == ["Roast 0", "Roast 2", "Roast 1"]
    sorted_page = client.get(url(brand, sort="reach")).content.decode()
    assert re.search(r'aria-sort="descending"[^>]*><a href="\?sort=reach"', sorted_page)


def test_query_count_does_not_grow_with_the_number_of_posts(manager, brand, account, login):
    client = login(manager)
    day = today(brand)
    add_posts(account, 1, day=day)
    client.get(url(brand))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as one_post:
        assert client.get(url(brand)).status_code == 200
    add_posts(account, 12, day=day - timedelta(days=1))
    with CaptureQueriesContext(connection) as many_posts:
        response = client.get(url(brand))
    assert len(response.context["report"]["best_posts"]) == 5
    assert len(many_posts) == len(one_post)


def test_staff_who_write_reports_can_ask_for_fresh_numbers(
    manager, brand, login, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.sync_brand_metrics, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(reverse("reports:metrics-refresh", args=[brand.pk]))
    assert response.status_code == 302 and response["Location"] == url(brand)
    assert sent == [str(brand.pk)]


def test_a_client_reads_but_cannot_ask_for_a_sync(
    client_user, brand, login, monkeypatch, without_portal_fence
):
    sent = []
    monkeypatch.setattr(tasks.sync_brand_metrics, "delay", sent.append)
    client = login(client_user)
    assert "Fetch the latest numbers" not in client.get(url(brand)).content.decode()
    assert client.post(reverse("reports:metrics-refresh", args=[brand.pk])).status_code == 403
    assert sent == []


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_outsiders_cannot_ask_for_a_sync(who, personas, brand, login, without_portal_fence):
    response = login(personas[who]).post(reverse("reports:metrics-refresh", args=[brand.pk]))
    assert response.status_code == 404


def test_the_body_renders_from_report_and_brand_alone(brand, metrics, rf):
    """The client portal includes the same body with nothing but `report` and `brand`."""
    from django.template.loader import render_to_string

    from reports.selectors import brand_report

    request = rf.get("/")
    report = brand_report(brand=brand, start=today(brand), end=today(brand))
    html = render_to_string(
        "reports/analytics/_dashboard_body.html", {"report": report, "brand": brand}, request
    )
    assert "Best posts" in html and "Roast 0" in html and "1,234" in html


def test_period_choices_are_radio_buttons_a_person_can_pick(login, manager, brand, account):
    client = login(manager)
    page = client.get(f"/brands/{brand.pk}/reports/").content.decode()
    assert page.count('type="radio" name="period"') == 5
    picked = client.get(f"/brands/{brand.pk}/reports/", {"period": "7"}).content.decode()
    assert '<input type="radio" name="period" value="7" id="id_period_0" checked>' in picked
