"""/api/v1/calendar/: the dashboard calendar's events over a range of instants, in UTC with
each brand's zone beside them; tenancy, validation and a constant number of queries."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.models import PostTarget, TargetState
from calendar_app.services import post_create
from tests.factories import SocialAccountFactory

URL = "/api/v1/calendar/"
# Tuesday 4 March 2031, 08:00 UTC is 09:00 in Berlin (CET, +01:00).
AT = datetime(2031, 3, 4, 8, 0, tzinfo=UTC)
RANGE = {"start": "2031-03-01T00:00:00Z", "end": "2031-04-01T00:00:00Z"}


def schedule(brand, by, account, at=AT, text="Spring roast", **extra):
    return post_create(brand=brand, by=by, accounts=[account], text=text, scheduled_at=at, **extra)


def test_events_are_utc_with_the_brands_zone_and_local_time(api_client, manager, brand, account):
    post = schedule(brand, manager, account, title="Spring", tags=["Roast"])
    api_client.force_authenticate(manager)
    response = api_client.get(URL, {"brand": str(brand.pk), **RANGE})
    assert response.status_code == 200, response.json()
    (event,) = response.json()["results"]
    assert event["id"] == str(post.targets.get().pk)
    assert event["post"] == str(post.pk)
    assert event["start"] == "2031-03-04T08:00:00Z"
    assert event["local_start"] == "2031-03-04T09:00:00+01:00"
    assert event["time_zone"] == "Europe/Berlin"
    assert event["state"] == "scheduled"
    assert event["target_state"] == "scheduled"
    assert (event["title"], event["text"], event["tags"]) == ("Spring", "Spring roast", ["Roast"])
    assert event["account_handle"] == account.handle
    assert event["editable"] is True


def test_the_range_is_of_instants_offsets_honoured(api_client, manager, brand, account):
    schedule(brand, manager, account)
    api_client.force_authenticate(manager)

    def count(start, end):
        response = api_client.get(URL, {"start": start, "end": end})
        assert response.status_code == 200, response.json()
        return response.json()["count"]

    assert count("2031-03-04T08:00:00Z", "2031-03-04T08:01:00Z") == 1
    assert count("2031-03-04T08:00:01Z", "2031-03-05T00:00:00Z") == 0
    # 09:00 in Berlin is the same instant; the end is excluded.
    assert count("2031-03-04T09:00:00+01:00", "2031-03-04T10:00:00+01:00") == 1
    assert count("2031-03-04T00:00:00Z", "2031-03-04T08:00:00Z") == 0
    # Without an offset: UTC.
    assert count("2031-03-04T07:59:00", "2031-03-04T08:00:30") == 1


def test_state_and_account_filters(api_client, manager, brand, account):
    schedule(brand, manager, account)
    second = SocialAccountFactory(brand=brand)
    draft = post_create(brand=brand, by=manager, accounts=[second], text="Draft idea")
    from calendar_app.models import Post

    Post.objects.filter(pk=draft.pk).update(scheduled_at=AT)
    api_client.force_authenticate(manager)
    assert api_client.get(URL, RANGE).json()["count"] == 2
    drafts = api_client.get(URL, {**RANGE, "state": "draft"}).json()["results"]
    assert [e["post"] for e in drafts] == [str(draft.pk)]
    by_account = api_client.get(URL, {**RANGE, "account": str(second.pk)}).json()["results"]
    assert [e["account"] for e in by_account] == [str(second.pk)]
    # Cancelled targets are left out unless asked for.
    PostTarget.objects.filter(post=draft).update(state=TargetState.CANCELLED)
    assert api_client.get(URL, RANGE).json()["count"] == 1
    assert api_client.get(URL, {**RANGE, "state": "cancelled"}).json()["count"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end": "2031-04-01"}, "start"),
        ({"start": "2031-04-01", "end": "2031-03-01"}, "end"),
        ({"start": "2031-01-01", "end": "2033-01-01"}, "end"),
        ({**RANGE, "state": "lost"}, "state"),
        ({**RANGE, "platform": "myspace"}, "platform"),
        ({"start": "yesterday", "end": "2031-03-01"}, "start"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(api_client, manager, query, field):
    api_client.force_authenticate(manager)
    response = api_client.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_client_reads_their_brands_calendar_but_may_not_move_it(
    api_client, client_user, manager, brand, account
):
    schedule(brand, manager, account)
    api_client.force_authenticate(client_user)
    (event,) = api_client.get(URL, RANGE).json()["results"]
    assert event["editable"] is False


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_gets_404_for_the_brand_and_sees_nothing(
    api_client, request, persona, manager, brand, account
):
    schedule(brand, manager, account)
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(URL, {"brand": str(brand.pk), **RANGE}).status_code == 404
    assert api_client.get(URL, RANGE).json()["results"] == []


def test_anonymous_gets_401(api_client, db):
    assert api_client.get(URL, RANGE).status_code == 401


def test_constant_queries_whatever_the_number_of_events(api_client, manager, brand, account):
    api_client.force_authenticate(manager)
    schedule(brand, manager, account)
    query = {"brand": str(brand.pk), **RANGE}
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(URL, query).json()["count"] == 1
    for n in range(12):
        extra = SocialAccountFactory(brand=brand)
        post_create(
            brand=brand,
            by=manager,
            accounts=[account, extra],
            text=f"more {n}",
            scheduled_at=AT.replace(day=5 + n),
        )
    with CaptureQueriesContext(connection) as many:
        assert api_client.get(URL, query).json()["count"] == 25
    assert len(many) == len(few)


def test_a_token_needs_the_calendar_read_scope(manager, brand, account):
    from rest_framework.test import APIClient

    from agency import services

    schedule(brand, manager, account)
    results = {}
    for scopes in (["community:read"], ["calendar:read"]):
        _, key = services.api_token_create(user=manager, name="t", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        results[scopes[0]] = client.get(URL, RANGE)
    assert results["community:read"].status_code == 403
    assert "calendar:read" in results["community:read"].json()["detail"]
    assert results["calendar:read"].json()["count"] == 1
