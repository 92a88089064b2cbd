"""Profile health: how complete and consistent each social profile of a brand is.

A score out of 100 (the share of checks passed) and, per check, what to fix in words. The
checks follow what a manager keeps up on every profile: bio, website, avatar, contact details,
a name people recognise, and a working connection.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import TypedDict
from urllib.parse import urlsplit

from agency.models import Brand, SocialAccount
from agency.platforms import get_adapter

__all__ = ["HealthCheck", "ProfileHealth", "profile_health", "profile_health_for_brand"]

NAME_SIMILARITY = 0.8


class HealthCheck(TypedDict):
    check: str
    ok: bool
    advice: str


class ProfileHealth(TypedDict):
    account: SocialAccount
    score: int
    checks: list[HealthCheck]


def _https_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme == "https" and "." in host and not re.search(r"\s", value)


def _squash(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


def _names_match(display_name: str, brand_name: str) -> bool:
    shown, brand = _squash(display_name), _squash(brand_name)
    if not shown or not brand:
        return False
    if brand in shown or shown in brand:
        return True
    return SequenceMatcher(None, shown, brand).ratio() >= NAME_SIMILARITY


def _check(name: str, problem: str) -> HealthCheck:
    """A check that passes when there is no problem to advise on."""
    return {"check": name, "ok": not problem, "advice": problem}


def profile_health(*, account: SocialAccount) -> ProfileHealth:
    brand = account.brand
    max_bio = get_adapter(account.platform).rules.max_bio_chars
    bio = account.bio.strip()
    platform = account.get_platform_display()

    if not bio:
        bio_problem = f"Write a bio: what {brand.name} offers, in the brand's voice."
    elif len(bio) > max_bio:
        bio_problem = (
            f"Shorten the bio to {max_bio} characters ({platform}'s limit); it has {len(bio)}."
        )
    else:
        bio_problem = ""

    if not account.link:
        link_problem = "Add the brand's website to the profile."
    elif not _https_url(account.link):
        link_problem = f"Use a full https:// address for the link ({account.link})."
    else:
        link_problem = ""

    name_problem = ""
    if not _names_match(account.display_name, brand.name):
        now = f" (now “{account.display_name}”)" if account.display_name else ""
        name_problem = f"Use a display name people recognise as {brand.name}{now}."

    connected = account.status == SocialAccount.Status.CONNECTED
    checks = [
        _check("Bio", bio_problem),
        _check("Website link", link_problem),
        _check("Avatar", "" if account.avatar_url else "Set a profile picture, e.g. the logo."),
        _check(
            "Contact details",
            ""
            if brand.contact_email or account.link
            else "Give people a way to reach the brand: a contact e-mail on the brand or a "
            "link on the profile.",
        ),
        _check("Display name", name_problem),
        _check(
            "Connected",
            ""
            if connected
            else f"Reconnect the account ({account.get_status_display().lower()}): nothing is "
            "published or read from it until then.",
        ),
    ]
    score = round(100 * sum(c["ok"] for c in checks) / len(checks))
    return {"account": account, "score": score, "checks": checks}


def profile_health_for_brand(*, brand: Brand) -> list[ProfileHealth]:
    """Every account of the brand, weakest first, in one query."""
    accounts = list(SocialAccount.objects.filter(brand=brand).order_by("platform", "handle"))
    for account in accounts:
        account.brand = brand  # already loaded: no query per account
    rows = [profile_health(account=account) for account in accounts]
    return sorted(rows, key=lambda row: row["score"])
