"""/api/v1/queue-slots/: an account's recurring publishing times. Staff only: a client of the
brand is treated as an outsider (404), marketers read, managers and admins add and remove."""

import pytest

from calendar_app.models import QueueSlot

URL = "/api/v1/queue-slots/"


@pytest.fixture
def slot(account):
    return QueueSlot.objects.create(account=account, weekday=1, time="09:00")


@pytest.fixture
def other_slot(other_account):
    return QueueSlot.objects.create(account=other_account, weekday=1, time="09:00")


def test_manager_adds_a_slot_seconds_dropped(api_client, manager, account):
    api_client.force_authenticate(manager)
    body = {"account": str(account.pk), "weekday": 2, "time": "10:30:45"}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["weekday"], data["time"]) == (2, "10:30:00")
    assert data["brand_time_zone"] == "Europe/Berlin"
    slot = QueueSlot.objects.get(pk=data["id"])
    assert (slot.account_id, slot.weekday, slot.time.isoformat()) == (account.pk, 2, "10:30:00")


def test_a_duplicate_slot_is_a_400_in_words(api_client, manager, account, slot):
    api_client.force_authenticate(manager)
    body = {"account": str(account.pk), "weekday": 1, "time": "09:00"}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "already has a slot" in response.json()["detail"]
    assert QueueSlot.objects.count() == 1


def test_bad_weekday_and_time_name_their_fields(api_client, manager, account):
    api_client.force_authenticate(manager)
    body = {"account": str(account.pk), "weekday": 9, "time": "25:00"}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert {"weekday", "time"} <= set(response.json()["fields"])
    assert not QueueSlot.objects.exists()


def test_list_filters_by_account_and_delete_removes(api_client, manager, brand, account, slot):
    from tests.factories import SocialAccountFactory

    second = SocialAccountFactory(brand=brand)
    QueueSlot.objects.create(account=second, weekday=3, time="12:00")
    api_client.force_authenticate(manager)
    assert api_client.get(URL).json()["count"] == 2
    mine = api_client.get(URL, {"account": str(account.pk)}).json()
    assert [s["id"] for s in mine["results"]] == [str(slot.pk)]
    assert api_client.delete(f"{URL}{slot.pk}/").status_code == 204
    assert not QueueSlot.objects.filter(pk=slot.pk).exists()


def test_slots_are_not_edited_in_place(api_client, manager, slot):
    api_client.force_authenticate(manager)
    assert api_client.patch(f"{URL}{slot.pk}/", {"weekday": 4}).status_code == 405


@pytest.mark.parametrize(
    ("persona", "create_status"), [("outsider", 400), ("other_client", 400), ("client_user", 404)]
)
def test_outsiders_and_the_brands_clients_get_404_and_an_empty_list(
    api_client, request, persona, create_status, account, slot
):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(f"{URL}{slot.pk}/").status_code == 404
    assert api_client.delete(f"{URL}{slot.pk}/").status_code == 404
    assert api_client.get(URL).json()["results"] == []
    body = {"account": str(account.pk), "weekday": 5, "time": "08:00"}
    refused = api_client.post(URL, body, format="json")
    # Strangers cannot name the account at all (400 on the field); the brand's own client can
    # see it, but the queue is staff-only, so writing to it is the outsider's 404.
    assert refused.status_code == create_status
    assert QueueSlot.objects.filter(pk=slot.pk).exists()
    assert QueueSlot.objects.count() == 1


def test_marketer_reads_but_cannot_write_slots(api_client, marketer, account, slot):
    api_client.force_authenticate(marketer)
    assert api_client.get(f"{URL}{slot.pk}/").status_code == 200
    body = {"account": str(account.pk), "weekday": 5, "time": "08:00"}
    assert api_client.post(URL, body, format="json").status_code == 403
    assert api_client.delete(f"{URL}{slot.pk}/").status_code == 403
    assert QueueSlot.objects.count() == 1
