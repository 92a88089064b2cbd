"""Queue slots: the next free slot in the brand's zone (across DST), "add to queue", best times,
and the account's queue page."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Brand, Platform
from calendar_app.models import Post, PostTarget, QueueSlot, TargetState
from calendar_app.selectors import BEST_TIMES_MIN_POSTS, DEFAULT_BEST_TIMES, best_times
from calendar_app.services import (
    post_add_to_queue,
    post_create,
    slot_create,
    slot_delete,
    slot_next_free,
)
from reports.models import PostMetricsDaily
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

S = TargetState
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def next_change_days(zone, count=2):
    """The next local dates on which `zone` changes its UTC offset (the change happens during
    that day), found from today so the test never fakes the clock."""
    day = timezone.now().astimezone(zone).date() + timedelta(days=1)
    found = []
    while len(found) < count:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        if start.utcoffset() != end.utcoffset():
            found.append(day)
        day += timedelta(days=1)
    return found


def spring_forward_day():
    return next(d for d in next_change_days(BERLIN) if d.month in (3, 4))


def fall_back_day():
    return next(d for d in next_change_days(BERLIN) if d.month in (10, 11))


def local(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN, fold=fold)


def next_weekday(weekday: int, *, weeks_ahead: int = 1) -> date:
    today = timezone.now().astimezone(BERLIN).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks_ahead)


def occupy(account, at, state=S.SCHEDULED):
    post = PostFactory(brand=account.brand, scheduled_at=at)
    extra = (
        {"external_id": f"ext-{at.isoformat()}", "published_at": at} if state == S.PUBLISHED else {}
    )
    return PostTargetFactory(post=post, account=account, state=state, due_at=at, **extra)


# -- slot_next_free ------------------------------------------------------------------------------


def test_next_free_slot_is_the_next_wall_clock_slot_in_the_brands_zone(account, manager):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    slot_create(account=account, weekday=3, time=time(17, 30), by=manager)
    monday = next_weekday(0)
    after = local(monday, 12)

    first = slot_next_free(account=account, after=after)
    second = slot_next_free(account=account, after=first)

    assert first == local(monday + timedelta(days=1), 9)
    assert first.tzinfo == UTC
    assert second == local(monday + timedelta(days=3), 17, 30)


def test_a_slot_at_exactly_after_is_not_taken_strictly_later_is(account, manager):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    tuesday_nine = local(next_weekday(1), 9)
    assert slot_next_free(account=account, after=tuesday_nine) == tuesday_nine + timedelta(days=7)


@pytest.mark.parametrize("state", [S.DRAFT, S.SCHEDULED, S.QUEUED, S.PUBLISHED])
def test_a_slot_held_by_another_target_of_the_account_is_skipped(account, manager, state):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    slot_create(account=account, weekday=1, time=time(15, 0), by=manager)
    tuesday = next_weekday(1)
    occupy(account, local(tuesday, 9), state=state)

    assert slot_next_free(account=account, after=local(tuesday, 0)) == local(tuesday, 15)


@pytest.mark.parametrize("state", [S.FAILED, S.CANCELLED])
def test_a_failed_or_cancelled_target_does_not_hold_its_slot(account, manager, state):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    tuesday = next_weekday(1)
    occupy(account, local(tuesday, 9), state=state)
    assert slot_next_free(account=account, after=local(tuesday, 0)) == local(tuesday, 9)


def test_a_target_of_another_account_does_not_hold_the_slot(brand, account, manager):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    tuesday = next_weekday(1)
    occupy(SocialAccountFactory(brand=brand), local(tuesday, 9))
    assert slot_next_free(account=account, after=local(tuesday, 0)) == local(tuesday, 9)


def test_taken_instants_are_skipped_too(account, manager):
    slot_create(account=account, weekday=1, time=time(9, 0), by=manager)
    tuesday = next_weekday(1)
    assert slot_next_free(
        account=account, after=local(tuesday, 0), taken={local(tuesday, 9)}
    ) == local(tuesday + timedelta(days=7), 9)


def test_without_slots_the_message_says_where_to_add_them(account):
    with pytest.raises(ValidationError, match="no queue slots yet; add some on its queue page"):
        slot_next_free(account=account)


def test_a_slot_missing_on_the_spring_forward_day_moves_to_the_end_of_the_gap(account, manager):
    """02:30 does not exist in Berlin on that Sunday (02:00 -> 03:00): it is taken at 03:00
    CEST, which is 01:00 UTC."""
    day = spring_forward_day()
    slot_create(account=account, weekday=day.weekday(), time=time(2, 30), by=manager)

    got = slot_next_free(account=account, after=local(day - timedelta(days=1), 12))

    assert got == datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    assert got.astimezone(BERLIN).strftime("%H:%M") == "03:00"
    # A week later the slot exists again and is 02:30 CEST.
    following = slot_next_free(account=account, after=got)
    assert following.astimezone(BERLIN) == local(day + timedelta(days=7), 2, 30)


def test_an_ambiguous_slot_on_the_fall_back_day_is_taken_once_at_its_first_occurrence(
    account, manager
):
    """02:30 happens twice in Berlin on that Sunday: first in CEST (00:30 UTC), then in CET
    (01:30 UTC). Only the first is a slot; the repeat is not offered."""
    day = fall_back_day()
    slot_create(account=account, weekday=day.weekday(), time=time(2, 30), by=manager)

    got = slot_next_free(account=account, after=local(day - timedelta(days=1), 12))
    assert got == datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)

    occupy(account, got)
    after_repeat = slot_next_free(account=account, after=got)
    assert after_repeat != datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC)
    assert after_repeat.astimezone(BERLIN) == local(day + timedelta(days=7), 2, 30)


# -- slot_create / slot_delete ------------------------------------------------------------------


def test_a_duplicate_slot_is_refused_in_words(account, manager):
    slot_create(account=account, weekday=0, time=time(9, 0), by=manager)
    with pytest.raises(ValidationError, match="already has a slot on Monday at 09:00"):
        slot_create(account=account, weekday=0, time=time(9, 0, 30), by=manager)
    assert QueueSlot.objects.count() == 1


def test_slot_create_and_delete_leave_audit_events(account, manager):
    slot = slot_create(account=account, weekday=4, time=time(12, 0), by=manager)
    slot_delete(slot=slot, by=manager)
    assert not QueueSlot.objects.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "queue_slot.created",
        "queue_slot.deleted",
    ]


# -- post_add_to_queue ---------------------------------------------------------------------------


@pytest.fixture
def daily_slots(account, manager):
    for weekday in range(7):
        slot_create(account=account, weekday=weekday, time=time(9, 0), by=manager)
        slot_create(account=account, weekday=weekday, time=time(18, 0), by=manager)


def test_two_posts_queued_one_after_the_other_get_different_slots(
    brand, account, manager, daily_slots
):
    first = post_create(brand=brand, by=manager, accounts=[account], text="one")
    second = post_create(brand=brand, by=manager, accounts=[account], text="two")

    first = post_add_to_queue(post=first, by=manager)
    second = post_add_to_queue(post=second, by=manager)

    assert first.scheduled_at != second.scheduled_at
    assert first.scheduled_at < second.scheduled_at
    for post in (first, second):
        target = post.targets.get()
        assert target.state == S.SCHEDULED
        assert target.due_at == post.scheduled_at
        assert target.due_at.astimezone(BERLIN).strftime("%H:%M") in ("09:00", "18:00")
    assert first.approval_state == Post.Approval.APPROVED


def test_each_account_gets_its_own_next_free_slot_and_the_post_the_earliest(
    brand, account, manager
):
    # Both accounts share one daily slot, six hours from now: which slot comes next can then
    # not depend on the time of day the test runs (with 09:00 and 18:00 for one account and
    # 09:00 for the other, it failed whenever it ran between 09:00 and 18:00 in Berlin), and no
    # slot falls due between the two queueings.
    at = (
        (timezone.now().astimezone(brand.zone) + timedelta(hours=6))
        .time()
        .replace(second=0, microsecond=0)
    )
    other = SocialAccountFactory(brand=brand, handle="@acme_other")
    for weekday in range(7):
        slot_create(account=account, weekday=weekday, time=at, by=manager)
        slot_create(account=other, weekday=weekday, time=at, by=manager)
    blocker = post_create(brand=brand, by=manager, accounts=[account], text="blocker")
    post_add_to_queue(post=blocker, by=manager)
    blocked_at = blocker.targets.get().due_at

    post = post_add_to_queue(
        post=post_create(brand=brand, by=manager, accounts=[account, other], text="both"),
        by=manager,
    )

    mine = post.targets.get(account=account)
    theirs = post.targets.get(account=other)
    assert theirs.due_at == blocked_at  # the other account's slot at that time is still free
    assert mine.due_at > blocked_at
    assert post.scheduled_at == min(mine.due_at, theirs.due_at)
    assert {mine.state, theirs.state} == {S.SCHEDULED}


def test_with_a_workflow_queueing_keeps_the_times_and_the_targets_wait(
    brand, account, manager, daily_slots
):
    brand.approval_workflow = Brand.ApprovalWorkflow.INTERNAL
    brand.save()
    post = post_create(brand=brand, by=manager, accounts=[account], text="review me")

    post = post_add_to_queue(post=post, by=manager)

    target = post.targets.get()
    assert post.scheduled_at is not None
    assert post.approval_state == Post.Approval.DRAFT
    assert target.state == S.DRAFT
    assert target.due_at == post.scheduled_at
    # The waiting draft holds its slot: the next post gets another one.
    second = post_add_to_queue(
        post=post_create(brand=brand, by=manager, accounts=[account], text="next"), by=manager
    )
    assert second.scheduled_at > post.scheduled_at


def test_queueing_without_slots_is_refused_and_changes_nothing(brand, account, manager):
    post = post_create(brand=brand, by=manager, accounts=[account], text="no slots")
    with pytest.raises(ValidationError, match="no queue slots yet"):
        post_add_to_queue(post=post, by=manager)
    post.refresh_from_db()
    assert post.scheduled_at is None
    assert post.targets.get().state == S.DRAFT


def test_a_published_post_cannot_be_queued_again(brand, account, manager, daily_slots):
    post = post_create(brand=brand, by=manager, accounts=[account], text="done")
    PostTarget.objects.filter(post=post).update(state=S.PUBLISHED, external_id="x1")
    with pytest.raises(ValidationError, match="published"):
        post_add_to_queue(post=post, by=manager)


# -- best times ----------------------------------------------------------------------------------


def publish_with_metrics(account, at, engagements):
    target = occupy(account, at, state=S.PUBLISHED)
    # Cumulative rows: only the latest counts.
    PostMetricsDaily.objects.create(target=target, date=at.date(), engagements=1)
    PostMetricsDaily.objects.create(
        target=target, date=at.date() + timedelta(days=1), engagements=engagements
    )
    return target


def test_best_times_with_too_little_history_are_the_platforms_generic_defaults(account):
    monday = next_weekday(0, weeks_ahead=-3)
    for i in range(BEST_TIMES_MIN_POSTS - 1):
        publish_with_metrics(account, local(monday, 10) + timedelta(days=i % 5), 50)

    best = best_times(account=account, limit=3)

    assert best["source"] == "defaults"
    assert best["slots"] == DEFAULT_BEST_TIMES[Platform.SANDBOX][:3]
    assert "Generic" in best["explanation"]
    assert f"{BEST_TIMES_MIN_POSTS - 1} published posts" in best["explanation"]


def test_best_times_from_history_rank_hours_in_the_brands_zone_by_median_engagements(account):
    monday = next_weekday(0, weeks_ahead=-4)
    # Tuesdays 19:00 Berlin: steady 100; Wednesdays 08:00: one viral post among weak ones;
    # Mondays 12:00: 60.
    for week in range(4):
        publish_with_metrics(account, local(monday + timedelta(days=7 * week + 1), 19), 100)
        publish_with_metrics(account, local(monday + timedelta(days=7 * week), 12), 60)
    for engagements in (5000, 10, 10):
        publish_with_metrics(account, local(monday + timedelta(days=2), 8), engagements)
        monday += timedelta(days=7)
    # A published target without metrics is not counted.
    occupy(account, local(monday, 7), state=S.PUBLISHED)

    best = best_times(account=account, limit=3)

    assert best["source"] == "history"
    assert best["slots"] == [(1, 19), (0, 12), (2, 8)]
    assert "11 published posts" in best["explanation"]
    assert "median engagements" in best["explanation"]
    assert best["labels"][0] == "Tuesday 19:00"


# -- the queue page ------------------------------------------------------------------------------


def queue_url(account):
    return reverse("calendar:account-queue", args=[account.pk])


def test_manager_sees_the_week_the_zone_and_the_suggestions(login, manager, account):
    QueueSlot.objects.create(account=account, weekday=2, time=time(7, 45))
    page = login(manager).get(queue_url(account)).content.decode()
    assert "Wednesday" in page
    assert "07:45" in page
    assert "Europe/Berlin" in page
    assert "Generic suggestions." in page
    assert "Add suggested slots" in page


def test_marketer_reads_the_queue_without_buttons(login, marketer, account):
    response = login(marketer).get(queue_url(account))
    assert response.status_code == 200
    assert "Add slot" not in response.content.decode()


def test_manager_adds_a_slot_in_the_brands_zone(login, manager, account):
    response = login(manager).post(
        reverse("calendar:slot-create", args=[account.pk]), {"weekday": "4", "time": "16:15"}
    )
    assert response.status_code == 302
    slot = QueueSlot.objects.get()
    assert (slot.account, slot.weekday, slot.time) == (account, 4, time(16, 15))


def test_a_duplicate_or_bad_slot_shows_the_reason_and_adds_nothing(login, manager, account):
    QueueSlot.objects.create(account=account, weekday=4, time=time(16, 15))
    client = login(manager)
    duplicate = client.post(
        reverse("calendar:slot-create", args=[account.pk]), {"weekday": "4", "time": "16:15"}
    )
    bad = client.post(
        reverse("calendar:slot-create", args=[account.pk]), {"weekday": "9", "time": "25:99"}
    )
    assert duplicate.status_code == bad.status_code == 400
    assert "already has a slot on Friday at 16:15" in duplicate.content.decode()
    assert "Nothing was saved" in bad.content.decode()
    assert QueueSlot.objects.count() == 1


def test_manager_deletes_a_slot(login, manager, account):
    slot = QueueSlot.objects.create(account=account, weekday=4, time=time(16, 15))
    response = login(manager).post(reverse("calendar:slot-delete", args=[slot.pk]))
    assert response.status_code == 302
    assert not QueueSlot.objects.exists()


def test_one_click_adds_the_suggested_slots_once(login, manager, account):
    client = login(manager)
    url = reverse("calendar:slots-add-suggested", args=[account.pk])
    client.post(url)
    client.post(url)
    expected = {(d, time(h)) for d, h in DEFAULT_BEST_TIMES[Platform.SANDBOX][:3]}
    assert set(QueueSlot.objects.values_list("weekday", "time")) == expected


def test_manager_adds_a_post_to_the_queue_from_its_page(login, manager, brand, account):
    QueueSlot.objects.create(account=account, weekday=0, time=time(9, 0))
    post = post_create(brand=brand, by=manager, accounts=[account], text="queue me")
    response = login(manager).post(reverse("calendar:post-add-to-queue", args=[post.pk]))
    assert response.status_code == 302
    target = post.targets.get()
    assert target.state == S.SCHEDULED
    assert target.due_at.astimezone(BERLIN).strftime("%a %H:%M") == "Mon 09:00"


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_foreign_users_get_404_on_every_queue_endpoint(
    login, personas, brand, account, manager, who
):
    slot = QueueSlot.objects.create(account=account, weekday=0, time=time(9, 0))
    post = post_create(brand=brand, by=manager, accounts=[account], text="queue me")
    client = login(personas[who])
    assert client.get(queue_url(account)).status_code == 404
    for url in (
        reverse("calendar:slot-create", args=[account.pk]),
        reverse("calendar:slots-add-suggested", args=[account.pk]),
        reverse("calendar:slot-delete", args=[slot.pk]),
        reverse("calendar:post-add-to-queue", args=[post.pk]),
    ):
        assert client.post(url, {"weekday": "1", "time": "10:00"}).status_code == 404, url
    assert list(QueueSlot.objects.all()) == [slot]
    assert post.targets.get().state == S.DRAFT


@pytest.mark.parametrize("who", ["client_user", "marketer"])
def test_clients_and_marketers_get_403_on_queue_writes(
    login, personas, brand, account, manager, who
):
    slot = QueueSlot.objects.create(account=account, weekday=0, time=time(9, 0))
    post = post_create(brand=brand, by=manager, accounts=[account], text="queue me")
    client = login(personas[who])
    for url in (
        reverse("calendar:slot-create", args=[account.pk]),
        reverse("calendar:slots-add-suggested", args=[account.pk]),
        reverse("calendar:slot-delete", args=[slot.pk]),
        reverse("calendar:post-add-to-queue", args=[post.pk]),
    ):
        assert client.post(url, {"weekday": "1", "time": "10:00"}).status_code == 403, url
    assert list(QueueSlot.objects.all()) == [slot]
    assert post.targets.get().state == S.DRAFT


def test_a_client_does_not_see_the_queue_page(login, client_user, account):
    assert login(client_user).get(queue_url(account)).status_code == 403


def test_the_queue_page_takes_a_fixed_number_of_queries(
    login, manager, account, django_assert_max_num_queries
):
    for weekday in range(7):
        QueueSlot.objects.create(account=account, weekday=weekday, time=time(9, 0))
        QueueSlot.objects.create(account=account, weekday=weekday, time=time(18, 0))
    client = login(manager)
    with django_assert_max_num_queries(12):
        assert client.get(queue_url(account)).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_people_queueing_at_the_same_moment_get_different_slots(monkeypatch):
    """Both choose a slot at once; the lock on the account row makes the second wait for the
    first to commit, so it sees the first's slot as taken. The pause after choosing widens the
    race so that without the lock both would pick the same slot."""
    import threading
    import time as clock

    from django.db import connection, connections

    from calendar_app.services import slots as slot_services
    from tests.factories import BrandFactory, UserFactory

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (scripts/test.sh)")
    brand = BrandFactory()
    account = SocialAccountFactory(brand=brand)
    manager = UserFactory(username="race_manager")
    for weekday in range(7):
        QueueSlot.objects.create(account=account, weekday=weekday, time=time(9, 0))
    posts = [
        post_create(brand=brand, by=manager, accounts=[account], text=f"racer {i}")
        for i in range(2)
    ]
    original = slot_services.slot_next_free

    def slow_next_free(**kwargs):
        found = original(**kwargs)
        clock.sleep(0.5)
        return found

    monkeypatch.setattr(slot_services, "slot_next_free", slow_next_free)
    start = threading.Barrier(2)
    errors = []

    def queue(post):
        try:
            start.wait()
            post_add_to_queue(post=post, by=manager)
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=queue, args=(p,)) for p in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    due = sorted(PostTarget.objects.filter(account=account).values_list("due_at", flat=True))
    assert len(due) == 2
    assert due[0] != due[1]
