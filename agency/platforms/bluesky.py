"""Bluesky through the AT Protocol XRPC API on the account's PDS.

The app password is stored as account.access_token and traded for a session
(com.atproto.server.createSession). A post is a record written with
com.atproto.repo.createRecord under a record key derived from the idempotency key, so a retry
after an unknown outcome lands on the same key and cannot make a second post; getRecord with
that key tells whether the post exists.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
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
from agency.platforms.text import URL_RE

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount

logger = logging.getLogger(__name__)

DEFAULT_PDS = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
LIKE_COLLECTION = "app.bsky.feed.like"
AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}
EXISTS_ERRORS = {"RecordAlreadyExists", "AlreadyExists", "Conflict"}
NOT_FOUND_ERRORS = {"RecordNotFound", "NotFound"}
# URLs end before trailing punctuation that belongs to the sentence.
URL_TRAILING = ".,;:!?\"')]}"
TAG_RE = re.compile(r"(?:^|(?<=\s))#([^\d\s#][^\s#]*)")

# TID layout: 53 bits of microseconds, 10 bits of clock id, base32-sortable in 13 characters.
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_FIRST_MICROS = 1_672_531_200 * 1_000_000  # 2023-01-01: a plausible time for every key
TID_SPAN_MICROS = 10 * 365 * 24 * 3600 * 1_000_000


def record_key(idempotency_key: str) -> str:
    """A valid TID-shaped record key, the same for the same idempotency key.

    app.bsky.feed.post records use TID keys, and the AppView skips posts whose key is not one,
    so the hash is laid out as a TID: its time bits come from the hash, not the clock (the spec
    says a TID's time can't be trusted anyway).
    """
    digest = hashlib.sha256(f"agency-bluesky-post:{idempotency_key}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    micros = TID_FIRST_MICROS + (number >> 10) % TID_SPAN_MICROS
    value = (micros << 10) | (number & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def link_facets(text: str) -> list[dict]:
    """Rich-text facets for links and hashtags; indexes are UTF-8 byte offsets."""
    facets = []
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(URL_TRAILING)
        start = match.start()
        facets.append(
            {
                "index": _byte_slice(text, start, start + len(url)),
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }
        )
    for match in TAG_RE.finditer(text):
        tag = match.group(1).rstrip(URL_TRAILING)
        if not tag or len(tag) > 64:
            continue
        start = match.start(1) - 1  # the "#" belongs to the highlighted text
        facets.append(
            {
                "index": _byte_slice(text, start, match.start(1) + len(tag)),
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    return facets


def _byte_slice(text: str, start: int, end: int) -> dict:
    return {
        "byteStart": len(text[:start].encode("utf-8")),
        "byteEnd": len(text[:end].encode("utf-8")),
    }


class BlueskyAdapter(PlatformAdapter):
    name = "bluesky"
    display_name = "Bluesky"
    rules = PlatformRules(
        max_chars=300,
        url_length=None,  # Bluesky counts a link's full text unless the client shortens it
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/webp", "image/gif"),
        max_image_bytes=1_000_000,
        supports_first_comment=True,
        supports_idempotency_key=True,
        max_bio_chars=256,
    )
    # The record key comes from the idempotency key: a repeat can't create a second post.
    safe_to_retry_with_key = True

    def __init__(self, session: requests.Session | None = None):
        super().__init__(session)
        self._sessions: dict[tuple[str, str], dict] = {}

    # -- checks before scheduling -------------------------------------------------------------
    def validate(self, payload: PostPayload) -> list[str]:
        return super().validate(replace(payload, text=_compose_text(payload), link=None))

    # -- calls to the platform -----------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        pds = self._pds(account)
        session = self._session(account, pds)
        repo = session["did"]
        text = _compose_text(payload)
        record: dict = {"$type": POST_COLLECTION, "text": text, "createdAt": _now_iso()}
        facets = link_facets(text)
        if facets:
            record["facets"] = facets
        if payload.media:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [self._image(account, pds, item) for item in payload.media],
            }
        rkey = record_key(idempotency_key)
        created = self._create_record(account, pds, repo, rkey, record)
        result = self._result(account, session, rkey, created)
        ref = {"uri": created["uri"], "cid": created["cid"]}
        if payload.first_comment:
            reply = {
                "$type": POST_COLLECTION,
                "text": payload.first_comment,
                "createdAt": _now_iso(),
                "reply": {"root": ref, "parent": ref},
            }
            comment_facets = link_facets(payload.first_comment)
            if comment_facets:
                reply["facets"] = comment_facets
            try:
                comment = self._create_record(
                    account, pds, repo, record_key(f"{idempotency_key}:comment"), reply
                )
                result.raw["first_comment_uri"] = comment["uri"]
            except PlatformError as exc:
                logger.warning("Bluesky first comment on %s failed: %s", created["uri"], exc)
                result.raw["first_comment_error"] = f"{exc.__class__.__name__}: {exc}"
        return result

    def find_published(
        self, account: SocialAccount, *, idempotency_key: str, payload=None, **hints
    ) -> PublishResult | None:
        """The post under this key's record key, or None: getRecord answers for sure."""
        pds = self._pds(account)
        repo = account.external_id or account.handle.lstrip("@")
        rkey = record_key(idempotency_key)
        try:
            found = self._get_record(pds, repo, rkey)
        except Rejected as exc:
            # A refused lookup (say, a malformed repo id) says nothing about the post.
            raise OutcomeUnknown(f"Bluesky could not look the post up: {exc}") from exc
        if found is None:
            return None
        return self._result(account, {"did": repo}, rkey, found)

    # -- helpers ------------------------------------------------------------------------------
    def _pds(self, account: SocialAccount) -> str:
        return (account.instance_url or DEFAULT_PDS).rstrip("/")

    def _session(self, account: SocialAccount, pds: str, *, fresh: bool = False) -> dict:
        identifier = (
            account.external_id
            if account.external_id.startswith("did:")
            else account.handle.lstrip("@")
        )
        cache_key = (pds, identifier)
        if not fresh and cache_key in self._sessions:
            return self._sessions[cache_key]
        self._sessions.pop(cache_key, None)
        if not account.access_token:
            raise AuthExpired("The Bluesky account has no app password; reconnect it.")
        response = self._request(
            "POST",
            f"{pds}/xrpc/com.atproto.server.createSession",
            json={"identifier": identifier, "password": account.access_token},
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            error, message = _xrpc_error(response)
            if response.status_code == 429:
                raise RateLimited(_retry_after(response), status=429, excerpt=response.text)
            if response.status_code >= 500:
                raise TransientError(
                    f"Bluesky could not open a session ({response.status_code}).",
                    status=response.status_code,
                    excerpt=response.text,
                )
            raise AuthExpired(
                f"Bluesky refused the app password: {message or error or response.status_code}.",
                status=response.status_code,
                excerpt=response.text,
            )
        data = _json(response) or {}
        if not data.get("accessJwt") or not data.get("did"):
            raise TransientError("Bluesky opened a session without a token or DID.")
        session = {"accessJwt": data["accessJwt"], "did": data["did"], "handle": data.get("handle")}
        self._sessions[cache_key] = session
        return session

    def _call(self, account: SocialAccount, pds: str, method: str, nsid: str, **kwargs):
        """An authenticated XRPC call; an expired token gets one retry with a fresh session."""
        extra_headers = kwargs.pop("headers", {})
        for attempt in range(2):
            session = self._session(account, pds, fresh=attempt > 0)
            headers = {**extra_headers, "Authorization": f"Bearer {session['accessJwt']}"}
            response = self._request(method, f"{pds}/xrpc/{nsid}", headers=headers, **kwargs)
            error, _ = _xrpc_error(response)
            if response.status_code != 401 and error not in AUTH_ERRORS:
                return response
        raise AuthExpired(
            "Bluesky no longer accepts this account's session, even a fresh one.",
            status=response.status_code,
            excerpt=response.text,
        )

    def _image(self, account: SocialAccount, pds: str, item: MediaItem) -> dict:
        # An upload publishes nothing, so a lost answer is only a retry away.
        response = self._call(
            account,
            pds,
            "POST",
            "com.atproto.repo.uploadBlob",
            data=_read_media(item),
            headers={"Content-Type": item.mime_type},
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        blob = (_json(response) or {}).get("blob")
        if not blob:
            raise TransientError(
                "Bluesky answered the upload without a blob.",
                status=response.status_code,
                excerpt=response.text,
            )
        image: dict = {"alt": item.alt_text, "image": blob}
        if item.width and item.height:
            image["aspectRatio"] = {"width": item.width, "height": item.height}
        return image

    def _create_record(
        self,
        account: SocialAccount,
        pds: str,
        repo: str,
        rkey: str,
        record: dict,
        *,
        collection: str = POST_COLLECTION,
    ) -> dict:
        response = self._call(
            account,
            pds,
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": repo, "collection": collection, "rkey": rkey, "record": record},
        )
        if response.status_code == 200:
            data = _json(response) or {}
            if data.get("uri") and data.get("cid"):
                return {"uri": data["uri"], "cid": data["cid"]}
            raise OutcomeUnknown(
                "Bluesky accepted the post but its answer could not be read.",
                status=200,
                excerpt=response.text,
            )
        error, message = _xrpc_error(response)
        exists = (
            response.status_code == 409
            or error in EXISTS_ERRORS
            or "already exists" in message.lower()
        )
        # The reference PDS answers 500 when the key is taken: an earlier attempt landed.
        if exists or response.status_code >= 500:
            try:
                found = self._get_record(pds, repo, rkey, collection=collection)
            except PlatformError as exc:
                raise OutcomeUnknown(
                    f"Bluesky failed with {response.status_code} and the post could not be "
                    "looked up; it may be published.",
                    status=response.status_code,
                    excerpt=response.text,
                ) from exc
            if found is not None:
                found["existing"] = True
                return found
            if exists:
                raise OutcomeUnknown(
                    "Bluesky says the post exists but could not show it.",
                    status=response.status_code,
                    excerpt=response.text,
                )
        self._raise_for(response, sent=True)

    def _get_record(
        self, pds: str, repo: str, rkey: str, *, collection: str = POST_COLLECTION
    ) -> dict | None:
        response = self._request(
            "GET",
            f"{pds}/xrpc/com.atproto.repo.getRecord",
            params={"repo": repo, "collection": collection, "rkey": rkey},
            sent_is_unknown=False,
        )
        error, _ = _xrpc_error(response)
        if response.status_code == 404 or error in NOT_FOUND_ERRORS:
            return None
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        data = _json(response) or {}
        if not data.get("uri") or not data.get("cid"):
            raise OutcomeUnknown(
                "Bluesky showed the record in an unreadable form.",
                status=200,
                excerpt=response.text,
            )
        return {"uri": data["uri"], "cid": data["cid"]}

    def _result(self, account: SocialAccount, session: dict, rkey: str, record: dict):
        handle = account.handle.lstrip("@") or session.get("handle") or session["did"]
        return PublishResult(
            external_id=record["uri"],
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            raw=dict(record),
        )

    def _raise_for(self, response: requests.Response, *, sent: bool) -> NoReturn:
        status = response.status_code
        error, message = _xrpc_error(response)
        words = message or error or f"HTTP {status}"
        if status == 429:
            raise RateLimited(_retry_after(response), status=status, excerpt=response.text)
        if status == 401 or error in AUTH_ERRORS:
            raise AuthExpired(
                f"Bluesky refused the session: {words}.", status=status, excerpt=response.text
            )
        if status >= 500:
            if sent:
                raise OutcomeUnknown(
                    f"Bluesky failed with {status} after receiving the post; it may be published.",
                    status=status,
                    excerpt=response.text,
                )
            raise TransientError(
                f"Bluesky failed with {status}.", status=status, excerpt=response.text
            )
        raise Rejected(f"Bluesky refused the post: {words}.", status=status, excerpt=response.text)

    # -- the inbox -------------------------------------------------------------------------------
    # app.bsky.notification.listNotifications pages backwards in time (its cursor leads to
    # older notifications), so our cursor is the indexedAt of the newest one stored: a poll reads
    # pages until it reaches what it already has.
    supports_inbox_polling = True
    inbox_reasons = ("mention", "reply", "quote")
    inbox_max_pages = 5

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        from agency.platforms.inbox import InboxPage, parse_iso

        pds = self._pds(account)
        since = parse_iso(since_cursor) if since_cursor else None
        items = []
        newest = since
        page_cursor = ""
        for _ in range(self.inbox_max_pages):
            params = {"limit": 50, **({"cursor": page_cursor} if page_cursor else {})}
            response = self._call(
                account,
                pds,
                "GET",
                "app.bsky.notification.listNotifications",
                params=params,
                sent_is_unknown=False,
            )
            if response.status_code != 200:
                self._raise_for(response, sent=False)
            data = _json(response) or {}
            notifications = data.get("notifications")
            if not isinstance(notifications, list):
                raise TransientError("Bluesky listed the notifications in an unreadable form.")
            reached_known = False
            for notification in notifications:
                if not isinstance(notification, dict):
                    continue
                indexed = parse_iso(str(notification.get("indexedAt") or ""))
                if since is not None and indexed is not None and indexed <= since:
                    reached_known = True
                    continue
                if indexed is not None and (newest is None or indexed > newest):
                    newest = indexed
                item = _inbound_from_notification(notification, self.inbox_reasons)
                if item is not None:
                    items.append(item)
            page_cursor = str(data.get("cursor") or "")
            if reached_known or not page_cursor or since is None:
                break
        next_cursor = newest.isoformat() if newest is not None else since_cursor
        return InboxPage(items=tuple(items), next_cursor=next_cursor)

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        """A post whose record names the thread's root and the message it answers; its record
        key comes from the idempotency key, so `find_published` finds it after a lost answer."""
        raw = message.raw or {}
        cid = raw.get("cid")
        if not message.platform_message_id or not cid:
            raise Rejected("Bluesky needs the message's uri and cid to reply; they are unknown.")
        parent = {"uri": message.platform_message_id, "cid": cid}
        root = ((raw.get("record") or {}).get("reply") or {}).get("root") or parent
        pds = self._pds(account)
        session = self._session(account, pds)
        record: dict = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _now_iso(),
            "reply": {"root": root, "parent": parent},
        }
        facets = link_facets(text)
        if facets:
            record["facets"] = facets
        rkey = record_key(idempotency_key)
        created = self._create_record(account, pds, session["did"], rkey, record)
        return self._result(account, session, rkey, created)

    # -- likes ---------------------------------------------------------------------------------
    # A like is an app.bsky.feed.like record in our repo whose subject is the post's uri and cid
    # (com.atproto.repo.createRecord); unliking deletes it (com.atproto.repo.deleteRecord).
    # Bluesky would store a second like record for a second create, so the record key comes
    # from the liked post's uri: a repeat finds the key taken and changes nothing.
    # https://docs.bsky.app/docs/tutorials/like-repost
    # The post's cid and our existing like (viewer.like) come from app.bsky.feed.getPosts.
    # https://docs.bsky.app/docs/api/app-bsky-feed-get-posts
    supports_like = True

    def set_liked(self, account: SocialAccount, platform_id: str, liked: bool) -> None:
        pds = self._pds(account)
        repo = self._session(account, pds)["did"]
        post = self._post_view(account, pds, platform_id)
        existing = str((post.get("viewer") or {}).get("like") or "")
        rkey = record_key(f"like:{platform_id}")
        if liked:
            if existing:
                return
            record = {
                "$type": LIKE_COLLECTION,
                "subject": {"uri": post["uri"], "cid": post["cid"]},
                "createdAt": _now_iso(),
            }
            self._create_record(account, pds, repo, rkey, record, collection=LIKE_COLLECTION)
            return
        keys = [rkey]
        prefix = f"at://{repo}/{LIKE_COLLECTION}/"
        if existing.startswith(prefix) and existing[len(prefix) :] != rkey:
            keys.append(existing[len(prefix) :])  # liked in the Bluesky app, not from here
        for key in keys:
            response = self._call(
                account,
                pds,
                "POST",
                "com.atproto.repo.deleteRecord",
                json={"repo": repo, "collection": LIKE_COLLECTION, "rkey": key},
                sent_is_unknown=False,
            )
            error, _ = _xrpc_error(response)
            if response.status_code != 200 and error not in NOT_FOUND_ERRORS:
                self._raise_for(response, sent=False)

    def _post_view(self, account: SocialAccount, pds: str, uri: str) -> dict:
        response = self._call(
            account,
            pds,
            "GET",
            "app.bsky.feed.getPosts",
            params={"uris": uri},
            sent_is_unknown=False,
        )
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        posts = (_json(response) or {}).get("posts") or []
        post = next((p for p in posts if isinstance(p, dict) and p.get("uri") == uri), None)
        if post is None or not post.get("cid"):
            raise Rejected("Bluesky does not show this post any more; it may have been deleted.")
        return post


def _compose_text(payload: PostPayload) -> str:
    text = payload.text or ""
    if payload.link and payload.link not in text:
        text = f"{text} {payload.link}".strip()
    return text


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(response: requests.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _xrpc_error(response: requests.Response) -> tuple[str, str]:
    """XRPC errors are {"error": Name, "message": words}."""
    if response.status_code < 400:
        return "", ""
    data = _json(response) or {}
    return str(data.get("error") or ""), str(data.get("message") or "")


def _retry_after(response: requests.Response) -> float | None:
    """Bluesky sends ratelimit-reset as epoch seconds; some hosts send Retry-After."""
    reset = response.headers.get("ratelimit-reset", "").strip()
    if reset.isdigit():
        return max(0.0, int(reset) - time.time())
    retry_after = response.headers.get("retry-after", "").strip()
    return float(retry_after) if retry_after.isdigit() else None


def _read_media(item: MediaItem) -> bytes:
    """The file's bytes: a path on disk, or else a name in the default storage."""
    if os.path.isabs(item.path) and os.path.exists(item.path):
        with open(item.path, "rb") as handle:
            return handle.read()
    from django.core.files.storage import default_storage

    with default_storage.open(item.path, "rb") as handle:
        return handle.read()


def _inbound_from_notification(notification: dict, reasons: tuple[str, ...]):
    from agency.platforms.inbox import KIND_COMMENT, KIND_MENTION, InboundItem, parse_iso

    reason = notification.get("reason")
    uri = str(notification.get("uri") or "")
    if reason not in reasons or not uri:
        return None
    record = notification.get("record") or {}
    author = notification.get("author") or {}
    reply = record.get("reply") or {}
    root_uri = str((reply.get("root") or {}).get("uri") or "")
    is_reply = reason == "reply" and root_uri
    return InboundItem(
        kind=KIND_COMMENT if is_reply else KIND_MENTION,
        thread_id=root_uri if is_reply else uri,
        message_id=uri,
        author_handle=f"@{author['handle']}" if author.get("handle") else "",
        author_name=str(author.get("displayName") or ""),
        author_id=str(author.get("did") or ""),
        text=str(record.get("text") or ""),
        sent_at=parse_iso(str(record.get("createdAt") or notification.get("indexedAt") or "")),
        in_reply_to=str((reply.get("parent") or {}).get("uri") or ""),
        post_external_id=root_uri if is_reply else "",
        raw=notification,
    )
