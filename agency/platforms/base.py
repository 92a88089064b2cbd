"""The one small interface every platform adapter implements."""

from __future__ import annotations

import logging
import os
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import requests

from agency.logging import redact
from agency.platforms.errors import OutcomeUnknown, TransientError

if TYPE_CHECKING:
    from agency.models import SocialAccount
    from agency.platforms.inbox import InboxPage

logger = logging.getLogger(__name__)

# (connect, read) seconds: every request has a timeout.
DEFAULT_TIMEOUT = (5, 30)


@dataclass(frozen=True)
class MediaItem:
    """A file to attach: a path on disk (or storage name) and what it is."""

    path: str
    mime_type: str
    size: int = 0
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    alt_text: str = ""
    url: str = ""


@dataclass(frozen=True)
class PostPayload:
    text: str
    link: str | None = None
    media: tuple[MediaItem, ...] = ()
    first_comment: str | None = None


@dataclass(frozen=True)
class PublishResult:
    external_id: str
    url: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PlatformRules:
    """What the composer and `validate` check before a post is scheduled."""

    max_chars: int
    url_length: int | None = None  # None: a URL counts its own length
    max_media: int = 4
    media_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "video/mp4")
    max_image_bytes: int = 5 * 1024 * 1024
    max_video_bytes: int = 512 * 1024 * 1024
    min_aspect_ratio: float | None = None
    max_aspect_ratio: float | None = None
    requires_media: bool = False
    supports_first_comment: bool = False
    supports_idempotency_key: bool = False
    max_bio_chars: int = 160


def new_session() -> requests.Session:
    """A requests session for one adapter. Without proxy variables in the environment, the
    session stops re-reading the environment on every call (requests scans os.environ twice per
    request for proxies, and looks for a .netrc): a tenth of a publish's CPU in the workers. The
    CA bundle it would have read from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set once instead.
    With proxies configured, requests keeps doing it all, no_proxy included."""
    session = requests.Session()
    if not urllib.request.getproxies_environment():
        session.trust_env = False
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE", True
        )
    return session


