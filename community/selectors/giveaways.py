"""Reads of giveaways: a brand's giveaways, the posts one can run on, and a post's comments."""

from __future__ import annotations

from django.db.models import QuerySet

from agency.models import Brand, SocialAccount
from calendar_app.models import PostTarget, TargetState
from community.models import Conversation, Giveaway, Message

__all__ = [
    "giveaway_comments",
    "giveaway_targets_for_brand",
    "giveaways_for_brand",
    "staff_handles",
]


def giveaways_for_brand(*, brand: Brand) -> QuerySet[Giveaway]:
    return (
        Giveaway.objects.filter(brand=brand)
        .select_related("target__account", "target__post", "drawn_by")
        .order_by("-created_at")
    )


def giveaway_targets_for_brand(*, brand: Brand, published_only: bool = False) -> QuerySet:
    qs = PostTarget.objects.filter(post__brand=brand).select_related("post", "account")
    if published_only:
        qs = qs.filter(state=TargetState.PUBLISHED)
    return qs.order_by("-published_at", "-created_at")


def giveaway_comments(*, giveaway: Giveaway) -> QuerySet[Message]:
    """The audience's comments on the giveaway's post, oldest first. Comments a moderator
    hid are not entries."""
    return (
        Message.objects.filter(
            conversation__brand_id=giveaway.brand_id,
            conversation__post_target_id=giveaway.target_id,
            conversation__kind=Conversation.Kind.COMMENT,
            direction=Message.Direction.INBOUND,
            hidden=False,
        )
        .only("id", "author_handle", "text", "platform_message_id", "sent_at", "created_at")
        .order_by("sent_at", "created_at", "id")
    )


def staff_handles(*, brand: Brand) -> list[str]:
    """Handles of the brand's own accounts: the brand does not win its own giveaway."""
    return list(SocialAccount.objects.filter(brand=brand).values_list("handle", flat=True))
