"""The content calendar: the page, the events FullCalendar reads, the CSV export and the move
of a target by drag and drop. Times in and out are wall-clock times of the brand's zone."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from agency.models import Brand, Platform, SocialAccount
from agency.permissions import Area, brand_for_user, brands_for_user
from calendar_app import selectors, services
from calendar_app.models import PostTarget
from calendar_app.selectors import CalendarFilters, CalendarState

MAX_RANGE = timedelta(days=400)


def _wall_clock(value: str) -> datetime:
    """A date or date-time as wall-clock time; an offset (FullCalendar adds "Z") is dropped."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationError(
            f"{value!r} is not a date or time; use the form 2025-03-30 or 2025-03-30T09:00."
        ) from exc
    return parsed.replace(tzinfo=None)


class CalendarFilterForm(forms.Form):
    brand = forms.ChoiceField(required=False, label="Brand")
    account = forms.ChoiceField(
        required=False,
        label="Account",
        error_messages={"invalid_choice": "Choose one of the accounts listed."},
    )
    platform = forms.ChoiceField(
        required=False,
        label="Platform",
        choices=[("", "All platforms"), *Platform.choices],
        error_messages={"invalid_choice": "Choose one of the platforms listed."},
    )
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "All but cancelled"), *CalendarState.choices],
        error_messages={"invalid_choice": "Choose one of the states listed."},
    )
    tag = forms.CharField(required=False, max_length=50, label="Tag")
    start = forms.CharField(required=False, widget=forms.HiddenInput)
    end = forms.CharField(required=False, widget=forms.HiddenInput)
    # The month and list views show a few posts a day: the rest of a day are one "+N more".
    per_day = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        widget=forms.HiddenInput,
        label="Posts per day",
        error_messages={"invalid": "Give a whole number of posts per day."},
    )

    def __init__(self, *args, brands, brand: Brand | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].choices = [("", "All brands")] + [(str(b.pk), b.name) for b in brands]
        accounts = SocialAccount.objects.filter(brand__in=[b.pk for b in brands])
        if brand is not None:
            accounts = accounts.filter(brand=brand)
        self.fields["account"].choices = [("", "All accounts")] + [
            (
                str(a.pk),
                f"{a.handle} ({a.get_platform_display()})"
                + ("" if brand else f" · {a.brand.name}"),
            )
            for a in accounts.select_related("brand")
        ]

    def clean_start(self):
        value = self.cleaned_data["start"]
        return _wall_clock(value) if value else None

    def clean_end(self):
        value = self.cleaned_data["end"]
        return _wall_clock(value) if value else None

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                raise ValidationError("The end of the range must come after its start.")
            if end - start > MAX_RANGE:
                raise ValidationError("Choose a range of at most 400 days.")
        return data

    def filters(self) -> CalendarFilters:
        data = self.cleaned_data
        return CalendarFilters(
            account_id=data["account"] or None,
            platform=data["platform"],
            state=data["state"],
            tag=data["tag"].strip(),
        )


def _selected_brand(request) -> Brand | None:
    """?brand= (empty: every brand), else the switcher's brand, else every brand. A brand the
    user cannot see is a 404, as everywhere."""
    if "brand" in request.GET:
        brand_id = request.GET["brand"]
        return brand_for_user(user=request.user, brand_id=brand_id) if brand_id else None
    brand_id = request.session.get("current_brand_id")
    if brand_id:
        try:
            return brand_for_user(user=request.user, brand_id=brand_id)
        except Http404:
            return None
    return None


def _filter_form(request) -> tuple[CalendarFilterForm, Brand | None]:
    brand = _selected_brand(request)
    brands = list(brands_for_user(user=request.user))
    data = request.GET.copy()
    data["brand"] = str(brand.pk) if brand else ""
    return CalendarFilterForm(data, brands=brands, brand=brand), brand


def _errors_in_words(form: CalendarFilterForm) -> str:
    return " ".join(
        (f"{form.fields[field].label}: " if field in form.fields and field != "__all__" else "")
        + " ".join(errors)
        for field, errors in form.errors.items()
    )


