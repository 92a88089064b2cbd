"""Budget pacing: expected against actual spend, and alerts once per campaign and day."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from ads import selectors
from ads.models import Campaign, InsightDaily
from ads.services.insights import campaign_pacing_alert
from agency.models import Notification

START = dt.date(2025, 5, 1)
TODAY = dt.date(2025, 5, 11)  # ten complete days: 1-10 May


def make_campaign(brand, **fields):
    defaults = {
        "name": "Summer",
        "platform": "meta",
        "objective": "sales",
        "status": "active",
        "start_date": START,
        "end_date": dt.date(2025, 5, 20),
        "budget_kind": "daily",
        "budget_amount": Decimal("100"),
        "currency": "EUR",
    }
    return Campaign.objects.create(brand=brand, **{**defaults, **fields})


def spend(campaign, total, days=10):
    for n in range(days):
        InsightDaily.objects.create(
            brand=campaign.brand,
            campaign=campaign,
            date=START + dt.timedelta(days=n),
            spend=(Decimal(total) / days).quantize(Decimal("0.01")),
            currency="EUR",
        )


def at_noon(day):
    # The brand's time zone is Europe/Berlin; noon there is on the same calendar day.
    return dt.datetime(day.year, day.month, day.day, 10, tzinfo=dt.UTC)


@pytest.fixture
def team(admin, marketer, manager):
    return admin, marketer, manager


def test_daily_budget_expects_budget_times_complete_days(brand):
    campaign = make_campaign(brand)
    spend(campaign, "1000")
    pacing = selectors.campaign_pacing(campaign=campaign, today=TODAY)
    assert (pacing.elapsed_days, pacing.expected, pacing.actual) == (
        10,
        Decimal("1000.00"),
        Decimal("1000.00"),
    )
    assert pacing.budget_total == Decimal("2000.00")  # 20 days x 100
    assert pacing.ratio == Decimal("1") and pacing.status == "on_track"


def test_lifetime_budget_expects_the_elapsed_fraction_of_the_flight(brand):
    campaign = make_campaign(brand, budget_kind="lifetime", budget_amount=Decimal("2000"))
    spend(campaign, "500")
    pacing = selectors.campaign_pacing(campaign=campaign, today=TODAY)
    assert pacing.expected == Decimal("1000.00")  # 2000 x 10 / 20
    assert pacing.ratio == Decimal("0.5") and pacing.status == "under"


def test_lifetime_budget_without_end_has_only_a_ceiling(brand):
    campaign = make_campaign(
        brand, budget_kind="lifetime", budget_amount=Decimal("900"), end_date=None
    )
    spend(campaign, "950")
    pacing = selectors.campaign_pacing(campaign=campaign, today=TODAY)
    assert pacing.expected is None and pacing.status == "over_budget"


def test_under_pacing_alerts_marketers_and_admins_once_a_day(brand, team):
    admin, marketer, _manager = team
    campaign = make_campaign(brand)
    spend(campaign, "700")  # 70% of plan, threshold 20%
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == ["pacing"]
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == []
    notes = Notification.objects.all()
    assert {n.user for n in notes} == {admin, marketer}
    assert "slower than planned" in notes[0].title
    campaign.refresh_from_db()
    assert campaign.pacing_alerted_at == at_noon(TODAY)


def test_the_next_day_alerts_again(brand, team):
    campaign = make_campaign(brand)
    spend(campaign, "700")
    campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY))
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY + dt.timedelta(days=1))) == [
        "pacing"
    ]
    assert Notification.objects.count() == 4


def test_over_pacing_alerts(brand, team):
    campaign = make_campaign(brand)
    spend(campaign, "1300")
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == ["pacing"]
    assert "faster than planned" in Notification.objects.first().title


def test_pacing_within_the_threshold_alerts_nobody(brand, team, settings):
    settings.ADS_PACING_THRESHOLD = 0.2
    campaign = make_campaign(brand)
    spend(campaign, "1150")
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == []
    assert Notification.objects.count() == 0


def test_spend_past_the_budget_alerts_once_a_day(brand, team):
    campaign = make_campaign(brand, budget_kind="lifetime", budget_amount=Decimal("800"))
    spend(campaign, "900")
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == ["over_budget"]
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == []
    campaign.refresh_from_db()
    assert campaign.over_budget_alerted_at is not None
    assert Notification.objects.filter(title__contains="past its budget").count() == 2


def test_the_beat_task_checks_active_campaigns(brand, team, monkeypatch):
    from ads import tasks

    campaign = make_campaign(
        brand, start_date=timezone.now().date() - dt.timedelta(days=10), end_date=None
    )
    InsightDaily.objects.create(
        brand=brand, campaign=campaign, date=campaign.start_date, spend=Decimal("1"), currency="EUR"
    )
    make_campaign(brand, name="Paused", status="paused")
    assert tasks.check_pacing.run() == 1
    assert tasks.check_pacing.run() == 0
