"""Insights sync from Meta and LinkedIn against replayed responses shaped as their docs show."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import responses
from django.core.exceptions import ValidationError
from responses import matchers

from ads.insights_sync import LINKEDIN_FIELDS
from ads.models import Ad, AdSet, Campaign, InsightDaily
from ads.services.insights import campaign_sync_insights
from agency.models import AuditEvent, SocialAccount
from agency.platforms.errors import RateLimited
from agency.platforms.facebook import GRAPH_URL
from agency.platforms.linkedin import LINKEDIN_VERSION
from tests.factories import SocialAccountFactory

META_CAMPAIGN = "120210000000000001"
INSIGHTS = f"{GRAPH_URL}/{META_CAMPAIGN}/insights"
TOKEN = "EAAG-meta-user-token"
DAY1, DAY2 = dt.date(2025, 3, 1), dt.date(2025, 3, 2)


def make_campaign(brand, **fields):
    defaults = {
        "name": "Spring sale",
        "platform": "meta",
        "objective": "sales",
        "status": Campaign.Status.ACTIVE,
        "start_date": dt.date(2025, 3, 1),
        "budget_kind": "daily",
        "budget_amount": Decimal("100"),
        "currency": "EUR",
        "external_id": META_CAMPAIGN,
    }
    return Campaign.objects.create(brand=brand, **{**defaults, **fields})


@pytest.fixture
def meta_campaign(brand):
    SocialAccountFactory(brand=brand, platform="facebook", handle="acme-page", access_token=TOKEN)
    campaign = make_campaign(brand)
    ad_set = AdSet.objects.create(campaign=campaign, name="Coffee lovers", external_id="2381")
    Ad.objects.create(ad_set=ad_set, name="Latte", external_id="9001")
    Ad.objects.create(ad_set=ad_set, name="Espresso", external_id="9002")
    return campaign


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def meta_row(ad_id, day, spend, impressions, clicks, purchases="0", value="0"):
    # Numbers are strings; actions list overlapping purchase types with the same value.
    return {
        "ad_id": ad_id,
        "adset_id": "2381",
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "spend": spend,
        "impressions": impressions,
        "clicks": clicks,
        "reach": str(int(impressions) // 2),
        "account_currency": "EUR",
        "actions": [
            {"action_type": "link_click", "value": clicks},
            {"action_type": "purchase", "value": purchases},
            {"action_type": "omni_purchase", "value": purchases},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": purchases},
            {"action_type": "lead", "value": "7"},
        ],
        "action_values": [
            {"action_type": "purchase", "value": value},
            {"action_type": "omni_purchase", "value": value},
        ],
        "purchase_roas": [{"action_type": "omni_purchase", "value": "2.1"}],
    }


PAGE_1 = {
    "data": [
        meta_row("9001", DAY1, "12.34", "1000", "40", purchases="2", value="55.50"),
        meta_row("9002", DAY1, "7.66", "500", "10"),
    ],
    "paging": {
        "cursors": {"before": "MAZDZD", "after": "MjQZD"},
        "next": f"{INSIGHTS}?access_token={TOKEN}&limit=500&after=MjQZD",
    },
}
PAGE_2 = {
    "data": [
        meta_row("9001", DAY2, "20.00", "2000", "80", purchases="3", value="90"),
        meta_row("7777", DAY2, "5.00", "100", "1"),  # an ad agency does not know
    ],
    "paging": {"cursors": {"before": "MjQZD", "after": "NDgZD"}},
}


def replay_meta(http, pages=(PAGE_1, PAGE_2)):
    after = None
    for page in pages:
        match = (
            [matchers.query_param_matcher({"after": after}, strict_match=False)] if after else []
        )
        if not after:
            match = [
                matchers.query_param_matcher(
                    {
                        "level": "ad",
                        "time_increment": "1",
                        "access_token": TOKEN,
                        "time_range": '{"since":"2025-03-01","until":"2025-03-02"}',
                    },
                    strict_match=False,
                )
            ]
        http.get(INSIGHTS, json=page, match=match)
        after = (page.get("paging") or {}).get("cursors", {}).get("after")


def stored(campaign):
    return sorted(
        (
            r.date,
            r.ad.external_id if r.ad else "",
            r.impressions,
            r.clicks,
            r.spend,
            r.conversions,
            r.conversion_value,
        )
        for r in InsightDaily.objects.filter(campaign=campaign).select_related("ad")
    )


def sync(campaign):
    return campaign_sync_insights(campaign=campaign, since=DAY1, until=DAY2)


def test_meta_sync_follows_cursors_turns_strings_into_numbers_and_counts_purchases_once(
    meta_campaign, http
):
    """https://developers.facebook.com/docs/marketing-api/insights (level=ad, time_increment=1,
    paging cursors, numbers as strings) and .../insights/parameters (actions, action_values)."""
    replay_meta(http)
    result = sync(meta_campaign)
    assert result.rows == 3
    assert result.unknown_ads == ["7777"]
    assert stored(meta_campaign) == [
        (DAY1, "9001", 1000, 40, Decimal("12.34"), Decimal("2"), Decimal("55.50")),
        (DAY1, "9002", 500, 10, Decimal("7.66"), Decimal("0"), Decimal("0")),
        (DAY2, "9001", 2000, 80, Decimal("20.00"), Decimal("3"), Decimal("90")),
    ]
    row = InsightDaily.objects.get(campaign=meta_campaign, ad__external_id="9001", date=DAY1)
    assert row.ad_set.external_id == "2381" and row.brand_id == meta_campaign.brand_id
    assert row.reach == 500 and row.currency == "EUR" and row.source == "api"
    assert AuditEvent.objects.filter(action="campaign.insights_synced").count() == 1


def test_a_leads_campaign_counts_leads_not_purchases(meta_campaign, http):
    """https://developers.facebook.com/docs/marketing-api/insights/parameters (actions)."""
    meta_campaign.objective = "leads"
    meta_campaign.save()
    replay_meta(http, pages=[{"data": [meta_row("9001", DAY1, "1.00", "10", "1", "2", "9")]}])
    sync(meta_campaign)
    assert InsightDaily.objects.get(campaign=meta_campaign).conversions == Decimal("7")


