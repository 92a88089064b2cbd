"""/api/v1/calendar/: the content calendar of a range, one event per post target, as the
dashboard's calendar shows it.

The dashboard works in each brand's wall-clock time (FullCalendar cannot show named zones);
the API works in instants: `start` and `end` are ISO 8601 (an offset is honoured, none means
UTC), each event's `start` is UTC and carries its brand's zone and the local time beside it.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import viewsets

from agency.api import ApiConventionsMixin, AutoSchema
from agency.permissions import Area, brand_for_user
from calendar_app import selectors
from calendar_app.serializers import CalendarEventSerializer, CalendarQuerySerializer

__all__ = ["CalendarViewSet"]

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


class CalendarViewSet(ApiConventionsMixin, viewsets.GenericViewSet):
    """What is planned, waiting and published in a range, earliest first. Everyone who reads
    a brand's calendar (its client users too) may read it; moving an event is
    POST /posts/{post}/targets/{id}/reschedule/."""

    serializer_class = CalendarEventSerializer
    schema = AutoSchema()
    # Read by the token scopes of agency.api like any resource of the calendar. Its brands come
    # from brand_for_user and brands_for_user (in the calendar selectors), which apply a token's
    # brand limit, so the mixin's honours_brand_limit holds here too.
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
        entries = selectors.calendar_entries_between(
            user=request.user,
            brand=brand,
            start=data["start"],
            end=data["end"],
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
        page = self.paginate_queryset(entries)
        events = [self._event(entry, for_client=entry.brand.pk in client_brands) for entry in page]
        return self.get_paginated_response(CalendarEventSerializer(events, many=True).data)

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
