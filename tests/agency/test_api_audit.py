"""/api/v1/audit-events/: the agency's audit trail, read only, for its staff and nobody else."""

import datetime as dt

import pytest
from django.utils import timezone

from agency.models import AuditEvent
from agency.services import api_token_create, audit_log

EVENTS = "/api/v1/audit-events/"


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
def events(manager, marketer, brand, sibling_brand, other_brand, outsider, home_agency):
    made = {
        "goal": audit_log(
            actor=manager,
            action="goal.created",
            target=brand,
            agency=home_agency,
            brand=brand,
            data={"metric": "reach"},
        ),
        "schedule": audit_log(
            actor=marketer,
            action="scheduled_report.created",
            target=sibling_brand,
            agency=home_agency,
            brand=sibling_brand,
        ),
        "theirs": audit_log(
            actor=outsider,
            action="goal.created",
            target=other_brand,
            agency=other_brand.agency,
            brand=other_brand,
        ),
    }
    api_token_create(user=manager, name="CI")  # an agency-wide event, about no brand
    made["token"] = AuditEvent.objects.get(action="api_token.created")
    return {key: str(event.uuid) for key, event in made.items()}


@pytest.mark.parametrize("persona", ["admin", "manager", "marketer"])
def test_staff_see_every_event_of_their_agency_and_none_of_another(
    request, as_user, persona, events
):
    listed = ids(as_user(request.getfixturevalue(persona)).get(EVENTS))
    assert listed == {events["goal"], events["schedule"], events["token"]}


def test_an_event_reads_as_who_did_what_to_which_object(as_user, admin, manager, brand, events):
    response = as_user(admin).get(f"{EVENTS}{events['goal']}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == events["goal"]
    assert (body["action"], body["actor"], body["actor_username"]) == (
        "goal.created",
        manager.pk,
        "max_manager",
    )
    assert (body["brand"], body["agency"]) == (str(brand.pk), str(brand.agency_id))
    assert (body["target_type"], body["target_id"]) == ("agency.brand", str(brand.pk))
    assert body["data"] == {"metric": "reach"}


@pytest.mark.parametrize("persona", ["client_user", "other_client"])
def test_clients_see_no_events_at_all(request, as_user, persona, events):
    client = as_user(request.getfixturevalue(persona))
    assert ids(client.get(EVENTS)) == set()
    assert_error(client.get(f"{EVENTS}{events['goal']}/"), 404)


def test_an_outsider_sees_only_their_own_agencys_events(as_user, outsider, events):
    client = as_user(outsider)
    assert ids(client.get(EVENTS)) == {events["theirs"]}
    assert_error(client.get(f"{EVENTS}{events['goal']}/"), 404)


def test_events_filter_by_brand_action_and_kind_of_action(as_user, manager, brand, events):
    client = as_user(manager)
    assert ids(client.get(EVENTS, {"brand": str(brand.pk)})) == {events["goal"]}
    assert ids(client.get(EVENTS, {"action": "scheduled_report.created"})) == {events["schedule"]}
    assert ids(client.get(EVENTS, {"action": "api_token."})) == {events["token"]}
    assert ids(client.get(EVENTS, {"action": "goal"})) == set()


def test_events_filter_by_day(as_user, manager, events):
    AuditEvent.objects.filter(uuid=events["schedule"]).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    today = timezone.now().date()
    client = as_user(manager)
    recent = client.get(EVENTS, {"start": str(today - dt.timedelta(days=1))})
    assert ids(recent) == {events["goal"], events["token"]}
    old = client.get(EVENTS, {"end": str(today - dt.timedelta(days=9))})
    assert ids(old) == {events["schedule"]}
    assert_error(client.get(EVENTS, {"start": str(today), "end": "2020-01-01"}), 400, "end")


def test_events_are_newest_first(as_user, manager, events):
    AuditEvent.objects.filter(uuid=events["goal"]).update(
        created_at=timezone.now() + dt.timedelta(minutes=5)
    )
    rows = as_user(manager).get(EVENTS).json()["results"]
    assert rows[0]["id"] == events["goal"]
    stamps = [row["created_at"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)


def test_the_audit_trail_cannot_be_written(as_user, admin, events):
    client = as_user(admin)
    assert client.post(EVENTS, {"action": "forged"}).status_code == 405
    assert client.delete(f"{EVENTS}{events['goal']}/").status_code == 405
    assert client.patch(f"{EVENTS}{events['goal']}/", {"action": "x"}).status_code == 405
    assert AuditEvent.objects.filter(uuid=events["goal"], action="goal.created").exists()


def test_a_malformed_id_is_a_404_not_an_error(as_user, manager, events):
    assert_error(as_user(manager).get(f"{EVENTS}not-a-uuid/"), 404)


def test_the_event_list_costs_the_same_queries_for_few_or_many_events(
    as_user, manager, brand, home_agency, events, django_assert_num_queries
):
    client = as_user(manager)
    with django_assert_num_queries(2):
        assert len(ids(client.get(EVENTS))) == 3
    for n in range(20):
        audit_log(actor=manager, action=f"test.{n}", target=brand, agency=home_agency, brand=brand)
    with django_assert_num_queries(2):
        assert len(ids(client.get(EVENTS))) == 23


def _token_get(client, user, path, **token):
    _, key = api_token_create(user=user, name="audit", **token)
    return client.get(path, HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_needs_the_agency_read_scope(client, manager, events):
    allowed = ids(_token_get(client, manager, EVENTS, scopes=["agency:read"]))
    assert {events["goal"], events["schedule"], events["token"]} <= allowed
    assert events["theirs"] not in allowed
    refused = _token_get(client, manager, EVENTS, scopes=["reports:read"])
    assert_error(refused, 403)


def test_a_token_limited_to_some_brands_is_refused_the_agency_wide_trail(
    client, manager, brand, events
):
    assert_error(_token_get(client, manager, EVENTS, brands=[brand]), 403)
