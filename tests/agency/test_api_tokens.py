"""Personal API tokens: `Authorization: Token <key>` against the stored SHA-256 of the key."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agency import services
from agency.models import ApiToken, AuditEvent
from agency.permissions import Area

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


# The dashboard page: kind, access per area, brands


TOKENS_PAGE = "/settings/tokens/"


def page_post(client, **fields):
    data = {"name": "Scheduler", "kind": "integration"}
    data.update({f"access_{area}": "none" for area in Area})
    data.update(fields)
    return client.post(TOKENS_PAGE, data)


def test_the_page_makes_a_scoped_brand_limited_integration_token(login, manager, brand):
    client = login(manager)
    response = page_post(client, access_calendar="write", access_reports="read", brands=[brand.pk])
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key and key.encode() in response.content
    token = ApiToken.objects.get(user=manager, name="Scheduler")
    assert token.kind == ApiToken.Kind.INTEGRATION
    assert sorted(token.scopes) == ["calendar:write", "reports:read"]
    assert list(token.brands.all()) == [brand]
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.data["scopes"] == ["calendar:write", "reports:read"]
    assert event.data["brands"] == [str(brand.pk)]
    listing = client.get(TOKENS_PAGE).content.decode()
    assert "calendar:write" in listing
    assert "Acme Coffee" in listing
    assert key not in listing


def test_the_page_offers_only_the_users_brands(login, manager, brand, other_brand):
    content = login(manager).get(TOKENS_PAGE).content.decode()
    assert "Acme Coffee" in content
    assert "Rival Tea" not in content
    response = page_post(login(manager), access_calendar="read", brands=[other_brand.pk])
    assert response.context["new_key"] is None
    assert "brands" in response.context["form"].errors
    assert not ApiToken.objects.filter(user=manager).exists()


def test_a_token_with_no_access_at_all_is_refused(login, manager):
    response = page_post(login(manager))
    assert response.context["new_key"] is None
    assert "at least one scope" in str(response.context["form"].errors)
    assert not ApiToken.objects.filter(user=manager).exists()


def test_a_clients_page_offers_reading_only(login, client_user):
    client = login(client_user)
    page = client.get(TOKENS_PAGE)
    assert b'value="write"' not in page.content
    assert b'value="read"' in page.content
    refused = page_post(client, kind="personal", access_calendar="write")
    assert refused.context["new_key"] is None
    assert not ApiToken.objects.filter(user=client_user).exists()
    made = page_post(client, kind="personal", access_calendar="read")
    assert made.context["new_key"]
    assert ApiToken.objects.get(user=client_user).scopes == ["calendar:read"]


def test_a_page_token_works_within_its_scopes(login, api_client, manager, account):
    response = page_post(login(manager), kind="personal", access_accounts="read")
    with_key(api_client, response.context["new_key"])
    assert api_client.get(f"{ACCOUNTS}{account.pk}/").status_code == 200
    assert api_client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}).status_code == 403
