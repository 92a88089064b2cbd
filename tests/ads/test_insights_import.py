"""CSV import of insights: checked whole first, nothing saved on any error, days replaced."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ads.models import Ad, AdSet, Campaign, InsightDaily
from ads.services.insights import insights_import_csv
from agency.models import AuditEvent

HEADER = "date,campaign,ad_set,ad,impressions,clicks,spend,conversions,conversion_value,currency"


@pytest.fixture
def campaign(brand):
    campaign = Campaign.objects.create(
        brand=brand,
        name="TikTok spring",
        platform="x",
        objective="traffic",
        status="active",
        start_date=dt.date(2025, 4, 1),
        budget_kind="daily",
        budget_amount=Decimal("50"),
        currency="EUR",
        external_id="tt-77",
    )
    ad_set = AdSet.objects.create(campaign=campaign, name="Students")
    Ad.objects.create(ad_set=ad_set, name="Video A")
    return campaign


def csv(*lines):
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def rows(campaign):
    return sorted(
        (r.date.isoformat(), r.ad.name if r.ad else "", r.clicks, r.spend, r.source)
        for r in InsightDaily.objects.filter(campaign=campaign).select_related("ad")
    )


def test_import_stores_rows_by_name_or_platform_id(campaign, marketer):
    result = insights_import_csv(
        brand=campaign.brand,
        by=marketer,
        file=csv(
            "2025-04-02,TikTok spring,,,1000,20,15.50,2,60.00,EUR",
            "2025-04-02,tt-77,Students,Video A,400,8,6.00,1,30,EUR",
        ),
    )
    assert (result.rows, result.campaigns, result.days) == (2, 1, 1)
    assert rows(campaign) == [
        ("2025-04-02", "", 20, Decimal("15.50"), "csv"),
        ("2025-04-02", "Video A", 8, Decimal("6.00"), "csv"),
    ]
    assert AuditEvent.objects.filter(action="campaign.insights_imported", actor=marketer).exists()


def test_importing_a_day_again_replaces_it(campaign, marketer):
    insights_import_csv(
        brand=campaign.brand,
        by=marketer,
        file=csv("2025-04-02,TikTok spring,,,1000,20,15,2,60,EUR"),
    )
    insights_import_csv(
        brand=campaign.brand, by=marketer, file=csv("2025-04-02,TikTok spring,,,900,9,9,0,0,EUR")
    )
    assert rows(campaign) == [("2025-04-02", "", 9, Decimal("9.00"), "csv")]


def test_any_bad_row_refuses_the_whole_file_with_each_rows_problem(campaign, marketer):
    InsightDaily.objects.create(
        brand=campaign.brand, campaign=campaign, date=dt.date(2025, 4, 2), clicks=3, currency="EUR"
    )
    with pytest.raises(ValidationError) as caught:
        insights_import_csv(
            brand=campaign.brand,
            by=marketer,
            file=csv(
                "2025-04-02,TikTok spring,,,1000,20,15,2,60,EUR",
                "02/04/2025,Nope,,,ten,5,-1,0,0,euro",
                "2025-04-03,TikTok spring,Students,Video B,10,1,1.005,0,0,EUR",
                "2025-04-02,TikTok spring,,,1,1,1,0,0,EUR",
            ),
        )
    assert caught.value.messages == [
        "Row 3: date must look like 2025-03-31, not “02/04/2025”; there is no campaign “Nope”; "
        "impressions must be a whole number of zero or more, not “ten”; spend must be a number "
        "of zero or more, not “-1”; currency must be a three-letter code such as EUR, not "
        "“EURO”.",
        "Row 4: there is no ad “Video B” in “Students”; spend has more than two decimals "
        "(“1.005”).",
        "Row 5: it repeats row 2 (same day and object).",
    ]
    assert rows(campaign) == [("2025-04-02", "", 3, Decimal("0.00"), "api")]


def test_a_file_without_the_needed_columns_is_refused(campaign, marketer):
    with pytest.raises(ValidationError, match="lacks the columns clicks, conversion_value"):
        insights_import_csv(
            brand=campaign.brand,
            by=marketer,
            file=b"date,campaign,impressions,spend,conversions,currency\n",
        )


def test_campaigns_of_another_brand_cannot_be_named(campaign, other_brand, marketer):
    with pytest.raises(ValidationError, match="there is no campaign “TikTok spring”"):
        insights_import_csv(
            brand=other_brand, by=marketer, file=csv("2025-04-02,TikTok spring,,,1,1,1,0,0,EUR")
        )
    assert InsightDaily.objects.count() == 0
