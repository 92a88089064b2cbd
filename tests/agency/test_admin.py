"""Django admin of the shared kernel: every model is there, secrets are not, tenants stay apart."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from agency.models import (
    AuditEvent,
    Brand,
    ClientAccess,
    Heartbeat,
    Membership,
    Notification,
    SandboxPost,
    SandboxScript,
    SocialAccount,
)
from agency.services import api_token_create, audit_log
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET_MARKER = b"do-not-leak"


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def every_row(brand, account, admin, client_user, manager):
    """One row of every model, so changelists and change pages have something to render."""
    token, _ = api_token_create(user=manager, name="CI")
    return {
        "agency": brand.agency,
        "brand": brand,
        "socialaccount": account,
        "membership": Membership.objects.get(user=admin),
        "clientaccess": ClientAccess.objects.get(user=client_user),
        "auditevent": audit_log(
            actor=admin, action="brand.updated", target=brand, agency=brand.agency, brand=brand
        ),
        "apitoken": token,
        "notification": Notification.objects.create(user=manager, brand=brand, title="Hello"),
        "heartbeat": Heartbeat.objects.create(name="worker", last_seen=timezone.now()),
        "sandboxpost": SandboxPost.objects.create(account=account, idempotency_key="k1", text="hi"),
        "sandboxscript": SandboxScript.objects.create(account=account, outcomes=["ok"]),
    }


MODELS = [
    "agency",
    "brand",
    "socialaccount",
    "membership",
    "clientaccess",
    "auditevent",
    "apitoken",
    "notification",
    "heartbeat",
    "sandboxpost",
    "sandboxscript",
]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_working_changelist_and_change_page(login, superuser, every_row, model):
    client = login(superuser)
    changelist = client.get(reverse(f"admin:agency_{model}_changelist"))
    assert changelist.status_code == 200
    change = client.get(reverse(f"admin:agency_{model}_change", args=[every_row[model].pk]))
    assert change.status_code == 200
    assert SECRET_MARKER not in changelist.content
    assert SECRET_MARKER not in change.content


@pytest.mark.parametrize("model", MODELS)
def test_every_model_changelist_search_works(login, superuser, every_row, model):
    response = login(superuser).get(reverse(f"admin:agency_{model}_changelist"), {"q": "a"})
    assert response.status_code == 200


def test_social_account_admin_says_credentials_are_stored_without_showing_them(
    login, superuser, account
):
    client = login(superuser)
    change = client.get(reverse("admin:agency_socialaccount_change", args=[account.pk]))
    content = change.content.decode()
    assert "stored (encrypted)" in content
    assert 'name="access_token"' not in content
    assert 'name="refresh_token"' not in content
    assert str(account.access_token) not in content


def test_saving_an_account_in_the_admin_keeps_its_credentials_and_audits(login, superuser, account):
    old_token = str(account.access_token)
    client = login(superuser)
    response = client.post(
        reverse("admin:agency_socialaccount_change", args=[account.pk]),
        {
            "platform": account.platform,
            "handle": account.handle,
            "external_id": account.external_id,
            "display_name": "Renamed in admin",
            "instance_url": "",
            "bio": "",
            "link": "",
            "avatar_url": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.display_name == "Renamed in admin"
    assert account.access_token == old_token
    event = AuditEvent.objects.get(action="social_account.updated")
    assert event.actor == superuser
    assert event.data["fields"] == ["display_name"]


def test_disconnect_action_erases_credentials(login, superuser, account):
    login(superuser).post(
        reverse("admin:agency_socialaccount_changelist"),
        {"action": "disconnect", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.DISCONNECTED
    assert account.access_token == ""
    assert AuditEvent.objects.filter(action="social_account.disconnected").exists()


def test_adding_a_brand_in_the_admin_goes_through_the_service(login, superuser, home_agency):
    response = login(superuser).post(
        reverse("admin:agency_brand_add"),
        {
            "agency": home_agency.pk,
            "name": "Dune Surf",
            "slug": "dune-surf",
            "time_zone": "Europe/Lisbon",
            "website": "",
            "contact_email": "",
            "primary_color": "#000000",
            "secondary_color": "#ffffff",
            "approval_workflow": "none",
            "social_accounts-TOTAL_FORMS": "0",
            "social_accounts-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    brand = Brand.objects.get(slug="dune-surf")
    assert AuditEvent.objects.filter(action="brand.created", brand=brand, actor=superuser).exists()
    assert response.url == reverse("admin:agency_brand_changelist")


def test_changing_a_brand_in_the_admin_is_audited(login, superuser, brand):
    response = login(superuser).post(
        reverse("admin:agency_brand_change", args=[brand.pk]),
        {
            "name": brand.name,
            "slug": brand.slug,
            "time_zone": "Asia/Tokyo",
            "website": brand.website,
            "contact_email": brand.contact_email,
            "primary_color": brand.primary_color,
            "secondary_color": brand.secondary_color,
            "approval_workflow": brand.approval_workflow,
            "social_accounts-TOTAL_FORMS": "0",
            "social_accounts-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    brand.refresh_from_db()
    assert brand.time_zone == "Asia/Tokyo"
    assert AuditEvent.objects.get(action="brand.updated").data["fields"] == ["time_zone"]


def test_audit_events_cannot_be_added_changed_or_deleted(login, superuser, every_row):
    event = every_row["auditevent"]
    client = login(superuser)
    assert client.get(reverse("admin:agency_auditevent_add")).status_code == 403
    client.post(reverse("admin:agency_auditevent_change", args=[event.pk]), {"action": "forged"})
    assert (
        client.post(reverse("admin:agency_auditevent_delete", args=[event.pk])).status_code == 403
    )
    event.refresh_from_db()
    assert event.action == "brand.updated"


def test_api_tokens_cannot_be_added_and_revoke_action_works(login, superuser, manager):
    token, _ = api_token_create(user=manager, name="CI")
    client = login(superuser)
    assert client.get(reverse("admin:agency_apitoken_add")).status_code == 403
    client.post(
        reverse("admin:agency_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    page = client.get(reverse("admin:agency_apitoken_change", args=[token.pk]))
    assert token.key_hash not in page.content.decode()


def test_staff_agency_admin_sees_only_their_agencys_rows(
    login, admin, brand, other_brand, account, other_account
):
    admin.is_staff = True
    admin.save()
    admin.user_permissions.set(
        Permission.objects.filter(codename__in=["view_brand", "view_socialaccount"])
    )
    client = login(admin)
    brands = client.get(reverse("admin:agency_brand_changelist")).content.decode()
    assert brand.name in brands
    assert other_brand.name not in brands
    accounts = client.get(reverse("admin:agency_socialaccount_changelist")).content.decode()
    assert account.handle in accounts
    assert other_account.handle not in accounts
    foreign = client.get(reverse("admin:agency_brand_change", args=[other_brand.pk]))
    assert foreign.status_code == 302  # the admin redirects a row it cannot find to its index


def test_non_staff_users_cannot_open_the_admin(login, admin):
    response = login(admin).get(reverse("admin:agency_brand_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_admin_index_lists_the_kernel_models(login, superuser):
    content = login(superuser).get(reverse("admin:index")).content.decode()
    for verbose in ["Api tokens", "Audit events", "Brands", "Social accounts", "Agencies"]:
        assert verbose in content
