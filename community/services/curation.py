"""Curation: RSS and Atom feeds a brand follows, and the suggestions they bring.

`feed_fetch` makes one conditional GET (If-None-Match / If-Modified-Since from what the feed
sent last time) outside any transaction, so a slow server never holds a database lock, then
stores what came in one transaction. Suggestions are keyed by link per brand: the same article
from two feeds, or fetched twice, is one suggestion, and its status is never reset by a fetch.
"""

from __future__ import annotations

import calendar
import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags

from agency.models import Brand, SocialAccount
from agency.services import audit_log
from calendar_app.services import post_create
from community.models import Feed, Suggestion

__all__ = [
    "FetchResult",
    "feed_create",
    "feed_delete",
    "feed_fetch",
    "feed_update",
    "suggestion_dismiss",
    "suggestion_to_draft",
]

logger = logging.getLogger(__name__)

USER_AGENT = "agency-curation/1.0 (+https://github.com/agency)"
_url = URLValidator(schemes=["http", "https"])


def _valid_url(value: str) -> bool:
    try:
        _url(value)
    except ValidationError:
        return False
    return len(value) <= 1000


# -- feeds ---------------------------------------------------------------------------------------


def _clean_feed(feed: Feed) -> None:
    feed.url = feed.url.strip()
    feed.title = " ".join(feed.title.split())[:300]
    if not _valid_url(feed.url):
        raise ValidationError({"url": ["Enter the feed's full address, starting with https://."]})
    if Feed.objects.filter(brand=feed.brand, url=feed.url).exclude(pk=feed.pk).exists():
        raise ValidationError({"url": [f"{feed.brand.name} already follows this feed."]})
    feed.full_clean()


@transaction.atomic
def feed_create(*, brand: Brand, by, url: str, title: str = "") -> Feed:
    feed = Feed(brand=brand, url=url, title=title)
    _clean_feed(feed)
    feed.save()
    audit_log(
        actor=by,
        action="feed.created",
        target=feed,
        agency=brand.agency,
        brand=brand,
        data={"url": feed.url},
    )
    return feed


@transaction.atomic
def feed_update(*, feed: Feed, by, url: str, title: str) -> Feed:
    changed = [f for f, v in (("url", url.strip()), ("title", title)) if getattr(feed, f) != v]
    feed.url, feed.title = url, title
    if "url" in changed:
        # Another address: what the old one said about caching no longer applies.
        feed.etag, feed.modified, feed.last_error = "", "", ""
    _clean_feed(feed)
    if changed:
        feed.save()
        audit_log(
            actor=by,
            action="feed.updated",
            target=feed,
            agency=feed.brand.agency,
            brand=feed.brand,
            data={"fields": changed},
        )
    return feed


@transaction.atomic
def feed_delete(*, feed: Feed, by) -> None:
    """The feed goes; its suggestions stay in the library (their feed becomes unknown)."""
    audit_log(
        actor=by,
        action="feed.deleted",
        target=feed,
        agency=feed.brand.agency,
        brand=feed.brand,
        data={"url": feed.url},
    )
    feed.delete()


# -- fetching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    status: str  # "new", "not_modified" or "error"
    created: int = 0
    seen: int = 0
    error: str = ""


class _FetchError(Exception):
    pass


