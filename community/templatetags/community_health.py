"""{% profile_health_for brand as rows %}: the profile health of each account of a brand, for
the panel on the brand page (whose view knows nothing of the community app)."""

from django import template

from agency.models import Brand
from community.selectors.health import profile_health_for_brand

register = template.Library()


@register.simple_tag
def profile_health_for(brand: Brand) -> list:
    return profile_health_for_brand(brand=brand)
