"""The built-in sandbox platform: no network, posts are stored in the database.

It lets `make run` publish for real and lets tests provoke each failure. Tell it what to do
next through a SandboxScript row for the account, or with a marker in the post text:
[sandbox:reject], [sandbox:throttle], [sandbox:transient], [sandbox:timeout], [sandbox:auth].
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from agency.platforms.base import PlatformAdapter, PlatformRules, PostPayload, PublishResult
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TransientError,
)

OUTCOMES = ("ok", "throttle", "transient", "timeout", "auth_expired", "reject")
_MARKERS = {
    "[sandbox:reject]": "reject",
    "[sandbox:throttle]": "throttle",
    "[sandbox:transient]": "transient",
    "[sandbox:timeout]": "timeout",
    "[sandbox:auth]": "auth_expired",
}


class SandboxAdapter(PlatformAdapter):
    name = "sandbox"
    display_name = "Sandbox"
    rules = PlatformRules(
        max_chars=5000,
        url_length=None,
        max_media=10,
        supports_first_comment=True,
        supports_idempotency_key=True,
    )

    def _next_outcome(self, account, payload: PostPayload) -> tuple[str, int]:
        from agency.models import SandboxScript

        with transaction.atomic():
            script = SandboxScript.objects.select_for_update().filter(account=account).first()
            if script is not None and script.outcomes:
                outcome, *rest = script.outcomes
                script.outcomes = rest
                script.save(update_fields=["outcomes", "updated_at"])
                return outcome, script.delay_ms
        delay = script.delay_ms if script else 0
        for marker, outcome in _MARKERS.items():
            if marker in (payload.text or ""):
                return outcome, delay
        return "ok", delay

    def publish(self, account, payload: PostPayload, *, idempotency_key: str) -> PublishResult:
        from agency.models import SandboxPost

        outcome, delay_ms = self._next_outcome(account, payload)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if outcome == "throttle":
            raise RateLimited(retry_after=2, status=429, message="Sandbox: too many requests.")
        if outcome == "transient":
            raise TransientError("Sandbox: the service is briefly unavailable.", status=503)
        if outcome == "auth_expired":
            raise AuthExpired("Sandbox: the access token has expired.", status=401)
        if outcome == "reject":
            raise Rejected(
                "Sandbox: the platform refused this post (as it was told to).", status=400
            )
        post = SandboxPost.objects.create(
            account=account,
            idempotency_key=idempotency_key,
            text=payload.text or "",
            link=payload.link or "",
            media=[m.path for m in payload.media],
            first_comment=payload.first_comment or "",
        )
        if outcome == "timeout":
            raise OutcomeUnknown("Sandbox: the post was received but no answer came back in time.")
        return self._result(post)

    def find_published(
        self, account, *, idempotency_key: str, payload=None, **hints
    ) -> PublishResult | None:
        from agency.models import SandboxPost

        post = (
            SandboxPost.objects.filter(account=account, idempotency_key=idempotency_key)
            .order_by("created_at")
            .first()
        )
        return self._result(post) if post else None

    def _result(self, post) -> PublishResult:
        path = reverse("sandbox-post", args=[post.pk])
        return PublishResult(external_id=str(post.pk), url=f"{settings.SITE_URL.rstrip('/')}{path}")
