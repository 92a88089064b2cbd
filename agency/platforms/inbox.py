"""What the platforms tell us about the inbox, in one shape for every network.

An adapter's `fetch_inbox` returns an `InboxPage`; a webhook body is turned into the same
`InboundItem`s by `parse_meta_webhook` and `parse_x_webhook`, so the community app stores every
comment, mention and direct message the same way, whichever road it came by.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime

KIND_COMMENT = "comment"
KIND_DIRECT = "direct"
KIND_MENTION = "mention"


@dataclass(frozen=True)
class InboundItem:
    """One message from the audience (or one of ours echoed back).

    `thread_id` groups messages into a conversation: the post for comments, the other person for
    direct messages, the mention itself for mentions. `message_id` is the platform's id of this
    message; it makes the same event stored once however often it arrives.
    """

    kind: str
    thread_id: str
    message_id: str
    author_handle: str = ""
    author_name: str = ""
    text: str = ""
    sent_at: datetime | None = None
    in_reply_to: str = ""
    post_external_id: str = ""
    author_id: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class InboxPage:
    """Items newer than the cursor asked for, and the cursor to ask with next time."""

    items: tuple[InboundItem, ...]
    next_cursor: str = ""


# -- signatures ----------------------------------------------------------------------------------


def meta_signature(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends: sha256= and the hex HMAC of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature(body: bytes, secret: str) -> str:
    """X's x-twitter-webhooks-signature (and CRC response_token): sha256= and base64 HMAC."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + b64encode(digest).decode()


