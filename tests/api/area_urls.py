"""A test-only URLconf: one minimal BrandScopedViewSet per area, so the token scopes of every
area are exercised the same way, whether or not that app's own endpoints exist yet."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from agency.api import BrandScopedViewSet
from agency.models import SocialAccount
from agency.permissions import Area
from agency.serializers import SocialAccountSerializer

router = SimpleRouter()
for _area in Area:
    _viewset = type(
        f"{_area.name.title()}AreaViewSet",
        (BrandScopedViewSet,),
        {
            "queryset": SocialAccount.objects.all(),
            "serializer_class": SocialAccountSerializer,
            "write_area": _area,
            "__module__": __name__,
        },
    )
    router.register(f"area-{_area.value}", _viewset, basename=f"area-{_area.value}")

urlpatterns = [path("api/v1/", include(router.urls))]
