"""The content calendar: events in the brand's wall-clock time, drag to reschedule, CSV export."""

import csv
import io
import json
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Platform, SocialAccount
from calendar_app import selectors
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.selectors import CalendarFilters
from tests.calendar_app.test_schedule_time import next_transitions
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

S = TargetState
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
EVENTS = reverse("calendar:calendar-events")
EXPORT = reverse("calendar:calendar-export")
PAGE = reverse("calendar:calendar")


def berlin(day, hour=9, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def in_days(days, hour=9):
    return berlin((timezone.now().astimezone(BERLIN) + timedelta(days=days)).date(), hour)


def plan(account, at, *, state=S.SCHEDULED, **post_fields):
    """A post on one account, planned for `at`, its target in `state`."""
    post = PostFactory(brand=account.brand, scheduled_at=at, **post_fields)
    fields = {"due_at": at} if state in (S.SCHEDULED, S.QUEUED, S.PUBLISHING) else {}
    if state == S.PUBLISHED:
        fields = {"due_at": at, "published_at": at, "external_id": "ext-1"}
    return PostTargetFactory(post=post, account=account, state=state, **fields)


def window(at, days=3):
    """A wall-clock range around `at`, as FullCalendar sends it (it thinks it is UTC)."""
    local = at.astimezone(BERLIN).replace(tzinfo=None)
    return {
        "start": (local - timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z"),
        "end": (local + timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z"),
    }


def events(client, **params):
    response = client.get(EVENTS, params)
    assert response.status_code == 200, response.content
    return response.json()


def reschedule(client, target, start):
    return client.post(
        reverse("calendar:target-reschedule", args=[target.pk]),
        data=json.dumps({"start": start}),
        content_type="application/json",
    )


# -- events --------------------------------------------------------------------------------------


def test_events_show_targets_at_the_brands_wall_clock_time(login, manager, brand, account):
    at = in_days(5, hour=9)
    target = plan(account, at, title="Spring roast")
    [event] = events(login(manager), brand=brand.pk, **window(at))
    assert event["id"] == str(target.pk)
    assert event["start"] == at.replace(tzinfo=None).isoformat(timespec="seconds")
    assert "+" not in event["start"] and "Z" not in event["start"]
    assert event["url"] == reverse("calendar:post-detail", args=[target.post_id])
    assert event["editable"] is True
    assert "Scheduled" in event["title"]
    assert "Spring roast" in event["title"] and "@acmecoffee" in event["title"]
    assert {"cal-platform--sandbox", "cal-state--scheduled"} <= set(event["classNames"])
    props = event["extendedProps"]
    assert props["postId"] == str(target.post_id)
    assert (props["state"], props["platform"], props["account"]) == (
        "scheduled",
        "sandbox",
        "@acmecoffee",
    )


@pytest.mark.parametrize(
    ("approval", "state", "shown"),
    [
        (Post.Approval.DRAFT, S.DRAFT, "draft"),
        (Post.Approval.IN_REVIEW, S.DRAFT, "in_review"),
        (Post.Approval.CLIENT_REVIEW, S.DRAFT, "in_review"),
        (Post.Approval.APPROVED, S.DRAFT, "approved"),
        (Post.Approval.APPROVED, S.PUBLISHED, "published"),
        (Post.Approval.APPROVED, S.UNCONFIRMED, "failed"),
    ],
)
def test_events_say_the_state_in_class_and_words(
    login, manager, brand, account, approval, state, shown
):
    at = in_days(4)
    plan(account, at, state=state, approval_state=approval)
    [event] = events(login(manager), brand=brand.pk, **window(at))
    assert event["extendedProps"]["state"] == shown
    assert f"cal-state--{shown}" in event["classNames"]
    assert event["title"].startswith(event["extendedProps"]["stateLabel"])


@pytest.mark.parametrize("persona", ["outsider"])  # clients: kept out by reports.middleware
def test_others_see_no_events_of_a_brand_they_cannot_read(
    request, login, brand, account, sibling_brand, persona
):
    at = in_days(3)
    foreign = plan(account, at)
    own_account = (
        SocialAccountFactory(brand=sibling_brand)
        if persona == "other_client"
        else SocialAccountFactory(brand=request.getfixturevalue("other_brand"))
    )
    own = plan(own_account, at)
    client = login(request.getfixturevalue(persona))
    ids = {e["id"] for e in events(client, **window(at))}
    assert ids == {str(own.pk)}
    assert str(foreign.pk) not in ids


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
@pytest.mark.parametrize("url", [EVENTS, EXPORT, PAGE])
def test_filtering_on_a_foreign_brand_is_404(request, login, brand, account, persona, url):
    plan(account, in_days(3))
    client = login(request.getfixturevalue(persona))
    response = client.get(url, {"brand": brand.pk, **window(in_days(3))})
    assert response.status_code == 404
    assert b"@acmecoffee" not in response.content


@pytest.mark.parametrize("persona", ["marketer"])  # clients: in the portal (reports.middleware)
def test_readers_see_events_but_none_are_editable(request, login, brand, account, persona):
    at = in_days(3)
    plan(account, at)
    plan(SocialAccountFactory(brand=brand), at, state=S.DRAFT)
    found = events(login(request.getfixturevalue(persona)), brand=brand.pk, **window(at))
    assert len(found) == 2
    assert [e["editable"] for e in found] == [False, False]


def test_only_draft_and_scheduled_targets_are_editable(login, manager, brand, account):
    at = in_days(3)
    published = plan(account, at, state=S.PUBLISHED)
    queued = plan(SocialAccountFactory(brand=brand), at, state=S.QUEUED)
    draft = plan(SocialAccountFactory(brand=brand), at, state=S.DRAFT)
    editable = {
        e["id"]: e["editable"] for e in events(login(manager), brand=brand.pk, **window(at))
    }
    assert editable == {str(published.pk): False, str(queued.pk): False, str(draft.pk): True}


def test_filters_narrow_the_events(login, manager, brand, account):
    at = in_days(3)
    wanted = plan(account, at, tags=["Launch", "coffee"])
    plan(account, at + timedelta(hours=1), tags=["coffee"])
    x_account = SocialAccountFactory(brand=brand, platform=Platform.X)
    x_target = plan(x_account, at, state=S.DRAFT, approval_state=Post.Approval.IN_REVIEW)
    cancelled = plan(account, at + timedelta(hours=2), state=S.CANCELLED)
    client = login(manager)
    base = {"brand": brand.pk, **window(at)}

    def ids(**params):
        return {e["id"] for e in events(client, **base, **params)}

    assert ids(tag="#launch") == {str(wanted.pk)}
    assert ids(platform="x") == {str(x_target.pk)}
    assert ids(account=x_account.pk) == {str(x_target.pk)}
    assert ids(state="in_review") == {str(x_target.pk)}
    assert str(cancelled.pk) not in ids()
    assert ids(state="cancelled") == {str(cancelled.pk)}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"platform": "myspace"}, "platforms listed"),
        ({"state": "lost"}, "states listed"),
        ({"start": "yesterday"}, "not a date"),
        ({"start": "2030-01-02", "end": "2030-01-01"}, "after its start"),
        ({"start": "2030-01-01", "end": "2032-01-01"}, "400 days"),
        ({"start": "", "end": ""}, "start and end"),
        ({"per_day": "many"}, "whole number of posts per day"),
        ({"per_day": "0"}, "greater than or equal to 1"),
    ],
)
def test_invalid_filters_are_400_in_words(login, manager, brand, params, words):
    query = {"brand": brand.pk, "start": "2030-01-01", "end": "2030-02-01", **params}
    response = login(manager).get(EVENTS, query)
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_month_view_shows_a_days_first_posts_and_one_more_for_the_rest(
    login, manager, brand, account
):
    busy_day, quiet_day = in_days(6, hour=8), in_days(7, hour=8)
    busy = [plan(account, busy_day + timedelta(minutes=10 * n)) for n in range(5)]
    quiet = plan(account, quiet_day)
    shown = events(login(manager), brand=brand.pk, per_day=2, **window(busy_day, days=4))
    timed = [e for e in shown if "more" not in e["extendedProps"]]
    # The busy day's two earliest, the quiet day's one; the busy day's other three in one event.
    assert [e["id"] for e in timed] == [str(busy[0].pk), str(busy[1].pk), str(quiet.pk)]
    [more] = [e for e in shown if "more" in e["extendedProps"]]
    day = busy_day.date().isoformat()
    assert more["title"] == "+3 more"
    assert more["extendedProps"] == {"more": 3, "date": day}
    assert more["start"] == f"{day}T23:59:59" and more["editable"] is False
    # Without per_day (week and day views) every post is there.
    assert len(events(login(manager), brand=brand.pk, **window(busy_day, days=4))) == 6


