"""The marketer's paid side in a real browser: a campaign, an ad set with its targeting, insights
imported as a CSV file, and the KPIs and daily chart on the campaign page. Then who else may look:
a manager reads and cannot edit, an outsider does not even learn the campaign exists."""

from datetime import date
from decimal import Decimal

import pytest

from ads import services
from ads.models import AdSet, Campaign, InsightDaily

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

START, END = date(2026, 3, 1), date(2026, 3, 31)

# Two days of a campaign's results, as a marketer exports them from an ads manager.
CSV = (
    "date,campaign,ad_set,ad,impressions,clicks,spend,conversions,conversion_value,currency\n"
    "2026-03-02,Spring beans,,,12000,240,84.30,7,356.20,EUR\n"
    "2026-03-03,Spring beans,,,18500,310,125.95,11,540.00,EUR\n"
)
# Worked out by hand from the two rows above:
#   impressions 12000 + 18500 = 30500, clicks 240 + 310 = 550, spend 84.30 + 125.95 = 210.25,
#   conversions 7 + 11 = 18, conversion value 356.20 + 540.00 = 896.20.
EXPECTED_KPIS = {
    "impressions": "30,500",
    "clicks": "550",
    "spend": "210.25 EUR",
    "conversions": "18",
    "conversion-value": "896.20 EUR",
    "ctr": "1.80 %",  # 550 / 30500 = 0.018033
    "cpc": "0.38 EUR",  # 210.25 / 550 = 0.382273
    "cpm": "6.89 EUR",  # 210.25 / 30500 x 1000 = 6.893443
    "cpa": "11.68 EUR",  # 210.25 / 18 = 11.680556
    "roas": "4.26x",  # 896.20 / 210.25 = 4.262545
}


def make_campaign(brand, by) -> Campaign:
    return services.campaign_create(
        brand=brand,
        by=by,
        name="Spring beans",
        platform="meta",
        objective="sales",
        start_date=START,
        end_date=END,
        budget_kind="daily",
        budget_amount=Decimal("25.00"),
        currency="EUR",
    )


