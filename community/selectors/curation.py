"""Reads of curation: a brand's feeds and its library of suggestions."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet

from agency.models import Brand, SocialAccount
from community.models import Feed, Suggestion

__all__ = ["accounts_for_drafts", "feeds_for_brand", "feeds_to_fetch", "suggestions_for_brand"]


def feeds_for_brand(*, brand: Brand) -> QuerySet[Feed]:
    return Feed.objects.filter(brand=brand).annotate(item_count=Count("items"))


def suggestions_for_brand(*, brand: Brand, status: str = "") -> QuerySet[Suggestion]:
    qs = Suggestion.objects.filter(brand=brand).select_related("feed", "post")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-published_at", "-created_at")


def accounts_for_drafts(*, brand: Brand) -> QuerySet[SocialAccount]:
    """Accounts a draft may go to: every account of the brand that is not disconnected."""
    return SocialAccount.objects.filter(brand=brand).exclude(
        status=SocialAccount.Status.DISCONNECTED
    )


def feeds_to_fetch():
    """Ids of every feed, least recently read first."""
    return Feed.objects.order_by(F("last_fetched_at").asc(nulls_first=True)).values_list(
        "pk", flat=True
    )
