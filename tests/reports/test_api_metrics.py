"""/api/v1/account-metrics/ and /api/v1/post-metrics/: organic snapshots, read only, as the
portal shows them to a brand's clients and the dashboard to its staff."""

import datetime as dt
import uuid

import pytest

from reports.models import AccountMetricsDaily, PostMetricsDaily
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

ACCOUNT_METRICS = "/api/v1/account-metrics/"
POST_METRICS = "/api/v1/post-metrics/"
D = dt.date


@pytest.fixture
def as_user(api_client):
    def _as(user):
        api_client.force_authenticate(user=user)
        return api_client

    return _as


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "detail", "fields"}
    if field is not None:
        assert field in body["fields"], body


@pytest.fixture
def snapshots(account, sibling_brand, other_account):
    ours = [
        AccountMetricsDaily.objects.create(
            account=account,
            date=D(2025, 3, day),
            followers=1000 + day,
            impressions=500 * day,
            reach=300 * day,
            engagements=20 * day,
            profile_views=day,
            link_clicks=2 * day,
        )
        for day in (1, 2, 3)
    ]
    sibling = AccountMetricsDaily.objects.create(
        account=SocialAccountFactory(brand=sibling_brand), date=D(2025, 3, 1), impressions=7
    )
    theirs = AccountMetricsDaily.objects.create(
        account=other_account, date=D(2025, 3, 1), impressions=9
    )
    return {"ours": ours, "sibling": sibling, "theirs": theirs}


# -- account snapshots --------------------------------------------------------------------------


def test_staff_list_the_snapshots_of_their_agencys_brands_with_their_numbers(
    as_user, manager, brand, account, snapshots
):
    response = as_user(manager).get(ACCOUNT_METRICS, {"brand": str(brand.pk)})
    assert ids(response) == {s.pk for s in snapshots["ours"]}
    newest = response.json()["results"][0]
    assert newest == {
        "id": snapshots["ours"][2].pk,
        "brand": str(brand.pk),
        "account": str(account.pk),
        "platform": account.platform,
        "date": "2025-03-03",
        "followers": 1003,
        "impressions": 1500,
        "reach": 900,
        "engagements": 60,
        "profile_views": 3,
        "link_clicks": 6,
        "synced_at": newest["synced_at"],
    }
    everything = as_user(manager).get(ACCOUNT_METRICS)
    assert ids(everything) == {s.pk for s in snapshots["ours"]} | {snapshots["sibling"].pk}


def test_a_client_reads_only_their_brands_snapshots(as_user, client_user, snapshots):
    assert ids(as_user(client_user).get(ACCOUNT_METRICS)) == {s.pk for s in snapshots["ours"]}


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_see_none_of_ours_and_get_404(request, as_user, persona, snapshots):
    client = as_user(request.getfixturevalue(persona))
    listed = ids(client.get(ACCOUNT_METRICS))
    assert not listed & {s.pk for s in snapshots["ours"]}
    response = client.get(f"{ACCOUNT_METRICS}{snapshots['ours'][0].pk}/")
    assert_error(response, 404)


def test_snapshots_filter_by_account_and_date_range(as_user, manager, account, snapshots):
    response = as_user(manager).get(
        ACCOUNT_METRICS, {"account": str(account.pk), "start": "2025-03-02", "end": "2025-03-03"}
    )
    assert ids(response) == {snapshots["ours"][1].pk, snapshots["ours"][2].pk}


def test_a_range_that_ends_before_it_starts_is_a_400_naming_the_end(as_user, manager, snapshots):
    response = as_user(manager).get(ACCOUNT_METRICS, {"start": "2025-03-03", "end": "2025-03-01"})
    assert_error(response, 400, field="end")


@pytest.mark.parametrize("persona", ["manager", "client_user"])
def test_snapshots_cannot_be_written_over_the_api(request, as_user, persona, account, snapshots):
    client = as_user(request.getfixturevalue(persona))
    created = client.post(ACCOUNT_METRICS, {"account": str(account.pk), "date": "2025-03-09"})
    assert created.status_code == 405
    deleted = client.delete(f"{ACCOUNT_METRICS}{snapshots['ours'][0].pk}/")
    assert deleted.status_code == 405
    assert AccountMetricsDaily.objects.filter(account=account).count() == 3


