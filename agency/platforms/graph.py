"""The Graph API plumbing Facebook and Instagram share (and Meta's insights client).

Requests carry the token in the body or query and never log it; an error answer becomes the
typed PlatformError the engines decide retries by; edges are paged by `paging.cursors.after`;
the inbox of either network is "recent objects, then each one's comments"; replies whose outcome
was lost are looked for among the comments of the comment they answered.

Docs: https://developers.facebook.com/docs/graph-api/guides/error-handling,
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/,
https://developers.facebook.com/docs/graph-api/results (cursor-based pagination)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from agency.platforms.base import PlatformAdapter, PublishResult
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
)

if TYPE_CHECKING:
    import requests

# Pinned so a Graph API change never reaches us unannounced; each version lives about two years.
GRAPH_VERSION = "v24.0"
GRAPH_URL = f"https://graph.facebook.com/{GRAPH_VERSION}"

# Throttling: 4 app, 17 user, 32 Pages, 613 custom, 341 app limit, 80000-80014 business use case.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
# Instagram: "the account has reached its publishing limit" arrives as code 9 with this subcode.
RATE_LIMIT_SUBCODES = frozenset({2207042})
AUTH_CODES = frozenset({102, 190})
AUTH_SUBCODES = frozenset({458, 459, 460, 463, 464, 467})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
DUPLICATE_CODE = 506
TEMPORARY_CODES = frozenset({1, 2})
# Platform rate limits are counted over a rolling hour; a few minutes is a polite first wait.
DEFAULT_RETRY_AFTER = 300.0


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(response: requests.Response) -> float:
    """Retry-After when sent, else the business use case header's time to regain access."""
    header = response.headers.get("Retry-After")
    if header and header.strip().isdigit():
        return float(header.strip())
    usage = response.headers.get("X-Business-Use-Case-Usage")
    if usage:
        try:
            minutes = [
                float(entry.get("estimated_time_to_regain_access") or 0)
                for entries in json.loads(usage).values()
                for entry in entries
            ]
        except (ValueError, AttributeError, TypeError):
            minutes = []
        if minutes and max(minutes) > 0:
            return max(minutes) * 60
    return DEFAULT_RETRY_AFTER


def graph_error(response: requests.Response, *, label: str, write: bool) -> PlatformError:
    """The typed error for a Graph API error response (the JSON `error` object, or none).

    `write` says whether the request may have changed something: a 5xx after a write may have
    been acted on (OutcomeUnknown), a 5xx after a read is just worth another try.
    """
    status = response.status_code
    excerpt = response.text[:500]
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    words = error.get("error_user_msg") or error.get("message") or f"HTTP {status}"
    info = {"status": status, "excerpt": excerpt}

    if code in RATE_LIMIT_CODES or subcode in RATE_LIMIT_SUBCODES or status == 429:
        return RateLimited(
            retry_after=_retry_after(response), message=f"{label} is throttling: {words}", **info
        )
    if code in AUTH_CODES or subcode in AUTH_SUBCODES:
        return AuthExpired(f"{label}: the access token is no longer valid ({words}).", **info)
    if code in PERMISSION_CODES:
        return AuthExpired(
            f"{label}: a permission is missing; reconnect the account ({words}).", **info
        )
    if code == DUPLICATE_CODE:
        return Rejected(
            f"{label}: duplicate post, the same content was just published ({words}).",
            duplicate=True,
            **info,
        )
    if status >= 500 and write:
        return OutcomeUnknown(f"{label} failed after receiving the request ({words}).", **info)
    if code in TEMPORARY_CODES or status >= 500:
        return TransientError(f"{label} is temporarily unavailable ({words}).", **info)
    return Rejected(f"{label} refused the request: {words}", **info)


