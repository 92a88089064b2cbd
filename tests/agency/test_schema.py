"""The OpenAPI schema: valid, complete, and served with docs that load nothing from a CDN."""

import re

import pytest
import yaml
from django.core.management import call_command

ERROR_REF = "#/components/schemas/Error"
WRITES = {"post", "put", "patch"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    with django_db_blocker.unblock():
        # --fail-on-warn: an endpoint whose types drf-spectacular has to guess fails the build.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def operations(schema, prefix):
    for path, item in schema["paths"].items():
        if path.startswith(prefix):
            for method, operation in item.items():
                if method in {"get", "post", "put", "patch", "delete"}:
                    yield path, method, operation


def test_schema_lists_the_kernels_endpoints(schema):
    paths = schema["paths"]
    assert set(paths["/api/v1/brands/"]) >= {"get", "post"}
    assert set(paths["/api/v1/brands/{id}/"]) == {"get", "put", "patch"}
    assert set(paths["/api/v1/social-accounts/{id}/"]) == {"get", "put", "patch"}
    assert set(paths["/api/v1/social-accounts/{id}/disconnect/"]) == {"post"}
    assert set(paths["/api/v1/me/"]) == {"get"}


@pytest.mark.parametrize("prefix", ["/api/v1/brands/", "/api/v1/social-accounts/", "/api/v1/me/"])
def test_every_operation_declares_its_body_and_error_shape(schema, prefix):
    found = list(operations(schema, prefix))
    assert found
    for path, method, operation in found:
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, (path, method)
        assert "content" in responses[success[0]], (path, method)
        expected_errors = {"401", "403"} | ({"400"} if method in WRITES else set())
        if "{" in path:
            expected_errors.add("404")
        for code in expected_errors:
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == ERROR_REF, (path, method, code)


def test_credentials_appear_only_in_request_bodies(schema):
    components = schema["components"]["schemas"]
    for name, component in components.items():
        has_secret = "access_token" in component.get("properties", {})
        if name.endswith("Request"):
            continue
        assert not has_secret, name
    assert components["SocialAccountRequest"]["properties"]["access_token"]["writeOnly"] is True


def test_error_component_has_the_handlers_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"type", "detail", "fields"}


def test_schema_endpoint_serves_the_same_document(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/social-accounts/{id}/disconnect/" in response.json()["paths"]


def test_swagger_ui_loads_nothing_from_outside(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    scripts = re.findall(r"""<script[^>]*\ssrc\s*=\s*["']([^"']+)""", html)
    assert scripts
    assert all(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts), scripts
    external = re.findall(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", html)
    assert external == []