def _month_around(today: date) -> tuple[datetime, datetime]:
    start = datetime(today.year, today.month, 1)  # noqa: DTZ001 - wall-clock by design
    end = datetime(today.year + today.month // 12, today.month % 12 + 1, 1)  # noqa: DTZ001
    return start, end


@login_required
@require_GET
def calendar_page(request):
    form, brand = _filter_form(request)
    valid = form.is_valid()
    now_wall = timezone.now().astimezone(brand.zone) if brand else timezone.now()
    query = ""
    if valid:
        data = form.cleaned_data
        query = urlencode(
            {"brand": data["brand"]}
            | {k: data[k] for k in ("account", "platform", "state", "tag") if data[k]}
        )
    return render(
        request,
        "calendar_app/calendar/calendar.html",
        {
            "form": form,
            "valid": valid,
            "brand": brand,
            "query": query,
            "now_wall": now_wall.replace(tzinfo=None).isoformat(timespec="seconds"),
            "errors_in_words": "" if valid else _errors_in_words(form),
        },
        status=200 if valid else 400,
    )


def _range_and_filters(request, *, required: bool):
    """(brand, start, end, filters, per_day) or a 400 JsonResponse that says what is wrong."""
    form, brand = _filter_form(request)
    if not form.is_valid():
        return JsonResponse({"error": _errors_in_words(form)}, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    if start is None or end is None:
        if required:
            return JsonResponse(
                {"error": "Give the range as start and end, e.g. start=2025-03-01&end=2025-04-01."},
                status=400,
            )
        now = timezone.now()
        today = (now.astimezone(brand.zone) if brand else now).date()
        start, end = _month_around(today)
    return brand, start, end, form.filters(), form.cleaned_data.get("per_day")


@login_required
@require_GET
def calendar_events(request):
    parsed = _range_and_filters(request, required=True)
    if isinstance(parsed, HttpResponse):
        return parsed
    brand, start, end, filters, per_day = parsed
    events = selectors.calendar_events(
        user=request.user, brand=brand, start=start, end=end, filters=filters, per_day=per_day
    )
    return JsonResponse(events, safe=False)


@login_required
@require_GET
def calendar_export(request):
    parsed = _range_and_filters(request, required=False)
    if isinstance(parsed, HttpResponse):
        return parsed
    brand, start, end, filters, _per_day = parsed
    rows = selectors.calendar_export_rows(
        user=request.user, brand=brand, start=start, end=end, filters=filters
    )
    name = f"calendar-{brand.slug if brand else 'all-brands'}-{start:%Y-%m-%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.DictWriter(response, fieldnames=selectors.EXPORT_COLUMNS, quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return response


@login_required
@require_POST
def target_reschedule(request, target_id):
    target = get_object_or_404(
        PostTarget.objects.select_related("post__brand").filter(
            post__brand__in=brands_for_user(user=request.user).values("pk")
        ),
        pk=target_id,
    )
    brand = target.post.brand
    try:
        brand_for_user(user=request.user, brand_id=brand.pk, write=True, area=Area.CALENDAR)
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    if request.content_type == "application/json":
        try:
            value = json.loads(request.body or b"{}").get("start", "")
        except (ValueError, AttributeError):
            value = ""
    else:
        value = request.POST.get("start", "")
    try:
        if not isinstance(value, str) or not value:
            raise ValidationError("Say when: give the new time as start=2025-03-30T09:00.")
        at = services.wall_clock_to_aware(brand=brand, value=_wall_clock(value))
        target = services.target_reschedule(target=target, at=at, by=request.user)
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    local = at.astimezone(brand.zone)
    return JsonResponse(
        {
            "id": str(target.pk),
            "start": local.replace(tzinfo=None).isoformat(timespec="seconds"),
            "at": local.isoformat(timespec="seconds"),
            "timeZone": brand.time_zone,
            "state": target.state,
            # A draft moves its whole post's plan: the other accounts' events move too.
            "refetch": target.state == "draft",
            "message": f"Moved to {local:%a %d %b %Y, %H:%M} ({brand.time_zone}).",
        }
    )


urlpatterns = [
    path("calendar/", calendar_page, name="calendar"),
    path("calendar/events/", calendar_events, name="calendar-events"),
    path("calendar/export.csv", calendar_export, name="calendar-export"),
    path(
        "calendar/targets/<uuid:target_id>/reschedule/",
        target_reschedule,
        name="target-reschedule",
    ),
]
