"""django-filter FilterSets of the shared kernel's API lists."""

import django_filters
from django.db.models import Q

from agency.models import Brand, Platform, SocialAccount


class BrandFilter(django_filters.FilterSet):
    agency = django_filters.UUIDFilter(field_name="agency_id")
    q = django_filters.CharFilter(method="search", label="Name or slug contains")

    class Meta:
        model = Brand
        fields = ["agency", "slug"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class SocialAccountFilter(django_filters.FilterSet):
    # A plain id, not a choice of brands: the viewset already limits rows to visible brands, so
    # another tenant's id just matches nothing, and no brand list is loaded to validate it.
    brand = django_filters.UUIDFilter(field_name="brand_id")
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    status = django_filters.ChoiceFilter(choices=SocialAccount.Status.choices)
    q = django_filters.CharFilter(method="search", label="Handle or display name contains")

    class Meta:
        model = SocialAccount
        fields = ["brand", "platform", "status"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(handle__icontains=value) | Q(display_name__icontains=value))
