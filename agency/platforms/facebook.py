"""Facebook Pages through the Graph API, and the Graph API plumbing Instagram shares.

A post goes to `POST /{page-id}/feed` (text and link), a single image to `POST /{page-id}/photos`,
several images are uploaded unpublished and attached to one feed post. The account's
`external_id` is the Page id and its `access_token` a Page access token, which does not expire
in the usual flow (a long-lived user token yields a Page token without expiry), so there is
nothing to refresh.

Docs: https://developers.facebook.com/docs/pages/publishing,
https://developers.facebook.com/docs/graph-api/photo-uploads,
https://developers.facebook.com/docs/graph-api/guides/error-handling,
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from agency.platforms.base import PlatformAdapter, PlatformRules, PostPayload, PublishResult
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

    from agency.models import SocialAccount

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


def _redacted(exc: PlatformError, token: str) -> PlatformError:
    if not token:
        return exc
    message = exc.message.replace(token, "[token]")
    excerpt = exc.excerpt.replace(token, "[token]")
    return type(exc)(message, status=exc.status, excerpt=excerpt)


class FacebookAdapter(GraphClientMixin, PlatformAdapter):
    """Publishes to a Facebook Page.

    Duplicates: Facebook refuses content identical to a post it just published (code 506), which
    becomes Rejected. When that follows an unknown outcome for the same post, the publishing
    engine may take it as "the first attempt went through" rather than as a failure.
    """

    name = "facebook"
    display_name = "Facebook"
    rules = PlatformRules(
        max_chars=63206,
        url_length=None,
        # Our own cap for a multi-photo post; the Graph API documents no lower one.
        max_media=10,
        media_types=("image/jpeg", "image/png", "image/gif"),
        max_image_bytes=4 * 1024 * 1024,
        supports_first_comment=True,
    )

    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        token, page_id = account.access_token, account.external_id
        if not token or not page_id:
            raise AuthExpired("Facebook: the Page is not connected (no Page id or token).")
        images = list(payload.media)
        for item in images:
            if item.mime_type not in self.rules.media_types:
                raise Rejected(f"Facebook: {item.mime_type} is not supported by this adapter yet.")
        text = payload.text or ""

        if not images:
            data = {"message": text}
            if payload.link:
                data["link"] = payload.link
            body = self._graph("POST", f"{page_id}/feed", token=token, write=True, data=data)
            post_id = body.get("id")
        else:
            # A photo story carries no link preview, so the link goes into the text.
            if payload.link and payload.link not in text:
                text = f"{text}\n\n{payload.link}".strip()
            if len(images) == 1:
                body = self._graph(
                    "POST",
                    f"{page_id}/photos",
                    token=token,
                    write=True,
                    **self._photo_source(images[0], {"caption": text}),
                )
                post_id = body.get("post_id") or body.get("id")
            else:
                attached = [self._upload_unpublished(page_id, token, item) for item in images]
                data = {"message": text}
                for index, photo_id in enumerate(attached):
                    data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
                body = self._graph("POST", f"{page_id}/feed", token=token, write=True, data=data)
                post_id = body.get("id")

        if not post_id:
            raise OutcomeUnknown(
                "Facebook answered without a post id; the post may exist.",
                excerpt=json.dumps(body)[:500],
            )
        result = PublishResult(
            external_id=str(post_id), url=f"https://www.facebook.com/{post_id}", raw=body
        )
        if payload.first_comment:
            self._first_comment(token, result, payload.first_comment)
        return result

    def _photo_source(self, item, fields: dict) -> dict:
        """A public URL when we have one, else the file itself as multipart `source`."""
        if item.url:
            return {"data": {**fields, "url": item.url}}
        return {"data": fields, "files": {"source": _open_media(item)}}

    def _upload_unpublished(self, page_id: str, token: str, item) -> str:
        # An unpublished photo shows nowhere, so repeating the upload is harmless.
        body = self._graph(
            "POST",
            f"{page_id}/photos",
            token=token,
            write=False,
            **self._photo_source(item, {"published": "false"}),
        )
        if not body.get("id"):
            raise TransientError("Facebook did not return an id for an uploaded photo.")
        return str(body["id"])

    def _first_comment(self, token: str, result: PublishResult, message: str) -> None:
        """Comment on the new post; a failure here never undoes a published post."""
        try:
            body = self._graph(
                "POST",
                f"{result.external_id}/comments",
                token=token,
                write=True,
                data={"message": message},
            )
        except PlatformError as exc:
            result.raw["first_comment_error"] = str(exc)
        else:
            result.raw["first_comment_id"] = body.get("id", "")

    def refresh_credentials(self, account: SocialAccount) -> dict | None:
        return None

    # -- the inbox -------------------------------------------------------------------------------
    # The Page's recent posts (GET /{page-id}/feed), then each post's comments, replies included
    # (GET /{post-id}/comments?filter=stream&since=<cursor>). The cursor is the ISO time of the
    # newest comment seen. Graph times have whole seconds, so a comment from the cursor's own
    # second is asked for again; storage keeps each comment id once.
    supports_inbox_polling = True
    inbox_recent_posts = 10
    inbox_page_size = 100
    # Pages of comments per post in one poll; the rest waits for the next poll.
    inbox_max_pages = 5
    comment_fields = "id,message,from{id,name},created_time,parent{id}"

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        from agency.platforms.inbox import InboxPage

        token, page_id = account.access_token, account.external_id
        if not token or not page_id:
            raise AuthExpired("Facebook: the Page is not connected (no Page id or token).")
        feed = self._graph(
            "GET",
            f"{page_id}/feed",
            token=token,
            write=False,
            params={"fields": "id", "limit": self.inbox_recent_posts},
        )
        since = _parse_graph_time(since_cursor)
        items = []
        newest = since
        for post in feed.get("data") or []:
            if not isinstance(post, dict) or not post.get("id"):
                continue
            for comment in self._comments_since(str(post["id"]), token, since_cursor):
                item = _inbound_from_comment(str(post["id"]), comment)
                if item is None or (since and item.sent_at and item.sent_at < since):
                    continue
                items.append(item)
                if item.sent_at and (newest is None or item.sent_at > newest):
                    newest = item.sent_at
        cursor = newest.isoformat() if newest else since_cursor
        return InboxPage(items=tuple(items), next_cursor=cursor)

    def _comments_since(self, post_id: str, token: str, since_cursor: str) -> list[dict]:
        params: dict = {
            "fields": self.comment_fields,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self.inbox_page_size,
        }
        if since_cursor:
            params["since"] = since_cursor
        comments: list[dict] = []
        for _ in range(self.inbox_max_pages):
            body = self._graph(
                "GET", f"{post_id}/comments", token=token, write=False, params=params
            )
            comments.extend(c for c in body.get("data") or [] if isinstance(c, dict))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                break
            params = {**params, "after": after}
        return comments

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        """A comment on the message's comment. Graph takes no idempotency key: a lost answer
        is OutcomeUnknown."""
        token = account.access_token
        if not token:
            raise AuthExpired("Facebook: the Page is not connected (no token).")
        body = self._graph(
            "POST",
            f"{message.platform_message_id}/comments",
            token=token,
            write=True,
            data={"message": text},
        )
        comment_id = body.get("id")
        if not comment_id:
            raise OutcomeUnknown(
                "Facebook answered the reply without a comment id; it may exist.",
                excerpt=json.dumps(body)[:500],
            )
        return PublishResult(
            external_id=str(comment_id),
            url=f"https://www.facebook.com/{comment_id}",
            raw={"id": str(comment_id)},
        )

    # Hiding a Page comment: POST /{comment-id} with is_hidden; the author still sees it.
    supports_hide = True

    def set_hidden(self, account: SocialAccount, platform_id: str, hidden: bool) -> None:
        token = account.access_token
        if not token:
            raise AuthExpired("Facebook: the Page is not connected (no token).")
        # Hiding twice leaves it hidden, so a lost answer is safe to repeat.
        body = self._graph(
            "POST",
            platform_id,
            token=token,
            write=False,
            data={"is_hidden": "true" if hidden else "false"},
        )
        if body.get("success") is False:
            raise Rejected(f"Facebook did not {'hide' if hidden else 'show'} the comment.")

    # Liking a comment as the Page: POST /{comment-id}/likes, and DELETE to unlike, with the Page
    # token (pages_manage_engagement); both answer {"success": true}. A Page likes a comment at
    # most once, so a repeat is harmless. The reference today documents reading the edge:
    # https://developers.facebook.com/docs/graph-api/reference/comment/likes/ ; creating and
    # deleting are in the /{object-id}/likes reference:
    # https://developers.facebook.com/docs/graph-api/reference/object/likes
    supports_like = True

    def set_liked(self, account: SocialAccount, platform_id: str, liked: bool) -> None:
        token = account.access_token
        if not token:
            raise AuthExpired("Facebook: the Page is not connected (no token).")
        body = self._graph(
            "POST" if liked else "DELETE", f"{platform_id}/likes", token=token, write=False
        )
        if body.get("success") is False:
            raise Rejected(f"Facebook did not {'like' if liked else 'unlike'} the comment.")

    # -- after a reply's unknown outcome ---------------------------------------------------------
    # Graph takes no idempotency key: our reply is looked for among the comments on the comment
    # we answered (GET /{comment-id}/comments, newest first): one from the Page, with the same
    # text, made after the reply was queued.
    # https://developers.facebook.com/docs/graph-api/reference/object/comments
    reply_lookup_delay = 60.0
    reply_lookup_pages = 3

    def find_reply(self, account, message, text, *, idempotency_key, since):
        parent = str(getattr(message, "platform_message_id", "") or "")
        token, page_id = account.access_token, account.external_id
        if not parent or not token or not page_id:
            raise OutcomeUnknown("Facebook: the comment or the Page is not known well enough.")
        return _find_graph_reply(
            self,
            edge=f"{parent}/comments",
            params={
                "fields": "id,message,from{id,name},created_time",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": 100,
            },
            token=token,
            ours=lambda c: str((c.get("from") or {}).get("id") or "") == page_id,
            text_of=lambda c: str(c.get("message") or ""),
            time_of=lambda c: _parse_graph_time(str(c.get("created_time") or "")),
            text=text,
            since=since,
            pages=self.reply_lookup_pages,
            url=lambda comment_id: f"https://www.facebook.com/{comment_id}",
        )


def _find_graph_reply(
    adapter, *, edge, params, token, ours, text_of, time_of, text, since, pages, url
) -> PublishResult | None:
    """Our reply among a Graph edge's comments, newest first; shared by Facebook and Instagram.
    None when the edge reaches back before `since` without it (surely not there)."""
    from datetime import timedelta

    from agency.platforms.text import same_reply_text

    earliest = since - timedelta(minutes=5)
    try:
        for _ in range(pages):
            body = adapter._graph("GET", edge, token=token, write=False, params=params)
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
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return None
            params = {**params, "after": after}
    except Rejected as exc:
        # A refused read (a deleted parent, a missing permission) says nothing about the reply.
        raise OutcomeUnknown(f"The replies could not be read: {exc}") from exc
    raise OutcomeUnknown("There are more replies than we read through.")


def _open_media(item):
    from django.core.files.storage import default_storage

    name = item.path.rsplit("/", 1)[-1]
    with default_storage.open(item.path, "rb") as handle:
        return (name, handle.read(), item.mime_type)


def _parse_graph_time(value: str):
    """Graph's "2025-03-03T09:00:00+0000" (or our own ISO cursor) as an aware datetime."""
    from agency.platforms.inbox import parse_iso

    return parse_iso(str(value or ""))


def _inbound_from_comment(post_id: str, comment: dict):
    from agency.platforms.inbox import KIND_COMMENT, InboundItem

    if not comment.get("id"):
        return None
    author = comment.get("from") or {}
    parent = str((comment.get("parent") or {}).get("id") or "")
    return InboundItem(
        kind=KIND_COMMENT,
        thread_id=post_id,
        message_id=str(comment["id"]),
        author_handle=str(author.get("name") or ""),
        author_name=str(author.get("name") or ""),
        author_id=str(author.get("id") or ""),
        text=str(comment.get("message") or ""),
        sent_at=_parse_graph_time(str(comment.get("created_time") or "")),
        in_reply_to=parent if parent and parent != post_id else "",
        post_external_id=post_id,
        raw=comment,
    )
