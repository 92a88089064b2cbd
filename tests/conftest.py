"""Persona fixtures: who is asking matters more than what.

`brand` belongs to `home_agency`, where `admin`, `manager` and `marketer` are staff and
`client_user` reads `brand` only. `outsider` is a manager of another agency that owns
`other_brand`; `other_client` reads `sibling_brand`, a second brand of the home agency.
"""

import pytest

from agency.models import Role
from tests.factories import (
    AgencyFactory,
    BrandFactory,
    ClientAccessFactory,
    MembershipFactory,
    SocialAccountFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def home_agency(db):
    return AgencyFactory(name="Northwind Social", slug="northwind")


@pytest.fixture
def brand(home_agency):
    return BrandFactory(agency=home_agency, name="Acme Coffee", slug="acme-coffee")


@pytest.fixture
def sibling_brand(home_agency):
    return BrandFactory(agency=home_agency, name="Blue Bikes", slug="blue-bikes")


@pytest.fixture
def other_brand(db):
    return BrandFactory(name="Rival Tea", slug="rival-tea")


@pytest.fixture
def account(brand):
    return SocialAccountFactory(brand=brand, handle="@acmecoffee")


@pytest.fixture
def other_account(other_brand):
    return SocialAccountFactory(brand=other_brand, handle="@rivaltea")


def _staff(agency, role, username):
    return MembershipFactory(agency=agency, role=role, user=UserFactory(username=username)).user


@pytest.fixture
def admin(home_agency):
    return _staff(home_agency, Role.ADMIN, "ada_admin")


@pytest.fixture
def manager(home_agency):
    return _staff(home_agency, Role.MANAGER, "max_manager")


@pytest.fixture
def marketer(home_agency):
    return _staff(home_agency, Role.MARKETER, "mia_marketer")


@pytest.fixture
def client_user(brand):
    return ClientAccessFactory(brand=brand, user=UserFactory(username="carl_client")).user


@pytest.fixture
def other_client(sibling_brand):
    return ClientAccessFactory(brand=sibling_brand, user=UserFactory(username="olga_client")).user


@pytest.fixture
def outsider(other_brand):
    return _staff(other_brand.agency, Role.MANAGER, "oscar_outsider")


@pytest.fixture
def personas(admin, manager, marketer, client_user, outsider, other_client):
    return {
        "admin": admin,
        "manager": manager,
        "marketer": marketer,
        "client_user": client_user,
        "outsider": outsider,
        "other_client": other_client,
    }


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def login(client):
    """Log the Django test client in as a user and return it."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