def test_an_account_of_another_brand_is_400_not_its_events(
    login, manager, brand, sibling_brand, other_account
):
    sibling_account = SocialAccountFactory(brand=sibling_brand)
    client = login(manager)
    for account in (sibling_account, other_account):
        query = {"brand": brand.pk, "account": account.pk, **window(in_days(3))}
        response = client.get(EVENTS, query)
        assert response.status_code == 400
        assert "accounts listed" in response.json()["error"]


def test_all_brands_show_each_target_in_its_own_brands_zone(
    login, manager, brand, account, sibling_brand
):
    sibling_brand.time_zone = "America/New_York"
    sibling_brand.save()
    at = in_days(6, hour=9)
    plan(account, at)
    ny_at = at.astimezone(zoneinfo.ZoneInfo("America/New_York")).replace(hour=9)
    plan(SocialAccountFactory(brand=sibling_brand), ny_at)
    found = events(login(manager), brand="", **window(at))
    assert sorted(e["start"][11:] for e in found) == ["09:00:00", "09:00:00"]
    assert {e["extendedProps"]["timeZone"] for e in found} == {"Europe/Berlin", "America/New_York"}


def test_the_switchers_brand_is_used_when_no_brand_is_asked_for(
    login, manager, brand, account, sibling_brand
):
    at = in_days(3)
    mine = plan(account, at)
    plan(SocialAccountFactory(brand=sibling_brand), at)
    client = login(manager)
    session = client.session
    session["current_brand_id"] = str(brand.pk)
    session.save()
    assert {e["id"] for e in events(client, **window(at))} == {str(mine.pk)}


