"""Pages of the marketer's side; each module has its `urlpatterns`, joined in ads/urls.py."""

from agency.permissions import Area, brand_for_user


def ads_brand(request, brand_id, *, write: bool = False):
    """The brand for a staff-only ads page: 404 to outsiders and to its clients, 403 to staff
    whose role only reads the ads side."""
    return brand_for_user(
        user=request.user, brand_id=brand_id, write=write, area=Area.ADS, staff_only=True
    )
