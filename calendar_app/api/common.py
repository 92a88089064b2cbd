"""What the calendar's viewsets share beyond agency.api's base."""

from agency.permissions import brand_for_user


class StaffOnlyMixin:
    """For the agency's working tools (the queue): rows of brands the caller reads as a client
    are not listed, and writing to such a brand is the outsider's 404, not a 403, as on the
    dashboard's staff-only pages. Put it before BrandScopedViewSet in the bases."""

    def scope_queryset(self, queryset):
        staff = self.staff_brand_ids()
        return super().scope_queryset(queryset).filter(**{f"{self.brand_lookup}__in": staff})

    def check_brand_write(self, brand):
        return brand_for_user(
            user=self.request.user,
            brand_id=brand.pk,
            write=True,
            area=self.write_area,
            staff_only=True,
        )