def _count_queries(client, params):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(EVENTS, params).status_code == 200
    return len(queries)


def test_events_take_the_same_number_of_queries_for_2_and_30_targets(
    login, manager, brand, account
):
    at = in_days(3)
    client = login(manager)
    params = {"brand": brand.pk, **window(at, days=10)}
    for i in range(2):
        plan(SocialAccountFactory(brand=brand), at + timedelta(hours=i))
    few = _count_queries(client, params)
    for i in range(28):
        plan(SocialAccountFactory(brand=brand), at + timedelta(hours=i, minutes=30))
    assert len(client.get(EVENTS, params).json()) == 30
    assert _count_queries(client, params) == few


def test_the_selector_reads_any_number_of_targets_in_a_fixed_number_of_queries(
    manager, brand, account, django_assert_num_queries
):
    at = in_days(3)
    for i in range(12):
        plan(SocialAccountFactory(brand=brand), at + timedelta(hours=i))
    start, end = (
        (at - timedelta(days=1)).replace(tzinfo=None),
        (at + timedelta(days=2)).replace(tzinfo=None),
    )
    # The user's brands, the posts planned in the range (with what the events show of them),
    # the posts of targets due or published in it, the targets: whatever the number of
    # targets. (Four since the feed reads the posts' titles with their plan rather than again
    # as models afterwards.)
    with django_assert_num_queries(4):
        found = selectors.calendar_events(
            user=manager, brand=brand, start=start, end=end, filters=CalendarFilters()
        )
    assert len(found) == 12


