"""SMART goals: the maths of progress and status (hand-computed), validation in words, the
status-recording sweep, and the staff's goal pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from agency.models import AuditEvent, Notification
from community.models import Conversation
from reports.models import AccountMetricsDaily, Goal
from reports.selectors.goals import goal_progress
from reports.services.goals import (
    goal_create,
    goal_delete,
    goal_update,
    goals_record_statuses,
)
from tests.factories import SocialAccountFactory

D = dt.date
START, DUE = D(2025, 1, 1), D(2025, 1, 11)  # ten days: each day is a tenth of the way


def make_goal(brand, **fields):
    values = {
        "name": "Grow to 2,000 followers by 11 January",
        "metric": Goal.Metric.FOLLOWERS,
        "direction": Goal.Direction.AT_LEAST,
        "target": Decimal(2000),
        "baseline": Decimal(1000),
        "start_date": START,
        "due_date": DUE,
    } | fields
    return Goal.objects.create(brand=brand, **values)


def snapshot(account, day, **values):
    return AccountMetricsDaily.objects.create(account=account, date=day, **values)


@pytest.fixture
def second_account(brand):
    return SocialAccountFactory(brand=brand, handle="@acme_second")


# -- progress and status ------------------------------------------------------------------------


def test_followers_halfway_exactly_ten_percent_behind_is_still_on_track(
    brand, account, second_account
):
    # Day 5 of 10: expected 1000 + 1000 * 0.5 = 1500. Followers: 900 + 500 = 1400 (the latest
    # count of each account on or before day 5); behind by 100 = 10 % of 1000: not more.
    snapshot(account, D(2025, 1, 3), followers=800)
    snapshot(account, D(2025, 1, 5), followers=900)
    snapshot(account, D(2025, 1, 8), followers=5000)  # after today: ignored
    snapshot(second_account, D(2025, 1, 2), followers=500)
    result = goal_progress(goal=make_goal(brand), today=D(2025, 1, 6))
    assert result["current"] == Decimal(1400)
    assert result["expected"] == Decimal(1500)
    assert result["progress"] == 0.4
    assert result["expected_progress"] == 0.5
    assert result["status"] == Goal.Status.ON_TRACK


def test_followers_more_than_ten_percent_behind_is_at_risk(brand, account):
    snapshot(account, D(2025, 1, 5), followers=1390)  # 110 behind 1500
    result = goal_progress(goal=make_goal(brand), today=D(2025, 1, 6))
    assert result["progress"] == 0.39
    assert result["status"] == Goal.Status.AT_RISK


def test_a_goal_for_one_account_counts_only_that_account(brand, account, second_account):
    snapshot(account, D(2025, 1, 5), followers=1200)
    snapshot(second_account, D(2025, 1, 5), followers=700)
    goal = make_goal(brand, account=second_account, baseline=Decimal(600), target=Decimal(800))
    assert goal_progress(goal=goal, today=D(2025, 1, 6))["current"] == Decimal(700)


def test_target_met_before_the_due_date_is_achieved(brand, account):
    snapshot(account, D(2025, 1, 4), followers=2001)
    result = goal_progress(goal=make_goal(brand), today=D(2025, 1, 4))
    assert result["status"] == Goal.Status.ACHIEVED
    assert result["progress"] == 1.0


def test_past_due_and_not_met_is_missed_judged_on_the_due_date(brand, account):
    snapshot(account, D(2025, 1, 10), followers=1900)
    snapshot(account, D(2025, 1, 20), followers=2500)  # after the due date: too late
    result = goal_progress(goal=make_goal(brand), today=D(2025, 1, 25))
    assert result["as_of"] == DUE
    assert result["current"] == Decimal(1900)
    assert result["expected"] == Decimal(2000)
    assert result["status"] == Goal.Status.MISSED


def test_before_the_start_date_is_not_started(brand, account):
    snapshot(account, D(2024, 12, 30), followers=1500)
    result = goal_progress(goal=make_goal(brand), today=D(2024, 12, 31))
    assert result["current"] is None
    assert result["status"] == Goal.Status.NOT_STARTED


def test_no_data_yet_is_not_started_and_no_data_at_the_due_date_is_missed(brand, account):
    goal = make_goal(brand)
    assert goal_progress(goal=goal, today=D(2025, 1, 3))["status"] == Goal.Status.NOT_STARTED
    assert goal_progress(goal=goal, today=D(2025, 1, 12))["status"] == Goal.Status.MISSED


def test_impressions_are_summed_over_the_window_from_zero(brand, account, second_account):
    snapshot(account, D(2024, 12, 31), impressions=9999)  # before the start
    snapshot(account, D(2025, 1, 1), impressions=100)
    snapshot(account, D(2025, 1, 2), impressions=200)
    snapshot(second_account, D(2025, 1, 3), impressions=300)
    snapshot(account, D(2025, 1, 5), impressions=9999)  # after today
    goal = make_goal(brand, metric=Goal.Metric.IMPRESSIONS, baseline=None, target=Decimal(3000))
    # Day 3 of 10 (as of the 4th): expected 3000 * 0.3 = 900; current 600, 300 behind > 300? No:
    # exactly 10 % of 3000 is 300, so on track.
    result = goal_progress(goal=goal, today=D(2025, 1, 4))
    assert result["baseline"] == 0
    assert result["current"] == Decimal(600)
    assert result["expected"] == Decimal(900)
    assert result["progress"] == 0.2
    assert result["status"] == Goal.Status.ON_TRACK


def test_engagement_rate_is_engagements_over_reach_in_per_cent(brand, account):
    snapshot(account, D(2025, 1, 2), reach=1000, engagements=30)
    snapshot(account, D(2025, 1, 3), reach=3000, engagements=130)
    goal = make_goal(
        brand,
        metric=Goal.Metric.ENGAGEMENT_RATE,
        baseline=Decimal(2),
        target=Decimal(6),
    )
    # 160 / 4000 = 4 %; expected on day 4 of 10: 2 + 4 * 0.4 = 3.6; ahead of the line.
    result = goal_progress(goal=goal, today=D(2025, 1, 5))
    assert result["current"] == Decimal("4.00")
    assert result["expected"] == Decimal("3.60")
    assert result["progress"] == 0.5
    assert result["status"] == Goal.Status.ON_TRACK


def _conversation(brand, account, n, inbound, minutes):
    return Conversation.objects.create(
        brand=brand,
        account=account,
        kind=Conversation.Kind.values[0],
        external_thread_id=f"thread-{n}",
        first_inbound_at=inbound,
        first_response_at=inbound + dt.timedelta(minutes=minutes) if minutes else None,
    )


def test_median_first_response_stays_at_most_the_target(brand, account):
    at = dt.datetime(2025, 1, 2, 9, 0, tzinfo=brand.zone)
    for n, minutes in enumerate([600, 1200, 1800]):  # median 1200 minutes (20 hours)
        _conversation(brand, account, n, at, minutes)
    _conversation(brand, account, 9, at - dt.timedelta(days=5), 5000)  # before the start
    goal = make_goal(
        brand,
        name="Median first response under 24 hours by 11 January",
        metric=Goal.Metric.MEDIAN_FIRST_RESPONSE,
        direction=Goal.Direction.AT_MOST,
        baseline=Decimal(2880),
        target=Decimal(1440),
    )
    result = goal_progress(goal=goal, today=D(2025, 1, 3))
    assert result["current"] == Decimal(1200)
    assert result["status"] == Goal.Status.ACHIEVED


def test_median_first_response_slower_than_the_line_is_at_risk(brand, account):
    at = dt.datetime(2025, 1, 2, 9, 0, tzinfo=brand.zone)
    _conversation(brand, account, 1, at, 2700)
    goal = make_goal(
        brand,
        metric=Goal.Metric.MEDIAN_FIRST_RESPONSE,
        direction=Goal.Direction.AT_MOST,
        baseline=Decimal(2880),
        target=Decimal(1440),
    )
    # Day 5 of 10: expected 2880 - 1440 * 0.5 = 2160; 2700 is 540 slower > 144 (10 % of 1440).
    result = goal_progress(goal=goal, today=D(2025, 1, 6))
    assert result["expected"] == Decimal(2160)
    assert result["progress"] == 0.125  # (2700 - 2880) / (1440 - 2880)
    assert result["status"] == Goal.Status.AT_RISK


def test_paid_goal_without_ads_kpis_has_no_data(brand, monkeypatch):
    import ads.selectors

    monkeypatch.delattr(ads.selectors, "brand_kpis", raising=False)
    goal = make_goal(brand, metric=Goal.Metric.CONVERSIONS, baseline=None, target=Decimal(50))
    result = goal_progress(goal=goal, today=D(2025, 1, 6))
    assert result["current"] is None
    assert result["status"] == Goal.Status.NOT_STARTED


@pytest.mark.parametrize(
    ("spent", "today", "status"),
    [
        ("400", D(2025, 1, 6), Goal.Status.ON_TRACK),  # line: 500; under it
        ("650", D(2025, 1, 6), Goal.Status.AT_RISK),  # 150 ahead of the line > 100
        ("1001", D(2025, 1, 8), Goal.Status.MISSED),  # over the cap: missed at once
        ("990", D(2025, 1, 12), Goal.Status.ACHIEVED),  # the period ended under the cap
    ],
)
def test_spending_cap_from_the_ads_kpis(brand, monkeypatch, spent, today, status):
    import ads.selectors

    calls = []

    def brand_kpis(*, brand, start, end):
        calls.append((brand, start, end))
        return {"spend": Decimal(spent), "clicks": 10}

    monkeypatch.setattr(ads.selectors, "brand_kpis", brand_kpis, raising=False)
    goal = make_goal(
        brand,
        metric=Goal.Metric.SPEND,
        direction=Goal.Direction.AT_MOST,
        baseline=None,
        target=Decimal(1000),
    )
    result = goal_progress(goal=goal, today=today)
    assert result["current"] == Decimal(spent)
    assert result["status"] == status
    assert calls == [(brand, START, min(today, DUE))]


# -- validation ---------------------------------------------------------------------------------


def _fields(**changes):
    return {
        "name": "Answer faster",
        "metric": Goal.Metric.MEDIAN_FIRST_RESPONSE,
        "direction": Goal.Direction.AT_MOST,
        "target": Decimal(1440),
        "start_date": START,
        "due_date": DUE,
    } | changes


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"due_date": START}, "due_date", "must come after the start date"),
        ({"target": Decimal(0)}, "target", "must be more than zero"),
        ({"direction": Goal.Direction.AT_LEAST}, "direction", "choose “Stay at or under”"),
        (
            {"metric": Goal.Metric.FOLLOWERS, "direction": Goal.Direction.AT_MOST},
            "direction",
            "choose “Reach at least”",
        ),
        ({"baseline": Decimal(-1)}, "baseline", "cannot be below zero"),
    ],
)
def test_invalid_goal_is_refused_in_words(brand, manager, changes, field, words):
    with pytest.raises(ValidationError) as caught:
        goal_create(brand=brand, by=manager, **_fields(**changes))
    assert any(words in message for message in caught.value.message_dict[field])
    assert not Goal.objects.exists()


def test_account_of_another_brand_or_on_an_inbox_goal_is_refused(
    brand, manager, account, other_account
):
    with pytest.raises(ValidationError) as caught:
        goal_create(
            brand=brand,
            by=manager,
            **_fields(
                metric=Goal.Metric.REACH,
                direction=Goal.Direction.AT_LEAST,
                account=other_account,
            ),
        )
    assert "belongs to another brand" in caught.value.message_dict["account"][0]
    with pytest.raises(ValidationError) as caught:
        goal_create(brand=brand, by=manager, **_fields(account=account))
    assert "leave the account empty" in caught.value.message_dict["account"][0]


def test_owner_must_be_staff_of_the_agency(brand, manager, outsider):
    with pytest.raises(ValidationError) as caught:
        goal_create(brand=brand, by=manager, **_fields(owner=outsider))
    assert "must work at the brand's agency" in caught.value.message_dict["owner"][0]


def test_create_update_delete_leave_audit_events(brand, manager):
    goal = goal_create(brand=brand, by=manager, **_fields(owner=manager))
    goal_update(goal=goal, by=manager, data={"target": Decimal(720), "name": "Answer faster"})
    goal.refresh_from_db()
    assert goal.target == Decimal(720)
    with pytest.raises(ValidationError):
        goal_update(goal=goal, by=manager, data={"due_date": D(2024, 12, 1)})
    goal_delete(goal=Goal.objects.get(), by=manager)
    assert not Goal.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "data"))
    assert actions[0][0] == "goal.created"
    assert actions[1] == ("goal.updated", {"fields": ["target"]})
    assert actions[2][0] == "goal.deleted"


# -- the status sweep ---------------------------------------------------------------------------


def test_status_changes_are_recorded_once_and_the_owner_is_told(brand, account, manager):
    goal = make_goal(brand, owner=manager)
    manager.email = "max@example.com"
    manager.save()

    # Day 2: followers 1100, line 1100: on track; the first look is recorded but is not news.
    snapshot(account, D(2025, 1, 2), followers=1100)
    assert goals_record_statuses(today=D(2025, 1, 3)) == 1
    goal.refresh_from_db()
    assert goal.last_status == Goal.Status.ON_TRACK
    first_changed_at = goal.status_changed_at
    assert first_changed_at is not None
    assert not Notification.objects.exists()

    # Unchanged: nothing recorded again.
    assert goals_record_statuses(today=D(2025, 1, 3)) == 0
    goal.refresh_from_db()
    assert goal.status_changed_at == first_changed_at

    # Day 6: still 1100 against a line of 1600 (500 behind > 100): at risk, the owner hears.
    assert goals_record_statuses(today=D(2025, 1, 7)) == 1
    goal.refresh_from_db()
    assert goal.last_status == Goal.Status.AT_RISK
    assert goal.status_changed_at > first_changed_at
    note = Notification.objects.get(user=manager)
    assert "at risk" in note.title
    assert "from on track to at risk" in note.body
    assert note.url == reverse("reports:goal-list", args=[brand.pk])
    assert len(mail.outbox) == 1

    # Day 8: 2100 followers: achieved.
    snapshot(account, D(2025, 1, 8), followers=2100)
    assert goals_record_statuses(today=D(2025, 1, 8)) == 1
    goal.refresh_from_db()
    assert goal.last_status == Goal.Status.ACHIEVED
    assert Notification.objects.filter(user=manager).count() == 2
    events = AuditEvent.objects.filter(action="goal.status_changed").order_by("id")
    assert [(e.data["from"], e.data["to"]) for e in events] == [
        ("", "on_track"),
        ("on_track", "at_risk"),
        ("at_risk", "achieved"),
    ]


def test_a_goal_missed_long_ago_is_no_longer_evaluated(brand, account, django_assert_num_queries):
    make_goal(brand, last_status=Goal.Status.MISSED)
    with django_assert_num_queries(1):  # the selection only
        assert goals_record_statuses(today=D(2025, 3, 1)) == 0


def test_a_first_look_that_finds_the_goal_at_risk_is_news(brand, account, manager):
    make_goal(brand, owner=manager)
    snapshot(account, D(2025, 1, 2), followers=1000)
    goals_record_statuses(today=D(2025, 1, 8))
    assert Notification.objects.filter(user=manager, title__contains="at risk").exists()


def test_the_beat_task_runs_the_sweep(brand, account):
    from reports.tasks import record_goal_statuses

    make_goal(brand, start_date=D(2000, 1, 1), due_date=D(2000, 1, 2))
    assert record_goal_statuses() == 1
    assert Goal.objects.get().last_status == Goal.Status.MISSED


# -- pages --------------------------------------------------------------------------------------


def _post_data(**changes):
    return {
        "name": "Grow to 2,000 followers",
        "metric": "followers",
        "account": "",
        "direction": "at_least",
        "target": "2000",
        "baseline": "1000",
        "start_date": "2025-01-01",
        "due_date": "2025-01-11",
        "owner": "",
    } | changes


def test_marketer_adds_a_goal_and_sees_it_with_its_status(login, marketer, brand, account):
    client = login(marketer)
    response = client.post(reverse("reports:goal-create", args=[brand.pk]), _post_data())
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert goal.brand == brand
    content = client.get(reverse("reports:goal-list", args=[brand.pk])).content.decode()
    assert "Grow to 2,000 followers" in content
    assert "Missed" in content or "Achieved" in content  # 2025 is over


def test_goal_form_shows_the_services_words(login, manager, brand):
    response = login(manager).post(
        reverse("reports:goal-create", args=[brand.pk]),
        _post_data(metric="median_first_response"),
    )
    assert response.status_code == 200
    assert "is something to keep down" in response.content.decode()
    assert not Goal.objects.exists()


def test_manager_edits_and_deletes_a_goal(login, manager, brand):
    goal = make_goal(brand)
    client = login(manager)
    client.post(reverse("reports:goal-edit", args=[brand.pk, goal.pk]), _post_data(target="3000"))
    goal.refresh_from_db()
    assert goal.target == Decimal(3000)
    client.post(reverse("reports:goal-delete", args=[brand.pk, goal.pk]))
    assert not Goal.objects.exists()


def _goal_urls(brand, goal):
    return [
        ("get", reverse("reports:goal-list", args=[brand.pk])),
        ("get", reverse("reports:goal-create", args=[brand.pk])),
        ("post", reverse("reports:goal-create", args=[brand.pk])),
        ("get", reverse("reports:goal-edit", args=[brand.pk, goal.pk])),
        ("post", reverse("reports:goal-edit", args=[brand.pk, goal.pk])),
        ("post", reverse("reports:goal-delete", args=[brand.pk, goal.pk])),
    ]


def test_outsider_and_the_client_of_another_brand_get_404(login, outsider, other_client, brand):
    goal = make_goal(brand)
    for user in (outsider, other_client):
        client = login(user)
        for method, url in _goal_urls(brand, goal):
            response = getattr(client, method)(url, _post_data(target="1"))
            assert response.status_code == 404, (user, url)
    assert Goal.objects.get().target == Decimal(2000)


def test_the_brands_own_client_gets_403_and_changes_nothing(login, client_user, brand):
    goal = make_goal(brand)
    client = login(client_user)
    for method, url in _goal_urls(brand, goal):
        assert getattr(client, method)(url, _post_data(target="1")).status_code == 403, url
    assert Goal.objects.get().target == Decimal(2000)


def test_goal_of_another_brand_is_404_under_this_brand(login, manager, brand, sibling_brand):
    goal = make_goal(sibling_brand)
    url = reverse("reports:goal-edit", args=[brand.pk, goal.pk])
    assert login(manager).get(url).status_code == 404
