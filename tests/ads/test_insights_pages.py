"""Insights pages and API: who sees what, who may change what, and nothing changes on refusal."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from ads.models import Campaign, CurrencyRate, InsightDaily

DAY = dt.date(2025, 6, 2)
READERS = ["admin", "manager", "marketer"]
STRANGERS = ["client_user", "outsider", "other_client"]
# Outsiders get 404 from the ads pages. Client users get 404 from them too, unless the client
# portal's middleware (reports.middleware) refuses them first with 403, which it does for
# portal-only users on every staff page; either way nothing is shown or changed.
REFUSED = {"outsider": {404}, "client_user": {403, 404}, "other_client": {403, 404}}


@pytest.fixture
def campaign(brand):
    campaign = Campaign.objects.create(
        brand=brand,
        name="Cold brew launch",
        platform="meta",
        objective="sales",
        status="active",
        start_date=dt.date(2025, 6, 1),
        budget_kind="daily",
        budget_amount=Decimal("40"),
        currency="EUR",
        external_id="120200",
        agency_fee=Decimal("100"),
    )
    InsightDaily.objects.create(
        brand=brand,
        campaign=campaign,
        date=DAY,
        impressions=4000,
        clicks=0,
        spend=Decimal("0"),
        currency="EUR",
    )
    return campaign


@pytest.fixture
def rate(home_agency):
    return CurrencyRate.objects.create(
        agency=home_agency, currency="USD", base="EUR", rate=Decimal("0.9"), valid_from=DAY
    )


# -- campaign insights page and panel -------------------------------------------------------------


@pytest.mark.parametrize("who", READERS)
def test_staff_read_the_campaign_insights_with_n_a_for_empty_kpis(who, personas, login, campaign):
    response = login(personas[who]).get(reverse("ads:campaign-insights", args=[campaign.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Results of Cold brew launch" in body
    assert '<td data-kpi="cpc">n/a</td>' in body  # zero clicks
    assert '<td data-kpi="ctr">0.00 %</td>' in body
    assert 'id="insights-data-' in body and "chart.umd.min.js" in body
    assert ("Sync now" in body) is (who != "manager")
    assert ("Import CSV" in body) is (who != "manager")


@pytest.mark.parametrize("who", STRANGERS)
@pytest.mark.parametrize("name", ["ads:campaign-insights", "ads:campaign-insights-panel"])
def test_clients_and_outsiders_get_404_for_campaign_insights(who, name, personas, login, campaign):
    assert login(personas[who]).get(reverse(name, args=[campaign.pk])).status_code in REFUSED[who]


def test_the_panel_loads_the_kpis_with_htmx_given_only_the_campaign(campaign, marketer, login):
    html = render_to_string("ads/insights/_campaign_panel.html", {"campaign": campaign})
    url = reverse("ads:campaign-insights-panel", args=[campaign.pk])
    assert f'hx-get="{url}"' in html and "vendor/chart.js/chart.umd.min.js" in html
    fragment = login(marketer).get(url)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content and b'data-kpi="roi"' in fragment.content


def test_a_missing_rate_shows_in_words(campaign, marketer, login):
    response = login(marketer).get(
        reverse("ads:campaign-insights", args=[campaign.pk]), {"currency": "USD"}
    )
    assert "There is no rate from EUR to USD on or before 02 Jun 2025" in response.content.decode()


# -- sync now -------------------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    from ads import tasks

    sent = []
    monkeypatch.setattr(tasks.sync_campaign_insights, "delay", lambda pk: sent.append(pk))
    return sent


def test_sync_now_enqueues_a_sync_after_commit(
    campaign, marketer, login, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(marketer).post(reverse("ads:campaign-insights-sync", args=[campaign.pk]))
    assert response.status_code == 302
    assert enqueued == [str(campaign.pk)]


@pytest.mark.parametrize(("who", "status"), [("manager", {403}), *REFUSED.items()])
def test_sync_now_is_refused_and_enqueues_nothing(
    who, status, personas, campaign, login, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(personas[who]).post(
            reverse("ads:campaign-insights-sync", args=[campaign.pk])
        )
    assert response.status_code in status
    assert enqueued == []


# -- CSV import page ------------------------------------------------------------------------------


def upload(text):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("insights.csv", text.encode(), content_type="text/csv")


CSV_OK = (
    "date,campaign,ad_set,ad,impressions,clicks,spend,conversions,conversion_value,currency\n"
    "2025-06-02,Cold brew launch,,,100,5,2.50,1,10,EUR\n"
)


def test_a_marketer_imports_a_csv_and_returns_to_the_campaign(campaign, marketer, login):
    back = reverse("ads:campaign-insights", args=[campaign.pk])
    response = login(marketer).post(
        reverse("ads:insights-import", args=[campaign.brand_id]),
        {"file": upload(CSV_OK), "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert InsightDaily.objects.get(campaign=campaign).clicks == 5


def test_an_import_with_errors_shows_them_and_saves_nothing(campaign, marketer, login):
    response = login(marketer).post(
        reverse("ads:insights-import", args=[campaign.brand_id]),
        {"file": upload(CSV_OK.replace("2.50", "lots"))},
    )
    assert response.status_code == 400
    assert "Row 2: spend must be a number such as 12.50, not “lots”." in response.content.decode()
    assert InsightDaily.objects.get(campaign=campaign).clicks == 0


@pytest.mark.parametrize(("who", "status"), [("manager", {403}), *REFUSED.items()])
def test_import_is_refused_and_changes_nothing(who, status, personas, campaign, login):
    response = login(personas[who]).post(
        reverse("ads:insights-import", args=[campaign.brand_id]), {"file": upload(CSV_OK)}
    )
    assert response.status_code in status
    assert InsightDaily.objects.get(campaign=campaign).clicks == 0


# -- ROI page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", READERS)
def test_staff_see_roi_per_campaign_sorted(who, personas, login, campaign, brand):
    other = Campaign.objects.create(
        brand=brand,
        name="Alpha",
        platform="meta",
        objective="sales",
        start_date=DAY,
        budget_kind="daily",
        budget_amount=Decimal("10"),
        currency="EUR",
    )
    InsightDaily.objects.create(
        brand=brand,
        campaign=other,
        date=DAY,
        clicks=10,
        impressions=100,
        spend=Decimal("10"),
        conversion_value=Decimal("30"),
        currency="EUR",
    )
    url = reverse("ads:brand-roi", args=[brand.pk])
    response = login(personas[who]).get(url, {"start": "2025-06-01", "end": "2025-06-30"})
    assert response.status_code == 200
    body = response.content.decode()
    # ROI: Alpha (30 - 10) / 10 = 200 %; Cold brew (0 - 100) / 100 = -100 %: highest first
    assert body.index("Alpha") < body.index("Cold brew launch")
    assert "200.00 %" in body and "-100.00 %" in body
    ascending = login(personas[who]).get(
        url, {"start": "2025-06-01", "end": "2025-06-30", "sort": "roi", "dir": "asc"}
    )
    text = ascending.content.decode()
    assert text.index("Cold brew launch") < text.index(">Alpha<")


@pytest.mark.parametrize("who", STRANGERS)
def test_clients_and_outsiders_get_404_for_roi(who, personas, login, brand):
    assert (
        login(personas[who]).get(reverse("ads:brand-roi", args=[brand.pk])).status_code
        in REFUSED[who]
    )


# -- currency rates -------------------------------------------------------------------------------

NEW_RATE = {"currency": "gbp", "base": "EUR", "rate": "1.17", "valid_from": "2025-06-01"}


@pytest.mark.parametrize("who", ["admin", "marketer"])
def test_admins_and_marketers_add_rates(who, personas, login, home_agency):
    response = login(personas[who]).post(
        reverse("ads:currency-rates", args=[home_agency.pk]), NEW_RATE
    )
    assert response.status_code == 302
    assert CurrencyRate.objects.get(agency=home_agency).currency == "GBP"


def test_a_manager_reads_rates_but_cannot_add_or_delete(manager, login, home_agency, rate):
    client = login(manager)
    page = client.get(reverse("ads:currency-rates", args=[home_agency.pk]))
    assert (
        page.status_code == 200 and b"0.9 EUR" in page.content and b"Add a rate" not in page.content
    )
    url = reverse("ads:currency-rates", args=[home_agency.pk])
    assert client.post(url, NEW_RATE).status_code == 403
    delete = reverse("ads:currency-rate-delete", args=[home_agency.pk, rate.pk])
    assert client.post(delete).status_code == 403
    assert list(CurrencyRate.objects.values_list("currency", flat=True)) == ["USD"]


@pytest.mark.parametrize("who", STRANGERS)
def test_clients_and_outsiders_get_404_for_rates(who, personas, login, home_agency, rate):
    client = login(personas[who])
    url = reverse("ads:currency-rates", args=[home_agency.pk])
    assert client.get(url).status_code in REFUSED[who]
    assert client.post(url, NEW_RATE).status_code in REFUSED[who]
    delete = reverse("ads:currency-rate-delete", args=[home_agency.pk, rate.pk])
    assert client.post(delete).status_code in REFUSED[who]
    assert CurrencyRate.objects.count() == 1


def test_a_duplicate_rate_is_refused_in_words(marketer, login, home_agency, rate):
    response = login(marketer).post(
        reverse("ads:currency-rates", args=[home_agency.pk]),
        {"currency": "USD", "base": "EUR", "rate": "0.95", "valid_from": DAY.isoformat()},
    )
    assert response.status_code == 400
    assert CurrencyRate.objects.count() == 1


# -- API ------------------------------------------------------------------------------------------


def test_api_lists_insights_of_the_callers_brands(api_client, marketer, outsider, campaign):
    api_client.force_authenticate(marketer)
    data = api_client.get("/api/v1/insights/", {"campaign": str(campaign.pk)}).json()
    assert [r["impressions"] for r in data["results"]] == [4000]
    api_client.force_authenticate(outsider)
    assert api_client.get("/api/v1/insights/").json()["results"] == []


@pytest.mark.parametrize("who", READERS)
def test_api_kpis_of_a_campaign_with_null_for_n_a(who, personas, api_client, campaign):
    api_client.force_authenticate(personas[who])
    response = api_client.get("/api/v1/insights/kpis/", {"campaign": str(campaign.pk)})
    assert response.status_code == 200
    total = response.json()["total"]
    assert total["cpc"] is None and total["ctr"] == "0.000000"
    assert total["cost"] == "100.00" and total["roi"] == "-1.000000"
    assert [d["day"] for d in response.json()["daily"]] == ["2025-06-02"]


def test_api_brand_kpis_need_a_window(api_client, marketer, brand, campaign):
    api_client.force_authenticate(marketer)
    assert api_client.get("/api/v1/insights/kpis/", {"brand": str(brand.pk)}).status_code == 400
    response = api_client.get(
        "/api/v1/insights/kpis/",
        {"brand": str(brand.pk), "start": "2025-06-01", "end": "2025-06-30"},
    )
    assert [c["label"] for c in response.json()["campaigns"]] == ["Cold brew launch"]


@pytest.mark.parametrize("who", STRANGERS)
def test_api_hides_kpis_and_rows_from_clients_and_outsiders(who, personas, api_client, campaign):
    api_client.force_authenticate(personas[who])
    assert (
        api_client.get("/api/v1/insights/kpis/", {"campaign": str(campaign.pk)}).status_code == 404
    )
    query = {"brand": str(campaign.brand_id), "start": "2025-06-01", "end": "2025-06-30"}
    assert api_client.get("/api/v1/insights/kpis/", query).status_code == 404
    assert api_client.get("/api/v1/insights/").json()["results"] == []


@pytest.mark.parametrize("who", ["manager", "marketer", "client_user"])
def test_api_insights_are_read_only(who, personas, api_client, campaign):
    api_client.force_authenticate(personas[who])
    row = InsightDaily.objects.get()
    assert api_client.post("/api/v1/insights/", {"campaign": str(campaign.pk)}).status_code == 405
    assert api_client.delete(f"/api/v1/insights/{row.pk}/").status_code in (404, 405)
    assert InsightDaily.objects.count() == 1


def test_roi_page_shows_influencer_collaborations_beside_campaigns(login, marketer, brand):
    from datetime import date
    from decimal import Decimal

    from ads.models import AttributedSale, Collaboration, Influencer

    influencer = Influencer.objects.create(agency=brand.agency, name="Lena Latte")
    collab = Collaboration.objects.create(
        brand=brand,
        influencer=influencer,
        name="Autumn roast",
        start_date=date(2026, 10, 1),
        fee=Decimal("200.00"),
        currency="EUR",
    )
    AttributedSale.objects.create(
        collaboration=collab,
        date=date(2026, 10, 5),
        order_ref="A1",
        amount=Decimal("500.00"),
        currency="EUR",
    )
    page = login(marketer).get(f"/brands/{brand.pk}/roi/").content.decode()
    assert "Autumn roast" in page
    assert "Lena Latte" in page
    assert "500.00 EUR" in page
    assert "1.5" in page  # (500 - 200) / 200
