"""Rate limits of /api/v1/: one budget per API token, one per user for browser sessions.

Kept apart from agency.api for the same reason as agency.pagination: DRF imports the default
throttle classes while it is itself importing its views.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from agency.models import ApiToken


class ApiRateThrottle(SimpleRateThrottle):
    """Rates (DEFAULT_THROTTLE_RATES) by token kind: `token_personal`, `token_integration`;
    `session` for a signed-in browser. A rate of None means unlimited. Anonymous requests are
    not counted here: they are refused (401) before anything runs.

    The counts live in the default cache, so they are shared by every worker only when
    CACHE_URL names a shared cache (Redis); with the per-process default each worker counts
    its own requests.
    """

    def __init__(self):
        # The rate depends on who is asking, so it is chosen per request in allow_request.
        self.rate = None

    def _scope_and_ident(self, request) -> tuple[str, str] | None:
        token = request.auth
        if isinstance(token, ApiToken):
            return f"token_{token.kind}", f"token:{token.pk}"
        if request.user and request.user.is_authenticated:
            return "session", f"user:{request.user.pk}"
        return None

    def allow_request(self, request, view):
        found = self._scope_and_ident(request)
        if found is None:
            return True
        self.scope, self.ident = found
        # Read on every request (not at import, as DRF's own throttles do) so that changed
        # settings (tests, a reload) take effect.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident}
