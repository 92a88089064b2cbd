"""KPI maths against hand-computed cases, and currency conversion with rates over time."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ads import selectors
from ads.models import Ad, AdSet, Campaign, CurrencyRate, InsightDaily

D1, D2, D3 = dt.date(2025, 1, 10), dt.date(2025, 1, 20), dt.date(2025, 2, 5)


def make_campaign(brand, name="Winter", currency="EUR", **fields):
    return Campaign.objects.create(
        brand=brand,
        name=name,
        platform="google",
        objective="sales",
        status="active",
        start_date=dt.date(2025, 1, 1),
        budget_kind="lifetime",
        budget_amount=Decimal("1000"),
        currency=currency,
        **fields,
    )


def insight(campaign, day, *, ad=None, currency=None, **numbers):
    return InsightDaily.objects.create(
        brand=campaign.brand,
        campaign=campaign,
        ad_set=ad.ad_set if ad else None,
        ad=ad,
        date=day,
        currency=currency or campaign.currency,
        **numbers,
    )


@pytest.fixture
def campaign(brand):
    campaign = make_campaign(brand, agency_fee=Decimal("50.00"), other_costs=Decimal("25.00"))
    insight(
        campaign,
        D1,
        impressions=10000,
        clicks=200,
        spend=Decimal("150.00"),
        conversions=Decimal("10"),
        conversion_value=Decimal("600.00"),
    )
    insight(
        campaign,
        D2,
        impressions=5000,
        clicks=50,
        spend=Decimal("50.00"),
        conversions=Decimal("0"),
        conversion_value=Decimal("0"),
    )
    return campaign


def test_campaign_kpis_match_the_hand_computed_figures(campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        kpis = selectors.campaign_kpis(campaign=campaign)
    # impressions 15000, clicks 250, spend 200, conversions 10, value 600
    assert (kpis.impressions, kpis.clicks, kpis.spend) == (15000, 250, Decimal("200.00"))
    assert kpis.ctr == Decimal("0.016666667").quantize(Decimal("0.000001"))  # 250 / 15000
    assert kpis.cpc == Decimal("0.8")  # 200 / 250
    assert kpis.cpm == Decimal("13.333333")  # 200 / 15000 x 1000
    assert kpis.cpa == Decimal("20")  # 200 / 10
    assert kpis.conversion_rate == Decimal("0.04")  # 10 / 250
    assert kpis.roas == Decimal("3")  # 600 / 200
    # cost = 200 + 50 + 25 = 275; ROI = (600 - 275) / 275
    assert kpis.cost == Decimal("275.00")
    assert kpis.roi == Decimal("1.181818")


def test_a_revenue_override_replaces_conversion_value_in_roi(campaign):
    campaign.revenue_override = Decimal("1100.00")
    kpis = selectors.campaign_kpis(campaign=campaign)
    assert kpis.roi == Decimal("3")  # (1100 - 275) / 275
    assert kpis.roas == Decimal("3")  # ROAS stays on the platform's conversion value


def test_a_window_limits_the_days(campaign):
    kpis = selectors.campaign_kpis(campaign=campaign, start=D2, end=D2)
    assert (kpis.clicks, kpis.spend, kpis.conversions) == (50, Decimal("50.00"), Decimal("0"))
    assert kpis.cpa is None  # zero conversions
    assert kpis.roas == Decimal("0")


def test_zero_clicks_and_zero_spend_give_none_not_a_division_error(brand):
    campaign = make_campaign(brand, name="Quiet")
    insight(campaign, D1, impressions=0, clicks=0, spend=Decimal("0"))
    kpis = selectors.campaign_kpis(campaign=campaign)
    assert [kpis.ctr, kpis.cpc, kpis.cpm, kpis.cpa, kpis.conversion_rate, kpis.roas, kpis.roi] == [
        None
    ] * 7


def test_a_campaign_without_insights_has_zero_totals_and_no_kpis(brand):
    kpis = selectors.campaign_kpis(campaign=make_campaign(brand, name="Empty"))
    assert (kpis.impressions, kpis.spend) == (0, Decimal("0"))
    assert kpis.ctr is None and kpis.roi is None


def test_ad_set_and_ad_kpis_count_only_their_rows(campaign):
    ad_set = AdSet.objects.create(campaign=campaign, name="Set A")
    ad = Ad.objects.create(ad_set=ad_set, name="Ad 1")
    insight(
        campaign,
        D1,
        ad=ad,
        impressions=1000,
        clicks=100,
        spend=Decimal("30.00"),
        conversions=Decimal("3"),
        conversion_value=Decimal("90"),
    )
    ad_kpis = selectors.ad_kpis(ad=ad)
    assert (ad_kpis.clicks, ad_kpis.cpc, ad_kpis.cpa) == (100, Decimal("0.3"), Decimal("10"))
    assert ad_kpis.roi is None  # fees belong to the campaign
    assert selectors.ad_set_kpis(ad_set=ad_set).spend == Decimal("30.00")


def test_daily_series_has_one_entry_per_day(campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        daily = selectors.campaign_daily_kpis(campaign=campaign)
    assert [(k.day, k.clicks, k.spend) for k in daily] == [
        (D1, 200, Decimal("150.00")),
        (D2, 50, Decimal("50.00")),
    ]


# -- currencies ---------------------------------------------------------------------------------


@pytest.fixture
def usd_campaign(brand):
    campaign = make_campaign(brand, name="US launch", currency="USD")
    insight(
        campaign,
        D1,
        impressions=1000,
        clicks=100,
        spend=Decimal("100.00"),
        conversion_value=Decimal("300.00"),
        conversions=Decimal("5"),
    )
    insight(
        campaign,
        D3,
        impressions=1000,
        clicks=100,
        spend=Decimal("100.00"),
        conversion_value=Decimal("300.00"),
        conversions=Decimal("5"),
    )
    return campaign


def rate(brand, currency, value, valid_from, base="EUR"):
    return CurrencyRate.objects.create(
        agency=brand.agency,
        currency=currency,
        base=base,
        rate=Decimal(value),
        valid_from=valid_from,
    )


def test_each_day_converts_at_the_rate_valid_that_day(brand, usd_campaign, campaign):
    rate(brand, "USD", "0.90", dt.date(2025, 1, 1))
    rate(brand, "USD", "0.80", dt.date(2025, 2, 1))
    rate(brand, "USD", "0.10", dt.date(2025, 3, 1))  # later: not used
    kpis = selectors.campaign_kpis(campaign=usd_campaign, currency="EUR")
    # 100 x 0.90 + 100 x 0.80 = 170 EUR spend; 300 x 0.9 + 300 x 0.8 = 510 EUR value
    assert kpis.spend == Decimal("170.00")
    assert kpis.conversion_value == Decimal("510.00")
    assert kpis.currency == "EUR"
    total = selectors.brand_kpis(brand=brand, start=D1, end=D3, currency="EUR")
    assert total.spend == Decimal("370.00")  # 170 EUR + the EUR campaign's 200, never 400 raw
    assert total.clicks == 450


def test_a_missing_rate_is_an_error_in_words(brand, usd_campaign):
    rate(brand, "USD", "0.80", dt.date(2025, 2, 1))  # nothing for 10 January
    with pytest.raises(ValidationError) as caught:
        selectors.campaign_kpis(campaign=usd_campaign, currency="EUR")
    assert caught.value.messages == [
        "There is no rate from USD to EUR on or before 10 Jan 2025: add one on the currency "
        "rates page."
    ]


def test_another_agencys_rates_are_not_used(brand, other_brand, usd_campaign):
    rate(other_brand, "USD", "0.90", dt.date(2025, 1, 1))
    with pytest.raises(ValidationError):
        selectors.campaign_kpis(campaign=usd_campaign, currency="EUR")


def test_brand_campaign_kpis_give_one_row_per_campaign_in_one_aggregate_query(
    brand, campaign, usd_campaign, django_assert_num_queries
):
    rate(brand, "USD", "0.50", dt.date(2025, 1, 1))
    usd_campaign.agency_fee = Decimal("20.00")
    usd_campaign.save()
    # The aggregate, then the rate of the USD campaign's own fee on the window's last day.
    with django_assert_num_queries(2):
        rows = selectors.brand_campaign_kpis(brand=brand, start=D1, end=D3, currency="EUR")
    by_name = {r.label: r for r in rows}
    assert by_name["US launch"].spend == Decimal("100.00")
    # cost = 100 spend + 20 USD fee x 0.5 = 110; ROI = (300 - 110) / 110
    assert by_name["US launch"].cost == Decimal("110.00")
    assert by_name["US launch"].roi == Decimal("1.727273")
    assert by_name["Winter"].cost == Decimal("275.00")


def test_a_one_currency_brand_needs_one_query(brand, campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        (row,) = selectors.brand_campaign_kpis(brand=brand, start=D1, end=D3, currency="EUR")
    assert (row.label, row.spend, row.roi) == ("Winter", Decimal("200.00"), Decimal("1.181818"))


def test_the_default_brand_currency_is_the_most_used_one(brand):
    assert selectors.brand_default_currency(brand=brand) == "EUR"
    make_campaign(brand, name="a", currency="USD")
    make_campaign(brand, name="b", currency="USD")
    make_campaign(brand, name="c", currency="GBP")
    assert selectors.brand_default_currency(brand=brand) == "USD"
