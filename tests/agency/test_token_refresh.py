"""Tokens are refreshed before they expire; a refused refresh holds the account's posts."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from agency.models import SocialAccount
from agency.platforms.x import TOKEN_URL
from agency.tasks import refresh_expiring_tokens
from tests.factories import SocialAccountFactory


@pytest.fixture
def x_account(brand):
    return SocialAccountFactory(
        brand=brand,
        platform="x",
        handle="@acme",
        refresh_token="old-refresh-do-not-leak",
        token_expires_at=timezone.now() + timedelta(minutes=10),
    )


@responses.activate
def test_expiring_x_token_is_refreshed_and_the_rotated_refresh_token_kept(x_account):
    """https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token
    (refresh_token grant: a new access token and a new refresh token)."""
    responses.post(
        TOKEN_URL,
        json={
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": "new-access",
            "scope": "tweet.write users.read offline.access",
            "refresh_token": "new-refresh",
        },
    )
    assert refresh_expiring_tokens() == 1
    fresh = SocialAccount.objects.get(pk=x_account.pk)
    assert fresh.access_token == "new-access"
    assert fresh.refresh_token == "new-refresh"
    assert fresh.token_expires_at > timezone.now() + timedelta(minutes=119)
    # Not expiring any more: the next run leaves it alone (no request is made).
    assert refresh_expiring_tokens() == 0
    assert len(responses.calls) == 1


@responses.activate
def test_refused_refresh_marks_the_account_for_reconnecting_and_tells_managers(x_account, manager):
    """https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token
    (an invalid or revoked refresh token answers 400 invalid_request/invalid_grant)."""
    responses.post(
        TOKEN_URL,
        status=400,
        json={
            "error": "invalid_request",
            "error_description": "Value passed for the token was invalid.",
        },
    )
    assert refresh_expiring_tokens() == 0
    x_account.refresh_from_db()
    assert x_account.status == SocialAccount.Status.NEEDS_REAUTH
    assert manager.notifications.filter(title__startswith="Reconnect").exists()


@responses.activate
def test_platform_outage_during_refresh_changes_nothing(x_account):
    """https://docs.x.com/x-api/fundamentals/response-codes-and-errors (5xx: try later)."""
    responses.post(TOKEN_URL, status=503, json={"title": "Service Unavailable"})
    assert refresh_expiring_tokens() == 0
    x_account.refresh_from_db()
    assert x_account.status == SocialAccount.Status.CONNECTED
    assert x_account.refresh_token == "old-refresh-do-not-leak"
