"""The public end of a tracked link: /l/<code> counts the click and redirects.

No login, and no open redirect: the only place the response ever sends the visitor is the
destination stored on the link (validated as http(s) when it was created); nothing in the
request (?next=, ?url=, headers) is read. Nothing about the visitor is stored. With
AGENCY_LINK_UNIQUE_COOKIE on, a first-party cookie scoped to the link's path and holding only
today's date (UTC) tells a repeat visit that day from a first one; it expires at midnight UTC.
"""

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ads import selectors, services


def _seconds_to_midnight(now: datetime) -> int:
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=UTC)
    return max(1, int((midnight - now).total_seconds()))


@never_cache
@require_safe
def follow(request, code: str):
    link = selectors.tracked_link_for_redirect(code=code)
    if link is None:
        raise Http404("No such link.")
    response = HttpResponseRedirect(link.destination)
    response["X-Robots-Tag"] = "noindex"
    # HEAD is what link previews and uptime checks send: answered, not counted.
    if request.method != "GET":
        return response
    unique = False
    if getattr(settings, "AGENCY_LINK_UNIQUE_COOKIE", False):
        now = datetime.now(UTC)
        name = f"al_{link.code}"
        today = now.date().isoformat()
        if request.COOKIES.get(name) != today:
            unique = True
            response.set_cookie(
                name,
                today,
                max_age=_seconds_to_midnight(now),
                path=f"/l/{link.code}",
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
    services.link_click_record(link=link, unique=unique)
    return response
