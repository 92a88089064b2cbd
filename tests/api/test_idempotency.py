"""Idempotency-Key on POST: a repeat gets the first answer and creates nothing more."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from agency.models import AuditEvent, Brand, IdempotencyRecord, SocialAccount
from agency.tasks import purge_idempotency_records
from tests.api.concurrency import race
from tests.api.conftest import assert_error

ACCOUNTS = "/api/v1/social-accounts/"


def body(brand, handle="@fresh"):
    return {"brand": str(brand.pk), "platform": "mastodon", "handle": handle}


def test_a_repeat_gets_the_first_answer_and_creates_once(token_client, manager, brand):
    client, _ = token_client(manager)
    first = client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="key-1")
    again = client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="key-1")
    assert first.status_code == again.status_code == 201, again.content
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert SocialAccount.objects.filter(handle="@fresh").count() == 1
    assert AuditEvent.objects.filter(action="social_account.created").count() == 1


def test_the_same_key_with_another_body_is_refused(token_client, manager, brand):
    client, _ = token_client(manager)
    assert client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    other = client.post(ACCOUNTS, body(brand, "@other"), HTTP_IDEMPOTENCY_KEY="k")
    error = assert_error(other, 422, type_="idempotency_key_reused")
    assert "Idempotency-Key" in error["detail"]
    assert not SocialAccount.objects.filter(handle="@other").exists()
    assert SocialAccount.objects.filter(handle="@fresh").count() == 1


def test_the_same_key_on_another_endpoint_is_refused(token_client, manager, brand, account):
    client, _ = token_client(manager)
    assert client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    response = client.post(f"{ACCOUNTS}{account.pk}/disconnect/", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 422, type_="idempotency_key_reused")
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.CONNECTED


def test_keys_belong_to_one_token(token_client, manager, brand):
    first, _ = token_client(manager)
    second, _ = token_client(manager)
    a = first.post(ACCOUNTS, body(brand, "@a"), HTTP_IDEMPOTENCY_KEY="shared")
    b = second.post(ACCOUNTS, body(brand, "@b"), HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_refused_request_does_not_use_up_its_key(token_client, manager, brand):
    client, _ = token_client(manager)
    bad = client.post(ACCOUNTS, {**body(brand), "platform": "myspace"}, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(bad, 400)
    assert not IdempotencyRecord.objects.exists()
    fixed = client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="k")
    assert fixed.status_code == 201, fixed.content


def test_a_session_users_keys_work_too(api_client, manager, brand):
    api_client.force_authenticate(manager)
    first = api_client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="browser-1")
    again = api_client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY="browser-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert SocialAccount.objects.filter(handle="@fresh").count() == 1


def test_an_action_is_replayed_too(token_client, manager, account):
    client, _ = token_client(manager)
    url = f"{ACCOUNTS}{account.pk}/disconnect/"
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="d")
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="d")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="social_account.disconnected").count() == 1


def test_a_brand_is_created_once(token_client, admin, home_agency):
    client, _ = token_client(admin)
    payload = {
        "agency": str(home_agency.pk),
        "name": "Cedar Bakery",
        "slug": "cedar",
        "time_zone": "UTC",
    }
    first = client.post("/api/v1/brands/", payload, HTTP_IDEMPOTENCY_KEY="brand-1")
    again = client.post("/api/v1/brands/", payload, HTTP_IDEMPOTENCY_KEY="brand-1")
    assert first.status_code == again.status_code == 201, first.content
    assert again.json() == first.json()
    assert Brand.objects.filter(name="Cedar Bakery").count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_an_empty_or_too_long_key_is_a_400(token_client, manager, brand, key):
    client, _ = token_client(manager)
    response = client.post(ACCOUNTS, body(brand), HTTP_IDEMPOTENCY_KEY=key)
    assert "Idempotency-Key" in assert_error(response, 400)["fields"]
    assert not SocialAccount.objects.filter(handle="@fresh").exists()


def test_old_answers_are_purged_after_a_day(token_client, manager, brand):
    client, _ = token_client(manager)
    client.post(ACCOUNTS, body(brand, "@old"), HTTP_IDEMPOTENCY_KEY="old")
    client.post(ACCOUNTS, body(brand, "@new"), HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-records"]
    assert schedule["task"] == "agency.tasks.purge_idempotency_records"


def test_an_expired_key_runs_again(token_client, manager, brand):
    client, _ = token_client(manager)
    client.post(ACCOUNTS, body(brand, "@first"), HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # Not purged yet, but older than the promise: the key is free for a new request.
    response = client.post(ACCOUNTS, body(brand, "@second"), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert response.json()["handle"] == "@second"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_repeats_create_one_row(token_client, manager, brand):
    client, token = token_client(manager)
    # Recording the token's use would make the two wait for each other before the key.
    token.last_used_at = timezone.now()
    token.save(update_fields=["last_used_at"])
    key = client._credentials["HTTP_AUTHORIZATION"]

    def post():
        thread_client = APIClient()
        thread_client.credentials(HTTP_AUTHORIZATION=key)
        return thread_client.post(ACCOUNTS, body(brand, "@race"), HTTP_IDEMPOTENCY_KEY="race")

    # Creating the account needs a share lock on the brand row (its foreign key): one request
    # waits there holding the key, the other waits for that request's key to commit.
    first, second = race(lambda: Brand.objects.select_for_update().get(pk=brand.pk), post, post)
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    assert first.json()["id"] == second.json()["id"]
    assert {first.has_header("Idempotent-Replayed"), second.has_header("Idempotent-Replayed")} == {
        True,
        False,
    }
    assert SocialAccount.objects.filter(handle="@race").count() == 1
    assert IdempotencyRecord.objects.count() == 1