def _download(feed: Feed) -> tuple[bytes, dict[str, str]] | None:
    """The feed's bytes and response headers, or None when the server says 304."""
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, "
        "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1",
    }
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.modified:
        headers["If-Modified-Since"] = feed.modified
    limit = settings.CURATION_FEED_MAX_BYTES
    try:
        with requests.get(
            feed.url,
            headers=headers,
            timeout=settings.CURATION_FEED_TIMEOUT_SECONDS,
            stream=True,
            allow_redirects=True,
        ) as response:
            if response.status_code == 304:
                return None
            if response.status_code >= 400:
                raise _FetchError(
                    f"The server answered {response.status_code} {response.reason or ''}".strip()
                    + "; check the feed's address."
                )
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > limit:
                    raise _FetchError(
                        f"The feed is larger than {limit // 1_048_576 or 1} MB; it was not read."
                    )
            return bytes(body), {k.lower(): v for k, v in response.headers.items()}
    except requests.Timeout as exc:
        raise _FetchError(
            f"The server did not answer within {settings.CURATION_FEED_TIMEOUT_SECONDS:g} seconds."
        ) from exc
    except requests.RequestException as exc:
        raise _FetchError(f"Could not reach the feed ({exc.__class__.__name__}).") from exc


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _entry_image(entry: Any) -> str:
    candidates = [m.get("url", "") for m in entry.get("media_content", []) or []]
    candidates += [m.get("url", "") for m in entry.get("media_thumbnail", []) or []]
    candidates += [
        link.get("href", "")
        for link in entry.get("links", []) or []
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    return next((url for url in candidates if url and _valid_url(url)), "")


def _plain(text: str, limit: int | None = None) -> str:
    text = " ".join(html.unescape(strip_tags(text or "")).split())
    return text[:limit] if limit else text


def _suggestions_from(feed: Feed, parsed: Any) -> list[Suggestion]:
    by_link: dict[str, Suggestion] = {}
    for entry in parsed.entries:
        link = (entry.get("link") or "").strip()
        if not _valid_url(link) or link in by_link:
            continue
        by_link[link] = Suggestion(
            brand_id=feed.brand_id,
            feed=feed,
            title=_plain(entry.get("title", ""), 500) or link[:500],
            link=link,
            summary=_plain(entry.get("summary", ""), 5000),
            image_url=_entry_image(entry),
            published_at=_entry_time(entry),
        )
    return list(by_link.values())


def feed_fetch(*, feed: Feed) -> FetchResult:
    """Fetch the feed once and store new suggestions.

    304 Not Modified: only `last_fetched_at` moves. A failure (network, HTTP error, too large,
    not a feed): `last_error` says why in words and nothing else changes.
    """
    try:
        downloaded = _download(feed)
        if downloaded is None:
            Feed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now())
            return FetchResult(status="not_modified")
        body, headers = downloaded
        parsed = feedparser.parse(body, response_headers=headers)
        suggestions = _suggestions_from(feed, parsed)
        # feedparser reads past small faults (bozo) on purpose; a feed is refused only when
        # nothing usable came out of it.
        if parsed.bozo and not suggestions:
            fault = parsed.get("bozo_exception")
            reason = getattr(fault, "getMessage", None)
            detail = reason() if callable(reason) else str(fault or "")
            raise _FetchError(
                f"This is not a readable RSS or Atom feed ({detail or 'unknown format'})."
            )
        if not parsed.get("version") and not parsed.entries:
            raise _FetchError("This address does not serve an RSS or Atom feed.")
    except _FetchError as exc:
        Feed.objects.filter(pk=feed.pk).update(last_error=str(exc)[:2000])
        feed.last_error = str(exc)
        logger.info("feed %s not fetched: %s", feed.pk, exc)
        return FetchResult(status="error", error=str(exc))
    return _feed_store(feed=feed, parsed=parsed, headers=headers, suggestions=suggestions)


@transaction.atomic
def _feed_store(
    *, feed: Feed, parsed: Any, headers: dict[str, str], suggestions: list[Suggestion]
) -> FetchResult:
    feed = Feed.objects.select_for_update().get(pk=feed.pk)
    known = set(
        Suggestion.objects.filter(
            brand_id=feed.brand_id, link__in=[s.link for s in suggestions]
        ).values_list("link", flat=True)
    )
    fresh = [s for s in suggestions if s.link not in known]
    # A concurrent fetch of another feed with the same article may win the race: the unique
    # (brand, link) constraint makes that one row, whoever writes it.
    Suggestion.objects.bulk_create(fresh, ignore_conflicts=True)
    feed.etag = (headers.get("etag") or "")[:300]
    feed.modified = (headers.get("last-modified") or "")[:100]
    if not feed.title:
        feed.title = _plain(parsed.feed.get("title", ""), 300)
    feed.last_fetched_at = timezone.now()
    feed.last_error = ""
    feed.save(
        update_fields=["etag", "modified", "title", "last_fetched_at", "last_error", "updated_at"]
    )
    return FetchResult(status="new", created=len(fresh), seen=len(suggestions))


# -- suggestions ---------------------------------------------------------------------------------


def _locked(suggestion: Suggestion) -> Suggestion:
    return (
        Suggestion.objects.select_for_update().select_related("brand__agency").get(pk=suggestion.pk)
    )


@transaction.atomic
def suggestion_to_draft(*, suggestion: Suggestion, by, accounts: list[SocialAccount]):
    """A draft post (title and link) on the given accounts; the suggestion is then used."""
    suggestion = _locked(suggestion)
    if suggestion.status == Suggestion.Status.USED:
        raise ValidationError("This suggestion is already a post; open that draft instead.")
    if not accounts:
        raise ValidationError({"accounts": ["Choose at least one account for the draft."]})
    post = post_create(
        brand=suggestion.brand,
        by=by,
        accounts=accounts,
        text=f"{suggestion.title}\n\n{suggestion.link}",
        title=suggestion.title[:200],
        link=suggestion.link,
        tags=["curated"],
    )
    suggestion.status = Suggestion.Status.USED
    suggestion.post = post
    suggestion.save(update_fields=["status", "post", "updated_at"])
    audit_log(
        actor=by,
        action="suggestion.drafted",
        target=suggestion,
        agency=suggestion.brand.agency,
        brand=suggestion.brand,
        data={"post": str(post.pk)},
    )
    return post


@transaction.atomic
def suggestion_dismiss(*, suggestion: Suggestion, by) -> Suggestion:
    suggestion = _locked(suggestion)
    if suggestion.status == Suggestion.Status.USED:
        raise ValidationError("This suggestion is already a post; it cannot be dismissed.")
    if suggestion.status != Suggestion.Status.DISMISSED:
        suggestion.status = Suggestion.Status.DISMISSED
        suggestion.save(update_fields=["status", "updated_at"])
        audit_log(
            actor=by,
            action="suggestion.dismissed",
            target=suggestion,
            agency=suggestion.brand.agency,
            brand=suggestion.brand,
        )
    return suggestion
