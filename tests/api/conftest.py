"""Fixtures of the API-conventions tests: clients that carry a given token."""

import pytest
from rest_framework.test import APIClient

from agency import services


@pytest.fixture
def token_client():
    """token_client(user, **api_token_create kwargs) -> (APIClient sending the key, token)."""

    def _make(user, **kwargs):
        kwargs.setdefault("name", "test token")
        token, key = services.api_token_create(user=user, **kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client, token

    return _make


def assert_error(response, status, *, type_=None, detail_has=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "detail", "fields"}, body
    if type_ is not None:
        assert body["type"] == type_, body
    if detail_has is not None:
        assert detail_has in body["detail"], body
    return body
