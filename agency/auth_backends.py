"""Login throttling (django-axes) adapted to how agency is deployed.

Every log-in over HTTP (the login page, the admin's, the password forms) calls `authenticate`
with the request, and django-axes counts failures per username and client address there. Code
that checks a password without a request (management commands, the demo data, tests) has no
client to throttle, so that call goes straight to the next backend instead of failing.
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings


class LoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with AGENCY_TRUSTED_PROXY_COUNT trusted proxies in
    front, the address the outermost of them saw (X-Forwarded-For counted from the right, so a
    client cannot choose its own address by sending the header)."""
    remote = request.META.get("REMOTE_ADDR")
    count = getattr(settings, "AGENCY_TRUSTED_PROXY_COUNT", 0)
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote
    return hops[-count]
