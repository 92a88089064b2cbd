"""Webhook endpoints for Meta (Facebook Pages, Instagram) and X (Account Activity API).

They only verify and store: the signature is checked over the raw body with the app secret
(hmac.compare_digest), the body is stored as a WebhookDelivery with one INSERT, and a drain task
parses stored bodies in batches (at most one drain is kicked per short window, so a request does
not pay for a broker message). Anything that fails verification is answered 403 and logged
without its body.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from agency.models import Platform
from agency.platforms.inbox import meta_signature, signature_matches, x_signature
from community.services import webhook_receive

logger = logging.getLogger(__name__)


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "?")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_webhook(request):
    if request.method == "GET":
        # The subscription handshake: echo the challenge only to someone who knows our token.
        token = settings.META_VERIFY_TOKEN
        given = request.GET.get("hub.verify_token", "")
        if (
            token
            and request.GET.get("hub.mode") == "subscribe"
            and hmac.compare_digest(given.encode(), token.encode())
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        logger.warning("Meta webhook verification refused from %s", _client(request))
        return HttpResponseForbidden("Verification failed.")
    return _receive(
        request,
        platform=Platform.FACEBOOK,
        secret=settings.META_APP_SECRET,
        header="HTTP_X_HUB_SIGNATURE_256",
        sign=meta_signature,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def x_webhook(request):
    secret = settings.X_CONSUMER_SECRET
    if request.method == "GET":
        crc_token = request.GET.get("crc_token", "")
        if not secret or not crc_token:
            logger.warning("X CRC check refused from %s", _client(request))
            return HttpResponseForbidden("CRC check failed.")
        return JsonResponse({"response_token": x_signature(crc_token.encode(), secret)})
    return _receive(
        request,
        platform=Platform.X,
        secret=secret,
        header="HTTP_X_TWITTER_WEBHOOKS_SIGNATURE",
        sign=x_signature,
    )


def _receive(request, *, platform: str, secret: str, header: str, sign) -> HttpResponse:
    body = request.body
    given = request.META.get(header, "")
    if not secret:
        logger.error("%s webhook refused: its app secret is not configured", platform)
        return HttpResponseForbidden("Not configured.")
    if not signature_matches(sign(body, secret), given):
        logger.warning(
            "%s webhook refused from %s: %s signature (%d bytes)",
            platform,
            _client(request),
            "invalid" if given else "missing",
            len(body),
        )
        return HttpResponseForbidden("Invalid signature.")
    # Meta sends Pages and Instagram to one URL; the body says which (parsed by the task).
    stored_as = platform
    if platform == Platform.FACEBOOK and _object_of(body) == "instagram":
        stored_as = Platform.INSTAGRAM
    webhook_receive(platform=stored_as, body=body, signature=given)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _object_of(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python can parse
        return ""
    return str(payload.get("object") or "") if isinstance(payload, dict) else ""


urlpatterns = [
    path("webhooks/meta/", meta_webhook, name="webhook-meta"),
    path("webhooks/x/", x_webhook, name="webhook-x"),
]
