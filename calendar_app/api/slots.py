"""/api/v1/queue-slots/: each account's recurring publishing times, which "queue" fills.
The queue is the agency's working plan: staff only, as on the dashboard."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from agency.api import BrandScopedViewSet
from agency.permissions import Area
from calendar_app import services
from calendar_app.api.common import StaffOnlyMixin
from calendar_app.filters import QueueSlotFilter
from calendar_app.models import QueueSlot
from calendar_app.serializers import QueueSlotSerializer

__all__ = ["QueueSlotViewSet"]


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "Tuesdays at 09:30 in the brand's zone",
                value={
                    "account": "6f1c2a9e-3b7d-4c1e-9a55-0d2f4b8e7c11",
                    "weekday": 1,
                    "time": "09:30",
                },
                request_only=True,
            )
        ]
    )
)
class QueueSlotViewSet(StaffOnlyMixin, BrandScopedViewSet):
    """Queue slots of the accounts you work on. Managers and admins add and remove them; a
    slot is not edited, it is removed and another added (posts already queued keep their
    time)."""

    queryset = QueueSlot.objects.all()
    serializer_class = QueueSlotSerializer
    write_area = Area.CALENDAR
    brand_lookup = "account__brand"
    filterset_class = QueueSlotFilter
    ordering_fields = ["weekday", "time", "created_at"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).select_related("account__brand")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.slot_create(
            account=data["account"],
            weekday=data["weekday"],
            time=data["time"],
            by=self.request.user,
        )

    def perform_destroy(self, instance):
        services.slot_delete(slot=instance, by=self.request.user)