def test_syncing_twice_leaves_the_same_rows(meta_campaign, http):
    """https://developers.facebook.com/docs/marketing-api/insights"""
    replay_meta(http)
    replay_meta(http)
    sync(meta_campaign)
    first = stored(meta_campaign)
    sync(meta_campaign)
    assert stored(meta_campaign) == first
    assert InsightDaily.objects.filter(campaign=meta_campaign).count() == 3


def test_a_resync_replaces_the_days_it_covers(meta_campaign, http):
    """https://developers.facebook.com/docs/marketing-api/insights"""
    replay_meta(http)
    sync(meta_campaign)
    replay_meta(http, pages=[{"data": [meta_row("9002", DAY2, "1.00", "10", "1")]}])
    sync(meta_campaign)
    assert stored(meta_campaign) == [
        (DAY2, "9002", 10, 1, Decimal("1.00"), Decimal("0"), Decimal("0"))
    ]


def test_a_failing_third_page_leaves_the_previous_numbers_intact(meta_campaign, http):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (a 500 on a read)."""
    replay_meta(http)
    sync(meta_campaign)
    before = stored(meta_campaign)
    page_2_with_more = {**PAGE_2, "paging": {"cursors": {"after": "NDgZD"}, "next": "x"}}
    replay_meta(http, pages=[PAGE_1, page_2_with_more])
    http.get(
        INSIGHTS,
        json={
            "error": {"message": "An unknown error occurred", "code": 1, "type": "OAuthException"}
        },
        status=500,
        match=[matchers.query_param_matcher({"after": "NDgZD"}, strict_match=False)],
    )
    with pytest.raises(Exception, match="temporarily unavailable"):
        sync(meta_campaign)
    assert stored(meta_campaign) == before


@pytest.mark.parametrize("code", [17, 80000, 80004])
def test_meta_throttling_becomes_rate_limited_with_a_wait(meta_campaign, http, code):
    """https://developers.facebook.com/docs/marketing-api/overview/rate-limiting (code 17 and
    the 8000x business use case codes, with X-Business-Use-Case-Usage)."""
    usage = {"act_1": [{"type": "ads_insights", "estimated_time_to_regain_access": 3}]}
    http.get(
        INSIGHTS,
        json={
            "error": {
                "message": "User request limit reached",
                "code": code,
                "type": "OAuthException",
            }
        },
        status=400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    with pytest.raises(RateLimited) as caught:
        sync(meta_campaign)
    assert caught.value.retry_after == 180
    assert InsightDaily.objects.count() == 0


def test_sync_without_a_connected_account_says_so(brand):
    campaign = make_campaign(brand)
    SocialAccountFactory(
        brand=brand, platform="facebook", access_token="t", status=SocialAccount.Status.NEEDS_REAUTH
    )
    with pytest.raises(ValidationError, match="no connected Facebook Page account"):
        sync(campaign)


def test_linkedin_sync_reads_daily_campaign_analytics(brand, http):
    """https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting
    (q=analytics, pivot=CAMPAIGN, timeGranularity=DAILY, dateRange, versioned headers)."""
    SocialAccountFactory(brand=brand, platform="linkedin", handle="acme-li", access_token="li-tok")
    campaign = make_campaign(brand, platform="linkedin", external_id="123456", objective="leads")
    body = {
        "paging": {"start": 0, "count": 10, "links": []},
        "elements": [
            {
                "pivotValues": ["urn:li:sponsoredCampaign:123456"],
                "dateRange": {
                    "start": {"year": 2025, "month": 3, "day": 1},
                    "end": {"year": 2025, "month": 3, "day": 1},
                },
                "impressions": 2200,
                "clicks": 31,
                "costInLocalCurrency": "48.123",
                "externalWebsiteConversions": 4,
                "conversionValueInLocalCurrency": "400.0",
            }
        ],
    }
    http.get(
        "https://api.linkedin.com/rest/adAnalytics",
        json=body,
        match=[
            matchers.query_param_matcher(
                {
                    "q": "analytics",
                    "pivot": "CAMPAIGN",
                    "timeGranularity": "DAILY",
                    "dateRange": "(start:(year:2025,month:3,day:1),end:(year:2025,month:3,day:2))",
                    "campaigns": "List(urn:li:sponsoredCampaign:123456)",
                    "fields": ",".join(LINKEDIN_FIELDS),
                }
            ),
            matchers.header_matcher(
                {
                    "Authorization": "Bearer li-tok",
                    "LinkedIn-Version": LINKEDIN_VERSION,
                    "X-Restli-Protocol-Version": "2.0.0",
                }
            ),
        ],
    )
    assert sync(campaign).rows == 1
    row = InsightDaily.objects.get(campaign=campaign)
    assert (row.date, row.ad_id, row.impressions, row.clicks) == (DAY1, None, 2200, 31)
    assert (row.spend, row.conversions, row.conversion_value) == (
        Decimal("48.12"),
        Decimal("4"),
        Decimal("400.00"),
    )


def test_linkedin_429_is_rate_limited(brand, http):
    """https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits"""
    SocialAccountFactory(brand=brand, platform="linkedin", handle="acme-li", access_token="li-tok")
    campaign = make_campaign(brand, platform="linkedin", external_id="123456")
    http.get(
        "https://api.linkedin.com/rest/adAnalytics",
        json={"status": 429, "message": "Resource level throttle limit"},
        status=429,
        headers={"Retry-After": "60"},
    )
    with pytest.raises(RateLimited) as caught:
        sync(campaign)
    assert caught.value.retry_after == 60


def test_the_task_retries_a_throttled_sync_within_minutes(meta_campaign, monkeypatch):
    from ads import tasks

    def throttled(**kwargs):
        raise RateLimited(retry_after=7200)

    monkeypatch.setattr("ads.services.insights.campaign_sync_insights", throttled)
    retried = {}

    def fake_retry(**kwargs):
        retried.update(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.sync_campaign_insights, "retry", fake_retry)
    with pytest.raises(RuntimeError):
        tasks.sync_campaign_insights.run(str(meta_campaign.pk), "2025-03-01", "2025-03-02")
    assert retried["countdown"] == tasks.INSIGHTS_MAX_COUNTDOWN == 300.0


def test_the_daily_sweep_enqueues_active_linked_campaigns_only(brand, monkeypatch):
    from django.utils import timezone

    from ads import tasks

    today = timezone.now().date()
    live = make_campaign(brand, start_date=today - dt.timedelta(days=3))
    make_campaign(brand, name="Draft", status="draft", external_id="2")
    make_campaign(brand, name="Unlinked", external_id="")
    make_campaign(brand, name="On X", platform="x", external_id="3")
    sent = []
    monkeypatch.setattr(tasks.sync_campaign_insights, "delay", lambda pk: sent.append(pk))
    assert tasks.sync_all_insights.run() == 1
    assert sent == [str(live.pk)]
