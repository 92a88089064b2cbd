"""X (Twitter) through the v2 API with a user's OAuth 2.0 access token.

Posts: POST https://api.x.com/2/tweets. Images: the v2 simple upload, POST /2/media/upload.
Tokens: OAuth 2.0 refresh token grant, POST /2/oauth2/token; X rotates refresh tokens, so the
new one must replace the old one (the old one stops working once used).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

from django.conf import settings

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

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount

logger = logging.getLogger(__name__)

API = "https://api.x.com/2"
TWEETS_URL = f"{API}/tweets"
MEDIA_UPLOAD_URL = f"{API}/media/upload"
TOKEN_URL = f"{API}/oauth2/token"


class DuplicateContent(Rejected):
    """X refused the post as a duplicate of one already on the account.

    After an unknown outcome, the engine may treat this as "published": the first attempt most
    likely went through. `duplicate` lets callers check without importing this module.
    """

    duplicate = True


class XAdapter(PlatformAdapter):
    name = "x"
    display_name = "X"
    rules = PlatformRules(
        max_chars=280,
        url_length=23,
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"),
        max_image_bytes=5 * 1024 * 1024,
        max_video_bytes=512 * 1024 * 1024,
        supports_first_comment=True,
    )

    # -- checks before scheduling -------------------------------------------------------------
    def count_chars(self, text: str) -> int:
        """X's weighted length: CJK and emoji count 2, every URL 23 (twitter-text v3 config)."""
        from twitter_text import parse_tweet

        return parse_tweet(text).weightedLength

    def validate(self, payload: PostPayload) -> list[str]:
        problems = super().validate(replace(payload, text=_compose_text(payload), link=None))
        videos = [m for m in payload.media if m.mime_type.startswith("video/")]
        if videos and len(payload.media) > 1:
            problems.append(f"{self.display_name}: a post has up to 4 images or 1 video alone.")
        if videos:
            problems.append(
                f"{self.display_name}: video upload is not supported yet; attach images instead."
            )
        return problems

    # -- calls to the platform -----------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        """Post to X. X accepts no idempotency key: a retry after OutcomeUnknown may duplicate,
        and X then answers 403 duplicate content (DuplicateContent)."""
        headers = self._auth(account)
        media_ids = [self._upload_image(headers, item) for item in payload.media]
        body: dict = {"text": _compose_text(payload)}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        response = self._request("POST", TWEETS_URL, json=body, headers=headers)
        tweet_id = self._created_id(response)
        handle = account.handle.lstrip("@")
        raw: dict = {"id": tweet_id}
        limit = _rate_limit_note(response)
        if limit:
            raw["rate_limit"] = limit
        if payload.first_comment:
            self._first_comment(headers, tweet_id, payload.first_comment, raw)
        return PublishResult(
            external_id=tweet_id, url=f"https://x.com/{handle}/status/{tweet_id}", raw=raw
        )

    def refresh_credentials(self, account: SocialAccount) -> dict | None:
        """Trade the refresh token for a new pair (X rotates refresh tokens: keep the new one).

        A lost answer cannot be replayed: X has already retired the old refresh token, so the
        next try gets invalid_grant and the account must be reconnected.
        """
        if not account.refresh_token:
            raise AuthExpired("The X account has no refresh token; reconnect it.")
        client_id = getattr(settings, "X_CLIENT_ID", "")
        client_secret = getattr(settings, "X_CLIENT_SECRET", "")
        data = {
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": client_id,
        }
        # Confidential clients authenticate with HTTP Basic; public (PKCE-only) clients don't.
        auth = (client_id, client_secret) if client_secret else None
        response = self._request("POST", TOKEN_URL, data=data, auth=auth, sent_is_unknown=False)
        if response.status_code == 200:
            try:
                token = response.json()
                access_token = token["access_token"]
            except (ValueError, KeyError, TypeError):
                # No excerpt: a half-readable token answer may still hold a token.
                raise TransientError(
                    "X answered the token refresh with an unreadable body."
                ) from None
            expires_in = token.get("expires_in")
            expires_at = (
                datetime.now(tz=UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
            )
            return {
                "access_token": access_token,
                "refresh_token": token.get("refresh_token") or account.refresh_token,
                "expires_at": expires_at,
            }
        payload = _json(response) or {}
        error = str(payload.get("error", ""))
        description = str(payload.get("error_description", ""))
        excerpt = response.text[:500]
        if response.status_code == 429:
            raise RateLimited(_retry_after(response), status=429, excerpt=excerpt)
        if response.status_code >= 500:
            raise TransientError(
                f"X could not refresh the token ({response.status_code}).",
                status=response.status_code,
                excerpt=excerpt,
            )
        if error == "invalid_grant" or (error == "invalid_request" and "token" in description):
            raise AuthExpired(
                "X no longer accepts this account's refresh token; reconnect the account.",
                status=response.status_code,
                excerpt=excerpt,
            )
        if response.status_code == 401 or error in ("unauthorized_client", "invalid_client"):
            raise Rejected(
                "X refused the app's client credentials: check X_CLIENT_ID and X_CLIENT_SECRET.",
                status=response.status_code,
                excerpt=excerpt,
            )
        raise Rejected(
            f"X refused the token refresh: {description or error or response.status_code}.",
            status=response.status_code,
            excerpt=excerpt,
        )

    # -- helpers ------------------------------------------------------------------------------
    def _auth(self, account: SocialAccount) -> dict:
        if not account.access_token:
            raise AuthExpired("The X account has no access token; reconnect it.")
        return {"Authorization": f"Bearer {account.access_token}"}

    def _upload_image(self, headers: dict, item: MediaItem) -> str:
        if not item.mime_type.startswith("image/"):
            raise Rejected(
                f"X: {os.path.basename(item.path)} is not an image; video is not supported yet."
            )
        content = _read_media(item)
        # Nothing is posted by an upload, so a lost answer is only a retry away.
        response = self._request(
            "POST",
            MEDIA_UPLOAD_URL,
            headers=headers,
            files={"media": (os.path.basename(item.path), content, item.mime_type)},
            data={"media_category": "tweet_image"},
            sent_is_unknown=False,
        )
        if response.status_code not in (200, 201):
            self._raise_for(response, sent=False)
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise TransientError(
                "X answered the media upload without a media id.",
                status=response.status_code,
                excerpt=response.text,
            ) from None

    def _created_id(self, response: requests.Response) -> str:
        if response.status_code not in (200, 201):
            self._raise_for(response, sent=True)
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            # X said it created something but we cannot tell what: the reconciler settles it.
            raise OutcomeUnknown(
                "X accepted the post but its answer could not be read.",
                status=response.status_code,
                excerpt=response.text,
            ) from None

    def _first_comment(self, headers: dict, tweet_id: str, text: str, raw: dict) -> None:
        """Reply to the new post; its failure never fails the publish."""
        body = {"text": text, "reply": {"in_reply_to_tweet_id": tweet_id}}
        try:
            response = self._request("POST", TWEETS_URL, json=body, headers=headers)
            raw["first_comment_id"] = self._created_id(response)
        except PlatformError as exc:
            logger.warning("X first comment on %s failed: %s", tweet_id, exc)
            raw["first_comment_error"] = f"{exc.__class__.__name__}: {exc}"

    def _raise_for(self, response: requests.Response, *, sent: bool) -> NoReturn:
        status = response.status_code
        excerpt = response.text
        reason = _problem_words(_json(response))
        if status == 429:
            raise RateLimited(
                _retry_after(response),
                f"X asked us to slow down{': ' + reason if reason else ''}.",
                status=status,
                excerpt=excerpt,
            )
        if status == 401:
            raise AuthExpired(
                "X no longer accepts this account's token.", status=status, excerpt=excerpt
            )
        if status == 403 and "duplicate" in reason.lower():
            raise DuplicateContent(
                "X refused the post as a duplicate of a post already on the account.",
                status=status,
                excerpt=excerpt,
            )
        if status >= 500:
            if sent:
                raise OutcomeUnknown(
                    f"X failed with {status} after receiving the post; it may be published.",
                    status=status,
                    excerpt=excerpt,
                )
            raise TransientError(f"X failed with {status}.", status=status, excerpt=excerpt)
        raise Rejected(
            f"X refused the post: {reason or f'HTTP {status}'}.", status=status, excerpt=excerpt
        )

    # -- the inbox -------------------------------------------------------------------------------
    # GET /2/users/:id/mentions?since_id=<cursor>: every post that mentions the account, replies
    # to its posts included. The cursor is the newest post id seen; X ids grow with time.
    supports_inbox_polling = True
    inbox_page_size = 100
    # 100 a page; more than this many pages in one poll waits for the next poll.
    inbox_max_pages = 5

    def fetch_inbox(self, account: SocialAccount, since_cursor: str):
        from agency.platforms.inbox import InboxPage

        if not account.external_id:
            raise AuthExpired("The X account has no user id to read its mentions; reconnect it.")
        headers = self._auth(account)
        params: dict = {
            "max_results": self.inbox_page_size,
            "tweet.fields": "created_at,conversation_id,author_id,referenced_tweets",
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        if since_cursor:
            params["since_id"] = since_cursor
        items = []
        cursor = since_cursor
        for _ in range(self.inbox_max_pages):
            response = self._request(
                "GET",
                f"{API}/users/{account.external_id}/mentions",
                params=params,
                headers=headers,
                sent_is_unknown=False,
            )
            if response.status_code != 200:
                self._raise_for(response, sent=False)
            body = _json(response)
            if body is None:
                raise TransientError(
                    "X listed the mentions in an unreadable form.",
                    status=response.status_code,
                    excerpt=response.text,
                )
            users = {
                str(user.get("id")): user
                for user in (body.get("includes") or {}).get("users") or []
                if isinstance(user, dict)
            }
            for tweet in body.get("data") or []:
                if not isinstance(tweet, dict) or not tweet.get("id"):
                    continue
                if _id_after(str(tweet["id"]), cursor):
                    cursor = str(tweet["id"])
                items.append(_inbound_from_mention(tweet, users))
            next_token = (body.get("meta") or {}).get("next_token")
            if not next_token:
                break
            params = {**params, "pagination_token": next_token}
        return InboxPage(items=tuple(items), next_cursor=cursor)

    # Likes: POST /2/users/:id/likes {"tweet_id"} and DELETE /2/users/:id/likes/:tweet_id, both
    # answering {"data": {"liked": bool}}. Liking a liked post leaves it liked, so a repeat is
    # harmless. Direct messages cannot be liked.
    # https://docs.x.com/x-api/posts/likes/quickstart/manage-likes
    supports_like = True

    def set_liked(self, account: SocialAccount, platform_id: str, liked: bool) -> None:
        if not platform_id.isdigit():
            raise Rejected("X lets us like posts only, not direct messages.")
        if not account.external_id:
            raise AuthExpired("The X account has no user id to like with; reconnect it.")
        headers = self._auth(account)
        likes = f"{API}/users/{account.external_id}/likes"
        if liked:
            response = self._request(
                "POST",
                likes,
                json={"tweet_id": platform_id},
                headers=headers,
                sent_is_unknown=False,
            )
        else:
            response = self._request(
                "DELETE", f"{likes}/{platform_id}", headers=headers, sent_is_unknown=False
            )
        if response.status_code != 200:
            self._raise_for(response, sent=False)
        data = (_json(response) or {}).get("data") or {}
        if data.get("liked") is not liked:
            raise TransientError(
                "X answered the like without saying it is done.",
                status=response.status_code,
                excerpt=response.text,
            )

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        """A post in reply to the message's post. X takes no idempotency key (see publish)."""
        body = {"text": text, "reply": {"in_reply_to_tweet_id": message.platform_message_id}}
        response = self._request("POST", TWEETS_URL, json=body, headers=self._auth(account))
        tweet_id = self._created_id(response)
        handle = account.handle.lstrip("@")
        return PublishResult(
            external_id=tweet_id,
            url=f"https://x.com/{handle}/status/{tweet_id}",
            raw={"id": tweet_id},
        )

    # -- after a reply's unknown outcome ---------------------------------------------------------
    # X takes no idempotency key, so our reply is looked for on the account's own timeline,
    # GET /2/users/:id/tweets (replies included) since the reply was queued: a post replying to
    # the message with the same text. https://docs.x.com/x-api/users/get-posts
    reply_lookup_delay = 60.0
    reply_lookup_pages = 3

    def find_reply(self, account, message, text, *, idempotency_key, since):
        from agency.platforms.text import same_reply_text

        parent = str(getattr(message, "platform_message_id", "") or "")
        if not parent.isdigit():
            raise OutcomeUnknown("X can look up replies to posts only.")
        if not account.external_id:
            raise OutcomeUnknown("The X account has no user id to read its posts with.")
        params: dict = {
            "max_results": 100,
            "tweet.fields": "created_at,conversation_id,referenced_tweets",
            # Clocks differ: five minutes of margin before the reply was queued.
            "start_time": (since - timedelta(minutes=5))
            .astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        headers = self._auth(account)
        for _ in range(self.reply_lookup_pages):
            response = self._request(
                "GET",
                f"{API}/users/{account.external_id}/tweets",
                params=params,
                headers=headers,
                sent_is_unknown=False,
            )
            if response.status_code != 200:
                try:
                    self._raise_for(response, sent=False)
                except Rejected as exc:
                    raise OutcomeUnknown(f"X could not list the account's posts: {exc}") from exc
            body = _json(response)
            if body is None:
                raise OutcomeUnknown("X listed the account's posts in an unreadable form.")
            for tweet in body.get("data") or []:
                if not isinstance(tweet, dict) or not tweet.get("id"):
                    continue
                replied_to = {
                    str(ref.get("id"))
                    for ref in tweet.get("referenced_tweets") or []
                    if isinstance(ref, dict) and ref.get("type") == "replied_to"
                }
                if parent in replied_to and same_reply_text(text, str(tweet.get("text") or "")):
                    tweet_id = str(tweet["id"])
                    handle = account.handle.lstrip("@")
                    return PublishResult(
                        external_id=tweet_id,
                        url=f"https://x.com/{handle}/status/{tweet_id}",
                        raw={"id": tweet_id, "found": True},
                    )
            next_token = (body.get("meta") or {}).get("next_token")
            if not next_token:
                return None
            params = {**params, "pagination_token": next_token}
        raise OutcomeUnknown("The account posted more since the reply than we read through.")


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


def _problem_words(data: dict | None) -> str:
    """X errors are RFC 7807 problems ({title, detail}) or {errors: [{message}]}."""
    if not data:
        return ""
    if data.get("detail") or data.get("title"):
        return str(data.get("detail") or data.get("title"))
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("detail") or first.get("message") or first.get("title") or "")
    return ""


