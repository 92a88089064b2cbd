"""Keeps a brand's client users inside the client portal.

A client user (someone with ClientAccess and no staff membership) may open the portal, the
client approval pages under /portal/, their own account pages (log in and out, password,
notifications, API tokens) and the API (which is read-only for them, approvals aside, by its own
permissions). On every other page they get the page's own refusal (404 or 403), or, where the
page would have served them, a 403 that says where to go; the dashboard `/`, where a login
lands, sends them to the portal instead.

Whether a session is a client's is decided once, when the user logs in, and kept in the
session, so staff pages pay no extra query for this check. A session without the mark (one from
before this middleware) is marked on its first request.
"""

from __future__ import annotations

import re

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.dispatch import receiver
from django.shortcuts import redirect

from agency.models import ClientAccess, Membership

__all__ = ["PORTAL_ONLY_SESSION_KEY", "ClientPortalOnlyMiddleware", "is_portal_only_user"]

PORTAL_ONLY_SESSION_KEY = "reports.portal_only"
CLIENT_ALLOWED_PREFIXES = (
    "/portal/",
    "/auth/",
    "/notifications/",
    "/settings/tokens/",
    "/api/",
    "/static/",
    "/media/",
    "/healthz",
    "/l/",  # tracked short links are public
    "/webhooks/",  # called by the platforms, never with a session
    "/reports/exports/",  # a PDF export's progress and download (tenancy checked in the view)
)
# A client's own report as CSV or PDF (reports/views/exports.py; tenancy checked in the view).
CLIENT_ALLOWED_PATHS = re.compile(r"^/brands/[0-9a-f-]{36}/reports/(export/[a-z_]+\.csv|pdf/)$")


def is_portal_only_user(user) -> bool:
    """A client of some brand who is nobody's staff."""
    if not user.is_authenticated:
        return False
    return (
        ClientAccess.objects.filter(user=user)
        .filter(~Exists(Membership.objects.filter(user=OuterRef("user"))))
        .exists()
    )


@receiver(user_logged_in, dispatch_uid="reports.remember_portal_only")
def remember_portal_only(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session[PORTAL_ONLY_SESSION_KEY] = is_portal_only_user(user)


class ClientPortalOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.path.startswith(CLIENT_ALLOWED_PREFIXES)
            or CLIENT_ALLOWED_PATHS.match(request.path)
            or not self._portal_only(request)
        ):
            return self.get_response(request)
        if request.path == "/":
            return redirect("reports:portal-home")
        # The page's own refusal (its 404 for what the client may not know exists, its 403
        # in words) stands; only a page that would have served the client is replaced.
        if request.method in ("GET", "HEAD", "OPTIONS"):
            response = self.get_response(request)
        else:
            # Every staff view already refuses a client's write; should one ever accept it,
            # the write is rolled back (and its on_commit tasks dropped) before the 403.
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code < 400:
                    transaction.set_rollback(True)
        if response.status_code >= 400:
            return response
        raise PermissionDenied(
            "This page is for the agency's staff. Your brand's reports, plans, goals and the "
            "posts waiting for your approval are in the client portal at /portal/."
        )

    @staticmethod
    def _portal_only(request) -> bool:
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:
            return False
        flag = session.get(PORTAL_ONLY_SESSION_KEY)
        if flag is None:
            flag = session[PORTAL_ONLY_SESSION_KEY] = is_portal_only_user(request.user)
        return bool(flag)
