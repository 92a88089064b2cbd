"""Counting and checking post text the way each platform counts it."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agency.platforms.base import PlatformAdapter, PostPayload

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


def graphemes(text: str) -> int:
    """An approximation of user-perceived characters: combining marks and joiners add nothing."""
    count = 0
    previous_joiner = False
    for char in unicodedata.normalize("NFC", text):
        if unicodedata.combining(char) or char in "\ufe0f\ufe0e" or 0x1F3FB <= ord(char) <= 0x1F3FF:
            continue
        if char == "\u200d":
            previous_joiner = True
            continue
        if previous_joiner:
            previous_joiner = False
            continue
        count += 1
    return count


def weighted_length(text: str, *, url_length: int | None) -> int:
    """Length with every URL counted as `url_length` characters when the platform shortens them."""
    if url_length is None:
        return graphemes(text)
    urls = URL_RE.findall(text)
    return graphemes(URL_RE.sub("", text)) + url_length * len(urls)


def validate_against_rules(adapter: PlatformAdapter, payload: PostPayload) -> list[str]:
    rules = adapter.rules
    label = adapter.display_name if hasattr(adapter, "display_name") else adapter.name
    problems: list[str] = []
    text = payload.text or ""
    if payload.link and payload.link not in text and rules.url_length is not None:
        length = weighted_length(f"{text} {payload.link}", url_length=rules.url_length)
    else:
        length = adapter.count_chars(text)
    if not text.strip() and not payload.media:
        problems.append(f"{label}: the post needs text or media.")
    if length > rules.max_chars:
        problems.append(
            f"{label}: the text is {length} characters long; the limit is {rules.max_chars}."
        )
    if rules.requires_media and not payload.media:
        problems.append(f"{label}: a post needs at least one image or video.")
    if len(payload.media) > rules.max_media:
        problems.append(
            f"{label}: {len(payload.media)} media files attached; at most {rules.max_media}."
        )
    for item in payload.media:
        name = item.path.rsplit("/", 1)[-1]
        if item.mime_type not in rules.media_types:
            allowed = ", ".join(t.split("/")[1].upper() for t in rules.media_types)
            problems.append(f"{label}: {name} is {item.mime_type}; allowed are {allowed}.")
            continue
        limit = (
            rules.max_video_bytes if item.mime_type.startswith("video/") else rules.max_image_bytes
        )
        if item.size and item.size > limit:
            problems.append(
                f"{label}: {name} is {item.size / 1_048_576:.1f} MB; the limit is "
                f"{limit / 1_048_576:.0f} MB."
            )
        if item.width and item.height and (rules.min_aspect_ratio or rules.max_aspect_ratio):
            ratio = item.width / item.height
            if rules.min_aspect_ratio and ratio < rules.min_aspect_ratio - 0.005:
                problems.append(
                    f"{label}: {name} is {ratio:.2f}:1; the narrowest allowed is "
                    f"{rules.min_aspect_ratio:.2f}:1."
                )
            if rules.max_aspect_ratio and ratio > rules.max_aspect_ratio + 0.005:
                problems.append(
                    f"{label}: {name} is {ratio:.2f}:1; the widest allowed is "
                    f"{rules.max_aspect_ratio:.2f}:1."
                )
    if payload.first_comment and not rules.supports_first_comment:
        problems.append(f"{label}: first comments are not supported on this platform.")
    return problems


def same_reply_text(sent: str, found: str) -> bool:
    """Whether text read back from a platform is the text we sent. Platforms escape HTML
    entities, wrap links (X's t.co) and trim whitespace, so links are compared by presence
    and whitespace is collapsed."""

    def normal(text: str) -> str:
        text = URL_RE.sub("<link>", html.unescape(text or ""))
        return " ".join(unicodedata.normalize("NFC", text).split())

    return bool(sent.strip()) and normal(sent) == normal(found)