class GraphClientMixin:
    """Graph API calls for an adapter: the token travels in the body or query, never logged."""

    graph_url = GRAPH_URL

    def _graph(
        self: PlatformAdapter,
        method: str,
        path: str,
        *,
        token: str,
        write: bool,
        params: dict | None = None,
        data: dict | None = None,
        files: dict | None = None,
    ) -> dict:
        url = f"{self.graph_url}/{path.lstrip('/')}"
        if method in ("GET", "DELETE"):
            params = {**(params or {}), "access_token": token}
        else:
            data = {**(data or {}), "access_token": token}
        try:
            response = self._request(
                method, url, sent_is_unknown=write, params=params, data=data, files=files
            )
        except PlatformError as exc:
            # requests puts the URL, query string and all, in its connection errors.
            raise _redacted(exc, token) from None
        label = getattr(self, "display_name", self.name)
        if not response.ok:
            raise graph_error(response, label=label, write=write)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            message = f"{label} answered {response.status_code} with a body that is not JSON."
            error_class = OutcomeUnknown if write else TransientError
            raise error_class(message, status=response.status_code, excerpt=response.text)
        if "error" in body:
            raise graph_error(response, label=label, write=write)
        return body

    def _graph_pages(
        self, edge: str, *, token: str, params: dict, max_pages: int
    ) -> Iterator[dict]:
        """Each page of a Graph edge, oldest request first, at most `max_pages` of them."""
        for _ in range(max_pages):
            body = self._graph("GET", edge, token=token, write=False, params=params)
            yield body
            after = next_page_after(body)
            if after is None:
                return
            params = {**params, "after": after}

    def _graph_inbox(
        self,
        *,
        token: str,
        recent_edge: str,
        recent_params: dict,
        since_cursor: str,
        comments_of: Callable[[str], list[dict]],
        inbound: Callable[[str, dict], object],
    ):
        """The comments on the account's recent objects (a Page's posts, an IG user's media)
        since the cursor, the ISO time of the newest comment seen. Graph times have whole
        seconds, so a comment from the cursor's own second is read again; storage keeps each
        comment id once."""
        from agency.platforms.inbox import InboxPage

        recent = self._graph("GET", recent_edge, token=token, write=False, params=recent_params)
        since = parse_graph_time(since_cursor)
        items = []
        newest = since
        for obj in recent.get("data") or []:
            if not isinstance(obj, dict) or not obj.get("id"):
                continue
            for comment in comments_of(str(obj["id"])):
                item = inbound(str(obj["id"]), comment)
                if item is None or (since and item.sent_at and item.sent_at < since):
                    continue
                items.append(item)
                if item.sent_at and (newest is None or item.sent_at > newest):
                    newest = item.sent_at
        cursor = newest.isoformat() if newest else since_cursor
        return InboxPage(items=tuple(items), next_cursor=cursor)

    def _graph_comment_action(
        self, method: str, path: str, *, token: str, verb: str, data: dict | None = None
    ) -> None:
        """A moderation call on a comment (hide, like) that answers {"success": bool}. Doing it
        twice leaves the same state, so a lost answer is safe to repeat (write=False)."""
        body = self._graph(method, path, token=token, write=False, data=data)
        if body.get("success") is False:
            label = getattr(self, "display_name", self.name)
            raise Rejected(f"{label} did not {verb} the comment.")


def next_page_after(body: dict) -> str | None:
    """The cursor of the next page of a Graph answer, or None on the last page."""
    paging = body.get("paging") or {}
    after = (paging.get("cursors") or {}).get("after")
    return after if paging.get("next") and after else None


def _redacted(exc: PlatformError, token: str) -> PlatformError:
    if not token:
        return exc
    message = exc.message.replace(token, "[token]")
    excerpt = exc.excerpt.replace(token, "[token]")
    return type(exc)(message, status=exc.status, excerpt=excerpt)


def find_graph_reply(
    adapter, *, edge, params, token, ours, text_of, time_of, text, since, pages, url
) -> PublishResult | None:
    """Our reply among a Graph edge's comments, newest first; shared by Facebook and Instagram.
    None when the edge reaches back before `since` without it (surely not there)."""
    from datetime import timedelta

    from agency.platforms.text import same_reply_text

    earliest = since - timedelta(minutes=5)
    try:
        for body in adapter._graph_pages(edge, token=token, params=params, max_pages=pages):
            comments = [c for c in body.get("data") or [] if isinstance(c, dict)]
            for comment in comments:
                if comment.get("id") and ours(comment) and same_reply_text(text, text_of(comment)):
                    at = time_of(comment)
                    if at is None or at >= earliest:
                        comment_id = str(comment["id"])
                        return PublishResult(
                            external_id=comment_id,
                            url=url(comment_id),
                            raw={"id": comment_id, "found": True},
                        )
            if next_page_after(body) is None:
                return None
    except Rejected as exc:
        # A refused read (a deleted parent, a missing permission) says nothing about the reply.
        raise OutcomeUnknown(f"The replies could not be read: {exc}") from exc
    raise OutcomeUnknown("There are more replies than we read through.")


def parse_graph_time(value: str):
    """Graph's "2025-03-03T09:00:00+0000" (or our own ISO cursor) as an aware datetime."""
    from agency.platforms.inbox import parse_iso

    return parse_iso(str(value or ""))
