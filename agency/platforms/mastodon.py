"""Mastodon through its REST API on the account's own server (account.instance_url).

Posts: POST /api/v1/statuses with an Idempotency-Key header. Media: POST /api/v2/media, which
answers 202 while the server still processes the file; GET /api/v1/media/:id tells when done.
"""

from __future__ import annotations

import html
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

from agency.platforms.base import (
    MediaItem,
    PlatformAdapter,
    PlatformRules,
    PostPayload,
    PublishResult,
)
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
)
from agency.platforms.text import weighted_length

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount

logger = logging.getLogger(__name__)

# A remote mention counts only its local part: "@alice@example.social" counts as "@alice".
REMOTE_MENTION_RE = re.compile(r"(?<![\w/])(@\w+)@[\w.-]+\w", re.UNICODE)
TAG_RE = re.compile(r"<[^>]+>")


class MastodonAdapter(PlatformAdapter):
    name = "mastodon"
    display_name = "Mastodon"
    rules = PlatformRules(
        max_chars=500,
        url_length=23,
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"),
        max_image_bytes=16 * 1024 * 1024,
        max_video_bytes=99 * 1024 * 1024,
        supports_first_comment=True,
        supports_idempotency_key=True,
        max_bio_chars=500,
    )
    # Mastodon keeps an Idempotency-Key for up to an hour: re-sending the same status with the
    # same key in that hour returns the first status instead of posting a second one.
    safe_to_retry_with_key = True
    idempotency_window = timedelta(hours=1)

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        media_poll_attempts: int = 10,
        media_poll_interval: float = 2.0,
    ):
        super().__init__(session)
        self.sleep = sleep
        self.media_poll_attempts = media_poll_attempts
        self.media_poll_interval = media_poll_interval

    # -- checks before scheduling -------------------------------------------------------------
    def count_chars(self, text: str) -> int:
        return weighted_length(REMOTE_MENTION_RE.sub(r"\1", text), url_length=self.rules.url_length)

    def validate(self, payload: PostPayload) -> list[str]:
        return super().validate(replace(payload, text=_compose_text(payload), link=None))

    # -- calls to the platform -----------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        base = self._server(account)
        headers = self._auth(account)
        media_ids = [self._upload(base, headers, item) for item in payload.media]
        body: dict = {"status": _compose_text(payload), "visibility": "public"}
        if media_ids:
            body["media_ids"] = media_ids
        status = self._post_status(base, headers, body, idempotency_key)
        raw = {"id": status["id"], "uri": status.get("uri", "")}
        if payload.first_comment:
            reply = {
                "status": payload.first_comment,
                "in_reply_to_id": status["id"],
                "visibility": "public",
            }
            try:
                comment = self._post_status(base, headers, reply, f"{idempotency_key}:comment")
                raw["first_comment_id"] = comment["id"]
            except PlatformError as exc:
                logger.warning("Mastodon first comment on %s failed: %s", status["id"], exc)
                raw["first_comment_error"] = f"{exc.__class__.__name__}: {exc}"
        return PublishResult(external_id=str(status["id"]), url=status.get("url") or "", raw=raw)

    def find_published(
        self,
        account: SocialAccount,
        *,
        idempotency_key: str,
        payload: PostPayload | None = None,
        within: timedelta = timedelta(days=2),
    ) -> PublishResult | None:
        """The account's recent status with exactly this text, if any.

        Mastodon does not show an Idempotency-Key on the status, so this needs the payload:
        without it the answer is OutcomeUnknown (and within the key's hour, re-sending with the
        same key is the safer check: see `safe_to_retry_with_key`).
        """
        if payload is None:
            raise OutcomeUnknown("Mastodon can only find a post by its text; none was given.")
        base = self._server(account)
        if not account.external_id:
            raise OutcomeUnknown("The Mastodon account has no account id to list its posts.")
        response = self._request(
            "GET",
            f"{base}/api/v1/accounts/{account.external_id}/statuses",
            params={"limit": 40},
            headers=self._auth(account),
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            try:
                self._raise_for(response, sent=False)
            except Rejected as exc:
                # A refused lookup (say, an unknown account id) says nothing about the post.
                raise OutcomeUnknown(f"Mastodon could not list the posts: {exc}") from exc
        try:
            statuses = response.json()
        except ValueError:
            statuses = None
        if not isinstance(statuses, list):
            raise OutcomeUnknown(
                "Mastodon listed the account's posts in an unreadable form.",
                status=response.status_code,
                excerpt=response.text,
            )
        wanted = _normalise(_compose_text(payload))
        since = datetime.now(tz=UTC) - within
        for status in statuses:
            if not isinstance(status, dict) or status.get("reblog"):
                continue
            created = _parse_time(status.get("created_at", ""))
            if created is not None and created < since:
                continue
            if _normalise(_html_to_text(status.get("content", ""))) == wanted:
                return PublishResult(
                    external_id=str(status["id"]),
                    url=status.get("url") or "",
                    raw={"id": status["id"], "found": True},
                )
        return None

    # -- helpers ------------------------------------------------------------------------------
    def _server(self, account: SocialAccount) -> str:
        if not account.instance_url:
            raise AuthExpired("The Mastodon account has no server address; reconnect it.")
        return account.instance_url.rstrip("/")

    def _auth(self, account: SocialAccount) -> dict:
        if not account.access_token:
            raise AuthExpired("The Mastodon account has no access token; reconnect it.")
        return {"Authorization": f"Bearer {account.access_token}"}

    def _post_status(self, base: str, headers: dict, body: dict, key: str) -> dict:
        response = self._request(
            "POST",
            f"{base}/api/v1/statuses",
            json=body,
            headers={**headers, "Idempotency-Key": key},
        )
        if response.status_code != 200:
            self._raise_for(response, sent=True)
        status = _json(response)
        if not status or not status.get("id"):
            raise OutcomeUnknown(
                "Mastodon accepted the post but its answer could not be read.",
                status=response.status_code,
                excerpt=response.text,
            )
        return status

    def _upload(self, base: str, headers: dict, item: MediaItem) -> str:
        # An upload publishes nothing, so a lost answer is only a retry away.
        response = self._request(
            "POST",
            f"{base}/api/v2/media",
            headers=headers,
            files={"file": (os.path.basename(item.path), _read_media(item), item.mime_type)},
            data={"description": item.alt_text} if item.alt_text else None,
            sent_is_unknown=False,
        )
        if response.status_code not in (200, 202):
            self._raise_for(response, sent=False)
        media = _json(response)
        if not media or not media.get("id"):
            raise TransientError(
                "Mastodon answered the upload without a media id.",
                status=response.status_code,
                excerpt=response.text,
            )
        if response.status_code == 200 or media.get("url"):
            return str(media["id"])
        return self._wait_for_media(base, headers, str(media["id"]))

    def _wait_for_media(self, base: str, headers: dict, media_id: str) -> str:
        """Poll until the server has processed the file; a status can't attach it before."""
        for _ in range(self.media_poll_attempts):
            self.sleep(self.media_poll_interval)
            response = self._request(
                "GET", f"{base}/api/v1/media/{media_id}", headers=headers, sent_is_unknown=False
            )
            if response.status_code == 206:
                continue
            if response.status_code != 200:
                self._raise_for(response, sent=False)
            if (_json(response) or {}).get("url"):
                return media_id
        raise TransientError(
            f"Mastodon was still processing media {media_id} after "
            f"{self.media_poll_attempts} checks; nothing was posted."
        )

    def _raise_for(self, response: requests.Response, *, sent: bool) -> NoReturn:
        status = response.status_code
        excerpt = response.text
        error = str((_json(response) or {}).get("error", ""))
        if status == 429:
            raise RateLimited(_retry_after(response), status=status, excerpt=excerpt)
        if status == 401 or (status == 403 and "scope" in error.lower()):
            raise AuthExpired(
                f"Mastodon no longer accepts this account's token{': ' + error if error else ''}.",
                status=status,
                excerpt=excerpt,
            )
        if status >= 500:
            if sent:
                raise OutcomeUnknown(
                    f"Mastodon failed with {status} after receiving the post; it may be published.",
                    status=status,
                    excerpt=excerpt,
                )
            raise TransientError(f"Mastodon failed with {status}.", status=status, excerpt=excerpt)
        raise Rejected(
            f"Mastodon refused the post: {error or f'HTTP {status}'}.",
            status=status,
            excerpt=excerpt,
        )

    # -- the inbox -------------------------------------------------------------------------------
    # GET /api/v1/notifications?types[]=mention&min_id=<cursor>: mentions include replies to our
    # statuses and direct messages (a status with visibility "direct").
    supports_inbox_polling = True
    inbox_page_size = 40

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        from agency.platforms.inbox import InboxPage

        base = self._server(account)
        params: dict = {"types[]": "mention", "limit": self.inbox_page_size}
        if since_cursor:
            params["min_id"] = since_cursor
        response = self._request(
            "GET",
            f"{base}/api/v1/notifications",
            params=params,
            headers=self._auth(account),
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        try:
            notifications = response.json()
        except ValueError:
            notifications = None
        if not isinstance(notifications, list):
            raise TransientError(
                "Mastodon listed the notifications in an unreadable form.",
                status=response.status_code,
                excerpt=response.text,
            )
        items = []
        cursor = since_cursor
        for notification in notifications:
            if not isinstance(notification, dict) or not notification.get("id"):
                continue
            if _id_after(str(notification["id"]), cursor):
                cursor = str(notification["id"])
            item = _inbound_from_notification(account, notification)
            if item is not None:
                items.append(item)
        return InboxPage(items=tuple(items), next_cursor=cursor)

    def compose_reply(self, message, text: str) -> str:
        # Without the @handle in the text the person is not notified of the answer.
        handle = (message.author_handle or "").strip()
        if handle and not handle.startswith("@"):
            handle = f"@{handle}"
        return text if not handle or handle in text else f"{handle} {text}"

    # Favourite: POST /api/v1/statuses/:id/favourite (and /unfavourite). Both answer the Status
    # and are idempotent: favouriting twice leaves one favourite.
    # https://docs.joinmastodon.org/methods/statuses/#favourite
    supports_like = True

    def set_liked(self, account: SocialAccount, platform_id: str, liked: bool) -> None:
        base = self._server(account)
        action = "favourite" if liked else "unfavourite"
        response = self._request(
            "POST",
            f"{base}/api/v1/statuses/{platform_id}/{action}",
            headers=self._auth(account),
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        status = _json(response) or {}
        if "favourited" in status and bool(status["favourited"]) != liked:
            raise TransientError(
                f"Mastodon answered the {action} but the status does not show it yet."
            )

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        base = self._server(account)
        kind = getattr(message.conversation, "kind", "")
        body = {
            "status": text,
            "in_reply_to_id": message.platform_message_id,
            "visibility": "direct" if kind == "direct" else "public",
        }
        status = self._post_status(base, self._auth(account), body, idempotency_key)
        return PublishResult(
            external_id=str(status["id"]), url=status.get("url") or "", raw={"id": status["id"]}
        )


def _compose_text(payload: PostPayload) -> str:
    text = payload.text or ""
    if payload.link and payload.link not in text:
        text = f"{text} {payload.link}".strip()
    return text


def _json(response: requests.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _retry_after(response: requests.Response) -> float | None:
    """Mastodon sends X-RateLimit-Reset as an ISO 8601 time; proxies may send Retry-After."""
    reset = _parse_time(response.headers.get("X-RateLimit-Reset", ""))
    if reset is not None:
        return max(0.0, (reset - datetime.now(tz=UTC)).total_seconds())
    retry_after = response.headers.get("Retry-After", "").strip()
    return float(retry_after) if retry_after.isdigit() else None


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _html_to_text(content: str) -> str:
    """Mastodon's status HTML back to plain text: paragraphs and <br> become newlines."""
    content = re.sub(r"<br\s*/?>", "\n", content)
    content = re.sub(r"</p>\s*<p>", "\n\n", content)
    return html.unescape(TAG_RE.sub("", content))


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _read_media(item: MediaItem) -> bytes:
    """The file's bytes: a path on disk, or else a name in the default storage."""
    if os.path.isabs(item.path) and os.path.exists(item.path):
        with open(item.path, "rb") as handle:
            return handle.read()
    from django.core.files.storage import default_storage

    with default_storage.open(item.path, "rb") as handle:
        return handle.read()


def _id_after(candidate: str, current: str) -> bool:
    """Mastodon ids are numeric strings that grow with time: compare them as numbers."""
    if not current:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return (len(candidate), candidate) > (len(current), current)


def _inbound_from_notification(account, notification: dict):
    from agency.platforms.inbox import KIND_COMMENT, KIND_DIRECT, KIND_MENTION, InboundItem

    status = notification.get("status")
    if (
        notification.get("type") != "mention"
        or not isinstance(status, dict)
        or not status.get("id")
    ):
        return None
    author = notification.get("account") or status.get("account") or {}
    acct = str(author.get("acct") or "")
    replied_to = str(status.get("in_reply_to_id") or "")
    to_us = replied_to and str(status.get("in_reply_to_account_id") or "") == account.external_id
    if status.get("visibility") == "direct":
        kind, thread, post = KIND_DIRECT, f"dm:{acct}", ""
    elif to_us:
        kind, thread, post = KIND_COMMENT, replied_to, replied_to
    else:
        kind, thread, post = KIND_MENTION, str(status["id"]), ""
    return InboundItem(
        kind=kind,
        thread_id=thread,
        message_id=str(status["id"]),
        author_handle=f"@{acct}" if acct else "",
        author_name=str(author.get("display_name") or ""),
        author_id=str(author.get("id") or ""),
        text=_html_to_text(str(status.get("content") or "")).strip(),
        sent_at=_parse_time(str(status.get("created_at") or notification.get("created_at") or "")),
        in_reply_to=replied_to,
        post_external_id=post,
        raw=notification,
    )
