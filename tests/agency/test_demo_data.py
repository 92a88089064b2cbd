from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from agency.demo import DEMO_USERS, demo_data_load
from agency.models import (
    Agency,
    AuditEvent,
    Brand,
    ClientAccess,
    Membership,
    Platform,
    Role,
    SocialAccount,
)
from agency.permissions import brands_for_user

pytestmark = pytest.mark.django_db


def _counts():
    return {
        "agencies": Agency.objects.count(),
        "brands": Brand.objects.count(),
        "accounts": SocialAccount.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(),
        "client_accesses": ClientAccess.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def test_demo_data_creates_agency_brands_sandbox_accounts_and_one_user_per_role():
    result = demo_data_load()

    agency = Agency.objects.get()
    assert agency.name == "Northwind Social"
    brands = {b.name: b for b in Brand.objects.filter(agency=agency)}
    assert {name: b.time_zone for name, b in brands.items()} == {
        "Acme Coffee": "Europe/Berlin",
        "Blue Bikes": "America/New_York",
        "Casa Verde": "Europe/Madrid",
    }
    for brand in brands.values():
        accounts = list(brand.social_accounts.all())
        assert 2 <= len(accounts) <= 3
        assert len({a.handle for a in accounts}) == len(accounts)
        for account in accounts:
            assert account.platform == Platform.SANDBOX
            assert account.display_name and account.bio and account.link
            assert account.has_credentials
    assert {m.user.username: m.role for m in Membership.objects.select_related("user")} == {
        "admin": Role.ADMIN,
        "manager": Role.MANAGER,
        "marketer": Role.MARKETER,
    }
    client = get_user_model().objects.get(username="client")
    assert list(brands_for_user(user=client)) == [brands["Acme Coffee"]]
    # Four posts per brand (three scheduled, one draft) and one that fails on purpose.
    assert result["created"] == {"agency": 1, "brands": 3, "accounts": 7, "users": 4, "posts": 13}


def test_demo_writes_go_through_services_and_leave_audit_events():
    demo_data_load()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions == {
        "brand.created",
        "social_account.created",
        "post.created",
        "post.scheduled",
        "metrics.backfilled",
    }
    assert AuditEvent.objects.filter(action="social_account.created").count() == 7


def test_demo_data_twice_creates_nothing_more():
    demo_data_load()
    before = _counts()
    result = demo_data_load()
    assert _counts() == before
    assert result["created"] == {"agency": 0, "brands": 0, "accounts": 0, "users": 0, "posts": 0}


@pytest.mark.parametrize("spec", DEMO_USERS, ids=lambda s: s.username)
def test_printed_demo_password_logs_in(spec):
    out = StringIO()
    demo_data_load(stdout=out)
    assert f"{spec.username} " in out.getvalue()
    assert spec.password in out.getvalue()
    assert authenticate(username=spec.username, password=spec.password) is not None


def test_rerun_keeps_a_changed_password_unless_asked_to_reset():
    demo_data_load()
    user = get_user_model().objects.get(username="manager")
    user.set_password("my-own-manager-password")
    user.save()

    demo_data_load()
    assert authenticate(username="manager", password="my-own-manager-password") is not None

    demo_data_load(reset_passwords=True)
    assert authenticate(username="manager", password="manager-demo-pass") is not None


def test_rerun_keeps_edits_to_demo_rows():
    demo_data_load()
    Brand.objects.filter(slug="acme-coffee").update(website="https://acme.example.org")
    demo_data_load()
    assert Brand.objects.get(slug="acme-coffee").website == "https://acme.example.org"


def test_command_prints_the_logins_table_on_every_run(settings):
    settings.DEBUG = True
    for _ in range(2):
        out = StringIO()
        call_command("demo_data", stdout=out)
        lines = out.getvalue().splitlines()
        assert any(line.split() == ["username", "role", "password"] for line in lines)
        assert any(line.split()[:1] == ["admin"] and "admin-demo-pass" in line for line in lines)


def test_command_refuses_without_debug_because_its_passwords_are_public(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("demo_data", stdout=StringIO())
    assert not get_user_model().objects.exists()


def test_command_reset_passwords_flag_restores_the_printed_password(settings):
    settings.DEBUG = True
    call_command("demo_data", stdout=StringIO())
    user = get_user_model().objects.get(username="client")
    user.set_password("changed-by-the-client")
    user.save()
    call_command("demo_data", "--reset-passwords", stdout=StringIO())
    assert authenticate(username="client", password="client-demo-pass") is not None
