"""Instagram professional accounts through the Instagram Graph API (Facebook Login).

Publishing is a container flow: `POST /{ig-user-id}/media` creates a container from public media
URLs (Instagram fetches them itself), `GET /{container-id}?fields=status_code` tells when it is
processed, and `POST /{ig-user-id}/media_publish` makes it a post. Only that last call can
publish, so only its failures can leave the outcome unknown: a container that errors, expires or
never finishes was never published, and the next attempt simply makes a new one (unused
containers expire after 24 hours). The account's `external_id` is the IG user id.

Docs: https://developers.facebook.com/docs/instagram-platform/content-publishing,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit/
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

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
from agency.platforms.graph import GraphClientMixin, find_graph_reply

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount

MAX_HASHTAGS = 30
MAX_MENTIONS = 20
HASHTAG_RE = re.compile(r"(?<![\w&])#\w+")
MENTION_RE = re.compile(r"(?<![\w.])@[\w.]+")
# The quota is a rolling 24 hours and the API does not say when the oldest post leaves it.
QUOTA_RETRY_AFTER = 3600.0
# An account may publish 50 posts a day, so 50 recent media cover every post of the last 24h.
RECENT_MEDIA_LIMIT = 50
FAILED_CONTAINER = ("ERROR", "EXPIRED")


class InstagramAdapter(GraphClientMixin, PlatformAdapter):
    """Publishes images, reels and carousels to an Instagram professional account.

    Duplicates of an unknown outcome are avoided without storing anything here: the engine calls
    `find_published` with the same post before trying again. Instagram takes no idempotency key,
    so the evidence is, first, the container id (kept in the OutcomeUnknown's `hints` as
    `container_id`; its status says PUBLISHED or not with certainty), else an exact caption
    match among the media of the last 24 hours.
    """

    name = "instagram"
    display_name = "Instagram"
    rules = PlatformRules(
        max_chars=2200,
        url_length=None,
        max_media=10,
        media_types=("image/jpeg", "video/mp4", "video/quicktime"),
        max_image_bytes=8 * 1024 * 1024,
        max_video_bytes=300 * 1024 * 1024,
        # Feed images only: reels take 0.01:1 to 10:1, so validate() skips videos.
        min_aspect_ratio=4 / 5,
        max_aspect_ratio=1.91,
        requires_media=True,
        supports_first_comment=True,
    )

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 5.0,
        max_polls: int = 24,
    ):
        super().__init__(session)
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    # -- checks before scheduling -------------------------------------------------------------
    def validate(self, payload: PostPayload) -> list[str]:
        images_only = tuple(
            replace(item, width=None, height=None) if item.mime_type.startswith("video/") else item
            for item in payload.media
        )
        problems = super().validate(replace(payload, media=images_only))
        text = payload.text or ""
        hashtags = len(HASHTAG_RE.findall(text))
        if hashtags > MAX_HASHTAGS:
            problems.append(
                f"Instagram: the caption has {hashtags} hashtags; at most {MAX_HASHTAGS}."
            )
        mentions = len(MENTION_RE.findall(text))
        if mentions > MAX_MENTIONS:
            problems.append(
                f"Instagram: the caption mentions {mentions} accounts; at most {MAX_MENTIONS}."
            )
        return problems

    # -- publishing ----------------------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        token, ig_user = account.access_token, account.external_id
        if not token or not ig_user:
            raise AuthExpired("Instagram: the account is not connected (no user id or token).")
        if not payload.media:
            raise Rejected("Instagram: a post needs at least one image or video.")
        for item in payload.media:
            if not item.url:
                name = item.path.rsplit("/", 1)[-1]
                raise Rejected(f"Instagram fetches media from a public URL; {name} has none.")

        self._check_quota(ig_user, token)
        container_id = self._create_container(ig_user, token, payload.media, caption(payload))
        self._wait_until_finished(container_id, token)
        try:
            body = self._graph(
                "POST",
                f"{ig_user}/media_publish",
                token=token,
                write=True,
                data={"creation_id": container_id},
            )
        except OutcomeUnknown as exc:
            unknown = OutcomeUnknown(
                f"{exc.message} Container {container_id} tells whether it was published.",
                status=exc.status,
                excerpt=exc.excerpt,
            )
            unknown.hints["container_id"] = container_id
            raise unknown from None
        media_id = body.get("id")
        if not media_id:
            unknown = OutcomeUnknown(
                "Instagram answered media_publish without a media id.", excerpt=str(body)
            )
            unknown.hints["container_id"] = container_id
            raise unknown

        raw = {"container_id": container_id, "media_id": str(media_id)}
        try:
            permalink = self._graph(
                "GET", str(media_id), token=token, write=False, params={"fields": "permalink"}
            ).get("permalink", "")
        except PlatformError as exc:
            # The post is live; a missing link must not turn it into a failure.
            permalink = ""
            raw["permalink_error"] = str(exc)
        result = PublishResult(external_id=str(media_id), url=permalink, raw=raw)
        if payload.first_comment:
            try:
                comment = self._graph(
                    "POST",
                    f"{media_id}/comments",
                    token=token,
                    write=True,
                    data={"message": payload.first_comment},
                )
            except PlatformError as exc:
                raw["first_comment_error"] = str(exc)
            else:
                raw["first_comment_id"] = comment.get("id", "")
        return result

    def _check_quota(self, ig_user: str, token: str) -> None:
        body = self._graph(
            "GET",
            f"{ig_user}/content_publishing_limit",
            token=token,
            write=False,
            params={"fields": "config,quota_usage"},
        )
        entries = body.get("data") or []
        if not entries or not isinstance(entries[0], dict):
            return
        usage = entries[0].get("quota_usage")
        total = (entries[0].get("config") or {}).get("quota_total")
        if isinstance(usage, int) and isinstance(total, int) and usage >= total:
            raise RateLimited(
                retry_after=QUOTA_RETRY_AFTER,
                message=f"Instagram: the account published {usage} of {total} posts allowed "
                "in 24 hours.",
            )

    def _create_container(
        self, ig_user: str, token: str, media: tuple[MediaItem, ...], text: str
    ) -> str:
        # Creating a container publishes nothing, so a timeout here is safe to retry.
        if len(media) == 1:
            return self._new_container(ig_user, token, {**_media_fields(media[0]), "caption": text})
        children = []
        for item in media:
            child = self._new_container(
                ig_user,
                token,
                {**_media_fields(item, in_carousel=True), "is_carousel_item": "true"},
            )
            if item.mime_type.startswith("video/"):
                self._wait_until_finished(child, token)
            children.append(child)
        return self._new_container(
            ig_user,
            token,
            {"media_type": "CAROUSEL", "children": ",".join(children), "caption": text},
        )

    def _new_container(self, ig_user: str, token: str, fields: dict) -> str:
        body = self._graph("POST", f"{ig_user}/media", token=token, write=False, data=fields)
        if not body.get("id"):
            raise TransientError("Instagram did not return a container id.")
        return str(body["id"])

    def _container_status(self, container_id: str, token: str) -> tuple[str, str]:
        body = self._graph(
            "GET",
            container_id,
            token=token,
            write=False,
            params={"fields": "status_code,status"},
        )
        return str(body.get("status_code") or ""), str(body.get("status") or "")

    def _wait_until_finished(self, container_id: str, token: str) -> None:
        for attempt in range(self.max_polls):
            status_code, detail = self._container_status(container_id, token)
            if status_code == "FINISHED":
                return
            if status_code in FAILED_CONTAINER:
                raise Rejected(
                    f"Instagram could not process the media ({status_code}"
                    f"{': ' + detail if detail else ''}).",
                    excerpt=f"container {container_id}",
                )
            if attempt < self.max_polls - 1:
                self.sleep(self.poll_interval)
        raise TransientError(
            f"Instagram is still processing the media (container {container_id}); "
            "nothing was published."
        )

    # -- after an unknown outcome --------------------------------------------------------------
    def find_published(
        self,
        account: SocialAccount,
        *,
        idempotency_key: str,
        payload: PostPayload | None = None,
        container_id: str | None = None,
    ) -> PublishResult | None:
        """The post if Instagram has it, None if surely not, OutcomeUnknown if it cannot tell.

        `payload` and `container_id` go beyond the base signature: Instagram has no idempotency
        key, so the key alone identifies nothing.
        """
        token, ig_user = account.access_token, account.external_id
        container_published = False
        if container_id:
            status_code, _ = self._container_status(container_id, token)
            if status_code != "PUBLISHED":
                return None
            container_published = True
        if payload is None:
            raise OutcomeUnknown(
                "Instagram published the container but cannot say which media it became."
                if container_published
                else "Instagram cannot look up a post without its caption or container."
            )
        match = self._recent_media_with_caption(ig_user, token, caption(payload))
        if match is not None:
            return match
        if container_published:
            raise OutcomeUnknown(
                "Instagram published the container but the media is not among recent posts."
            )
        return None

    def _recent_media_with_caption(self, ig_user: str, token: str, text: str):
        body = self._graph(
            "GET",
            f"{ig_user}/media",
            token=token,
            write=False,
            params={"fields": "id,caption,permalink,timestamp", "limit": RECENT_MEDIA_LIMIT},
        )
        since = _utcnow() - timedelta(hours=24)
        for media in body.get("data") or []:
            if (media.get("caption") or "").strip() != text.strip():
                continue
            try:
                posted = datetime.strptime(media.get("timestamp", ""), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                continue
            if posted >= since:
                return PublishResult(
                    external_id=str(media["id"]),
                    url=media.get("permalink", ""),
                    raw={"found_by": "caption", **media},
                )
        return None

    # -- the inbox -------------------------------------------------------------------------------
    # Comments on the account's recent media: GET /{ig-user-id}/media, then each media's
    # GET /{ig-media-id}/comments with their replies. That edge has no time filter, so the
    # cursor (the ISO time of the newest comment seen) is applied here; a comment from the
    # cursor's own second comes again and storage keeps each comment id once.
    supports_inbox_polling = True
    inbox_recent_media = 10
    inbox_page_size = 50
    inbox_max_pages = 5
    reply_fields = "id,text,timestamp,username,from,parent_id"
    comment_fields = f"{reply_fields},replies{{{reply_fields}}}"

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        token, ig_user = account.access_token, account.external_id
        if not token or not ig_user:
            raise AuthExpired("Instagram: the account is not connected (no user id or token).")
        return self._graph_inbox(
            token=token,
            recent_edge=f"{ig_user}/media",
            recent_params={"fields": "id,timestamp", "limit": self.inbox_recent_media},
            since_cursor=since_cursor,
            comments_of=lambda media_id: self._comments_with_replies(media_id, token),
            inbound=_inbound_from_comment,
        )

    def _comments_with_replies(self, media_id: str, token: str) -> list[dict]:
        params: dict = {"fields": self.comment_fields, "limit": self.inbox_page_size}
        comments: list[dict] = []
        pages = self._graph_pages(
            f"{media_id}/comments", token=token, params=params, max_pages=self.inbox_max_pages
        )
        for body in pages:
            for comment in body.get("data") or []:
                if not isinstance(comment, dict):
                    continue
                comments.append(comment)
                replies = (comment.get("replies") or {}).get("data") or []
                comments.extend(
                    {"parent_id": comment.get("id"), **reply}
                    for reply in replies
                    if isinstance(reply, dict)
                )
        return comments

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        """POST /{ig-comment-id}/replies; a reply to a reply lands on its top-level comment.
        Instagram takes no idempotency key: a lost answer is OutcomeUnknown."""
        token = account.access_token
        if not token:
            raise AuthExpired("Instagram: the account is not connected (no token).")
        body = self._graph(
            "POST",
            f"{message.platform_message_id}/replies",
            token=token,
            write=True,
            data={"message": text},
        )
        if not body.get("id"):
            raise OutcomeUnknown(
                "Instagram answered the reply without a comment id; it may exist.",
                excerpt=str(body),
            )
        return PublishResult(external_id=str(body["id"]), raw={"id": str(body["id"])})

    # -- after a reply's unknown outcome ---------------------------------------------------------
    # Instagram takes no idempotency key: our reply is looked for among the replies of the
    # top-level comment (a reply to a reply lands there), GET /{ig-comment-id}/replies: one by
    # the account, with the same text, made after the reply was queued. `find_published` looks
    # at posts' captions and must not be used for replies.
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies
    reply_lookup_delay = 60.0
    reply_lookup_pages = 3

    def find_reply(self, account, message, text, *, idempotency_key, since):
        top = str(
            getattr(message, "in_reply_to", "") or getattr(message, "platform_message_id", "") or ""
        )
        token, ig_user = account.access_token, account.external_id
        if not top or not token or not ig_user:
            raise OutcomeUnknown("Instagram: the comment or the account is not known well enough.")
        handle = account.handle.lstrip("@").lower()

        def ours(reply: dict) -> bool:
            author = reply.get("from") or {}
            if author.get("id"):
                return str(author["id"]) == ig_user
            username = str(author.get("username") or reply.get("username") or "").lower()
            return bool(handle) and username == handle

        from agency.platforms.inbox import parse_iso

        return find_graph_reply(
            self,
            edge=f"{top}/replies",
            params={"fields": "id,text,timestamp,username,from", "limit": 50},
            token=token,
            ours=ours,
            text_of=lambda r: str(r.get("text") or ""),
            time_of=lambda r: parse_iso(str(r.get("timestamp") or "")),
            text=text,
            since=since,
            pages=self.reply_lookup_pages,
            url=lambda comment_id: "",
        )

    # Hiding a comment on the account's media: POST /{ig-comment-id} with hide.
    supports_hide = True
    # The IG Comment node can be read, hidden, replied to and deleted, but has no like edge.
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment
    like_unsupported_reason = (
        "Instagram's API does not let an account like comments: like it in the Instagram app."
    )

    def set_hidden(self, account: SocialAccount, platform_id: str, hidden: bool) -> None:
        token = account.access_token
        if not token:
            raise AuthExpired("Instagram: the account is not connected (no token).")
        self._graph_comment_action(
            "POST",
            platform_id,
            token=token,
            verb="hide" if hidden else "show",
            data={"hide": "true" if hidden else "false"},
        )


def caption(payload: PostPayload) -> str:
    """The caption sent for a payload; links are not clickable there, but readers copy them."""
    text = payload.text or ""
    if payload.link and payload.link not in text:
        text = f"{text}\n\n{payload.link}".strip()
    return text


def _media_fields(item: MediaItem, *, in_carousel: bool = False) -> dict:
    if item.mime_type.startswith("video/"):
        return {"media_type": "VIDEO" if in_carousel else "REELS", "video_url": item.url}
    fields = {"image_url": item.url}
    if item.alt_text and not in_carousel:
        fields["alt_text"] = item.alt_text
    return fields


def _utcnow() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _inbound_from_comment(media_id: str, comment: dict):
    from agency.platforms.inbox import KIND_COMMENT, InboundItem, parse_iso

    if not comment.get("id"):
        return None
    author = comment.get("from") or {}
    return InboundItem(
        kind=KIND_COMMENT,
        thread_id=media_id,
        message_id=str(comment["id"]),
        author_handle=str(author.get("username") or comment.get("username") or ""),
        author_id=str(author.get("id") or ""),
        text=str(comment.get("text") or ""),
        sent_at=parse_iso(str(comment.get("timestamp") or "")),
        in_reply_to=str(comment.get("parent_id") or ""),
        post_external_id=media_id,
        raw={k: v for k, v in comment.items() if k != "replies"},
    )
