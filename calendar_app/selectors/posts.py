"""Reads of the manager's calendar."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from agency.permissions import brands_for_user
from calendar_app.models import Post, PostTarget, PublishAttempt, TargetState

__all__ = ["attempts_for_post", "post_with_targets", "posts_for_user"]


def posts_for_user(*, user, brand=None, limit: int = 200) -> QuerySet[Post]:
    """The rows of the post list, latest planned first (unplanned drafts on top, as the model's
    ordering says), at most `limit`, with their target counts: only the columns the list prints
    (building the unused brand and author columns into objects cost more than the query).

    The posts are chosen first, by the (brand, scheduled_at) index, and only those are grouped
    for their counts: a GROUP BY drops the model's default ordering, and ordering the groups of
    every post of a big brand would count all of its targets first."""
    qs = Post.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
    if brand is not None:
        qs = qs.filter(brand=brand)
    latest = ("-scheduled_at", "-created_at")
    chosen = qs.order_by(*latest).values("pk")[:limit]
    listed = ("title", "text", "scheduled_at", "brand__name", "brand__time_zone")
    return (
        Post.objects.filter(pk__in=chosen)
        .select_related("brand")
        .only(*listed)
        .annotate(
            target_count=Count("targets", distinct=True),
            failed_count=Count(
                "targets",
                filter=Q(targets__state__in=[TargetState.FAILED, TargetState.UNCONFIRMED]),
                distinct=True,
            ),
            published_count=Count(
                "targets", filter=Q(targets__state=TargetState.PUBLISHED), distinct=True
            ),
        )
        .order_by(*latest)
    )


def post_with_targets(*, post_id, user) -> Post:
    """One post with its targets and their attempts, in a fixed number of queries."""
    targets = PostTarget.objects.select_related("account").prefetch_related(
        Prefetch("attempts_log", queryset=PublishAttempt.objects.order_by("-started_at"))
    )
    return (
        Post.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
        .select_related("brand", "author")
        .prefetch_related(Prefetch("targets", queryset=targets), "media")
        .get(pk=post_id)
    )


def attempts_for_post(*, post: Post) -> QuerySet[PublishAttempt]:
    return PublishAttempt.objects.filter(target__post=post).select_related("target__account")
