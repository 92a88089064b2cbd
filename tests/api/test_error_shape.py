"""Every error keeps the {"type", "detail", "fields"} shape, nested field errors and odd ids too."""

from rest_framework.exceptions import ErrorDetail

from agency.api import _error_messages
from tests.api.conftest import assert_error


def test_nested_errors_become_strings_under_their_top_level_field():
    nested = {
        "targets": [
            {"account": [ErrorDetail("Must be a valid UUID.")]},
            {},
            {"account": [ErrorDetail("Required.")], "text_override": [ErrorDetail("Too long.")]},
        ]
    }
    assert _error_messages(nested["targets"]) == [
        "0.account: Must be a valid UUID.",
        "2.account: Required.",
        "2.text_override: Too long.",
    ]
    assert _error_messages({0: [ErrorDetail("Too long.")]}) == ["0: Too long."]
    assert _error_messages([ErrorDetail("Plain.")]) == ["Plain."]


def test_a_list_items_error_reaches_the_client_as_a_list_of_strings(
    token_client, manager, brand, account
):
    client, _ = token_client(manager)
    body = {
        "brand": str(brand.pk),
        "text": "Hello",
        "targets": [{"account": str(account.pk)}, {"account": "not-an-id"}],
    }
    fields = assert_error(client.post("/api/v1/posts/", body, format="json"), 400)["fields"]
    assert all(isinstance(m, str) for messages in fields.values() for m in messages), fields
    assert any(m.startswith("1.account: ") for m in fields["targets"]), fields


def test_an_id_the_router_would_not_match_is_a_json_404(token_client, manager, account):
    client, _ = token_client(manager)
    for path in ("/api/v1/social-accounts/a.b/", "/api/v1/brands/x.y/"):
        assert_error(client.get(path), 404, type_="not_found")
        assert_error(client.patch(path, {"bio": "x"}, HTTP_IF_MATCH='"x"'), 404)


def test_a_page_past_the_last_is_a_json_404(token_client, manager, account):
    client, _ = token_client(manager)
    assert_error(client.get("/api/v1/social-accounts/?page=99"), 404, type_="not_found")