class PlatformAdapter:
    """Base of every adapter; subclasses set `name` and `rules` and implement publish."""

    name: ClassVar[str]
    rules: ClassVar[PlatformRules]
    timeout = DEFAULT_TIMEOUT

    def __init__(self, session: requests.Session | None = None):
        self.http = session or new_session()

    # -- checks before scheduling -------------------------------------------------------------
    def count_chars(self, text: str) -> int:
        from agency.platforms.text import weighted_length

        return weighted_length(text, url_length=self.rules.url_length)

    def validate(self, payload: PostPayload) -> list[str]:
        from agency.platforms.text import validate_against_rules

        return validate_against_rules(self, payload)

    # -- calls to the platform -----------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        raise NotImplementedError

    def find_published(
        self,
        account: SocialAccount,
        *,
        idempotency_key: str,
        payload: PostPayload | None = None,
        **hints,
    ) -> PublishResult | None:
        """After an unknown outcome: the post if the platform has it, None if surely not.

        `payload` is what was sent; `hints` is what the failed attempt's error carried (its
        `hints`, such as Instagram's container id). Raises OutcomeUnknown when the platform's
        API cannot tell.
        """
        raise OutcomeUnknown(f"{self.name} cannot look up a post by its idempotency key.")

    def refresh_credentials(self, account: SocialAccount) -> dict | None:
        """New {access_token, refresh_token, expires_at} when the platform rotates tokens."""
        return None

    # -- helpers for subclasses ----------------------------------------------------------------
    def _request(self, method: str, url: str, *, sent_is_unknown: bool = True, **kwargs):
        """An HTTP call with a timeout, mapping network failures to typed errors.

        A connect failure means nothing was sent (TransientError). A read timeout or dropped
        connection after sending means the platform may have acted (OutcomeUnknown) unless the
        caller says the request is safe to repeat (sent_is_unknown=False, e.g. a GET).
        """
        kwargs.setdefault("timeout", self.timeout)
        # These words reach the post page: "Mastodon", not the adapter's key "mastodon".
        label = getattr(self, "display_name", self.name)
        # `from None` throughout: requests puts the whole URL (query string, any token) in its
        # messages and tracebacks, and these errors end up in logs and on pages.
        try:
            return self.http.request(method, url, **kwargs)
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise TransientError(f"Could not reach {label}: {exc.__class__.__name__}") from None
        except requests.ConnectionError as exc:
            # requests raises ConnectionError both before and after sending; a refused connection
            # is surely unsent, anything else (reset, remote closed) may have been received.
            text = str(exc).lower()
            if not sent_is_unknown or "refused" in text or "name or service" in text:
                raise TransientError(f"Could not reach {label}: {redact(_reason(exc))}") from None
            raise OutcomeUnknown(f"The connection to {label} broke after sending.") from None
        except requests.Timeout:
            if not sent_is_unknown:
                raise TransientError(f"{label} did not answer in time.") from None
            raise OutcomeUnknown(f"{label} did not answer in time after the request.") from None

    # -- the inbox (community app) ---------------------------------------------------------------
    # True where `fetch_inbox` works: the beat polls only those accounts.
    supports_inbox_polling: ClassVar[bool] = False

    def fetch_inbox(self, account: SocialAccount, since_cursor: str) -> InboxPage:
        """Comments, mentions and direct messages newer than `since_cursor` ("" at first)."""
        from agency.platforms.errors import Rejected

        raise Rejected(f"{self.name} does not support reading the inbox by polling.")

    def reply(
        self, account: SocialAccount, message, text: str, *, idempotency_key: str
    ) -> PublishResult:
        """Answer one inbound community Message. After an unknown outcome the engine asks
        `find_published` with the same key, as for posts."""
        from agency.platforms.errors import Rejected

        raise Rejected(f"{self.name} does not support replying from the inbox yet.")

    # -- moderation from the inbox ---------------------------------------------------------------
    # Where the platform's API allows it; the inbox shows the buttons only where these are True.
    supports_hide: ClassVar[bool] = False
    supports_like: ClassVar[bool] = False
    # Said in the inbox instead of a Like button when the platform's API cannot like at all.
    like_unsupported_reason: ClassVar[str] = ""

    def set_hidden(self, account: SocialAccount, platform_id: str, hidden: bool) -> None:
        """Hide (or show again) an inbound comment by its platform id. Safe to repeat."""
        from agency.platforms.errors import Rejected

        raise Rejected(f"{self.name} does not let us hide messages.")

    def set_liked(self, account: SocialAccount, platform_id: str, liked: bool) -> None:
        """Like (or unlike) an inbound message as the account, by its platform id.

        Must be safe to repeat: after a lost answer the person simply clicks again, so an
        adapter whose platform would record a second like makes the call idempotent itself.
        """
        from agency.platforms.errors import Rejected

        raise Rejected(f"{self.name} does not let us like messages.")

    # Seconds to wait after a reply's unknown outcome before reading it back: the lists it is
    # looked for in (comments, timelines) may lag a moment behind the write.
    reply_lookup_delay: ClassVar[float] = 0.0

    def find_reply(
        self,
        account: SocialAccount,
        message,
        text: str,
        *,
        idempotency_key: str,
        since: datetime,
    ) -> PublishResult | None:
        """After an unknown outcome of `reply`: our reply to `message` (the inbound Message,
        None when it is no longer stored) with this text, posted after `since`, if the platform
        has it; None if surely not; OutcomeUnknown when the platform cannot tell.

        By default a reply is looked up like a post, by its idempotency key (networks whose
        replies carry one); networks that take no key look among the replies instead.
        """
        return self.find_published(
            account, idempotency_key=idempotency_key, payload=PostPayload(text=text)
        )

    def compose_reply(self, message, text: str) -> str:
        """The text a reply is sent with (and found again by): some networks need the
        person's @handle in it to reach them."""
        return text


def _reason(exc: Exception) -> str:
    """The last line of a requests error, without the URL it names."""
    text = str(exc)
    return text.split(": ", 1)[-1] if "url:" in text.lower() else text
