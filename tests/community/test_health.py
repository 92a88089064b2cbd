"""Profile health: each check, the score, and the panel on the brand page (staff only)."""

import pytest
from django.urls import reverse

from agency.models import Platform
from agency.platforms import get_adapter
from community.selectors import profile_health, profile_health_for_brand
from tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def healthy(brand):
    return SocialAccountFactory(
        brand=brand,
        platform=Platform.MASTODON,
        handle="@acme",
        display_name="Acme Coffee",
        bio="Fresh roasts daily.",
        link="https://acme.example.com/",
        avatar_url="https://acme.example.com/logo.png",
    )


def _failing(health):
    return {c["check"]: c["advice"] for c in health["checks"] if not c["ok"]}


def test_a_complete_profile_scores_100(healthy):
    health = profile_health(account=healthy)
    assert health["score"] == 100 and _failing(health) == {}
    assert len(health["checks"]) == 6


def test_an_empty_profile_says_what_to_fix(brand):
    brand.contact_email = ""
    brand.save()
    account = SocialAccountFactory(brand=brand, display_name="", status="needs_reauth")
    health = profile_health(account=account)
    assert health["score"] == 0
    failing = _failing(health)
    assert set(failing) == {
        "Bio",
        "Website link",
        "Avatar",
        "Contact details",
        "Display name",
        "Connected",
    }
    assert all(failing.values())
    assert "Reconnect" in failing["Connected"]


def test_the_bio_limit_is_the_platforms(healthy):
    limit = get_adapter(Platform.MASTODON).rules.max_bio_chars
    healthy.bio = "x" * limit
    assert "Bio" not in _failing(profile_health(account=healthy))
    healthy.bio = "x" * (limit + 1)
    assert f"to {limit} characters" in _failing(profile_health(account=healthy))["Bio"]


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://acme.example.com/", True),
        ("http://acme.example.com/", False),
        ("https://localhost/", False),
        ("acme.example.com", False),
    ],
)
def test_the_link_must_be_a_well_formed_https_url(healthy, link, ok):
    healthy.link = link
    assert ("Website link" not in _failing(profile_health(account=healthy))) is ok


def test_contact_details_come_from_the_brand_email_or_the_link(healthy):
    healthy.brand.contact_email = ""
    assert "Contact details" not in _failing(profile_health(account=healthy))
    healthy.link = ""
    assert "Contact details" in _failing(profile_health(account=healthy))
    healthy.brand.contact_email = "hello@acme.example.com"
    assert "Contact details" not in _failing(profile_health(account=healthy))


@pytest.mark.parametrize(
    ("display_name", "ok"),
    [
        ("Acme Coffee", True),
        ("ACME COFFEE Berlin", True),
        ("acme-coffee", True),
        ("Acme Cofee", True),  # a typo is still recognisable
        ("Acme", True),
        ("Rival Tea", False),
        ("", False),
    ],
)
def test_the_display_name_must_be_recognisably_the_brand(healthy, display_name, ok):
    healthy.display_name = display_name
    assert ("Display name" not in _failing(profile_health(account=healthy))) is ok


def test_the_brand_rows_cost_one_query_and_weakest_come_first(
    brand, healthy, django_assert_num_queries
):
    weak = SocialAccountFactory(brand=brand, handle="@weak", display_name="")
    with django_assert_num_queries(1):
        rows = profile_health_for_brand(brand=brand)
    assert [r["account"] for r in rows] == [weak, healthy]


@pytest.mark.parametrize("who", ["admin", "manager", "marketer"])
def test_the_brand_page_shows_the_health_panel_to_staff(personas, login, brand, healthy, who):
    SocialAccountFactory(brand=brand, handle="@weak", display_name="", bio="")
    body = login(personas[who]).get(reverse("brand-detail", args=[brand.pk])).content.decode()
    assert "Profile health" in body
    assert "100/100" in body and "Write a bio" in body


def test_clients_do_not_see_the_health_panel(client_user, login, brand, healthy):
    # The staff brand page is refused to clients (reports.middleware), health panel and all.
    page = login(client_user).get(reverse("brand-detail", args=[brand.pk]))
    assert page.status_code == 403 and "Profile health" not in page.content.decode()


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_outsiders_see_no_brand_page_at_all(personas, login, brand, healthy, who):
    assert login(personas[who]).get(reverse("brand-detail", args=[brand.pk])).status_code == 404