def test_marketer_creates_a_campaign_targets_an_ad_set_imports_insights_and_sees_kpis(
    log_in, page, screenshot, tmp_path, marketer, brand
):
    log_in(marketer)

    # The campaign, through its form.
    page.goto(f"/brands/{brand.pk}/campaigns/new/")
    page.get_by_label("Name").fill("Spring beans")
    page.get_by_label("Platform").select_option("meta")
    page.get_by_label("Objective").select_option("sales")
    page.get_by_label("Start date").fill(START.isoformat())
    page.get_by_label("End date").fill(END.isoformat())
    page.get_by_label("Budget kind").select_option("daily")
    page.get_by_label("Budget:", exact=True).fill("25.00")  # not "Budget kind:"
    page.get_by_label("Currency").fill("eur")
    screenshot("campaign-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/campaigns/*/")
    campaign = Campaign.objects.get(brand=brand)
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")
    assert (campaign.platform, campaign.objective, campaign.budget_kind) == (
        "meta",
        "sales",
        "daily",
    )
    assert (campaign.start_date, campaign.end_date) == (START, END)
    assert (campaign.budget_amount, campaign.currency) == (Decimal("25.00"), "EUR")
    assert page.get_by_role("heading", name="Spring beans", exact=True).is_visible()
    assert page.get_by_text("25.00 EUR daily").is_visible()

    # An ad set, through its targeting form: first with the ages the wrong way round.
    page.get_by_role("link", name="New ad set").click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/ad-sets/new/")
    page.locator("#id_name").fill("Coffee lovers 25-45")
    page.get_by_label("Age from").fill("45")
    page.get_by_label("Age to").fill("25")
    page.get_by_label("Languages").fill("de, en")
    page.get_by_label("Interests:", exact=True).fill("Coffee (6003139266461)")
    page.locator("#id_locations-0-type").select_option("country")
    page.locator("#id_locations-0-country").fill("DE")
    page.get_by_role("button", name="Save ad set").click()
    page.get_by_text("Nothing was saved: please correct the fields marked below.").wait_for()
    age_field = page.locator(".field--error", has=page.locator("#id_age_min"))
    assert "The minimum age (45) is above the maximum (25)." in age_field.inner_text()
    assert not AdSet.objects.exists()
    screenshot("ad-set-targeting")
    # What was typed is still there, so only the ages need fixing.
    assert page.locator("#id_locations-0-country").input_value() == "DE"
    assert page.get_by_label("Interests:", exact=True).input_value() == "Coffee (6003139266461)"

    page.get_by_label("Age from").fill("25")
    page.get_by_label("Age to").fill("45")
    page.get_by_role("button", name="Save ad set").click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    ad_set = AdSet.objects.get(campaign=campaign)
    targeting = ad_set.targeting
    assert (targeting["age_min"], targeting["age_max"]) == (25, 45)
    assert targeting["locations"] == [{"type": "country", "country": "DE"}]
    assert targeting["languages"] == ["de", "en"]
    assert targeting["interests"] == [{"id": "6003139266461", "name": "Coffee"}]
    card = page.locator(f"#ad-set-{ad_set.pk}")
    assert "Coffee lovers 25-45" in card.inner_text()
    summary = card.locator("p").first.inner_text()
    assert "Ages 25\N{EN DASH}45" in summary
    assert "DE" in summary
    assert "interests: Coffee" in summary

    # Insights without an API integration: the CSV import form of the campaign's insights page.
    csv_file = tmp_path / "spring-beans-insights.csv"
    csv_file.write_text(CSV)
    page.goto(f"/campaigns/{campaign.pk}/insights/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Imported 2 rows for 1 campaign; 2 days replaced.").wait_for()
    assert page.url.endswith(f"/campaigns/{campaign.pk}/insights/")
    assert InsightDaily.objects.filter(campaign=campaign).count() == 2

    # The KPIs on the campaign page (the panel loads with HTMX), as the page formats them.
    page.goto(f"/campaigns/{campaign.pk}/")
    page.locator("td[data-kpi='roas']").wait_for()
    shown = {
        name: page.locator(f"td[data-kpi='{name}']").inner_text().strip() for name in EXPECTED_KPIS
    }
    assert shown == EXPECTED_KPIS

    # Chart.js drew the daily chart from the json_script data.
    canvas = page.locator("canvas[data-insights-chart]")
    page.locator("canvas[data-insights-chart][data-drawn='1']").wait_for()
    # A Chart instance on the canvas, done animating (so the screenshot shows the full bars).
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-insights-chart]');"
        " const chart = window.Chart && window.Chart.getChart(c);"
        " return chart && !window.Chart.animator.running(chart); }"
    )
    drawn = canvas.evaluate("c => window.Chart.getChart(c).data.datasets.map(d => d.data)")
    assert drawn == [[84.3, 125.95], [240, 310], [7, 11]]  # spend, clicks, conversions per day
    assert canvas.evaluate("c => c.width") > 0
    assert canvas.bounding_box()["width"] > 0
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top of the shot
    screenshot("campaign-kpis")
    assert page.js_errors == []


def test_manager_reads_the_campaign_but_cannot_edit_it(log_in, page, manager, marketer, brand):
    campaign = make_campaign(brand, marketer)
    log_in(manager)
    response = page.goto(f"/campaigns/{campaign.pk}/")
    assert response.status == 200
    assert page.get_by_role("heading", name="Spring beans", exact=True).is_visible()
    assert page.get_by_role("link", name="Edit", exact=True).count() == 0
    assert page.get_by_role("link", name="New ad set").count() == 0
    assert page.goto(f"/campaigns/{campaign.pk}/edit/").status == 403
    assert page.goto(f"/campaigns/{campaign.pk}/ad-sets/new/").status == 403
    assert page.js_errors == []


def test_outsider_gets_404_for_another_agencys_campaign(log_in, page, outsider, marketer, brand):
    campaign = make_campaign(brand, marketer)
    log_in(outsider)
    assert page.goto(f"/campaigns/{campaign.pk}/").status == 404
    assert page.goto(f"/campaigns/{campaign.pk}/insights/").status == 404
    assert page.goto(f"/campaigns/{campaign.pk}/edit/").status == 404
