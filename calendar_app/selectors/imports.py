"""Reads of the CSV import: a brand's recent imports, one import as its user may see it, and
what an import created."""

from __future__ import annotations

from django.db.models import Count, Max, Min, QuerySet

from agency.models import Brand, SocialAccount
from agency.permissions import brands_for_user
from calendar_app.models import ImportJob, Post

__all__ = ["import_job_for_user", "import_jobs_for_brand", "import_summary"]


def import_jobs_for_brand(*, brand: Brand, limit: int = 10) -> QuerySet[ImportJob]:
    # The errors can be a thousand entries long; a list of imports needs only their count.
    return (
        ImportJob.objects.filter(brand=brand)
        .select_related("created_by")
        .defer("errors")
        .order_by("-created_at")[:limit]
    )


def import_job_for_user(*, user, job_id) -> ImportJob:
    """The import if the user may see its brand; ImportJob.DoesNotExist otherwise."""
    return (
        ImportJob.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
        .select_related("brand", "created_by")
        .get(pk=job_id)
    )


def import_summary(*, job: ImportJob) -> dict:
    """Posts created, their first and last time, and the accounts they go to (two queries)."""
    totals = Post.objects.filter(import_job=job).aggregate(
        posts=Count("pk"), first=Min("scheduled_at"), last=Max("scheduled_at")
    )
    accounts = list(
        SocialAccount.objects.filter(targets__post__import_job=job)
        .annotate(posts=Count("targets"))
        .order_by("platform", "handle")
    )
    return {**totals, "accounts": accounts}
