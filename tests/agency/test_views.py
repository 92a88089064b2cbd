"""Dashboard pages of the shared kernel: who may open what, what gets written, what never shows."""

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from agency.models import (
    ApiToken,
    AuditEvent,
    Brand,
    Heartbeat,
    Notification,
    Role,
    SocialAccount,
)
from agency.services import api_token_create
from tests.factories import (
    AgencyFactory,
    BrandFactory,
    MembershipFactory,
    SocialAccountFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SECRET_MARKER = b"do-not-leak"


def brand_form_data(brand=None, **overrides):
    data = {
        "name": brand.name if brand else "Cedar Bakery",
        "slug": brand.slug if brand else "cedar-bakery",
        "time_zone": brand.time_zone if brand else "Europe/Paris",
        "website": "https://cedar.example.com",
        "contact_email": "hi@cedar.example.com",
        "primary_color": "#112233",
        "secondary_color": "#445566",
    }
    data.update(overrides)
    return data


def account_form_data(**overrides):
    data = {
        "platform": "mastodon",
        "handle": "@cedar",
        "display_name": "Cedar Bakery",
        "external_id": "",
        "instance_url": "https://mastodon.example",
        "bio": "Fresh bread daily.",
        "link": "",
        "avatar_url": "",
        "access_token": "",
        "refresh_token": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def urls(brand, account):
    return {
        "dashboard": reverse("dashboard"),
        "brand_list": reverse("brand-list"),
        "brand_create": reverse("brand-create"),
        "brand_detail": reverse("brand-detail", args=[brand.pk]),
        "brand_edit": reverse("brand-edit", args=[brand.pk]),
        "account_create": reverse("account-create", args=[brand.pk]),
        "account_edit": reverse("account-edit", args=[account.pk]),
        "account_disconnect": reverse("account-disconnect", args=[account.pk]),
        "token_list": reverse("token-list"),
        "notification_list": reverse("notification-list"),
    }


BRAND_SCOPED = [
    "brand_detail",
    "brand_edit",
    "account_create",
    "account_edit",
    "account_disconnect",
]
WRITE_PAGES = ["brand_create", "brand_edit", "account_create", "account_edit", "account_disconnect"]


# Anonymous


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "brand_list",
        "brand_create",
        "brand_detail",
        "brand_edit",
        "account_create",
        "account_edit",
        "account_disconnect",
        "token_list",
        "notification_list",
    ],
)
def test_anonymous_is_sent_to_login(client, urls, name):
    response = client.get(urls[name])
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={urls[name]}"


