"""API token scopes and brand limits: what each kind of token may read and write, per area."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from agency import api_urls, services
from agency.models import ApiToken, SocialAccount
from agency.permissions import ALL_SCOPES, READ_SCOPES, Area, required_scope
from tests.api.conftest import assert_error
from tests.factories import SocialAccountFactory

ACCOUNTS = "/api/v1/social-accounts/"
BRANDS = "/api/v1/brands/"
ME = "/api/v1/me/"
CAMPAIGNS = "/api/v1/campaigns/"
POSTS = "/api/v1/posts/"
INFLUENCERS = "/api/v1/influencers/"

EVERY_AREA = pytest.mark.parametrize("area", [a.value for a in Area])


def scopes_except(area):
    return [s for s in ALL_SCOPES if not s.startswith(f"{area}:")]


# Every area, on the same minimal viewset (tests/api/area_urls.py)


@pytest.mark.urls("tests.api.area_urls")
@EVERY_AREA
def test_a_read_scope_reads_its_area_and_cannot_write_it(token_client, admin, account, area):
    client, _ = token_client(admin, scopes=[f"{area}:read"])
    url = f"/api/v1/area-{area}/"
    assert client.get(url).status_code == 200
    assert client.get(f"{url}{account.pk}/").status_code == 200
    assert_error(
        client.patch(f"{url}{account.pk}/", {"bio": "changed"}),
        403,
        type_="permission_denied",
        detail_has=f"{area}:write",
    )
    account.refresh_from_db()
    assert account.bio == ""


@pytest.mark.urls("tests.api.area_urls")
@EVERY_AREA
def test_a_write_scope_writes_and_reads_its_area(token_client, admin, account, area):
    client, _ = token_client(admin, kind=ApiToken.Kind.INTEGRATION, scopes=[f"{area}:write"])
    url = f"/api/v1/area-{area}/{account.pk}/"
    assert client.get(url).status_code == 200
    assert client.patch(url, {"bio": "changed"}).status_code == 200
    account.refresh_from_db()
    assert account.bio == "changed"


@pytest.mark.urls("tests.api.area_urls")
@EVERY_AREA
def test_every_other_scope_does_not_open_an_area(token_client, admin, account, area):
    client, _ = token_client(admin, scopes=scopes_except(area))
    url = f"/api/v1/area-{area}/"
    assert_error(client.get(url), 403, detail_has=f"{area}:read")
    assert_error(client.get(f"{url}{account.pk}/"), 403, detail_has=f"{area}:read")


# Every route of /api/v1/, whichever app registered it


def _list_routes():
    """(url, view instance) of each route of /api/v1/ that takes no path parameter."""
    for pattern in api_urls.urlpatterns:
        route = str(pattern.pattern).removeprefix("^").removesuffix("$")
        if not route or any(c in route for c in "(<["):
            continue
        callback = pattern.callback
        cls = getattr(callback, "cls", None) or callback.view_class
        view = cls(**getattr(callback, "initkwargs", {}))
        yield f"/api/v1/{route}", view


LIST_ROUTES = list(_list_routes())


def test_the_route_walk_finds_the_kernels_and_the_apps_routes():
    urls = {url for url, _ in LIST_ROUTES}
    assert {ACCOUNTS, BRANDS, ME, CAMPAIGNS, POSTS, INFLUENCERS} <= urls


@pytest.mark.parametrize(("url", "view"), LIST_ROUTES, ids=[url for url, _ in LIST_ROUTES])
def test_every_route_needs_the_read_scope_of_its_area(token_client, admin, account, url, view):
    needed = required_scope(view, "GET")
    assert needed in READ_SCOPES, f"{url} needs no scope ({needed!r})"
    area = needed.partition(":")[0]
    without, _ = token_client(admin, scopes=scopes_except(area))
    assert_error(without.get(url), 403, detail_has=needed)
    with_it, _ = token_client(admin, kind=ApiToken.Kind.INTEGRATION, scopes=[needed])
    assert with_it.get(url).status_code != 403


@pytest.mark.parametrize(("url", "view"), LIST_ROUTES, ids=[url for url, _ in LIST_ROUTES])
def test_a_brand_limited_token_is_refused_where_brands_are_not_applied(
    token_client, admin, brand, url, view
):
    needed = required_scope(view, "GET")
    client, _ = token_client(admin, kind=ApiToken.Kind.INTEGRATION, scopes=[needed], brands=[brand])
    response = client.get(url)
    if getattr(view, "honours_brand_limit", False):
        assert response.status_code != 403, response.content
    else:
        assert_error(response, 403, detail_has="limited to some brands")


def test_agency_wide_endpoints_refuse_brand_limited_tokens(token_client, admin, brand):
    limited, _ = token_client(admin, scopes=ALL_SCOPES, brands=[brand])
    unlimited, _ = token_client(admin, scopes=ALL_SCOPES)
    # The agency's audit log tells of every brand; the influencer directory is agency-wide.
    for url in ("/api/v1/audit-events/", INFLUENCERS):
        assert_error(limited.get(url), 403, detail_has="limited to some brands")
        assert unlimited.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        (ME, "agency:read"),
        (BRANDS, "agency:read"),
        (ACCOUNTS, "accounts:read"),
        (POSTS, "calendar:read"),
        (CAMPAIGNS, "ads:read"),
        # A staff-only viewset with its own permission_classes: held to the scope all the same.
        (INFLUENCERS, "ads:read"),
    ],
)
def test_kernel_and_app_endpoints_need_their_areas_scope(token_client, admin, url, scope):
    view = dict(LIST_ROUTES)[url]
    assert required_scope(view, "GET") == scope


# Token kinds


def test_a_read_only_personal_token_cannot_write(token_client, admin, brand, account):
    client, _ = token_client(admin, scopes=READ_SCOPES)
    assert client.get(f"{ACCOUNTS}{account.pk}/").status_code == 200
    assert_error(
        client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 403, detail_has="accounts:write"
    )
    assert_error(
        client.post(f"{ACCOUNTS}{account.pk}/disconnect/"), 403, detail_has="accounts:write"
    )
    body = {"brand": str(brand.pk), "platform": "mastodon", "handle": "@new"}
    assert_error(client.post(ACCOUNTS, body), 403, detail_has="accounts:write")
    assert_error(
        client.patch(f"{BRANDS}{brand.pk}/", {"name": "x"}), 403, detail_has="agency:write"
    )
    account.refresh_from_db()
    assert (account.bio, account.status) == ("", SocialAccount.Status.CONNECTED)
    assert not SocialAccount.objects.filter(handle="@new").exists()


def test_a_calendar_integration_cannot_read_ads(token_client, admin):
    client, _ = token_client(admin, kind=ApiToken.Kind.INTEGRATION, scopes=["calendar:write"])
    assert client.get(POSTS).status_code == 200
    assert_error(client.get(CAMPAIGNS), 403, detail_has="ads:read")
    assert_error(client.get(INFLUENCERS), 403, detail_has="ads:read")
    assert_error(client.get(ME), 403, detail_has="agency:read")


def test_a_personal_token_made_without_scopes_can_do_what_its_user_can(
    token_client, manager, account
):
    client, token = token_client(manager)
    assert token.kind == ApiToken.Kind.PERSONAL
    assert sorted(token.scopes) == sorted(ALL_SCOPES)
    assert client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}).status_code == 200


def test_an_integration_token_must_choose_its_scopes(manager):
    with pytest.raises(ValidationError) as error:
        services.api_token_create(user=manager, name="Zapier", kind=ApiToken.Kind.INTEGRATION)
    assert "scopes" in error.value.message_dict
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("scopes", [[], ["calendar:delete"], ["everything"]])
def test_unknown_or_no_scopes_are_refused(manager, scopes):
    with pytest.raises(ValidationError) as error:
        services.api_token_create(user=manager, name="bad", scopes=scopes)
    assert "scopes" in error.value.message_dict


def test_a_token_still_has_its_users_role(token_client, marketer, account):
    # The scope is there; the marketer's role may not change social accounts all the same.
    client, _ = token_client(marketer, scopes=["accounts:write"])
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 403, detail_has="role")


# Client users: read-only by construction


def test_a_clients_token_reads_only(token_client, client_user, account):
    client, token = token_client(client_user)
    assert sorted(token.scopes) == sorted(READ_SCOPES)
    assert client.get(f"{ACCOUNTS}{account.pk}/").status_code == 200
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 403)
    account.refresh_from_db()
    assert account.bio == ""


@pytest.mark.parametrize("scopes", [["calendar:write"], ALL_SCOPES])
def test_a_client_cannot_get_a_token_that_writes(client_user, scopes):
    with pytest.raises(ValidationError) as error:
        services.api_token_create(user=client_user, name="portal", scopes=scopes)
    assert "scopes" in error.value.message_dict
    assert not ApiToken.objects.filter(user=client_user).exists()


def test_a_clients_old_token_with_every_scope_is_still_refused_writes(
    token_client, client_user, account
):
    # Tokens from before scopes were migrated to every scope; the client's role still says no.
    client, token = token_client(client_user)
    ApiToken.objects.filter(pk=token.pk).update(scopes=ALL_SCOPES)
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 403)


# Brand limits and tenancy


@pytest.fixture
def sibling_account(sibling_brand):
    return SocialAccountFactory(brand=sibling_brand, handle="@bluebikes")


def test_a_brand_limited_token_sees_only_its_brands(
    token_client, admin, brand, sibling_brand, account, sibling_account
):
    client, _ = token_client(admin, brands=[brand])
    listed = {row["id"] for row in client.get(ACCOUNTS).json()["results"]}
    assert listed == {str(account.pk)}
    assert {row["id"] for row in client.get(BRANDS).json()["results"]} == {str(brand.pk)}
    assert [b["id"] for b in client.get(ME).json()["brands"]] == [str(brand.pk)]
    assert_error(client.get(f"{ACCOUNTS}{sibling_account.pk}/"), 404)
    assert_error(client.get(f"{BRANDS}{sibling_brand.pk}/"), 404)
    assert_error(client.patch(f"{ACCOUNTS}{sibling_account.pk}/", {"bio": "x"}), 404)
    assert_error(client.post(f"{ACCOUNTS}{sibling_account.pk}/disconnect/"), 404)
    sibling_account.refresh_from_db()
    assert (sibling_account.bio, sibling_account.status) == ("", "connected")
    # Its own brand works as usual.
    assert client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "ok"}).status_code == 200


def test_a_brand_limited_token_cannot_create_in_another_brand(
    token_client, admin, brand, sibling_brand, outsider
):
    client, _ = token_client(admin, brands=[brand])
    body = {"brand": str(sibling_brand.pk), "platform": "mastodon", "handle": "@sneaky"}
    limited = client.post(ACCOUNTS, body)
    # The same answer as for a brand the user cannot see at all.
    outsiders = APIClient()
    outsiders.force_authenticate(outsider)
    assert limited.status_code == outsiders.post(ACCOUNTS, body).status_code
    assert limited.status_code in (400, 404)
    assert not SocialAccount.objects.filter(handle="@sneaky").exists()


def test_a_brand_limited_token_cannot_add_brands(token_client, admin, brand, home_agency):
    client, _ = token_client(admin, brands=[brand])
    body = {"agency": str(home_agency.pk), "name": "Cedar", "slug": "cedar", "time_zone": "UTC"}
    assert_error(client.post(BRANDS, body), 403, detail_has="limited")


def test_a_token_cannot_be_limited_to_a_brand_its_user_cannot_see(manager, other_brand):
    with pytest.raises(ValidationError) as error:
        services.api_token_create(user=manager, name="x", brands=[other_brand])
    assert "brands" in error.value.message_dict


def test_another_agencys_token_gets_404(token_client, outsider, account, brand):
    client, _ = token_client(outsider)
    assert client.get(ACCOUNTS).json()["results"] == []
    assert_error(client.get(f"{ACCOUNTS}{account.pk}/"), 404)
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 404)
    assert_error(client.get(f"{BRANDS}{brand.pk}/"), 404)


def test_a_revoked_token_gets_401(token_client, manager, account):
    client, token = token_client(manager)
    assert client.get(ACCOUNTS).status_code == 200
    services.api_token_revoke(token=token, by=manager)
    body = assert_error(client.get(ACCOUNTS), 401, type_="authentication_failed")
    assert "revoked" in body["detail"]
    assert_error(client.patch(f"{ACCOUNTS}{account.pk}/", {"bio": "x"}), 401)


def test_a_browser_session_is_not_limited_by_scopes(client, manager, account):
    # Scopes belong to tokens; a signed-in user's API calls have the user's roles only.
    services.api_token_create(user=manager, name="read only", scopes=READ_SCOPES)
    client.force_login(manager)
    response = client.patch(
        f"{ACCOUNTS}{account.pk}/", {"bio": "from the browser"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert account.bio == "from the browser"


# The migration of existing tokens


def test_tokens_from_before_scopes_get_every_scope(manager):
    token, _ = services.api_token_create(user=manager, name="old", scopes=["reports:read"])
    migration = importlib.import_module("agency.migrations.0003_api_token_scopes_idempotency")
    migration.every_scope_for_existing_tokens(django_apps, None)
    token.refresh_from_db()
    assert sorted(token.scopes) == sorted(ALL_SCOPES)
