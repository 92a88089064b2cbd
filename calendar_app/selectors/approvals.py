"""Reads of the approval workflow: what waits for the staff, what waits for the client, and the
history of one post's decisions. Each list is a fixed number of queries, whatever its length."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from agency.models import Brand, Role
from agency.permissions import brands_for_user
from calendar_app.models import ApprovalDecision, Post, PostTarget, TargetState

__all__ = [
    "CLIENT_VISIBLE_APPROVALS",
    "approval_decisions",
    "client_brands_for_user",
    "client_visible_posts_q",
    "posts_for_client_review",
    "posts_in_review",
    "staff_brands_for_user",
]


def staff_brands_for_user(*, user) -> QuerySet[Brand]:
    return brands_for_user(user=user).exclude(user_role=Role.CLIENT)


def client_brands_for_user(*, user) -> QuerySet[Brand]:
    return brands_for_user(user=user).filter(user_role=Role.CLIENT)


# What a brand's client may read of its posts (the portal's rule, and the API's for client
# users): what was sent to them or approved, and whatever went out; never a draft or a post
# still in the agency's internal review.
CLIENT_VISIBLE_APPROVALS = (
    Post.Approval.APPROVED,
    Post.Approval.CLIENT_REVIEW,
    Post.Approval.CLIENT_APPROVED,
)


def client_visible_posts_q(*, user, path: str = "", roles: dict | None = None) -> Q:
    """A filter on posts (or, with `path="post__"`, on rows that reach a post): every post of
    the brands where the user is staff, and of the brands they read as a client only the posts
    that are client-facing. Brand visibility itself is the caller's filter (brands_for_user).

    `roles` is {brand id: role} of the user's brands, when the caller has read it already.
    The brands go in as lists of ids, and a user who is a client nowhere gets a plain brand
    filter: a subquery ORed with the client rule would keep PostgreSQL from walking an index
    on (brand, created_at) for the list's ORDER BY ... LIMIT."""
    if roles is None:
        roles = dict(brands_for_user(user=user).values_list("pk", "user_role"))
    staff = [pk for pk, role in roles.items() if role != Role.CLIENT]
    client = [pk for pk, role in roles.items() if role == Role.CLIENT]
    visible = Q(**{f"{path}brand__in": staff})
    if client:
        published = PostTarget.objects.filter(state=TargetState.PUBLISHED).values("post_id")
        visible |= Q(**{f"{path}brand__in": client}) & (
            Q(**{f"{path}approval_state__in": CLIENT_VISIBLE_APPROVALS})
            | Q(**{f"{path}pk__in": published})
        )
    return visible


def _with_targets(qs: QuerySet[Post]) -> QuerySet[Post]:
    return qs.select_related("brand", "author").prefetch_related(
        Prefetch(
            "targets",
            queryset=PostTarget.objects.select_related("account").order_by("account__platform"),
        )
    )


def posts_in_review(*, user, brand: Brand | None = None) -> QuerySet[Post]:
    """Posts waiting for the internal review in the brands the user works on as staff,
    the longest-waiting (earliest planned) first."""
    qs = Post.objects.filter(
        brand__in=staff_brands_for_user(user=user).values("pk"),
        approval_state=Post.Approval.IN_REVIEW,
    )
    if brand is not None:
        qs = qs.filter(brand=brand)
    return _with_targets(qs).order_by("scheduled_at", "created_at")


def posts_for_client_review(*, user) -> QuerySet[Post]:
    """Posts the agency sent to this client user, soonest planned first."""
    return _with_targets(
        Post.objects.filter(
            brand__in=client_brands_for_user(user=user).values("pk"),
            approval_state=Post.Approval.CLIENT_REVIEW,
        )
    ).order_by("scheduled_at", "created_at")


def approval_decisions(*, post: Post) -> QuerySet[ApprovalDecision]:
    """The post's approval history, newest first."""
    return ApprovalDecision.objects.filter(post=post).select_related("by")
