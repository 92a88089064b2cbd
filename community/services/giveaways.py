"""Giveaways: a draw among the commenters of one of the brand's published posts that anyone can
check afterwards.

The draw stores every eligible entry, sorted by handle then message id, and the seed; the
winners are `random.Random(seed).sample(entrants, k)`. Running that again on the stored list
and seed gives the same winners (`giveaway_verify`), so the result can be shown to be fair.
"""

from __future__ import annotations

import random
import re
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agency.models import Brand
from agency.services import audit_log
from calendar_app.models import PostTarget, TargetState
from community.models import Giveaway
from community.selectors.giveaways import giveaway_comments, staff_handles
from community.services.listening import term_in_text

__all__ = [
    "draw_winners",
    "giveaway_create",
    "giveaway_draw",
    "giveaway_eligible_entrants",
    "giveaway_verify",
    "normalise_handle",
]

MAX_WINNERS = 100


def normalise_handle(handle: str) -> str:
    return handle.strip().lstrip("@").casefold()


def _clean_handles(handles: Any) -> list[str]:
    if isinstance(handles, str):
        handles = re.split(r"[\s,]+", handles)
    seen: dict[str, str] = {}
    for handle in handles or []:
        key = normalise_handle(str(handle))
        if key:
            seen.setdefault(key, key)
    return list(seen)


@transaction.atomic
def giveaway_create(
    *,
    brand: Brand,
    by,
    target: PostTarget,
    name: str,
    winners_count: int = 1,
    must_contain: str = "",
    one_entry_per_person: bool = True,
    exclude_staff: bool = True,
    excluded_handles: Any = (),
) -> Giveaway:
    errors: dict[str, list[str]] = {}
    if target.post.brand_id != brand.pk:
        errors["target"] = [f"This post does not belong to {brand.name}."]
    elif target.state != TargetState.PUBLISHED or not target.external_id:
        errors["target"] = [
            "A giveaway runs among the comments of a published post; this one is "
            f"{target.get_state_display().lower()}. Publish it first."
        ]
    if not 1 <= int(winners_count) <= MAX_WINNERS:
        errors["winners_count"] = [f"Draw between 1 and {MAX_WINNERS} winners."]
    must_contain = " ".join(must_contain.split())
    if len(must_contain.split()) > 1 and must_contain.startswith("#"):
        errors["must_contain"] = ["Give one hashtag, or a word or phrase without #."]
    if errors:
        raise ValidationError(errors)
    giveaway = Giveaway(
        brand=brand,
        target=target,
        name=" ".join(name.split()),
        winners_count=winners_count,
        must_contain=must_contain,
        one_entry_per_person=one_entry_per_person,
        exclude_staff=exclude_staff,
        excluded_handles=_clean_handles(excluded_handles),
    )
    giveaway.full_clean()
    giveaway.save()
    audit_log(
        actor=by,
        action="giveaway.created",
        target=giveaway,
        agency=brand.agency,
        brand=brand,
        data={"target": str(target.pk), "winners_count": giveaway.winners_count},
    )
    return giveaway


def giveaway_eligible_entrants(*, giveaway: Giveaway) -> list[dict[str, str]]:
    """Every comment on the post that the giveaway's rules let in, as entries sorted by
    handle then message id (the order the draw and its verification rely on)."""
    excluded = set(_clean_handles(giveaway.excluded_handles))
    if giveaway.exclude_staff:
        excluded |= {normalise_handle(h) for h in staff_handles(brand=giveaway.brand)}
    entries: list[dict[str, str]] = []
    seen: set[str] = set()
    # Oldest first, so "one entry per person" keeps each person's first comment.
    for message in giveaway_comments(giveaway=giveaway):
        handle = normalise_handle(message.author_handle)
        if not handle or handle in excluded:
            continue
        if giveaway.must_contain and not term_in_text(giveaway.must_contain, message.text):
            continue
        if giveaway.one_entry_per_person:
            if handle in seen:
                continue
            seen.add(handle)
        entries.append(
            {
                "handle": handle,
                "message_id": str(message.pk),
                "platform_message_id": message.platform_message_id,
                "text": message.text[:500],
            }
        )
    entries.sort(key=lambda e: (e["handle"], e["message_id"]))
    return entries


def draw_winners(*, entrants: list[dict], seed: str, count: int) -> list[dict]:
    """The winners of a draw: everyone when there are no more entrants than winners."""
    return random.Random(seed).sample(entrants, k=min(count, len(entrants)))  # noqa: S311 - a reproducible draw, not a secret


@transaction.atomic
def giveaway_draw(*, giveaway: Giveaway, by, seed: str | None = None) -> Giveaway:
    giveaway = (
        Giveaway.objects.select_for_update().select_related("brand__agency").get(pk=giveaway.pk)
    )
    if giveaway.drawn_at is not None:
        raise ValidationError(
            f"“{giveaway.name}” was drawn on {giveaway.drawn_at:%d %b %Y}; a giveaway is drawn "
            "once, so its winners stand."
        )
    entrants = giveaway_eligible_entrants(giveaway=giveaway)
    if not entrants:
        raise ValidationError(
            "Nobody is eligible yet: no comment on the post passes the giveaway's rules. "
            "Nothing was drawn."
        )
    seed = (seed or "").strip() or secrets.token_hex(16)
    if len(seed) > 64:
        raise ValidationError({"seed": ["A seed has at most 64 characters."]})
    giveaway.seed = seed
    giveaway.entrants = entrants
    giveaway.winners = draw_winners(entrants=entrants, seed=seed, count=giveaway.winners_count)
    giveaway.drawn_at = timezone.now()
    giveaway.drawn_by = by if getattr(by, "is_authenticated", False) else None
    giveaway.save(
        update_fields=["seed", "entrants", "winners", "drawn_at", "drawn_by", "updated_at"]
    )
    audit_log(
        actor=by,
        action="giveaway.drawn",
        target=giveaway,
        agency=giveaway.brand.agency,
        brand=giveaway.brand,
        data={
            "seed": seed,
            "entrants": len(entrants),
            "winners": [w["handle"] for w in giveaway.winners],
        },
    )
    return giveaway


def giveaway_verify(*, giveaway: Giveaway) -> bool:
    """Whether the stored winners are what the stored seed draws from the stored entrants."""
    if giveaway.drawn_at is None or not giveaway.seed:
        return False
    entrants = list(giveaway.entrants)
    if entrants != sorted(entrants, key=lambda e: (e["handle"], e["message_id"])):
        return False
    expected = draw_winners(entrants=entrants, seed=giveaway.seed, count=giveaway.winners_count)
    return expected == list(giveaway.winners)
