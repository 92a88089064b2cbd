"""Rate limits: one budget per token (by its kind) and per signed-in user; 429 with Retry-After."""

import pytest
from django.core.cache import cache

from agency.models import ApiToken
from tests.api.conftest import assert_error

ACCOUNTS = "/api/v1/social-accounts/"


@pytest.fixture
def rates(settings):
    """Set the rates for one test (the suite itself runs without limits)."""
    cache.clear()

    def _set(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    yield _set
    cache.clear()


def test_a_token_over_its_rate_gets_429_with_retry_after(rates, token_client, manager):
    rates(token_personal="3/minute", token_integration=None, session=None)
    client, _ = token_client(manager)
    assert [client.get(ACCOUNTS).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(ACCOUNTS)
    assert_error(refused, 429, type_="throttled")
    assert 0 < int(refused["Retry-After"]) <= 60


def test_each_token_has_its_own_budget(rates, token_client, manager):
    rates(token_personal="1/minute", token_integration=None, session=None)
    first, _ = token_client(manager)
    second, _ = token_client(manager)
    assert first.get(ACCOUNTS).status_code == 200
    assert first.get(ACCOUNTS).status_code == 429
    assert second.get(ACCOUNTS).status_code == 200


def test_integration_tokens_have_their_own_rate(rates, token_client, manager):
    rates(token_personal="1/minute", token_integration="2/minute", session=None)
    client, _ = token_client(manager, kind=ApiToken.Kind.INTEGRATION, scopes=["accounts:read"])
    assert [client.get(ACCOUNTS).status_code for _ in range(3)] == [200, 200, 429]


def test_a_browser_session_is_limited_per_user(rates, client, manager):
    rates(token_personal=None, token_integration=None, session="2/minute")
    client.force_login(manager)
    assert [client.get(ACCOUNTS).status_code for _ in range(3)] == [200, 200, 429]


def test_writes_count_and_a_refused_write_changes_nothing(rates, token_client, manager, account):
    rates(token_personal="1/minute", token_integration=None, session=None)
    client, _ = token_client(manager)
    assert client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "one"}).status_code == 200
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "two"}), 429)
    account.refresh_from_db()
    assert account.bio == "one"


def test_without_a_rate_nothing_is_limited(rates, token_client, manager):
    rates(token_personal=None, token_integration=None, session=None)
    client, _ = token_client(manager)
    assert {client.get(ACCOUNTS).status_code for _ in range(20)} == {200}
