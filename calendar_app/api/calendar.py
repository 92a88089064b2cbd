"""/api/v1/calendar/: the content calendar of a range, one event per post target, as the
dashboard's calendar shows it.

The dashboard works in each brand's wall-clock time (FullCalendar cannot show named zones);
the API works in instants: `start` and `end` are ISO 8601 (an offset is honoured, none means
UTC), each event's `start` is UTC and carries its brand's zone and the local time beside it.
"""

from datetime import UTC, timedelta

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import viewsets

from agency.api import AutoSchema
from agency.permissions import Area, brand_for_user
from calendar_app import selectors
from calendar_app.models import TargetState
from calendar_app.serializers import CalendarEventSerializer, CalendarQuerySerializer

__all__ = ["CalendarViewSet"]

# The widest UTC offsets in use are -12:00 and +14:00: a wall-clock window this much wider
# than the asked instants holds every target of every brand in them, whatever its zone.
_ZONE_SLACK = timedelta(hours=14)

_EXAMPLE = OpenApiExample(
    "A scheduled post",
    value={
        "id": "0b6f0c8e-6d8a-4d55-9a3e-1f7c2b9d4e10",
        "post": "5a2d9c1b-7e4f-4b8a-8c3d-2e1f0a9b8c7d",
        "brand": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        "brand_name": "Acme Coffee",
        "time_zone": "Europe/Berlin",
        "start": "2025-03-04T08:00:00Z",
        "local_start": "2025-03-04T09:00:00+01:00",
        "title": "Spring roast",
        "text": "Our spring roast is out.",
        "account": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
        "account_handle": "@acmecoffee",
        "platform": "instagram",
        "state": "scheduled",
        "state_label": "Scheduled",
        "target_state": "scheduled",
        "approval_state": "approved",
        "tags": ["spring"],
        "external_url": "",
        "editable": True,
    },
    response_only=True,
)


def _client_facing(target) -> bool:
    # The portal's rule (selectors.client_visible_posts_q): no drafts, nothing in internal review.
    return (
        target.post.approval_state in selectors.CLIENT_VISIBLE_APPROVALS
        or target.state == TargetState.PUBLISHED
    )


class CalendarViewSet(viewsets.GenericViewSet):
    """What is planned, waiting and published in a range, earliest first. Everyone who reads
    a brand's calendar (its client users too) may read it; moving an event is
    POST /posts/{post}/targets/{id}/reschedule/."""

    serializer_class = CalendarEventSerializer
    schema = AutoSchema()
    # Read by the token scopes of agency.api like any resource of the calendar.
    write_area = Area.CALENDAR
    # The query is validated by CalendarQuerySerializer; there is no queryset to filter.
    filter_backends: list = []

    @extend_schema(parameters=[CalendarQuerySerializer], examples=[_EXAMPLE])
    def list(self, request):
        query = CalendarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        brand = None
        if data.get("brand"):
            brand = brand_for_user(user=request.user, brand_id=data["brand"])
        start, end = data["start"], data["end"]
        entries = selectors.calendar_entries(
            user=request.user,
            brand=brand,
            start=start.astimezone(UTC).replace(tzinfo=None) - _ZONE_SLACK,
            end=end.astimezone(UTC).replace(tzinfo=None) + _ZONE_SLACK,
            filters=selectors.CalendarFilters(
                account_id=data.get("account"),
                platform=data.get("platform", ""),
                state=data.get("state", ""),
                tag=data.get("tag", ""),
            ),
        )
        client_brands = set(
            selectors.client_brands_for_user(user=request.user).values_list("pk", flat=True)
        )
        events = [
            self._event(entry, for_client=entry.brand.pk in client_brands)
            for entry in entries
            if start <= entry.target.at < end
            and (entry.brand.pk not in client_brands or _client_facing(entry.target))
        ]
        page = self.paginate_queryset(events)
        return self.get_paginated_response(CalendarEventSerializer(page, many=True).data)

    def _event(self, entry, *, for_client: bool) -> dict:
        target, brand = entry.target, entry.brand
        post, account = target.post, target.account
        return {
            "id": target.pk,
            "post": post.pk,
            "brand": brand.pk,
            "brand_name": brand.name,
            "time_zone": brand.time_zone,
            "start": target.at,
            "local_start": entry.local.isoformat(timespec="seconds"),
            # The internal title stays with the agency, as in the portal.
            "title": "" if for_client else post.title,
            "text": target.effective_text,
            "account": account.pk,
            "account_handle": account.handle,
            "platform": account.platform,
            "state": entry.state,
            "state_label": entry.state_label,
            "target_state": target.state,
            "approval_state": post.approval_state,
            "tags": post.tags or [],
            "external_url": target.external_url,
            "editable": entry.editable,
        }