def test_drafts_cost_one_more_query_however_many(manager, brand, account):
    at = in_days(3)
    start, end = (
        (at - timedelta(days=1)).replace(tzinfo=None),
        (at + timedelta(days=2)).replace(tzinfo=None),
    )

    def queries():
        with CaptureQueriesContext(connection) as captured:
            selectors.calendar_events(
                user=manager, brand=brand, start=start, end=end, filters=CalendarFilters()
            )
        return len(captured)

    plan(SocialAccountFactory(brand=brand), at, state=S.DRAFT)
    one = queries()
    for i in range(1, 10):
        plan(SocialAccountFactory(brand=brand), at + timedelta(hours=i), state=S.DRAFT)
    # The fifth: which drafts share their post's time with a scheduled target.
    assert one == queries() == 5


def test_a_draft_whose_post_has_a_scheduled_target_is_pinned(login, manager, brand, account):
    at = in_days(3)
    pinned = plan(account, at, state=S.DRAFT)
    scheduled = PostTargetFactory(
        post=pinned.post,
        account=SocialAccountFactory(brand=brand),
        state=S.SCHEDULED,
        due_at=at,
    )
    free = plan(SocialAccountFactory(brand=brand), at + timedelta(hours=1), state=S.DRAFT)
    editable = {
        e["id"]: e["editable"] for e in events(login(manager), brand=brand.pk, **window(at))
    }
    assert editable == {str(pinned.pk): False, str(scheduled.pk): True, str(free.pk): True}


def test_the_feed_places_every_target_as_the_entries_do(manager, brand, account, sibling_brand):
    """The feed works out each target's time in Python, the API's entries in SQL: the same
    targets at the same times, in the same order, with the same words and rights."""
    sibling_brand.time_zone = "America/New_York"
    sibling_brand.save()
    at = in_days(4)
    plan(account, at, state=S.DRAFT)
    plan(account, at + timedelta(hours=1), state=S.SCHEDULED, title="Plain")
    late = plan(account, at - timedelta(days=9), state=S.PUBLISHED)
    late.published_at = at + timedelta(hours=2)  # planned long before, went out in range
    late.save()
    moved = plan(account, at + timedelta(days=20), state=S.SCHEDULED)
    moved.due_at = at + timedelta(hours=3)  # moved into the range away from its plan
    moved.save()
    plan(account, at + timedelta(hours=4), state=S.CANCELLED)
    plan(account, at - timedelta(days=12), state=S.SCHEDULED)  # out of range
    plan(SocialAccountFactory(brand=sibling_brand), at + timedelta(hours=5), text="x " * 40)
    start, end = (
        (at - timedelta(days=1)).replace(tzinfo=None),
        (at + timedelta(days=2)).replace(tzinfo=None),
    )
    for shown in (brand, None):
        found = selectors.calendar_events(
            user=manager, brand=shown, start=start, end=end, filters=CalendarFilters()
        )
        entries = selectors.calendar_entries(
            user=manager, brand=shown, start=start, end=end, filters=CalendarFilters()
        )
        assert [
            (e["id"], e["start"], e["extendedProps"]["state"], e["editable"]) for e in found
        ] == [
            (
                str(x.target.pk),
                x.local.replace(tzinfo=None).isoformat(timespec="seconds"),
                x.state,
                x.editable,
            )
            for x in entries
        ]
    assert len(found) == 5  # all but the cancelled one and the one out of range


# -- the page ------------------------------------------------------------------------------------