def test_the_snapshot_list_costs_the_same_queries_for_one_row_or_many(
    as_user, manager, account, django_assert_num_queries
):
    client = as_user(manager)
    AccountMetricsDaily.objects.create(account=account, date=D(2025, 1, 1))
    # Session-less: the user is forced. The caller's brands (read once per request, so the
    # lists filter by `brand_id IN (ids)`), the count, the page.
    with django_assert_num_queries(3):
        assert len(ids(client.get(ACCOUNT_METRICS))) == 1
    AccountMetricsDaily.objects.bulk_create(
        AccountMetricsDaily(account=SocialAccountFactory(brand=account.brand), date=D(2025, 1, 2))
        for _ in range(5)
    )
    with django_assert_num_queries(3):
        assert len(ids(client.get(ACCOUNT_METRICS))) == 6


# -- post snapshots -----------------------------------------------------------------------------


def published(**fields):
    return PostTargetFactory(state="published", external_id=f"ext-{uuid.uuid4().hex}", **fields)


@pytest.fixture
def post_snapshots(brand, account, other_brand):
    post = PostFactory(brand=brand)
    target = published(post=post, account=account)
    second = published(post=PostFactory(brand=brand), account=account)
    theirs = published(post=PostFactory(brand=other_brand))
    rows = {
        "day1": PostMetricsDaily.objects.create(
            target=target, date=D(2025, 3, 1), impressions=100, reach=80, engagements=8
        ),
        "day2": PostMetricsDaily.objects.create(
            target=target, date=D(2025, 3, 2), impressions=150, reach=120, engagements=12
        ),
        "second": PostMetricsDaily.objects.create(target=second, date=D(2025, 3, 2), reach=5),
        "theirs": PostMetricsDaily.objects.create(target=theirs, date=D(2025, 3, 2), reach=9),
    }
    return {"post": post, "target": target, **rows}


def test_post_snapshots_carry_their_post_account_and_brand(
    as_user, client_user, brand, account, post_snapshots
):
    response = as_user(client_user).get(POST_METRICS, {"post": str(post_snapshots["post"].pk)})
    assert ids(response) == {post_snapshots["day1"].pk, post_snapshots["day2"].pk}
    latest = response.json()["results"][0]
    assert latest["date"] == "2025-03-02"
    assert latest["post"] == str(post_snapshots["post"].pk)
    assert latest["target"] == str(post_snapshots["target"].pk)
    assert latest["account"] == str(account.pk)
    assert latest["brand"] == str(brand.pk)
    assert (latest["impressions"], latest["reach"], latest["engagements"]) == (150, 120, 12)
    assert latest["video_views"] is None


def test_post_snapshots_filter_by_brand_account_and_day(
    as_user, manager, brand, account, post_snapshots
):
    client = as_user(manager)
    everything = ids(client.get(POST_METRICS, {"brand": str(brand.pk)}))
    assert everything == {post_snapshots[k].pk for k in ("day1", "day2", "second")}
    one_day = client.get(
        POST_METRICS, {"account": str(account.pk), "start": "2025-03-02", "end": "2025-03-02"}
    )
    assert ids(one_day) == {post_snapshots["day2"].pk, post_snapshots["second"].pk}


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_post_snapshots_of_another_tenant_are_404(request, as_user, persona, post_snapshots):
    client = as_user(request.getfixturevalue(persona))
    assert post_snapshots["day1"].pk not in ids(client.get(POST_METRICS))
    assert_error(client.get(f"{POST_METRICS}{post_snapshots['day1'].pk}/"), 404)


def test_post_snapshot_list_query_count_does_not_grow_with_rows(
    as_user, manager, post_snapshots, django_assert_num_queries
):
    client = as_user(manager)
    # The caller's brands (read once per request), the count, the page.
    with django_assert_num_queries(3):
        assert len(ids(client.get(POST_METRICS))) == 3
    target = post_snapshots["target"]
    PostMetricsDaily.objects.bulk_create(
        PostMetricsDaily(target=target, date=D(2025, 4, day)) for day in range(1, 21)
    )
    with django_assert_num_queries(3):
        assert len(ids(client.get(POST_METRICS))) == 23