def signature_matches(expected: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


# -- Meta (Facebook Pages and Instagram) ---------------------------------------------------------


@dataclass(frozen=True)
class WebhookItem:
    """An item of a webhook body and the account it is for: the platform and that account's
    own id on it (a Page id, an Instagram account id, an X user id)."""

    platform: str
    account_external_id: str
    item: InboundItem


def parse_meta_webhook(payload: dict) -> list[WebhookItem]:
    """Page feed comments and Instagram comments and mentions; every other change is ignored.

    Raises ValueError when the body is not a Meta notification at all.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("Not a Meta webhook notification: no entry list.")
    kind = payload.get("object")
    items: list[WebhookItem] = []
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            continue
        entry_id = str(entry.get("id") or "")
        entry_time = _unix(entry.get("time"))
        for change in entry.get("changes") or []:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                continue
            field_name, value = change.get("field"), change["value"]
            item = None
            if kind == "page" and field_name == "feed":
                item = _page_feed_comment(value, entry_time)
                platform = "facebook"
            elif kind == "instagram" and field_name in ("comments", "live_comments"):
                item = _instagram_comment(value, entry_time)
                platform = "instagram"
            elif kind == "instagram" and field_name == "mentions":
                item = _instagram_mention(value, entry_time)
                platform = "instagram"
            if item is not None:
                items.append(WebhookItem(platform, entry_id, item))
    return items


def _page_feed_comment(value: dict, entry_time: datetime | None) -> InboundItem | None:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None
    comment_id = str(value.get("comment_id") or "")
    post_id = str(value.get("post_id") or "")
    if not comment_id or not post_id:
        return None
    author = value.get("from") or {}
    parent = str(value.get("parent_id") or "")
    return InboundItem(
        kind=KIND_COMMENT,
        thread_id=post_id,
        message_id=comment_id,
        author_handle=str(author.get("name") or ""),
        author_name=str(author.get("name") or ""),
        author_id=str(author.get("id") or ""),
        text=str(value.get("message") or ""),
        sent_at=_unix(value.get("created_time")) or entry_time,
        in_reply_to=parent if parent and parent != post_id else "",
        post_external_id=post_id,
        raw=value,
    )


def _instagram_comment(value: dict, entry_time: datetime | None) -> InboundItem | None:
    comment_id = str(value.get("id") or "")
    media_id = str((value.get("media") or {}).get("id") or "")
    if not comment_id or not media_id:
        return None
    author = value.get("from") or {}
    return InboundItem(
        kind=KIND_COMMENT,
        thread_id=media_id,
        message_id=comment_id,
        author_handle=str(author.get("username") or ""),
        author_id=str(author.get("id") or ""),
        text=str(value.get("text") or ""),
        sent_at=entry_time,
        in_reply_to=str(value.get("parent_id") or ""),
        post_external_id=media_id,
        raw=value,
    )


def _instagram_mention(value: dict, entry_time: datetime | None) -> InboundItem | None:
    # The notification names only the media and comment; their text needs a Graph API call.
    media_id = str(value.get("media_id") or "")
    comment_id = str(value.get("comment_id") or "")
    message_id = comment_id or media_id
    if not message_id:
        return None
    return InboundItem(
        kind=KIND_MENTION,
        thread_id=message_id,
        message_id=f"mention:{message_id}",
        sent_at=entry_time,
        raw=value,
    )


# -- X (Account Activity API) --------------------------------------------------------------------


def parse_x_webhook(payload: dict) -> list[WebhookItem]:
    """Mentions and replies (tweet_create_events) and direct messages (direct_message_events)
    for the subscribed user `for_user_id`. Raises ValueError for a body that is not one."""
    if not isinstance(payload, dict) or not payload.get("for_user_id"):
        raise ValueError("Not an Account Activity event: no for_user_id.")
    me = str(payload["for_user_id"])
    items: list[WebhookItem] = []
    for tweet in payload.get("tweet_create_events") or []:
        if isinstance(tweet, dict) and tweet.get("id_str"):
            items.append(WebhookItem("x", me, _x_tweet(tweet, me)))
    users = payload.get("users") or {}
    for event in payload.get("direct_message_events") or []:
        if isinstance(event, dict) and event.get("type") == "message_create":
            item = _x_direct_message(event, me, users)
            if item is not None:
                items.append(WebhookItem("x", me, item))
    return items


def _x_tweet(tweet: dict, me: str) -> InboundItem:
    user = tweet.get("user") or {}
    text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text") or ""
    replied_to = str(tweet.get("in_reply_to_status_id_str") or "")
    reply_to_us = replied_to and str(tweet.get("in_reply_to_user_id_str") or "") == me
    return InboundItem(
        kind=KIND_COMMENT if reply_to_us else KIND_MENTION,
        thread_id=replied_to if reply_to_us else str(tweet["id_str"]),
        message_id=str(tweet["id_str"]),
        author_handle=f"@{user['screen_name']}" if user.get("screen_name") else "",
        author_name=str(user.get("name") or ""),
        author_id=str(user.get("id_str") or ""),
        text=str(text),
        sent_at=_x_time(tweet.get("created_at")) or _unix_ms(tweet.get("timestamp_ms")),
        in_reply_to=replied_to,
        post_external_id=replied_to if reply_to_us else "",
        raw=tweet,
    )


def _x_direct_message(event: dict, me: str, users: dict) -> InboundItem | None:
    create = event.get("message_create") or {}
    sender = str(create.get("sender_id") or "")
    recipient = str((create.get("target") or {}).get("recipient_id") or "")
    if not event.get("id") or not sender:
        return None
    other = recipient if sender == me else sender
    profile = users.get(sender) or {}
    return InboundItem(
        kind=KIND_DIRECT,
        thread_id=f"dm:{other}",
        message_id=f"dm:{event['id']}",
        author_handle=f"@{profile['screen_name']}" if profile.get("screen_name") else "",
        author_name=str(profile.get("name") or ""),
        author_id=sender,
        text=str((create.get("message_data") or {}).get("text") or ""),
        sent_at=_unix_ms(event.get("created_timestamp")),
        raw=event,
    )


# -- times ---------------------------------------------------------------------------------------


def _unix(value) -> datetime | None:
    """Seconds since the epoch (Meta also sends milliseconds in some fields) or ISO 8601."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and not value.isdigit():
        return parse_iso(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e12:
        number /= 1000
    return datetime.fromtimestamp(number, tz=UTC)


def _unix_ms(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


def _x_time(value) -> datetime | None:
    """X's v1.1 created_at: "Wed Oct 10 20:19:24 +0000 2018"."""
    try:
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y")
    except (TypeError, ValueError):
        return None


def parse_iso(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
