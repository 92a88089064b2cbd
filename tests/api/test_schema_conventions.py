"""The OpenAPI schema tells integrators about scopes, Idempotency-Key, If-Match and 429."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from agency.permissions import Area


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def parameters(operation, location="header"):
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == location}


def test_the_token_scheme_lists_every_scope(schema):
    description = schema["components"]["securitySchemes"]["tokenAuth"]["description"]
    for area in Area:
        assert f"`{area.value}`" in description
    assert "<area>:read" in description
    assert "<area>:write" in description


@pytest.mark.parametrize(
    "path", ["/api/v1/social-accounts/", "/api/v1/brands/", "/api/v1/campaigns/"]
)
def test_creating_posts_take_an_idempotency_key(schema, path):
    operation = schema["paths"][path]["post"]
    assert "Idempotency-Key" in parameters(operation)
    assert "422" in operation["responses"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_writes_to_an_object_take_if_match_and_may_be_412(schema, method):
    operation = schema["paths"]["/api/v1/social-accounts/{id}/"][method]
    assert "If-Match" in parameters(operation)
    assert operation["responses"]["412"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/Error"
    )
    assert "ETag" in operation["responses"]["200"]["headers"]


def test_a_detail_read_documents_its_etag(schema):
    operation = schema["paths"]["/api/v1/campaigns/{id}/"]["get"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "If-Match" not in parameters(operation)


def test_every_operation_may_be_throttled_with_retry_after(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                response = operation["responses"].get("429")
                assert response is not None, (path, method)
                assert "Retry-After" in response.get("headers", {}), (path, method)


def test_a_list_documents_the_404_of_a_page_past_the_last(schema):
    responses = schema["paths"]["/api/v1/social-accounts/"]["get"]["responses"]
    assert responses["404"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/Error"
    )