@pytest.mark.parametrize("url_name", ["switch-brand", "notification-mark-all-read"])
def test_anonymous_post_only_actions_are_sent_to_login(client, url_name):
    response = client.post(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# Tenancy: a brand of another agency, or a brand a client has no access to, does not exist.


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", BRAND_SCOPED)
def test_outsider_gets_404_on_another_agencys_brand_and_accounts(
    login, outsider, urls, name, method
):
    response = getattr(login(outsider), method)(urls[name])
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", BRAND_SCOPED)
def test_client_of_a_sibling_brand_gets_404_on_this_brand(login, other_client, urls, name, method):
    response = getattr(login(other_client), method)(urls[name])
    assert response.status_code == 404


def test_outsider_sees_neither_the_brand_nor_its_accounts_in_lists(login, outsider, brand, account):
    client = login(outsider)
    for url in (reverse("dashboard"), reverse("brand-list")):
        content = client.get(url).content.decode()
        assert brand.name not in content
        assert "Rival Tea" in content


# Roles: a role that may read but not write gets 403, before any form is shown or processed.


@pytest.mark.parametrize("name", WRITE_PAGES)
def test_client_user_gets_403_on_every_write_page(login, client_user, urls, name):
    client = login(client_user)
    assert client.get(urls[name]).status_code == 403
    assert client.post(urls[name], brand_form_data() | account_form_data()).status_code == 403


def test_client_user_post_changes_nothing(login, client_user, brand, account, urls):
    client = login(client_user)
    client.post(urls["brand_edit"], brand_form_data(brand, name="Hacked"))
    client.post(urls["account_disconnect"])
    client.post(urls["brand_create"], brand_form_data())
    brand.refresh_from_db()
    account.refresh_from_db()
    assert brand.name == "Acme Coffee"
    assert account.status == SocialAccount.Status.CONNECTED
    assert not Brand.objects.filter(name="Cedar Bakery").exists()
    assert not AuditEvent.objects.exists()


def test_client_user_reads_their_brand_in_the_portal_not_here(login, client_user, urls):
    # Clients live in the client portal (reports.middleware): staff pages refuse them.
    response = login(client_user).get(urls["brand_detail"])
    assert response.status_code == 403
    assert "client portal" in response.content.decode()


def test_403_page_says_why_in_words(login, client_user, urls):
    response = login(client_user).get(urls["brand_edit"])
    assert "can read but not change agency and brands of Acme Coffee" in response.content.decode()


@pytest.mark.parametrize(
    "name", ["brand_create", "brand_edit", "account_create", "account_edit", "account_disconnect"]
)
def test_marketer_cannot_manage_brands_or_accounts(login, marketer, urls, name):
    client = login(marketer)
    assert client.get(urls[name]).status_code == 403
    assert client.post(urls[name], account_form_data()).status_code == 403


@pytest.mark.parametrize("name", ["brand_create", "brand_edit"])
def test_manager_cannot_create_or_edit_brands(login, manager, urls, name):
    client = login(manager)
    assert client.get(urls[name]).status_code == 403
    assert client.post(urls[name], brand_form_data()).status_code == 403


def test_brand_detail_shows_edit_links_only_to_writers(login, manager, brand, urls):
    content = login(manager).get(urls["brand_detail"]).content.decode()
    assert urls["account_create"] in content
    assert urls["brand_edit"] not in content


# Brands: happy paths and errors


def test_admin_creates_a_brand_in_their_only_agency(login, admin, home_agency):
    response = login(admin).post(reverse("brand-create"), brand_form_data())
    brand = Brand.objects.get(slug="cedar-bakery")
    assert response.status_code == 302
    assert response.url == reverse("brand-detail", args=[brand.pk])
    assert brand.agency == home_agency
    assert brand.time_zone == "Europe/Paris"
    assert brand.primary_color == "#112233"
    assert AuditEvent.objects.filter(action="brand.created", brand=brand, actor=admin).exists()


def test_brand_slug_is_made_from_the_name_when_left_blank(login, admin):
    login(admin).post(reverse("brand-create"), brand_form_data(name="Café Olé", slug=""))
    assert Brand.objects.filter(name="Café Olé", slug="cafe-ole").exists()


def test_admin_of_two_agencies_picks_the_agency(login, admin, home_agency):
    second = AgencyFactory(name="Southwind")
    MembershipFactory(user=admin, agency=second, role=Role.ADMIN)
    client = login(admin)
    assert "Southwind" in client.get(reverse("brand-create")).content.decode()

    client.post(reverse("brand-create"), brand_form_data(agency=second.pk))
    assert Brand.objects.get(slug="cedar-bakery").agency == second


def test_admin_cannot_create_a_brand_in_an_agency_they_only_manage(login, admin, other_brand):
    MembershipFactory(user=admin, agency=AgencyFactory(), role=Role.ADMIN)
    MembershipFactory(user=admin, agency=other_brand.agency, role=Role.MANAGER)
    response = login(admin).post(
        reverse("brand-create"), brand_form_data(agency=other_brand.agency.pk)
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Brand.objects.filter(slug="cedar-bakery").exists()


def test_admin_edits_a_brand_and_the_change_is_audited(login, admin, brand, urls):
    response = login(admin).post(
        urls["brand_edit"], brand_form_data(brand, time_zone="America/New_York")
    )
    assert response.status_code == 302
    brand.refresh_from_db()
    assert brand.time_zone == "America/New_York"
    event = AuditEvent.objects.get(action="brand.updated", brand=brand)
    assert "time_zone" in event.data["fields"]


def test_edit_form_shows_the_stored_values(login, admin, brand, urls):
    content = login(admin).get(urls["brand_edit"]).content.decode()
    assert 'value="Acme Coffee"' in content
    assert '<option value="Europe/Berlin" selected>' in content


def test_brand_logo_upload_is_stored(login, admin, brand, urls):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "logo.png"
    login(admin).post(urls["brand_edit"], brand_form_data(brand, logo=buffer))
    brand.refresh_from_db()
    assert brand.logo.name.startswith("brands/logos/logo")


def test_unknown_time_zone_is_refused_in_words(login, admin, brand, urls):
    response = login(admin).post(urls["brand_edit"], brand_form_data(brand, time_zone="Mars/Base"))
    assert response.status_code == 200
    assert "Mars/Base is not one of the available choices" in response.content.decode()
    brand.refresh_from_db()
    assert brand.time_zone == "Europe/Berlin"
    assert not AuditEvent.objects.exists()


def test_bad_colour_is_refused_next_to_the_field_and_nothing_saved(login, admin, brand, urls):
    response = login(admin).post(
        urls["brand_edit"], brand_form_data(brand, name="Renamed", primary_color="red")
    )
    assert response.status_code == 200
    assert "Enter a colour as #RRGGBB" in response.content.decode()
    assert response.context["form"].errors["primary_color"]
    brand.refresh_from_db()
    assert brand.name == "Acme Coffee"
    assert not AuditEvent.objects.exists()


def test_duplicate_brand_slug_in_the_agency_is_refused(login, admin, brand, sibling_brand, urls):
    response = login(admin).post(reverse("brand-create"), brand_form_data(slug=brand.slug))
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["slug"])
    assert Brand.objects.filter(slug=brand.slug).count() == 1


# Social accounts


def test_manager_adds_an_account_with_credentials(login, manager, brand, urls):
    response = login(manager).post(
        urls["account_create"], account_form_data(access_token="tok-do-not-leak-new")
    )
    assert response.status_code == 302
    account = SocialAccount.objects.get(brand=brand, handle="@cedar")
    assert account.platform == "mastodon"
    assert account.access_token == "tok-do-not-leak-new"
    event = AuditEvent.objects.get(action="social_account.created", brand=brand)
    assert event.actor == manager


def test_duplicate_handle_is_refused_in_words_and_nothing_saved(login, manager, account, urls):
    response = login(manager).post(
        urls["account_create"], account_form_data(platform=account.platform, handle=account.handle)
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert "already exists" in str(response.context["form"].errors["handle"])
    assert SocialAccount.objects.filter(handle=account.handle).count() == 1
    assert not AuditEvent.objects.exists()


def test_renaming_an_account_to_a_taken_handle_is_refused(login, manager, brand, account):
    second = SocialAccountFactory(brand=brand, platform=account.platform, handle="@second")
    response = login(manager).post(
        reverse("account-edit", args=[second.pk]),
        account_form_data(platform=account.platform, handle=account.handle),
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["handle"])
    second.refresh_from_db()
    assert second.handle == "@second"
    assert not AuditEvent.objects.exists()


def test_account_edit_with_blank_credentials_keeps_the_stored_ones(login, manager, account, urls):
    old_token = str(account.access_token)
    response = login(manager).post(
        urls["account_edit"],
        account_form_data(platform=account.platform, handle=account.handle, bio="New bio"),
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.bio == "New bio"
    assert account.access_token == old_token
    event = AuditEvent.objects.get(action="social_account.updated")
    assert "bio" in event.data["fields"]
    assert "credentials" not in event.data["fields"]


def test_account_edit_with_a_new_token_replaces_it(login, admin, account, urls):
    login(admin).post(
        urls["account_edit"],
        account_form_data(platform=account.platform, handle=account.handle, access_token="fresh"),
    )
    account.refresh_from_db()
    assert account.access_token == "fresh"
    assert "credentials" in AuditEvent.objects.get(action="social_account.updated").data["fields"]


def test_disconnect_asks_first_then_erases_credentials(login, manager, account, urls):
    client = login(manager)
    confirmation = client.get(urls["account_disconnect"])
    assert confirmation.status_code == 200
    assert "Disconnect" in confirmation.content.decode()
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.CONNECTED

    response = client.post(urls["account_disconnect"])
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.DISCONNECTED
    assert account.access_token == ""
    assert account.refresh_token == ""
    assert AuditEvent.objects.filter(action="social_account.disconnected").exists()


def test_credentials_never_appear_in_any_page(login, admin, brand, account, urls):
    SocialAccountFactory(brand=brand, status=SocialAccount.Status.NEEDS_REAUTH)
    client = login(admin)
    for name in ["dashboard", "brand_list", "brand_detail", "account_edit", "account_disconnect"]:
        response = client.get(urls[name])
        assert response.status_code == 200, name
        assert SECRET_MARKER not in response.content, name


def test_submitted_token_is_not_echoed_back_when_the_form_has_errors(login, admin, account, urls):
    response = login(admin).post(
        urls["account_edit"],
        account_form_data(handle="", access_token="typed-do-not-leak", refresh_token="x"),
    )
    assert response.status_code == 200
    assert SECRET_MARKER not in response.content
    assert b'name="access_token"' in response.content


# API tokens


def test_token_key_is_shown_once_then_never_again(login, manager):
    client = login(manager)
    response = client.post(reverse("token-list"), {"name": "Zapier"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith("agt_")
    assert key.encode() in response.content
    token = ApiToken.objects.get(user=manager, name="Zapier")
    assert token.key_hash != key
    assert key[:10] == token.prefix

    listing = client.get(reverse("token-list"))
    assert key.encode() not in listing.content
    assert token.prefix.encode() in listing.content
    assert listing["Cache-Control"].startswith("max-age=0")


def test_token_list_shows_only_the_users_tokens(login, manager, marketer):
    api_token_create(user=marketer, name="marketer-only")
    api_token_create(user=manager, name="manager-own")
    content = login(manager).get(reverse("token-list")).content.decode()
    assert "manager-own" in content
    assert "marketer-only" not in content


def test_revoke_own_token(login, manager):
    token, _key = api_token_create(user=manager, name="CI")
    response = login(manager).post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in login(manager).get(reverse("token-list")).content.decode()


def test_revoking_another_users_token_is_404(login, manager, marketer):
    token, _ = api_token_create(user=marketer, name="theirs")
    response = login(manager).post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_only_accepts_post(login, manager):
    token, _ = api_token_create(user=manager, name="CI")
    assert login(manager).get(reverse("token-revoke", args=[token.pk])).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_client_user_can_manage_their_own_tokens(login, client_user):
    response = login(client_user).post(reverse("token-list"), {"name": "portal"})
    assert response.status_code == 200
    assert ApiToken.objects.filter(user=client_user, name="portal").exists()


# Notifications


def test_notifications_page_lists_only_the_users_notifications(login, manager, marketer, brand):
    Notification.objects.create(user=manager, brand=brand, title="Post failed on X")
    Notification.objects.create(user=marketer, title="Campaign ended")
    content = login(manager).get(reverse("notification-list")).content.decode()
    assert "Post failed on X" in content
    assert "Campaign ended" not in content


def test_mark_all_read_marks_only_the_users_notifications(login, manager, marketer):
    mine = Notification.objects.create(user=manager, title="Mine")
    theirs = Notification.objects.create(user=marketer, title="Theirs")
    response = login(manager).post(reverse("notification-mark-all-read"))
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None


def test_unread_count_shows_in_navigation(login, manager):
    Notification.objects.create(user=manager, title="One")
    Notification.objects.create(user=manager, title="Two")
    Notification.objects.create(user=manager, title="Read", read_at=timezone.now())
    assert 'aria-label="2 unread"' in login(manager).get(reverse("dashboard")).content.decode()


# Dashboard and navigation


def test_dashboard_counts_accounts_and_those_needing_attention(login, manager, brand, account):
    SocialAccountFactory(brand=brand, status=SocialAccount.Status.NEEDS_REAUTH)
    content = login(manager).get(reverse("dashboard")).content.decode()
    assert "2 social accounts" in content
    assert "1 needs attention" in content


def test_dashboard_says_background_work_is_not_running_without_heartbeats(login, manager):
    content = login(manager).get(reverse("dashboard")).content.decode()
    assert "Worker not running" in content
    assert "Scheduler (beat) not running" in content


def test_dashboard_says_when_the_worker_was_last_seen(login, manager):
    Heartbeat.objects.create(name="worker", last_seen=timezone.now() - timedelta(seconds=12))
    Heartbeat.objects.create(name="beat", last_seen=timezone.now() - timedelta(hours=3))
    content = login(manager).get(reverse("dashboard")).content.decode()
    assert "Worker last seen 1" in content and " s ago" in content
    assert "Scheduler (beat) not running: last seen 3\xa0hours ago" in content


def test_django_admin_link_only_for_staff_users(login, manager, admin):
    assert reverse("admin:index") not in login(manager).get(reverse("dashboard")).content.decode()
    admin.is_staff = True
    admin.save()
    assert reverse("admin:index") in login(admin).get(reverse("dashboard")).content.decode()


def test_logout_is_a_post_form_and_htmx_gets_the_csrf_token(login, manager):
    content = login(manager).get(reverse("dashboard")).content.decode()
    assert f'<form method="post" action="{reverse("logout")}">' in content
    assert 'hx-headers=\'{"X-CSRFToken": "' in content
    assert "vendor/htmx.min.js" in content


# Brand switcher


def test_switching_brand_stores_it_and_returns_to_the_page(login, manager, brand):
    client = login(manager)
    response = client.post(
        reverse("switch-brand"), {"brand_id": brand.pk, "next": reverse("brand-list")}
    )
    assert response.status_code == 302
    assert response.url == reverse("brand-list")
    assert client.session["current_brand_id"] == str(brand.pk)
    assert f'<option value="{brand.pk}" selected>' in client.get("/").content.decode()


def test_switching_to_a_foreign_brand_is_404(login, manager, other_brand):
    client = login(manager)
    assert client.post(reverse("switch-brand"), {"brand_id": other_brand.pk}).status_code == 404
    assert "current_brand_id" not in client.session


def test_switching_to_a_malformed_brand_id_is_404(login, manager):
    assert login(manager).post(reverse("switch-brand"), {"brand_id": "nope"}).status_code == 404


def test_switcher_refuses_an_external_next(login, manager, brand):
    response = login(manager).post(
        reverse("switch-brand"), {"brand_id": brand.pk, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_client_sees_the_portal_menu_not_the_staff_switcher(
    login, client_user, brand, sibling_brand
):
    client = login(client_user)
    client.get(reverse("dashboard"))  # the login landing marks the session as portal-only
    content = client.get(reverse("notification-list")).content.decode()
    assert reverse("reports:portal-home") in content
    assert 'id="brand-switcher"' not in content
    assert f'value="{sibling_brand.pk}"' not in content
    assert reverse("brand-list") not in content


def test_user_without_any_membership_cannot_create_brands(login):
    lone = UserFactory(username="lone")
    assert login(lone).get(reverse("brand-create")).status_code == 403
    assert login(lone).post(reverse("brand-create"), brand_form_data()).status_code == 403
    assert not Brand.objects.exists()


@pytest.mark.parametrize("url_name", ["dashboard", "brand-list"])
def test_brand_pages_query_count_does_not_grow_with_brands(login, admin, home_agency, url_name):
    client = login(admin)

    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(url_name)).status_code == 200
        return len(captured)

    BrandFactory(agency=home_agency)
    few = queries_for_page()
    for _ in range(4):
        SocialAccountFactory(brand=BrandFactory(agency=home_agency))
    assert queries_for_page() == few
