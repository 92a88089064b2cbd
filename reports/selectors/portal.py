"""Reads of the client portal. The portal's pages call only these (and the analytics and goal
selectors), so the portal is read-only by construction.

Who sees which brand is decided by agency.permissions: a client reads the brands of their
ClientAccess rows; staff may preview the portal of any brand they can see.
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from agency.models import Brand, Role
from agency.permissions import brand_for_user, brands_for_user
from calendar_app.models import Post, PostTarget, TargetState
from reports.models import MagicLink

__all__ = [
    "PORTAL_CALENDAR_DAYS",
    "PORTAL_PERIODS",
    "magic_links_for_brand",
    "portal_brand",
    "portal_brands_for_user",
    "portal_client_users",
    "portal_report",
    "portal_upcoming_posts",
    "portal_waiting_for_approval",
]

PORTAL_CALENDAR_DAYS = 60
PORTAL_PERIODS = (7, 28, 90)
# Targets that are going out: a draft, a failure or a cancelled target is not the client's plan.
_UPCOMING_STATES = (TargetState.SCHEDULED, TargetState.QUEUED, TargetState.PUBLISHING)


def portal_brands_for_user(*, user) -> QuerySet[Brand]:
    """The brands whose portal the user may open: a client's own, or a staff member's."""
    return brands_for_user(user=user).order_by("name")


def portal_brand(*, user, brand_id) -> Brand:
    """The brand (404 if the user may not see it), with `is_preview` set for staff."""
    brand = brand_for_user(user=user, brand_id=brand_id)
    brand.is_preview = brand.user_role != Role.CLIENT
    return brand


def _approved_for(brand: Brand) -> Q:
    # Only what the brand's own workflow lets go out: the same rule as publishing.
    if brand.approval_workflow == Brand.ApprovalWorkflow.INTERNAL_CLIENT:
        return Q(post__approval_state=Post.Approval.CLIENT_APPROVED)
    if brand.approval_workflow == Brand.ApprovalWorkflow.INTERNAL:
        return Q(post__approval_state__in=[Post.Approval.APPROVED, Post.Approval.CLIENT_APPROVED])
    return Q()


def portal_upcoming_posts(
    *, brand: Brand, now: dt.datetime | None = None, days: int = PORTAL_CALENDAR_DAYS
) -> list[dict[str, Any]]:
    """The approved, scheduled posts of the next `days` days, grouped by day in the brand's
    time zone: [{"day": date, "items": [{"at", "account", "text", "link"}]}]. The internal
    title and notes of a post are never part of it. Two queries, whatever the number of posts.
    """
    now = now or timezone.now()
    targets = (
        PostTarget.objects.filter(
            _approved_for(brand),
            post__brand=brand,
            state__in=_UPCOMING_STATES,
            post__scheduled_at__gte=now,
            post__scheduled_at__lt=now + dt.timedelta(days=days),
        )
        .select_related("post", "account")
        .order_by("post__scheduled_at", "account__platform", "account__handle")
    )
    items = [
        {
            "at": timezone.localtime(target.post.scheduled_at, brand.zone),
            "account": f"{target.account.get_platform_display()} {target.account.handle}",
            "platform": target.account.platform,
            "text": target.text_override or target.post.text,
            "link": target.post.link,
        }
        for target in targets
    ]
    return [
        {"day": day, "items": list(group)}
        for day, group in groupby(items, key=lambda item: item["at"].date())
    ]


def portal_waiting_for_approval(*, brand: Brand) -> int:
    """How many posts of the brand wait for the client's decision."""
    return Post.objects.filter(brand=brand, approval_state=Post.Approval.CLIENT_REVIEW).count()


def portal_report(*, brand: Brand, days: int, today: dt.date | None = None) -> dict | None:
    """The analytics report of the last `days` full days in the brand's time zone, or None
    while reports.selectors.analytics has no `brand_report`."""
    from reports.selectors import analytics

    brand_report = getattr(analytics, "brand_report", None)
    if brand_report is None:
        return None
    today = today or timezone.localdate(timezone=brand.zone)
    end = today - dt.timedelta(days=1)
    return brand_report(brand=brand, start=end - dt.timedelta(days=days - 1), end=end)


def magic_links_for_brand(*, brand: Brand) -> QuerySet[MagicLink]:
    return MagicLink.objects.filter(brand=brand).select_related("user", "created_by")


def portal_client_users(*, brand: Brand) -> QuerySet:
    """The client users of the brand who may get a portal link (not staff of any agency)."""
    return (
        get_user_model()
        .objects.filter(client_accesses__brand=brand, is_active=True, memberships__isnull=True)
        .order_by("username")
        .distinct()
    )
