"""/api/v1/goals/: SMART goals with their live progress; written by the roles that write
reports (admin, manager, marketer), read by the brand's clients too."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from agency.models import AuditEvent
from reports.models import AccountMetricsDaily, Goal
from tests.factories import SocialAccountFactory

GOALS = "/api/v1/goals/"


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


def url(goal):
    return f"{GOALS}{goal.pk}/"


@pytest.fixture
def today(brand):
    return timezone.localdate(timezone=brand.zone)


@pytest.fixture
def goal(brand, account, today):
    # Ten-day window, halfway through today: expected 1000 + 1000 * 0.5 = 1500.
    AccountMetricsDaily.objects.create(account=account, date=today, followers=1400)
    return Goal.objects.create(
        brand=brand,
        name="Grow to 2,000 followers",
        metric=Goal.Metric.FOLLOWERS,
        account=account,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(2000),
        baseline=Decimal(1000),
        start_date=today - dt.timedelta(days=5),
        due_date=today + dt.timedelta(days=5),
    )


def payload(brand, today, **fields):
    return {
        "brand": str(brand.pk),
        "name": "Reach 10,000 people this month",
        "metric": "reach",
        "direction": "at_least",
        "target": "10000",
        "start_date": str(today - dt.timedelta(days=1)),
        "due_date": str(today + dt.timedelta(days=29)),
    } | fields


# -- reading ------------------------------------------------------------------------------------


def test_a_client_reads_their_brands_goals_with_live_progress(as_user, client_user, goal, today):
    response = as_user(client_user).get(GOALS)
    assert ids(response) == {str(goal.pk)}
    row = response.json()["results"][0]
    assert row["name"] == "Grow to 2,000 followers"
    assert row["metric"] == "followers"
    assert row["target"] == "2000.0000"
    live = row["live"]
    assert live["as_of"] == str(today)
    assert Decimal(live["current"]) == 1400
    assert Decimal(live["expected"]) == 1500
    assert live["progress"] == 0.4
    assert live["progress_percent"] == 40
    assert live["expected_progress"] == 0.5
    assert live["status"] == "on_track"


def test_goals_filter_by_brand_metric_and_active_day(as_user, manager, goal, sibling_brand, today):
    Goal.objects.create(
        brand=sibling_brand,
        name="Old reach goal",
        metric=Goal.Metric.REACH,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(5),
        start_date=today - dt.timedelta(days=60),
        due_date=today - dt.timedelta(days=30),
    )
    client = as_user(manager)
    assert len(ids(client.get(GOALS))) == 2
    assert ids(client.get(GOALS, {"brand": str(goal.brand_id)})) == {str(goal.pk)}
    assert ids(client.get(GOALS, {"metric": "followers"})) == {str(goal.pk)}
    assert ids(client.get(GOALS, {"active_on": str(today)})) == {str(goal.pk)}


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_get_404_and_cannot_change_a_goal(request, as_user, persona, goal):
    client = as_user(request.getfixturevalue(persona))
    assert str(goal.pk) not in ids(client.get(GOALS))
    assert_error(client.get(url(goal)), 404)
    assert_error(client.patch(url(goal), {"name": "Hijacked"}), 404)
    assert_error(client.delete(url(goal)), 404)
    goal.refresh_from_db()
    assert goal.name == "Grow to 2,000 followers"


def test_an_outsider_cannot_create_a_goal_for_our_brand(as_user, outsider, brand, today):
    response = as_user(outsider).post(GOALS, payload(brand, today))
    assert_error(response, 400, field="brand")
    assert not Goal.objects.exists()


# -- writing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager", "marketer", "admin"])
def test_staff_who_write_reports_create_a_goal_with_an_audit_event(
    request, as_user, persona, brand, today
):
    user = request.getfixturevalue(persona)
    response = as_user(user).post(GOALS, payload(brand, today, owner=user.pk))
    assert response.status_code == 201, response.content
    body = response.json()
    goal = Goal.objects.get(pk=body["id"])
    assert (goal.brand, goal.metric, goal.target, goal.owner) == (
        brand,
        "reach",
        Decimal(10000),
        user,
    )
    assert body["live"]["status"] == "not_started"  # no reach recorded yet
    event = AuditEvent.objects.get(action="goal.created")
    assert (event.actor, event.brand, event.target_id) == (user, brand, str(goal.pk))


def test_a_client_cannot_create_change_or_delete_goals(as_user, client_user, goal, brand, today):
    client = as_user(client_user)
    assert_error(client.post(GOALS, payload(brand, today)), 403)
    assert_error(client.patch(url(goal), {"name": "Changed by the client"}), 403)
    assert_error(client.delete(url(goal)), 403)
    assert Goal.objects.get().name == "Grow to 2,000 followers"


def test_updating_a_goal_recomputes_its_progress_and_keeps_its_brand(
    as_user, marketer, goal, sibling_brand
):
    response = as_user(marketer).patch(
        url(goal), {"target": "1500", "brand": str(sibling_brand.pk)}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["brand"] == str(goal.brand_id)
    assert body["target"] == "1500.0000"
    assert body["live"]["progress"] == 0.8  # (1400 - 1000) / (1500 - 1000)
    goal.refresh_from_db()
    assert goal.target == Decimal(1500)
    assert goal.brand_id != sibling_brand.pk
    assert AuditEvent.objects.filter(action="goal.updated", data__fields=["target"]).exists()


def test_deleting_a_goal_is_audited(as_user, manager, goal):
    assert as_user(manager).delete(url(goal)).status_code == 204
    assert not Goal.objects.exists()
    assert AuditEvent.objects.filter(action="goal.deleted", data__name=goal.name).exists()


def test_a_due_date_before_the_start_is_refused_in_words(as_user, manager, brand, today):
    response = as_user(manager).post(
        GOALS, payload(brand, today, due_date=str(today - dt.timedelta(days=3)))
    )
    assert_error(response, 400, field="due_date")
    assert "after the start date" in response.json()["fields"]["due_date"][0]


def test_an_account_of_another_brand_is_refused(as_user, manager, brand, sibling_brand, today):
    sibling_account = SocialAccountFactory(brand=sibling_brand)
    response = as_user(manager).post(GOALS, payload(brand, today, account=str(sibling_account.pk)))
    assert_error(response, 400, field="account")
    assert response.json()["fields"]["account"] == ["That account belongs to another brand."]


def test_an_account_the_caller_cannot_see_does_not_exist(as_user, manager, brand, today):
    hidden = SocialAccountFactory()  # another agency's
    response = as_user(manager).post(GOALS, payload(brand, today, account=str(hidden.pk)))
    assert_error(response, 400, field="account")
    assert not Goal.objects.exists()


def test_the_goal_list_costs_one_query_per_followers_goal_plus_three(
    as_user, manager, goal, account, django_assert_num_queries
):
    # Progress is computed on each read (the latest followers count: one query per goal);
    # the metrics rows behind it never add queries. The fixed three: the caller's brands (read
    # once per request, so the list filters by `brand_id IN (ids)`), the count, the page.
    client = as_user(manager)
    with django_assert_num_queries(3 + 1):
        assert len(ids(client.get(GOALS))) == 1
    for n in range(2):
        Goal.objects.create(
            brand=goal.brand,
            name=f"Followers {n}",
            metric=Goal.Metric.FOLLOWERS,
            direction=Goal.Direction.AT_LEAST,
            target=Decimal(3000),
            baseline=Decimal(1000),
            start_date=goal.start_date,
            due_date=goal.due_date,
        )
    with django_assert_num_queries(3 + 3):
        assert len(ids(client.get(GOALS))) == 3


def test_a_token_with_only_reports_read_reads_goals_but_cannot_write_them(
    client, manager, goal, brand, today
):
    from agency.services import api_token_create

    _, key = api_token_create(user=manager, name="read only", scopes=["reports:read"])
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get(GOALS, **auth).status_code == 200
    created = client.post(GOALS, payload(brand, today), content_type="application/json", **auth)
    assert_error(created, 403)
    assert "reports:write" in created.json()["detail"]
    assert Goal.objects.count() == 1
