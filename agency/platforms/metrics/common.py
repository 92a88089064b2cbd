"""What every network's metrics reader shares: the fields, the error, the small helpers."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from agency.models import Platform
from agency.platforms.errors import (
    AuthExpired,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
)

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount
    from agency.platforms.base import PlatformAdapter

ACCOUNT_FIELDS = (
    "followers",
    "impressions",
    "reach",
    "engagements",
    "profile_views",
    "link_clicks",
)
POST_FIELDS = ("impressions", "reach", "engagements", "link_clicks", "video_views")


class MetricsNotSupported(PlatformError):
    """Reading organic metrics from this network is not built yet."""


def _unsupported(platform: str, what: str) -> str:
    label = Platform(platform).label if platform in Platform.values else platform
    return f"Reading {what} from {label} is not supported yet."


def _zeros(fields: tuple[str, ...]) -> dict:
    values = dict.fromkeys(fields, 0)
    if "video_views" in values:
        values["video_views"] = None
    return values


def _today_only(account: SocialAccount, day: date, what: str) -> None:
    """Refuse a past day where the network only tells the state as it is now: storing today's
    number under an old date would fake a history (a backfill skips these instead)."""
    from django.utils import timezone

    if day != timezone.localdate(timezone=account.brand.zone):
        label = Platform(account.platform).label
        raise MetricsNotSupported(f"{label} gives only current {what}, not those of {day}.")


def _raise_for(adapter: PlatformAdapter, response: requests.Response) -> None:
    """The typed error of a failed read (Mastodon, Bluesky): nothing was changed, so a 5xx is
    worth another try rather than an unknown outcome."""
    status = response.status_code
    if status < 400:
        return
    label = getattr(adapter, "display_name", adapter.name)
    excerpt = response.text
    if status == 429:
        # Each network words its reset time its own way; the adapters' readers know how.
        from agency.platforms import bluesky, mastodon

        reader = mastodon._retry_after if adapter.name == "mastodon" else bluesky._retry_after
        raise RateLimited(
            reader(response),
            message=f"{label} is throttling metrics reads.",
            status=status,
            excerpt=excerpt,
        )
    if status == 401:
        raise AuthExpired(
            f"{label} no longer accepts this account's token.", status=status, excerpt=excerpt
        )
    if status >= 500:
        raise TransientError(f"{label} failed with {status}.", status=status, excerpt=excerpt)
    raise Rejected(
        f"{label} refused the metrics read (HTTP {status}).", status=status, excerpt=excerpt
    )


def _json_object(adapter: PlatformAdapter, response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        label = getattr(adapter, "display_name", adapter.name)
        raise TransientError(
            f"{label} answered with a body that is not a JSON object.",
            status=response.status_code,
            excerpt=response.text,
        )
    return body


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _summed(value) -> int:
    if isinstance(value, dict):
        return sum(_int(part) for part in value.values())
    return _int(value)
