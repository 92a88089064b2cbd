"""Personal API tokens: `Authorization: Token <key>` against the stored SHA-256 of the key."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agency import services
from agency.models import ApiToken

ME = "/api/v1/me/"
ACCOUNTS = "/api/v1/social-accounts/"


@pytest.fixture
def issued(manager):
    return services.api_token_create(user=manager, name="CI pipeline")


def with_key(api_client, key):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client


def test_only_the_keys_hash_is_stored(issued):
    token, key = issued
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 - our own table
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert not [value for value in rows[0] if value is not None and key in str(value)]


def test_a_token_authenticates_and_records_its_use(api_client, issued, manager):
    token, key = issued
    assert token.last_used_at is None
    response = with_key(api_client, key).get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == manager.username
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_token_auth_responses_never_show_credentials(api_client, issued, account):
    _, key = issued
    client = with_key(api_client, key)
    listing = client.get(ACCOUNTS)
    detail = client.get(f"{ACCOUNTS}{account.pk}/")
    assert listing.status_code == detail.status_code == 200
    for response in (listing, detail, client.get(ME)):
        assert "do-not-leak" not in response.content.decode()
        assert key not in response.content.decode()


def test_a_token_writes_with_its_users_role(api_client, manager, marketer, brand, account):
    _, manager_key = services.api_token_create(user=manager, name="manager")
    _, marketer_key = services.api_token_create(user=marketer, name="marketer")
    url = f"{ACCOUNTS}{account.pk}/"
    assert with_key(api_client, marketer_key).patch(url, {"bio": "x"}).status_code == 403
    assert with_key(api_client, manager_key).patch(url, {"bio": "x"}).status_code == 200


def assert_401(response):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["type"] == "authentication_failed"


def test_a_revoked_token_is_refused(api_client, issued, manager):
    token, key = issued
    services.api_token_revoke(token=token, by=manager)
    assert_401(with_key(api_client, key).get(ME))


def test_a_wrong_key_is_refused(api_client, issued):
    _, key = issued
    assert_401(with_key(api_client, key[:-1] + ("A" if key[-1] != "A" else "B")).get(ME))


def test_a_token_of_a_deactivated_user_is_refused(api_client, issued, manager):
    _, key = issued
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    assert_401(with_key(api_client, key).get(ME))


def test_a_malformed_header_is_refused(api_client, issued):
    _, key = issued
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key} extra")
    assert_401(api_client.get(ME))
