"""Organic metrics: the sandbox's numbers, the sync, the backfill, and brand_report's maths
against hand-computed fixtures (brand in Europe/Berlin)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from types import SimpleNamespace

import pytest

import ads.selectors
from agency.models import AuditEvent, Platform, SocialAccount
from agency.platforms.metrics import (
    MetricsNotSupported,
    fetch_account_metrics,
    fetch_post_metrics,
)
from community.models import Conversation
from reports import tasks
from reports.models import AccountMetricsDaily, PostMetricsDaily
from reports.selectors import brand_report, period_dates, sort_best_posts
from reports.services import (
    metrics_backfill,
    metrics_sync_account,
    metrics_sync_brand,
    metrics_sync_post,
)
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

D = date(2025, 3, 10)  # a Monday
_threads = count()


def day_row(account, day, *, followers=None, impressions=0, reach=0, engagements=0, clicks=0):
    return AccountMetricsDaily.objects.create(
        account=account,
        date=day,
        followers=followers,
        impressions=impressions,
        reach=reach,
        engagements=engagements,
        link_clicks=clicks,
    )


def published(account, at, *, text="Hello", url=""):
    return PostTargetFactory(
        post=PostFactory(brand=account.brand, text=text),
        account=account,
        state="published",
        external_id=f"ext-{at.isoformat()}-{text}",
        external_url=url,
        published_at=at,
    )


def snapshot(target, day, *, engagements, reach, impressions=0):
    return PostMetricsDaily.objects.create(
        target=target, date=day, engagements=engagements, reach=reach, impressions=impressions
    )


@pytest.fixture
def no_ads(monkeypatch):
    """As before the ads selectors land: no paid data, no tracked links."""
    monkeypatch.delattr(ads.selectors, "brand_kpis", raising=False)
    monkeypatch.delattr(ads.selectors, "clicks_per_link_per_day", raising=False)


# -- the sandbox's numbers ----------------------------------------------------------------------


def test_sandbox_account_metrics_are_the_same_when_asked_twice(account):
    assert fetch_account_metrics(account, D) == fetch_account_metrics(account, D)


def test_sandbox_followers_grow_over_two_months(account):
    assert (
        fetch_account_metrics(account, D + timedelta(days=60))["followers"]
        > (fetch_account_metrics(account, D)["followers"])
    )


def test_sandbox_numbers_are_plausible(account):
    day = fetch_account_metrics(account, D)
    assert day["impressions"] >= day["reach"] >= day["engagements"] >= day["link_clicks"] >= 0
    assert 0 < day["reach"] < day["followers"]


def test_sandbox_post_totals_never_shrink_and_start_at_publishing(account):
    target = published(account, datetime(2025, 3, 10, 9, tzinfo=UTC))
    assert fetch_post_metrics(target, D - timedelta(days=1))["impressions"] == 0
    totals = [fetch_post_metrics(target, D + timedelta(days=n))["reach"] for n in range(10)]
    assert totals == sorted(totals)
    assert totals[0] > 0


def test_networks_without_metrics_access_say_so(brand):
    member = SocialAccountFactory(
        brand=brand, platform=Platform.LINKEDIN, external_id="urn:li:person:8675309"
    )
    with pytest.raises(MetricsNotSupported, match="organization pages only"):
        fetch_account_metrics(member, D)


# -- sync ---------------------------------------------------------------------------------------


def test_syncing_a_day_twice_keeps_one_row_with_the_same_numbers(account):
    first = metrics_sync_account(account=account, day=D)
    second = metrics_sync_account(account=account, day=D)
    assert AccountMetricsDaily.objects.filter(account=account).count() == 1
    assert (first.followers, first.reach) == (second.followers, second.reach)


def test_syncing_a_post_twice_keeps_one_row(account):
    target = published(account, datetime(2025, 3, 10, 9, tzinfo=UTC))
    metrics_sync_post(target=target, day=D)
    row = metrics_sync_post(target=target, day=D)
    assert PostMetricsDaily.objects.get(target=target).reach == row.reach > 0


def test_brand_sync_reads_yesterday_and_today_of_connected_accounts_and_recent_posts(brand):
    connected = SocialAccountFactory(brand=brand)
    SocialAccountFactory(brand=brand, status=SocialAccount.Status.DISCONNECTED)
    # A member profile: LinkedIn has analytics for organization pages only (skipped, no call).
    SocialAccountFactory(brand=brand, platform=Platform.LINKEDIN, external_id="urn:li:person:1")
    recent = published(connected, datetime.now(UTC) - timedelta(days=3))
    published(connected, datetime.now(UTC) - timedelta(days=45), text="old")

    counts = metrics_sync_brand(brand=brand)

    assert counts == {"accounts": 2, "posts": 2, "skipped": 2}
    assert AccountMetricsDaily.objects.filter(account=connected).count() == 2
    assert set(PostMetricsDaily.objects.values_list("target", flat=True)) == {recent.pk}
    event = AuditEvent.objects.get(action="metrics.synced")
    assert event.brand == brand and event.data["skipped"] == 2


def test_backfill_fills_sixty_days_and_running_it_again_changes_nothing(account):
    target = published(account, datetime.now(UTC) - timedelta(days=2))
    metrics_backfill(brand=account.brand, days=60)
    before = list(AccountMetricsDaily.objects.values_list("date", "followers", "reach"))
    metrics_backfill(brand=account.brand, days=60)
    after = list(AccountMetricsDaily.objects.values_list("date", "followers", "reach"))
    assert len(after) == 60 and before == after
    # The post has numbers from the day it was published (brand zone) to today: 3 days.
    assert PostMetricsDaily.objects.filter(target=target).count() == 3
    assert AuditEvent.objects.filter(action="metrics.backfilled").count() == 2


def test_daily_task_fans_out_one_sync_per_brand_with_connected_accounts(
    account, other_account, sibling_brand, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.sync_brand_metrics, "delay", sent.append)
    assert tasks.sync_metrics() == 2
    assert sorted(sent) == sorted([str(account.brand_id), str(other_account.brand_id)])


def test_brand_task_syncs_and_ignores_a_deleted_brand(account):
    tasks.sync_brand_metrics(str(account.brand_id))
    assert AccountMetricsDaily.objects.filter(account=account).count() == 2
    assert tasks.sync_brand_metrics("00000000-0000-0000-0000-000000000000") == {}


# -- brand_report maths -------------------------------------------------------------------------


def test_empty_period_is_zeros_and_nones_without_dividing_by_zero(brand, no_ads):
    report = brand_report(brand=brand, start=D, end=D + timedelta(days=6))
    for name in ("followers", "impressions", "reach", "engagements", "link_clicks"):
        assert report["organic"][name] == {"value": 0, "previous": 0, "change": None}
    assert report["organic"]["engagement_rate"] == {"value": None, "previous": None, "change": None}
    assert len(report["daily"]) == 7
    assert report["daily"][0] == {
        "date": D,
        "followers": None,
        "impressions": 0,
        "reach": 0,
        "engagements": 0,
    }
    assert report["best_posts"] == [] and report["best_times"] == []
    assert report["inbox"] == {
        "conversations": 0,
        "median_first_response_minutes": None,
        "median_resolution_minutes": None,
    }
    assert report["paid"] is None
    assert report["links"] == {"clicks": 0, "top": []}


def test_report_has_exactly_the_contract_keys(brand):
    report = brand_report(brand=brand, start=D, end=D)
    assert set(report) == {
        "brand",
        "start",
        "end",
        "previous_start",
        "previous_end",
        "organic",
        "daily",
        "best_posts",
        "best_times",
        "inbox",
        "paid",
        "links",
    }


def test_one_day_against_the_day_before(account):
    day_row(account, D - timedelta(days=1), followers=1100, impressions=500, reach=400,
            engagements=40)  # fmt: skip
    day_row(account, D, followers=1200, impressions=1000, reach=800, engagements=40, clicks=8)

    report = brand_report(brand=account.brand, start=D, end=D)

    assert (report["previous_start"], report["previous_end"]) == (D - timedelta(days=1),) * 2
    organic = report["organic"]
    assert organic["followers"] == {
        "value": 1200,
        "previous": 1100,
        "change": Decimal("0.0909"),  # 100 / 1100
    }
    assert organic["reach"] == {"value": 800, "previous": 400, "change": Decimal("1.0000")}
    assert organic["engagements"]["change"] == Decimal("0")
    assert organic["link_clicks"] == {"value": 8, "previous": 0, "change": None}
    # 40 / 800 = 5 % now, 40 / 400 = 10 % before: half as good.
    assert organic["engagement_rate"] == {
        "value": Decimal("0.0500"),
        "previous": Decimal("0.1000"),
        "change": Decimal("-0.5000"),
    }


def test_week_compares_with_the_week_before_and_sums_over_accounts(brand):
    first, second = SocialAccountFactory(brand=brand), SocialAccountFactory(brand=brand)
    start, end = date(2025, 3, 10), date(2025, 3, 16)
    day_row(first, date(2025, 3, 5), followers=90, reach=100, engagements=10)  # previous week
    day_row(first, date(2025, 3, 10), followers=100, reach=300, engagements=15)
    day_row(first, date(2025, 3, 12), followers=None, reach=200, engagements=5)
    day_row(first, date(2025, 3, 14), followers=110, reach=500, engagements=30)
    day_row(second, date(2025, 3, 11), followers=50, reach=0, engagements=0)
    day_row(second, date(2025, 3, 17), followers=999, reach=999, engagements=999)  # after

    report = brand_report(brand=brand, start=start, end=end)

    assert (report["previous_start"], report["previous_end"]) == (
        date(2025, 3, 3),
        date(2025, 3, 9),
    )
    organic = report["organic"]
    assert organic["followers"] == {"value": 160, "previous": 90, "change": Decimal("0.7778")}
    assert organic["reach"] == {"value": 1000, "previous": 100, "change": Decimal("9.0000")}
    assert organic["engagements"]["value"] == 50
    assert organic["engagement_rate"]["value"] == Decimal("0.0500")  # 50 / 1000
    assert organic["engagement_rate"]["change"] == Decimal("-0.5000")  # from 10 / 100
    # Followers carry over days an account did not report; the last day matches the KPI.
    assert [d["followers"] for d in report["daily"]] == [100, 150, 150, 150, 160, 160, 160]
    assert [d["reach"] for d in report["daily"]] == [300, 0, 200, 0, 500, 0, 0]


def test_engagement_rate_with_zero_reach_is_none_not_zero(account):
    day_row(account, D, reach=0, engagements=5)
    target = published(account, datetime(2025, 3, 10, 9, tzinfo=UTC))
    snapshot(target, D, engagements=3, reach=0)

    report = brand_report(brand=account.brand, start=D, end=D)

    assert report["organic"]["engagement_rate"] == {"value": None, "previous": None, "change": None}
    assert report["best_posts"][0]["engagement_rate"] is None


def test_a_post_at_2330_utc_counts_on_the_next_day_in_berlin(account):
    # 9 March 2025 23:30 UTC is Monday 10 March 00:30 in Berlin (CET, UTC+1).
    target = published(account, datetime(2025, 3, 9, 23, 30, tzinfo=UTC))
    snapshot(target, date(2025, 3, 10), engagements=12, reach=100)

    sunday = brand_report(brand=account.brand, start=date(2025, 3, 9), end=date(2025, 3, 9))
    monday = brand_report(brand=account.brand, start=date(2025, 3, 10), end=date(2025, 3, 10))

    assert sunday["best_posts"] == []
    assert [p["target_id"] for p in monday["best_posts"]] == [target.pk]
    assert monday["best_times"] == [
        {"weekday": "Monday", "hour": 0, "median_engagements": Decimal("12")}
    ]


def test_best_posts_are_the_top_five_by_engagements_as_of_the_last_day(account):
    targets = []
    for n, engagements in enumerate([5, 50, 20, 40, 10, 30]):
        target = published(account, datetime(2025, 3, 10, 8 + n, tzinfo=UTC), text=f"post {n}")
        snapshot(target, D, engagements=engagements // 2, reach=100)
        snapshot(target, D + timedelta(days=1), engagements=engagements, reach=200)
        snapshot(target, D + timedelta(days=5), engagements=1000, reach=1000)  # after the end
        targets.append(target)

    report = brand_report(brand=account.brand, start=D, end=D + timedelta(days=1))
    best = report["best_posts"]

    assert [p["engagements"] for p in best] == [50, 40, 30, 20, 10]
    assert best[0] == {
        "target_id": targets[1].pk,
        "text": "post 1",
        "account": account.handle,
        "platform": "Sandbox",
        "published_at": datetime(2025, 3, 10, 9, tzinfo=UTC),
        "engagements": 50,
        "reach": 200,
        "engagement_rate": Decimal("0.2500"),
        "url": "",
    }
    # Newest first: published at 13, 12, 11, 10 and 9 o'clock UTC.
    newest_first = sort_best_posts(best, sort="published_at")
    assert [p["engagements"] for p in newest_first] == [30, 10, 40, 20, 50]


def test_best_times_take_the_median_per_weekday_and_hour_in_the_brand_zone(account):
    # 10:xx Berlin on Monday (09:xx UTC): 10, 20 and 60 engagements -> median 20.
    for minute, engagements in [(0, 10), (20, 20), (40, 60)]:
        target = published(account, datetime(2025, 3, 10, 9, minute, tzinfo=UTC), text=str(minute))
        snapshot(target, D, engagements=engagements, reach=100)
    # Tuesday 18:xx Berlin: 30 and 40 -> median 35.
    for minute, engagements in [(0, 30), (30, 40)]:
        target = published(
            account, datetime(2025, 3, 11, 17, minute, tzinfo=UTC), text=f"t{minute}"
        )
        snapshot(target, D + timedelta(days=1), engagements=engagements, reach=100)

    report = brand_report(brand=account.brand, start=D, end=D + timedelta(days=1))

    assert report["best_times"] == [
        {"weekday": "Tuesday", "hour": 18, "median_engagements": Decimal("35")},
        {"weekday": "Monday", "hour": 10, "median_engagements": Decimal("20")},
    ]


def test_inbox_medians_are_minutes_of_conversations_started_in_the_period(account):
    def conversation(inbound, response=None, resolved=None):
        Conversation.objects.create(
            brand=account.brand,
            account=account,
            kind=Conversation.Kind.COMMENT,
            external_thread_id=f"r{next(_threads)}",
            first_inbound_at=inbound,
            first_response_at=response,
            resolved_at=resolved,
        )

    monday = datetime(2025, 3, 10, 9, tzinfo=UTC)
    conversation(monday, monday + timedelta(minutes=30), monday + timedelta(hours=2))
    conversation(monday, monday + timedelta(minutes=90))
    conversation(monday)  # unanswered: counted, no response time
    conversation(datetime(2025, 3, 9, 22, tzinfo=UTC), monday)  # Sunday in Berlin: outside

    report = brand_report(brand=account.brand, start=D, end=D)

    assert report["inbox"] == {
        "conversations": 3,
        "median_first_response_minutes": Decimal("60.0"),
        "median_resolution_minutes": Decimal("120.0"),
    }


def test_paid_and_links_come_from_the_ads_selectors_when_they_exist(brand, monkeypatch):
    calls = []

    def brand_kpis(*, brand, start, end, currency=None):
        calls.append((brand, start, end))
        return {
            "spend": Decimal("100.00"),
            "currency": "EUR",
            "impressions": 10000,
            "clicks": 200,
            "conversions": Decimal("4"),
            "conversion_value": Decimal("400.00"),
            "ctr": Decimal("0.02"),
            "cpc": Decimal("0.50"),
            "roas": Decimal("4.00"),
            "cpm": Decimal("10.00"),
        }

    def clicks_per_link_per_day(*, brand, start, end):
        spring = SimpleNamespace(code="spring", name="Spring menu")
        jobs = SimpleNamespace(code="jobs", name="Jobs")
        return [
            SimpleNamespace(link=spring, date=D, clicks=7),
            SimpleNamespace(link=jobs, date=D, clicks=2),
            SimpleNamespace(link=spring, date=D + timedelta(days=1), clicks=3),
        ]

    monkeypatch.setattr(ads.selectors, "brand_kpis", brand_kpis, raising=False)
    monkeypatch.setattr(
        ads.selectors, "clicks_per_link_per_day", clicks_per_link_per_day, raising=False
    )

    report = brand_report(brand=brand, start=D, end=D + timedelta(days=1))

    assert calls == [(brand, D, D + timedelta(days=1))]
    assert report["paid"]["roas"] == Decimal("4.00") and report["paid"]["currency"] == "EUR"
    assert set(report["paid"]) == {
        "spend",
        "currency",
        "impressions",
        "clicks",
        "conversions",
        "conversion_value",
        "ctr",
        "cpc",
        "roas",
    }
    assert report["links"] == {
        "clicks": 12,
        "top": [
            {"name": "Spring menu", "code": "spring", "clicks": 10},
            {"name": "Jobs", "code": "jobs", "clicks": 2},
        ],
    }


def test_a_period_that_ends_before_it_starts_is_refused(brand):
    with pytest.raises(ValueError, match="ends before it starts"):
        brand_report(brand=brand, start=D, end=D - timedelta(days=1))


def test_named_periods_end_today_and_this_month_starts_on_the_first(brand):
    assert period_dates(brand=brand, period="7", today=D) == (date(2025, 3, 4), D)
    assert period_dates(brand=brand, period="month", today=D) == (date(2025, 3, 1), D)


def test_real_ads_selectors_feed_links_and_paid(brand):
    from ads.models import LinkClickDaily, TrackedLink

    link = TrackedLink.objects.create(
        brand=brand, code="menu", name="Menu", destination="https://brand.example.com/menu"
    )
    LinkClickDaily.objects.create(link=link, date=D, clicks=4)
    LinkClickDaily.objects.create(link=link, date=D - timedelta(days=1), clicks=100)  # before

    report = brand_report(brand=brand, start=D, end=D)

    assert report["links"] == {"clicks": 4, "top": [{"name": "Menu", "code": "menu", "clicks": 4}]}
    # No campaigns: zeros in the brand's default currency, and no ratio divides by zero.
    assert report["paid"]["spend"] == 0 and report["paid"]["roas"] is None