def test_the_page_names_the_brands_zone_and_feeds_the_filters_to_the_events_url(
    login, manager, brand, account
):
    response = login(manager).get(PAGE, {"brand": brand.pk, "platform": "sandbox"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Europe/Berlin" in page
    assert f"{EVENTS}?brand={brand.pk}&amp;platform=sandbox" in page
    assert "js/calendar.js" in page and "fullcalendar/index.global.min.js" in page
    assert "onclick" not in page


def test_the_page_for_all_brands_says_each_post_uses_its_brands_zone(login, manager, brand):
    page = login(manager).get(PAGE, {"brand": ""}).content.decode()
    assert "its own brand&#x27;s time zone" in page or "its own brand's time zone" in page


def test_the_page_shows_bad_filters_in_words(login, manager, brand):
    response = login(manager).get(PAGE, {"brand": brand.pk, "state": "lost"})
    assert response.status_code == 400
    assert "Choose one of the states listed." in response.content.decode()


# -- reschedule ----------------------------------------------------------------------------------


def test_manager_moves_a_scheduled_target_across_a_dst_change(login, manager, brand, account):
    change = next_transitions(BERLIN)[0]
    before = berlin(change - timedelta(days=1), 9)
    if before <= timezone.now():
        pytest.skip("the change is tomorrow morning; the day before is already past")
    target = plan(account, before)
    response = reschedule(login(manager), target, f"{change + timedelta(days=1)}T09:00:00Z")
    assert response.status_code == 200, response.content
    after = berlin(change + timedelta(days=1), 9)
    # The offset differs on either side of the change, so the UTC hour does too.
    assert before.utcoffset() != after.utcoffset()
    target.refresh_from_db()
    assert target.state == S.SCHEDULED
    assert target.due_at == after.astimezone(UTC)
    assert target.due_at.astimezone(BERLIN).hour == 9
    assert Post.objects.get(pk=target.post_id).scheduled_at == after
    body = response.json()
    assert body["start"] == f"{change + timedelta(days=1)}T09:00:00"
    assert body["timeZone"] == "Europe/Berlin"
    audit = AuditEvent.objects.get(action="post_target.rescheduled")
    assert (audit.actor, audit.brand, audit.target_id) == (manager, brand, str(target.pk))


def test_posts_time_stays_the_earliest_of_its_targets(login, manager, brand, account):
    at = in_days(3)
    target = plan(account, at)
    other = PostTargetFactory(
        post=target.post, account=SocialAccountFactory(brand=brand), state=S.SCHEDULED, due_at=at
    )
    later = in_days(5)
    assert reschedule(login(manager), target, later.strftime("%Y-%m-%dT%H:%M")).status_code == 200
    post = Post.objects.get(pk=target.post_id)
    assert post.scheduled_at == at
    other.refresh_from_db()
    assert other.due_at == at


def test_moving_a_draft_moves_its_posts_plan(login, manager, brand, account):
    target = plan(account, in_days(3), state=S.DRAFT, approval_state=Post.Approval.DRAFT)
    new = in_days(4, hour=15)
    response = reschedule(login(manager), target, new.strftime("%Y-%m-%dT%H:%M:%S"))
    assert response.status_code == 200, response.content
    assert response.json()["refetch"] is True
    target.refresh_from_db()
    assert (target.state, target.due_at) == (S.DRAFT, None)
    assert Post.objects.get(pk=target.post_id).scheduled_at == new


def test_a_draft_sharing_its_post_with_a_scheduled_target_is_not_moved(
    login, manager, brand, account
):
    at = in_days(3)
    scheduled = plan(account, at)
    draft = PostTargetFactory(
        post=scheduled.post, account=SocialAccountFactory(brand=brand), state=S.DRAFT
    )
    response = reschedule(login(manager), draft, in_days(4).strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 400
    assert "open the post" in response.json()["error"]
    assert Post.objects.get(pk=scheduled.post_id).scheduled_at == at


def _unchanged(target, at):
    target.refresh_from_db()
    assert target.due_at == at
    assert Post.objects.get(pk=target.post_id).scheduled_at == at
    assert not AuditEvent.objects.filter(action="post_target.rescheduled").exists()


@pytest.mark.parametrize("persona", ["marketer", "client_user"])
def test_readers_cannot_reschedule(request, login, brand, account, persona):
    at = in_days(3)
    target = plan(account, at)
    response = reschedule(
        login(request.getfixturevalue(persona)), target, in_days(4).strftime("%Y-%m-%dT%H:%M")
    )
    assert response.status_code == 403
    assert "can read but not change" in response.json()["error"]
    _unchanged(target, at)


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_rescheduling_a_foreign_target_is_404(request, login, brand, account, persona):
    at = in_days(3)
    target = plan(account, at)
    response = reschedule(
        login(request.getfixturevalue(persona)), target, in_days(4).strftime("%Y-%m-%dT%H:%M")
    )
    assert response.status_code == 404
    _unchanged(target, at)


@pytest.mark.parametrize(
    ("setup", "start", "words"),
    [
        (lambda t: None, "past", "in the past"),
        (
            lambda t: PostTarget.objects.filter(pk=t.pk).update(
                state=S.PUBLISHED, external_id="ext-9"
            ),
            "future",
            "already published",
        ),
        (
            lambda t: PostTarget.objects.filter(pk=t.pk).update(state=S.QUEUED),
            "future",
            "handed to the platform",
        ),
        (
            lambda t: SocialAccount.objects.filter(pk=t.account_id).update(
                status=SocialAccount.Status.DISCONNECTED
            ),
            "future",
            "disconnected",
        ),
        (
            lambda t: SocialAccount.objects.filter(pk=t.account_id).update(
                status=SocialAccount.Status.NEEDS_REAUTH
            ),
            "future",
            "reconnect it",
        ),
        (lambda t: None, "not a time", "not a date"),
        (lambda t: None, "", "Say when"),
    ],
    ids=["past", "published", "queued", "disconnected", "needs reauth", "garbage", "empty"],
)
def test_refused_moves_say_why_and_change_nothing(login, manager, account, setup, start, words):
    at = in_days(3)
    target = plan(account, at)
    setup(target)
    value = {
        "past": (timezone.now() - timedelta(hours=2)).astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M"),
        "future": in_days(4).strftime("%Y-%m-%dT%H:%M"),
    }.get(start, start)
    response = reschedule(login(manager), target, value)
    assert response.status_code == 400
    assert words in response.json()["error"]
    _unchanged(target, at)


def test_a_time_the_clocks_skip_is_refused(login, manager, account):
    spring = next(day for day in next_transitions(BERLIN) if day.month in (3, 4))
    at = in_days(1)
    target = plan(account, at)
    response = reschedule(login(manager), target, f"{spring}T02:30")
    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]
    _unchanged(target, at)


# -- CSV export ----------------------------------------------------------------------------------


def test_csv_export_round_trips_commas_and_newlines(login, manager, brand, account):
    at = in_days(3, hour=9)
    target = plan(account, at, title="Launch, day one", tags=["launch", "beans"])
    PostTarget.objects.filter(pk=target.pk).update(
        text_override='Hello, coffee lovers\nSecond line with "quotes"'
    )
    plan(account, at + timedelta(hours=1), title="=HYPERLINK(evil)")
    response = login(manager).get(EXPORT, {"brand": brand.pk, **window(at)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == selectors.EXPORT_COLUMNS
    assert len(rows) == 2
    row = rows[0]
    assert row["text"] == 'Hello, coffee lovers\nSecond line with "quotes"'
    assert row["post title"] == "Launch, day one"
    assert row["scheduled time"] == at.isoformat(timespec="minutes")
    assert row["scheduled time"].endswith(("+01:00", "+02:00"))
    assert row["time zone"] == "Europe/Berlin"
    assert (row["brand"], row["account"], row["platform"]) == (
        "Acme Coffee",
        "@acmecoffee",
        "Sandbox",
    )
    assert row["state"] == "Scheduled"
    assert row["approval state"] == "Approved"
    assert row["tags"] == "launch; beans"
    # A cell a spreadsheet would run as a formula is defused.
    assert rows[1]["post title"] == "'=HYPERLINK(evil)"


def test_csv_export_uses_the_same_filters_and_tenancy(
    login, outsider, brand, account, other_account
):
    at = in_days(3)
    plan(account, at)
    plan(other_account, at)
    response = login(outsider).get(EXPORT, window(at))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["account"] for r in rows] == ["@rivaltea"]
    bad = login(outsider).get(EXPORT, {"state": "lost"})
    assert bad.status_code == 400