def _retry_after(response: requests.Response) -> float | None:
    """Seconds until X lifts the limit that ran out (15-minute window or 24-hour post cap)."""
    now = time.time()
    resets = []
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour", "x-rate-limit"):
        if response.headers.get(f"{prefix}-remaining") == "0" or prefix == "x-rate-limit":
            value = response.headers.get(f"{prefix}-reset")
            if value and value.strip().isdigit():
                resets.append(max(0.0, int(value) - now))
    if resets:
        return max(resets)
    retry_after = response.headers.get("retry-after", "")
    return float(retry_after) if retry_after.strip().isdigit() else None


def _rate_limit_note(response: requests.Response) -> dict | None:
    """The next post will be throttled: say when the window resets."""
    if response.headers.get("x-rate-limit-remaining") != "0":
        return None
    reset = response.headers.get("x-rate-limit-reset", "")
    logger.info("X rate limit for posting is used up until %s.", reset or "unknown")
    return {"remaining": 0, "reset": int(reset) if reset.isdigit() else None}


def _read_media(item: MediaItem) -> bytes:
    """The file's bytes: a path on disk, or else a name in the default storage."""
    if os.path.isabs(item.path) and os.path.exists(item.path):
        with open(item.path, "rb") as handle:
            return handle.read()
    from django.core.files.storage import default_storage

    with default_storage.open(item.path, "rb") as handle:
        return handle.read()


def _id_after(candidate: str, current: str) -> bool:
    """X ids are numeric strings that grow with time: compare them as numbers."""
    if not current:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return (len(candidate), candidate) > (len(current), current)


def _inbound_from_mention(tweet: dict, users: dict):
    from agency.platforms.inbox import KIND_MENTION, InboundItem, parse_iso

    author_id = str(tweet.get("author_id") or "")
    author = users.get(author_id) or {}
    replied_to = next(
        (
            str(ref.get("id") or "")
            for ref in tweet.get("referenced_tweets") or []
            if isinstance(ref, dict) and ref.get("type") == "replied_to"
        ),
        "",
    )
    return InboundItem(
        kind=KIND_MENTION,
        thread_id=str(tweet.get("conversation_id") or tweet["id"]),
        message_id=str(tweet["id"]),
        author_handle=f"@{author['username']}" if author.get("username") else "",
        author_name=str(author.get("name") or ""),
        author_id=author_id,
        text=str(tweet.get("text") or ""),
        sent_at=parse_iso(str(tweet.get("created_at") or "")),
        in_reply_to=replied_to,
        raw=tweet,
    )
