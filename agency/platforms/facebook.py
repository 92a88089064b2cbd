"""Facebook Pages through the Graph API (its plumbing, shared with Instagram, is in graph.py).

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
    Rejected,
    TransientError,
)
from agency.platforms.graph import (
    DEFAULT_RETRY_AFTER,
    GRAPH_URL,
    GRAPH_VERSION,
    GraphClientMixin,
    find_graph_reply,
    graph_error,
    parse_graph_time,
)

if TYPE_CHECKING:
    from agency.models import SocialAccount

# The Graph names stay importable from here, where they were first written.
__all__ = [
    "DEFAULT_RETRY_AFTER",
    "GRAPH_URL",
    "GRAPH_VERSION",
    "FacebookAdapter",
    "GraphClientMixin",
    "graph_error",
]


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
    # (GET /{post-id}/comments?filter=stream&since=<cursor>); see GraphClientMixin._graph_inbox.
    supports_inbox_polling = True
    inbox_recent_posts = 10
    inbox_page_size = 100
    # Pages of comments per post in one poll; the rest waits for the next poll.
    inbox_max_pages = 5
    comment_fields = "id,message,from{id,name},created_time,parent{id}"

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        token, page_id = account.access_token, account.external_id
        if not token or not page_id:
            raise AuthExpired("Facebook: the Page is not connected (no Page id or token).")
        return self._graph_inbox(
            token=token,
            recent_edge=f"{page_id}/feed",
            recent_params={"fields": "id", "limit": self.inbox_recent_posts},
            since_cursor=since_cursor,
            comments_of=lambda post_id: self._comments_since(post_id, token, since_cursor),
            inbound=_inbound_from_comment,
        )

    def _comments_since(self, post_id: str, token: str, since_cursor: str) -> list[dict]:
        params: dict = {
            "fields": self.comment_fields,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self.inbox_page_size,
        }
        if since_cursor:
            params["since"] = since_cursor
        pages = self._graph_pages(
            f"{post_id}/comments", token=token, params=params, max_pages=self.inbox_max_pages
        )
        return [c for body in pages for c in body.get("data") or [] if isinstance(c, dict)]

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
        self._graph_comment_action(
            "POST",
            platform_id,
            token=token,
            verb="hide" if hidden else "show",
            data={"is_hidden": "true" if hidden else "false"},
        )

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
        self._graph_comment_action(
            "POST" if liked else "DELETE",
            f"{platform_id}/likes",
            token=token,
            verb="like" if liked else "unlike",
        )

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
        return find_graph_reply(
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
            time_of=lambda c: parse_graph_time(str(c.get("created_time") or "")),
            text=text,
            since=since,
            pages=self.reply_lookup_pages,
            url=lambda comment_id: f"https://www.facebook.com/{comment_id}",
        )


def _open_media(item):
    from django.core.files.storage import default_storage

    name = item.path.rsplit("/", 1)[-1]
    with default_storage.open(item.path, "rb") as handle:
        return (name, handle.read(), item.mime_type)


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
        sent_at=parse_graph_time(str(comment.get("created_time") or "")),
        in_reply_to=parent if parent and parent != post_id else "",
        post_external_id=post_id,
        raw=comment,
    )
