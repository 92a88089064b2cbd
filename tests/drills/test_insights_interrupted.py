"""An ads insights sync interrupted mid-way leaves the whole day or nothing: never a day with
half its ads replaced (the dashboard would show a spend that never happened).

The sync reads Meta's insights edge over real HTTP (the faulty platform serves it, shaped as
https://developers.facebook.com/docs/marketing-api/insights shows) and writes with
`ads.services.insights.insights_replace`. Two interruptions: an error in the middle of the write,
and the process killed with SIGKILL while its write transaction is open (held there by a
competing insert this test makes, so the kill lands mid-write every time).
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from ads.insights_sync import MetaInsightsClient
from ads.models import Ad, AdSet, Campaign, InsightDaily
from ads.services.insights import campaign_sync_insights
from agency.models import AuditEvent
from tests.factories import SocialAccountFactory
from tests.live.conftest import REPO_ROOT, wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
DAY = dt.date(2025, 3, 1)
OLD = {"9001": ("10.00", 1000, 10)}
NEW = {"9001": ("12.34", 1500, 20), "9002": ("56.78", 3000, 40), "9003": ("9.10", 700, 5)}


@pytest.fixture
def campaign(brand, faulty_platform, monkeypatch):
    SocialAccountFactory(brand=brand, platform="facebook", access_token="EAAG-drill-token")
    campaign = Campaign.objects.create(
        brand=brand,
        name="Spring sale",
        platform="meta",
        objective="traffic",
        status=Campaign.Status.ACTIVE,
        start_date=DAY,
        budget_kind="daily",
        budget_amount=Decimal("100"),
        currency="EUR",
        external_id="120210000000000001",
    )
    ad_set = AdSet.objects.create(campaign=campaign, name="Coffee lovers", external_id="2381")
    for ad_id in NEW:
        Ad.objects.create(ad_set=ad_set, name=f"Ad {ad_id}", external_id=ad_id)
    for ad_id, (spend, impressions, clicks) in OLD.items():
        InsightDaily.objects.create(
            brand=brand,
            campaign=campaign,
            ad_set=ad_set,
            ad=Ad.objects.get(external_id=ad_id),
            date=DAY,
            spend=Decimal(spend),
            impressions=impressions,
            clicks=clicks,
            currency="EUR",
        )
    faulty_platform.server.insight_pages = [
        {
            "ad_id": ad_id,
            "adset_id": "2381",
            "date_start": DAY.isoformat(),
            "date_stop": DAY.isoformat(),
            "spend": spend,
            "impressions": str(impressions),
            "clicks": str(clicks),
            "account_currency": "EUR",
        }
        for ad_id, (spend, impressions, clicks) in NEW.items()
    ]
    monkeypatch.setattr(MetaInsightsClient, "graph_url", faulty_platform.url)
    return campaign


def day_rows(campaign) -> dict[str, tuple]:
    return {
        r.ad.external_id: (f"{r.spend:.2f}", r.impressions, r.clicks)
        for r in InsightDaily.objects.filter(campaign=campaign, date=DAY).select_related("ad")
    }


def test_an_error_in_the_middle_of_the_write_keeps_the_day_as_it_was(campaign, monkeypatch):
    real_bulk_create = InsightDaily.objects.bulk_create

    def half_then_fail(rows, **kwargs):
        real_bulk_create(rows[:1], **kwargs)  # one ad's new row is in...
        raise RuntimeError("disk full")  # ...and then the write breaks

    monkeypatch.setattr(InsightDaily.objects, "bulk_create", half_then_fail)
    with pytest.raises(RuntimeError):
        campaign_sync_insights(campaign=campaign, since=DAY, until=DAY)
    assert day_rows(campaign) == OLD
    assert not AuditEvent.objects.filter(action="campaign.insights_synced").exists()

    monkeypatch.setattr(InsightDaily.objects, "bulk_create", real_bulk_create)
    assert campaign_sync_insights(campaign=campaign, since=DAY, until=DAY).rows == 3
    assert day_rows(campaign) == NEW


SYNC_SCRIPT = """
import datetime as dt, sys
import django
django.setup()
from ads.insights_sync import MetaInsightsClient
from ads.models import Campaign
from ads.services.insights import campaign_sync_insights
MetaInsightsClient.graph_url = sys.argv[2]
day = dt.date.fromisoformat(sys.argv[3])
campaign_sync_insights(campaign=Campaign.objects.get(pk=sys.argv[1]), since=day, until=day)
print("synced")
"""


def blocked_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO \"ads_insightdaily\"%%'"
        )
        return cursor.fetchone()[0]


def open_writes() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND query LIKE 'INSERT INTO \"ads_insightdaily\"%%'"
        )
        return cursor.fetchone()[0]


def test_a_sync_killed_mid_write_keeps_the_day_as_it_was(
    campaign, faulty_platform, celery_env, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("the kill is timed with PostgreSQL's row locks")
    # Another transaction inserts ad 9003's row for the day and holds it uncommitted: the sync
    # deletes the old rows, inserts 9001 and 9002, and waits on 9003, mid-transaction.
    holding, release = threading.Event(), threading.Event()

    def hold_a_conflicting_row():
        try:
            with transaction.atomic():
                ad = Ad.objects.get(external_id="9003")
                InsightDaily.objects.create(
                    brand_id=campaign.brand_id,
                    campaign=campaign,
                    ad_set_id=ad.ad_set_id,
                    ad=ad,
                    date=DAY,
                    currency="EUR",
                )
                holding.set()
                release.wait(60)
                transaction.set_rollback(True)
        finally:
            connection.close()

    blocker = threading.Thread(target=hold_a_conflicting_row)
    blocker.start()
    assert holding.wait(10)
    log = open(tmp_path / "sync.log", "wb")  # noqa: SIM115 - closed below
    sync = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", SYNC_SCRIPT, str(campaign.pk), faulty_platform.url, str(DAY)],
        cwd=REPO_ROOT,
        env=celery_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        waiting = wait_for(lambda: blocked_inserts() == 1 or sync.poll() is not None, timeout=60)
        assert waiting and sync.poll() is None, (tmp_path / "sync.log").read_text()
        os.kill(sync.pid, signal.SIGKILL)
        sync.wait(timeout=10)
    finally:
        release.set()
        blocker.join(timeout=30)
        log.close()
    # The server ends the killed client's transaction; it never commits.
    assert wait_for(lambda: open_writes() == 0, timeout=30)
    assert day_rows(campaign) == OLD
    assert not AuditEvent.objects.filter(action="campaign.insights_synced").exists()
    # The next sync (beat's daily one, or a redelivery) writes the whole day.
    assert campaign_sync_insights(campaign=campaign, since=DAY, until=DAY).rows == 3
    assert day_rows(campaign) == NEW
