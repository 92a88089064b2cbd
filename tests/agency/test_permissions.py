import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from agency.models import Role
from agency.permissions import Area, brand_for_user, brands_for_user, can_write


def test_staff_see_every_brand_of_their_agency(manager, brand, sibling_brand, other_brand):
    visible = set(brands_for_user(user=manager))
    assert visible == {brand, sibling_brand}


def test_client_sees_only_their_own_brand(client_user, brand, sibling_brand, other_brand):
    visible = list(brands_for_user(user=client_user))
    assert visible == [brand]
    assert visible[0].user_role == Role.CLIENT


def test_outsider_gets_404_for_another_agencys_brand(outsider, brand):
    with pytest.raises(Http404):
        brand_for_user(user=outsider, brand_id=brand.pk)


def test_malformed_brand_id_is_404_not_500(manager):
    with pytest.raises(Http404):
        brand_for_user(user=manager, brand_id="not-a-uuid")


def test_client_cannot_write_any_area(client_user, brand):
    for area in Area:
        with pytest.raises(PermissionDenied):
            brand_for_user(user=client_user, brand_id=brand.pk, write=True, area=area)


@pytest.mark.parametrize(
    ("role", "area", "allowed"),
    [
        (Role.ADMIN, Area.AGENCY, True),
        (Role.MANAGER, Area.AGENCY, False),
        (Role.MANAGER, Area.CALENDAR, True),
        (Role.MANAGER, Area.COMMUNITY, True),
        (Role.MANAGER, Area.ACCOUNTS, True),
        (Role.MANAGER, Area.ADS, False),
        (Role.MARKETER, Area.ADS, True),
        (Role.MARKETER, Area.CALENDAR, False),
        (Role.MARKETER, Area.COMMUNITY, False),
        (Role.MARKETER, Area.ACCOUNTS, False),
        (Role.MARKETER, Area.REPORTS, True),
        (Role.CLIENT, Area.REPORTS, False),
        (Role.ADMIN, Area.ADS, True),
        (None, Area.CALENDAR, False),
    ],
)
def test_each_role_writes_its_own_side(role, area, allowed):
    assert can_write(role, area) is allowed


def test_marketer_is_refused_a_manager_write_with_a_reason(marketer, brand):
    with pytest.raises(PermissionDenied, match="can read but not change"):
        brand_for_user(user=marketer, brand_id=brand.pk, write=True, area=Area.CALENDAR)


def test_manager_is_refused_a_marketer_write(manager, brand):
    with pytest.raises(PermissionDenied):
        brand_for_user(user=manager, brand_id=brand.pk, write=True, area=Area.ADS)


def test_anonymous_sees_nothing(brand):
    from django.contrib.auth.models import AnonymousUser

    assert not brands_for_user(user=AnonymousUser()).exists()
