"""Response headers that depend on what is served: uploaded files and third-party pages.

Placed after django-csp's middleware in MIDDLEWARE, so it sees the response first and the policy
django-csp then writes already includes what is set here.
"""

from csp.constants import UNSAFE_INLINE
from django.conf import settings

# What an uploaded file may be shown as, inline, by a browser: the types the media library and the
# brand logo accept (decoded by Pillow or checked as MP4/MOV, never trusted from the client). No
# HTML, SVG or XML: those run script in the site's origin.
INLINE_MEDIA_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime"}
)
# An uploaded file is data, never a document: no script, no plugin, its own unique origin.
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"

# drf-spectacular's Swagger UI and Redoc pages (from the sidecar package, same origin) render
# their set-up code and styles inline; only these two read-only pages get 'unsafe-inline'.
THIRD_PARTY_INLINE_PAGES = frozenset({"api-docs", "api-redoc"})


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.media_prefix = "/" + settings.MEDIA_URL.lstrip("/")

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(self.media_prefix):
            self._harden_media(response)
        else:
            match = getattr(request, "resolver_match", None)
            if match is not None and match.url_name in THIRD_PARTY_INLINE_PAGES:
                response._csp_update = {
                    "script-src": [UNSAFE_INLINE],
                    "style-src": [UNSAFE_INLINE],
                    "img-src": ["data:"],
                    "worker-src": ["blob:"],
                }
        return response

    @staticmethod
    def _harden_media(response) -> None:
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = MEDIA_CSP
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code == 200 and content_type not in INLINE_MEDIA_TYPES:
            # Anything else (an old upload, a file a view did not check) downloads as bytes.
            response["Content-Type"] = "application/octet-stream"
            response["Content-Disposition"] = "attachment"
