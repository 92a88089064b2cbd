"""The built-in sandbox platform: no network, posts are stored in the database.

It lets `make run` publish for real and lets tests provoke each failure. Tell it what to do
next through a SandboxScript row for the account, or with a marker in the post text:
[sandbox:reject], [sandbox:throttle], [sandbox:transient], [sandbox:timeout], [sandbox:auth].
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

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

    # -- the inbox -------------------------------------------------------------------------------
    # The sandbox's audience: a few comments and one direct message per published post, arriving
    # one per time bucket after the post. Everything is derived from the post id and the index,
    # so polling twice (or after a restart) finds the same messages with the same ids.
    supports_inbox_polling = True

    @property
    def inbox_bucket(self) -> timedelta:
        return timedelta(seconds=getattr(settings, "SANDBOX_AUDIENCE_EVERY_SECONDS", 600.0))

    inbox_window = timedelta(days=14)

    def fetch_inbox(self, account, since_cursor: str, *, now: datetime | None = None):
        from agency.models import SandboxPost
        from agency.platforms.inbox import InboxPage, parse_iso
        from calendar_app.models import PostTarget, TargetState

        now = now or timezone.now()
        since = parse_iso(since_cursor) if since_cursor else None
        # Only our published posts draw an audience, not the sandbox's records of our replies.
        published = set(
            PostTarget.objects.filter(account=account, state=TargetState.PUBLISHED).values_list(
                "external_id", flat=True
            )
        )
        posts = SandboxPost.objects.filter(
            account=account, created_at__gte=now - self.inbox_window
        ).order_by("created_at")
        items = []
        for post in posts:
            if str(post.pk) not in published:
                continue
            for index, script in enumerate(_AUDIENCE[_pick(post.pk, len(_AUDIENCE))]):
                sent_at = post.created_at + self.inbox_bucket * (index + 1)
                if sent_at > now or (since is not None and sent_at <= since):
                    continue
                items.append(_sandbox_item(post, index, sent_at, *script))
        items.sort(key=lambda item: item.sent_at)
        cursor = items[-1].sent_at.isoformat() if items else since_cursor
        return InboxPage(items=tuple(items), next_cursor=cursor)

    def reply(self, account, message, text: str, *, idempotency_key: str) -> PublishResult:
        """A reply is stored like a post (a SandboxPost under the reply's key), so the same
        markers and scripts provoke each failure and `find_published` settles a lost answer."""
        return self.publish(account, PostPayload(text=text), idempotency_key=idempotency_key)


# (kind, handle, name, text): one of these conversations per post, picked by the post's id.
_AUDIENCE = [
    [
        ("comment", "@lena_brews", "Lena", "Love this! Is it available in oat milk too?"),
        ("comment", "@tom.k", "Tom K", "Great post, thanks for sharing."),
        ("direct", "@lena_brews", "Lena", "Hi! Do you ship to Austria?"),
    ],
    [
        ("comment", "@grumpy_gus", "Gus", "My order arrived late and cold. Really disappointed."),
        ("comment", "@maria.s", "Maria", "Looks amazing 😍"),
    ],
    [
        ("comment", "@deskjockey", "Sam", "What time do you open on Sundays?"),
        ("direct", "@deskjockey", "Sam", "Can I book a table for six this Friday?"),
        ("comment", "@nora", "Nora", "Terrible service yesterday, nobody answered the phone."),
    ],
]


def _pick(post_id, choices: int) -> int:
    return int(hashlib.sha256(str(post_id).encode()).hexdigest(), 16) % choices


def _sandbox_item(post, index: int, sent_at, kind: str, handle: str, name: str, text: str):
    from agency.platforms.inbox import InboundItem

    thread = str(post.pk) if kind == "comment" else f"dm:{handle}"
    return InboundItem(
        kind=kind,
        thread_id=thread,
        message_id=f"sbx-{post.pk}-{index}",
        author_handle=handle,
        author_name=name,
        text=text,
        sent_at=sent_at,
        post_external_id=str(post.pk) if kind == "comment" else "",
        raw={"sandbox_post": str(post.pk), "index": index},
    )
