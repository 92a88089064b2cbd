"""/api/v1/ of the calendar: posts, their targets and approvals, media, queue slots and the
calendar range. One module per resource, re-exported here for the router."""

from calendar_app.api.calendar import CalendarViewSet
from calendar_app.api.library import MediaViewSet
from calendar_app.api.posts import PostTargetViewSet, PostViewSet
from calendar_app.api.slots import QueueSlotViewSet

__all__ = [
    "CalendarViewSet",
    "MediaViewSet",
    "PostTargetViewSet",
    "PostViewSet",
    "QueueSlotViewSet",
]
