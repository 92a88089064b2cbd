from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from agency.permissions import (
    TOKEN_ATTR,
    Area,
    check_token_scope,
    enforces_token_scopes,
)
from agency.services import api_token_authenticate


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>` checked against the stored hash of our ApiToken keys."""

    keyword = "Token"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        # brands_for_user and brand_for_user read the token from the user, so its brand limit
        # and scopes hold in every query and check of this request, not only in the viewsets.
        setattr(user, TOKEN_ATTR, token)
        # A view that replaced its permission_classes without TokenScopePermission (an app's
        # own staff-only list) is still held to the token's scopes: checked here instead.
        view = (request.parser_context or {}).get("view")
        if view is not None and not enforces_token_scopes(view):
            check_token_scope(token=token, view=view, method=request.method)
        return user, token

    def authenticate_credentials(self, key):
        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return token.user, token


def _scopes_description() -> str:
    areas = "\n".join(f"- `{area.value}`: {area.label.lower()}" for area in Area)
    return (
        "`Token <key>`; create a key on the dashboard's API tokens page.\n\n"
        "A token acts as its user, with the user's roles, narrowed by its **scopes**: "
        "`<area>:read` or `<area>:write` (write implies read) for each area:\n\n"
        f"{areas}\n\n"
        "Reads (GET) need the read scope of the endpoint's area, everything else the write "
        "scope; `/me/` and `/brands/` are the `agency` area. A missing scope is a 403 naming "
        "it. A token may also be limited to some brands: other brands' objects are 404s to "
        "it. A client user's tokens can only read. Each token has its own rate limit (429 with "
        "`Retry-After`). Browser sessions are limited by the user's roles only."
    )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "agency.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": _scopes_description(),
        }
