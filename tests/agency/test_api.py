"""The kernel's REST API: brands, social accounts and /me/, seen by every persona."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agency.models import AuditEvent, Brand, Platform, Role, SocialAccount
from tests.factories import BrandFactory, MembershipFactory, SocialAccountFactory

BRANDS = "/api/v1/brands/"
ACCOUNTS = "/api/v1/social-accounts/"
ME = "/api/v1/me/"
SECRET_MARKER = "do-not-leak"


@pytest.fixture
def as_user(api_client):
    def _as(user):
        api_client.force_authenticate(user=user)
        return api_client

    return _as


def brand_url(brand):
    return f"{BRANDS}{brand.pk}/"


def account_url(account, suffix=""):
    return f"{ACCOUNTS}{account.pk}/{suffix}"


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def assert_no_secrets(response):
    assert SECRET_MARKER not in response.content.decode()
    assert "access_token" not in response.content.decode()
    assert "refresh_token" not in response.content.decode()


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "detail", "fields"}
    if field is not None:
        assert field in body["fields"], body


# Brands: reading


def test_outsider_sees_only_their_agencys_brands_and_gets_404_on_ours(
    as_user, outsider, brand, other_brand
):
    client = as_user(outsider)
    assert ids(client.get(BRANDS)) == {str(other_brand.pk)}
    assert_error(client.get(brand_url(brand)), 404)


def test_outsider_without_brands_gets_an_empty_list(as_user, brand):
    lonely = MembershipFactory(role=Role.MANAGER).user
    response = as_user(lonely).get(BRANDS)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["count"] == 0


def test_other_client_sees_only_their_brand(as_user, other_client, brand, sibling_brand):
    client = as_user(other_client)
    assert ids(client.get(BRANDS)) == {str(sibling_brand.pk)}
    assert_error(client.get(brand_url(brand)), 404)


def test_client_reads_their_brand_with_their_role(as_user, client_user, brand):
    response = as_user(client_user).get(brand_url(brand))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Acme Coffee"
    assert body["your_role"] == Role.CLIENT
    assert body["agency"] == str(brand.agency_id)
    assert body["logo"] is None


def test_staff_see_every_brand_of_their_agency_with_their_role(
    as_user, manager, brand, sibling_brand, other_brand
):
    response = as_user(manager).get(BRANDS)
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {str(brand.pk), str(sibling_brand.pk)}
    assert {row["your_role"] for row in rows.values()} == {Role.MANAGER}


def test_brands_filter_by_name_and_order(as_user, admin, brand, sibling_brand):
    client = as_user(admin)
    assert ids(client.get(BRANDS, {"q": "bikes"})) == {str(sibling_brand.pk)}
    names = [r["name"] for r in client.get(BRANDS, {"ordering": "-name"}).json()["results"]]
    assert names == ["Blue Bikes", "Acme Coffee"]


# Brands: writing


def new_brand_payload(in_agency, **overrides):
    return {
        "agency": str(in_agency.pk),
        "name": "Cedar Bakery",
        "slug": "cedar-bakery",
        "time_zone": "America/New_York",
        "website": "https://cedar.example.com",
        "primary_color": "#112233",
        **overrides,
    }


def test_admin_creates_a_brand_and_it_is_audited(as_user, admin, home_agency):
    response = as_user(admin).post(BRANDS, new_brand_payload(home_agency))
    assert response.status_code == 201, response.content
    brand = Brand.objects.get(slug="cedar-bakery")
    assert brand.agency == home_agency
    assert brand.time_zone == "America/New_York"
    assert response.json()["id"] == str(brand.pk)
    assert response.json()["your_role"] == Role.ADMIN
    event = AuditEvent.objects.get(action="brand.created")
    assert (event.actor, event.brand, event.agency) == (admin, brand, home_agency)


def test_admin_updates_a_brand_and_it_is_audited(as_user, admin, brand):
    response = as_user(admin).patch(brand_url(brand), {"name": "Acme Roasters"})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Acme Roasters"
    assert response.json()["your_role"] == Role.ADMIN
    brand.refresh_from_db()
    assert brand.name == "Acme Roasters"
    event = AuditEvent.objects.get(action="brand.updated")
    assert (event.actor, event.brand, event.data) == (admin, brand, {"fields": ["name"]})


def test_brand_stays_in_its_agency_on_update(as_user, admin, brand, other_brand):
    response = as_user(admin).patch(brand_url(brand), {"agency": str(other_brand.agency_id)})
    assert response.status_code == 200
    brand.refresh_from_db()
    assert brand.agency_id != other_brand.agency_id


@pytest.mark.parametrize("persona", ["manager", "marketer", "client_user"])
def test_non_admins_cannot_create_or_change_brands(request, as_user, persona, home_agency, brand):
    client = as_user(request.getfixturevalue(persona))
    assert_error(client.post(BRANDS, new_brand_payload(home_agency)), 403)
    assert_error(client.patch(brand_url(brand), {"name": "Hijacked"}), 403)
    assert_error(client.put(brand_url(brand), new_brand_payload(home_agency)), 403)
    assert not Brand.objects.filter(slug="cedar-bakery").exists()
    brand.refresh_from_db()
    assert brand.name == "Acme Coffee"
    assert not AuditEvent.objects.exists()


def test_admin_of_one_agency_cannot_add_brands_to_another_they_only_manage(
    as_user, admin, other_brand
):
    MembershipFactory(user=admin, agency=other_brand.agency, role=Role.MANAGER)
    response = as_user(admin).post(BRANDS, new_brand_payload(other_brand.agency))
    assert_error(response, 403)
    assert not Brand.objects.filter(slug="cedar-bakery").exists()


def test_admin_cannot_add_brands_to_an_agency_they_are_not_in(as_user, admin, other_brand):
    response = as_user(admin).post(BRANDS, new_brand_payload(other_brand.agency))
    assert_error(response, 400, field="agency")
    assert "does not exist" in response.json()["fields"]["agency"][0]
    assert not Brand.objects.filter(slug="cedar-bakery").exists()


def test_outsider_cannot_change_a_brand_they_cannot_see(as_user, outsider, brand):
    assert_error(as_user(outsider).patch(brand_url(brand), {"name": "Hijacked"}), 404)
    brand.refresh_from_db()
    assert brand.name == "Acme Coffee"


def test_brands_cannot_be_deleted(as_user, admin, brand):
    assert_error(as_user(admin).delete(brand_url(brand)), 405)
    assert Brand.objects.filter(pk=brand.pk).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"primary_color": "blue"}, "primary_color"),
        ({"secondary_color": "#12345"}, "secondary_color"),
        ({"slug": "acme-coffee"}, "slug"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_brand_data_is_400_naming_the_field(
    as_user, admin, home_agency, brand, overrides, field
):
    before = Brand.objects.count()
    response = as_user(admin).post(BRANDS, new_brand_payload(home_agency, **overrides))
    assert_error(response, 400, field=field)
    assert response.json()["type"] == "validation_error"
    assert Brand.objects.count() == before
    assert not AuditEvent.objects.exists()


def test_renaming_a_slug_onto_a_sibling_is_400_on_slug(as_user, admin, brand, sibling_brand):
    response = as_user(admin).patch(brand_url(brand), {"slug": sibling_brand.slug})
    assert_error(response, 400, field="slug")
    brand.refresh_from_db()
    assert brand.slug == "acme-coffee"


def count_list_queries(client, url, expected_rows):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected_rows
    return len(ctx.captured_queries)


def test_brand_list_query_count_does_not_grow_with_rows(as_user, admin, home_agency):
    client = as_user(admin)
    BrandFactory.create_batch(2, agency=home_agency)
    few = count_list_queries(client, BRANDS, 2)
    BrandFactory.create_batch(18, agency=home_agency)
    many = count_list_queries(client, BRANDS, 20)
    assert few == many == 2  # the page count and the page


# Social accounts: reading


def test_outsider_sees_no_accounts_and_gets_404_on_one(as_user, outsider, account):
    client = as_user(outsider)
    response = client.get(ACCOUNTS)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert_error(client.get(account_url(account)), 404)
    assert_error(client.patch(account_url(account), {"bio": "pwned"}), 404)
    assert_error(client.post(account_url(account, "disconnect/")), 404)
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.CONNECTED
    assert account.bio == ""


def test_other_client_sees_only_their_brands_accounts(
    as_user, other_client, account, sibling_brand
):
    sibling_account = SocialAccountFactory(brand=sibling_brand)
    client = as_user(other_client)
    assert ids(client.get(ACCOUNTS)) == {str(sibling_account.pk)}
    assert_error(client.get(account_url(account)), 404)


def test_accounts_list_and_detail_never_show_credentials(as_user, manager, account):
    client = as_user(manager)
    listing = client.get(ACCOUNTS)
    detail = client.get(account_url(account))
    assert listing.status_code == detail.status_code == 200
    assert detail.json()["has_credentials"] is True
    assert detail.json()["handle"] == "@acmecoffee"
    assert detail.json()["brand"] == str(account.brand_id)
    assert_no_secrets(listing)
    assert_no_secrets(detail)


def test_accounts_filter_by_brand_platform_and_status(
    as_user, manager, brand, sibling_brand, account
):
    mastodon = SocialAccountFactory(
        brand=sibling_brand, platform=Platform.MASTODON, handle="@blue@mastodon.social"
    )
    gone = SocialAccountFactory(brand=brand, status=SocialAccount.Status.DISCONNECTED)
    client = as_user(manager)
    assert ids(client.get(ACCOUNTS, {"brand": str(sibling_brand.pk)})) == {str(mastodon.pk)}
    assert ids(client.get(ACCOUNTS, {"platform": "mastodon"})) == {str(mastodon.pk)}
    assert ids(client.get(ACCOUNTS, {"status": "disconnected"})) == {str(gone.pk)}
    assert ids(client.get(ACCOUNTS, {"q": "blue@"})) == {str(mastodon.pk)}
    handles = [r["handle"] for r in client.get(ACCOUNTS, {"ordering": "handle"}).json()["results"]]
    assert handles == sorted(handles)


def test_account_filter_with_a_bad_value_is_400(as_user, manager, account):
    response = as_user(manager).get(ACCOUNTS, {"platform": "myspace"})
    assert_error(response, 400, field="platform")


def test_account_list_query_count_does_not_grow_with_rows(as_user, manager, brand):
    client = as_user(manager)
    SocialAccountFactory.create_batch(2, brand=brand)
    few = count_list_queries(client, ACCOUNTS, 2)
    SocialAccountFactory.create_batch(18, brand=brand)
    many = count_list_queries(client, ACCOUNTS, 20)
    # The caller's brands (read once, so the list filters on their ids), the count, the page.
    assert few == many == 3


# Social accounts: writing


def new_account_payload(for_brand, **overrides):
    return {
        "brand": str(for_brand.pk),
        "platform": Platform.MASTODON,
        "handle": "@acme@mastodon.social",
        "instance_url": "https://mastodon.social",
        "access_token": "fresh-access-token-do-not-leak",
        "refresh_token": "fresh-refresh-token-do-not-leak",
        **overrides,
    }


def test_manager_connects_an_account_and_it_is_audited(as_user, manager, brand):
    response = as_user(manager).post(ACCOUNTS, new_account_payload(brand))
    assert response.status_code == 201, response.content
    assert_no_secrets(response)
    account = SocialAccount.objects.get(handle="@acme@mastodon.social")
    assert account.brand == brand
    assert account.access_token == "fresh-access-token-do-not-leak"
    assert response.json()["id"] == str(account.pk)
    assert response.json()["has_credentials"] is True
    event = AuditEvent.objects.get(action="social_account.created")
    assert (event.actor, event.brand) == (manager, brand)
    assert SECRET_MARKER not in json.dumps(event.data)


def test_manager_edits_an_account_keeping_its_credentials(as_user, manager, account):
    stored = account.access_token
    response = as_user(manager).patch(
        account_url(account), {"bio": "Fresh coffee daily.", "access_token": ""}
    )
    assert response.status_code == 200, response.content
    assert_no_secrets(response)
    account.refresh_from_db()
    assert account.bio == "Fresh coffee daily."
    assert account.access_token == stored
    event = AuditEvent.objects.get(action="social_account.updated")
    assert (event.actor, event.data) == (manager, {"fields": ["bio"]})


def test_manager_replaces_credentials_without_them_being_echoed(as_user, manager, account):
    response = as_user(manager).patch(
        account_url(account), {"access_token": "rotated-token-do-not-leak"}
    )
    assert response.status_code == 200
    assert_no_secrets(response)
    account.refresh_from_db()
    assert account.access_token == "rotated-token-do-not-leak"
    event = AuditEvent.objects.get(action="social_account.updated")
    assert event.data == {"fields": ["credentials"]}


def test_an_account_cannot_be_moved_to_another_brand(as_user, admin, account, sibling_brand):
    response = as_user(admin).patch(account_url(account), {"brand": str(sibling_brand.pk)})
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.brand_id != sibling_brand.pk


def test_manager_disconnects_an_account_erasing_its_credentials(as_user, manager, account):
    response = as_user(manager).post(account_url(account, "disconnect/"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == SocialAccount.Status.DISCONNECTED
    assert response.json()["has_credentials"] is False
    assert_no_secrets(response)
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.DISCONNECTED
    assert (account.access_token, account.refresh_token) == ("", "")
    event = AuditEvent.objects.get(action="social_account.disconnected")
    assert (event.actor, event.brand) == (manager, account.brand)


@pytest.mark.parametrize("persona", ["marketer", "client_user"])
def test_read_only_roles_cannot_write_accounts(request, as_user, persona, brand, account):
    client = as_user(request.getfixturevalue(persona))
    assert client.get(account_url(account)).status_code == 200
    assert_error(client.post(ACCOUNTS, new_account_payload(brand)), 403)
    assert_error(client.patch(account_url(account), {"bio": "pwned"}), 403)
    assert_error(client.put(account_url(account), new_account_payload(brand)), 403)
    assert_error(client.post(account_url(account, "disconnect/")), 403)
    assert SocialAccount.objects.count() == 1
    account.refresh_from_db()
    assert (account.bio, account.status) == ("", SocialAccount.Status.CONNECTED)
    assert not AuditEvent.objects.exists()


def test_accounts_cannot_be_deleted(as_user, admin, account):
    assert_error(as_user(admin).delete(account_url(account)), 405)
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_connecting_an_account_to_a_foreign_brand_is_refused(as_user, manager, other_brand):
    response = as_user(manager).post(ACCOUNTS, new_account_payload(other_brand))
    assert_error(response, 400, field="brand")
    assert "does not exist" in response.json()["fields"]["brand"][0]
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"handle": ""}, "handle"),
        ({"platform": "myspace"}, "platform"),
        ({"instance_url": "not a url"}, "instance_url"),
        ({"brand": "not-a-uuid"}, "brand"),
    ],
)
def test_bad_account_data_is_400_naming_the_field(as_user, manager, brand, overrides, field):
    response = as_user(manager).post(ACCOUNTS, new_account_payload(brand, **overrides))
    assert_error(response, 400, field=field)
    assert_no_secrets(response)
    assert not SocialAccount.objects.exists()


def test_missing_handle_is_400_on_handle(as_user, manager, brand):
    payload = new_account_payload(brand)
    del payload["handle"]
    assert_error(as_user(manager).post(ACCOUNTS, payload), 400, field="handle")
    assert not SocialAccount.objects.exists()


def test_duplicate_handle_on_the_same_brand_and_platform_is_400_on_handle(
    as_user, manager, account
):
    payload = new_account_payload(account.brand, platform=account.platform, handle=account.handle)
    response = as_user(manager).post(ACCOUNTS, payload)
    assert_error(response, 400, field="handle")
    assert response.json()["type"] == "validation_error"
    assert_no_secrets(response)
    assert SocialAccount.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_same_handle_on_another_platform_is_fine(as_user, manager, account):
    payload = new_account_payload(account.brand, platform=Platform.X, handle=account.handle)
    assert as_user(manager).post(ACCOUNTS, payload).status_code == 201


def test_duplicate_that_races_past_validation_is_still_400(as_user, manager, account, monkeypatch):
    # Two requests can both pass full_clean() before either inserts; the database decides.
    monkeypatch.setattr(SocialAccount, "validate_constraints", lambda self, **kwargs: None)
    payload = new_account_payload(account.brand, platform=account.platform, handle=account.handle)
    response = as_user(manager).post(ACCOUNTS, payload)
    assert_error(response, 400)
    assert response.json()["type"] == "validation_error"
    if connection.vendor == "postgresql":
        # PostgreSQL names the constraint, so the error lands on its field; SQLite does not.
        assert list(response.json()["fields"]) == ["handle"]
    assert SocialAccount.objects.count() == 1


# Me


def test_me_shows_memberships_and_what_each_brand_allows(
    as_user, manager, brand, sibling_brand, home_agency
):
    response = as_user(manager).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "max_manager"
    assert body["memberships"] == [
        {"agency": {"id": str(home_agency.pk), "name": "Northwind Social"}, "role": "manager"}
    ]
    assert body["client_brands"] == []
    by_id = {b["id"]: b for b in body["brands"]}
    assert set(by_id) == {str(brand.pk), str(sibling_brand.pk)}
    assert by_id[str(brand.pk)]["role"] == "manager"
    assert set(by_id[str(brand.pk)]["writable_areas"]) == {
        "accounts",
        "calendar",
        "community",
        "reports",
    }


def test_me_shows_a_client_their_brand_and_nothing_writable(as_user, client_user, brand):
    body = as_user(client_user).get(ME).json()
    assert body["memberships"] == []
    assert body["client_brands"] == [
        {"id": str(brand.pk), "name": "Acme Coffee", "agency": str(brand.agency_id)}
    ]
    assert body["brands"] == [
        {"id": str(brand.pk), "name": "Acme Coffee", "role": "client", "writable_areas": []}
    ]


@pytest.mark.parametrize("url", [ME, BRANDS, ACCOUNTS])
def test_anonymous_requests_are_401_asking_for_a_token(api_client, db, url):
    response = api_client.get(url)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"
