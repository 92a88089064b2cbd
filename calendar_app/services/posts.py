"""Writes of the manager's calendar: posts, their targets, scheduling.

Publishing itself (dispatch, publish, reconcile, sweep) lives in calendar_app.publishing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agency.models import Brand, SocialAccount
from agency.platforms import get_adapter
from agency.services import audit_log
from calendar_app.models import Media, Post, PostTarget, TargetState
from calendar_app.publishing import PENDING_STATES, _move, payload_for
from integrations import events as webhook_events

S = TargetState

__all__ = [
    "POST_EDITABLE_FIELDS",
    "post_cancel",
    "post_content_fingerprint",
    "post_create",
    "post_delete",
    "post_is_publishable",
    "post_problems",
    "post_reopen_review",
    "post_schedule",
    "post_update",
    "schedule_targets",
    "target_mark_published",
    "target_retry",
    "unschedule_targets",
]


def _audit(post: Post, *, by, action: str, data: dict | None = None) -> None:
    audit_log(
        actor=by, action=action, target=post, agency=post.brand.agency, brand=post.brand, data=data
    )


def _check_accounts(brand: Brand, accounts: Iterable[SocialAccount]) -> list[SocialAccount]:
    accounts = list(accounts)
    if not accounts:
        raise ValidationError({"accounts": ["Choose at least one social account."]})
    foreign = [a for a in accounts if a.brand_id != brand.pk]
    if foreign:
        raise ValidationError({"accounts": [f"{foreign[0]} does not belong to {brand}."]})
    return accounts


@transaction.atomic
def post_create(
    *,
    brand: Brand,
    by,
    accounts: Iterable[SocialAccount],
    text: str = "",
    title: str = "",
    link: str = "",
    tags: list[str] | None = None,
    media: Iterable[Media] = (),
    variants: dict[Any, dict[str, str]] | None = None,
    scheduled_at: datetime | None = None,
) -> Post:
    """A draft post with one target per account. `variants` maps an account id to its
    {"text": ..., "first_comment": ...} override. With `scheduled_at`, it is scheduled too."""
    accounts = _check_accounts(brand, accounts)
    post = Post(
        brand=brand,
        author=by if getattr(by, "is_authenticated", False) else None,
        title=title,
        text=text,
        link=link,
        tags=list(tags or []),
    )
    post.full_clean()
    post.save()
    media = list(media)
    if any(m.brand_id != brand.pk for m in media):
        raise ValidationError({"media": ["Media must come from this brand's library."]})
    post.media.set(media)
    variants = {str(k): v for k, v in (variants or {}).items()}
    for account in accounts:
        variant = variants.get(str(account.pk), {})
        target = PostTarget(
            post=post,
            account=account,
            text_override=variant.get("text", "") or "",
            first_comment=variant.get("first_comment", "") or "",
        )
        target.full_clean(exclude=["post"])
        target.save()
    _audit(post, by=by, action="post.created", data={"accounts": [str(a.pk) for a in accounts]})
    if scheduled_at is not None:
        post_schedule(post=post, at=scheduled_at, by=by)
    return post


def post_problems(*, post: Post) -> dict[str, list[str]]:
    """Each target's problems by the rules of its platform, keyed by account id."""
    problems: dict[str, list[str]] = {}
    for target in post.targets.select_related("account", "post").all():
        found = get_adapter(target.account.platform).validate(payload_for(target))
        if target.account.status == SocialAccount.Status.DISCONNECTED:
            found.append(f"{target.account} is disconnected; reconnect it or remove it.")
        if found:
            problems[str(target.account_id)] = found
    return problems


def post_is_publishable(post: Post) -> bool:
    """Whether the brand's approval workflow lets this post go out."""
    workflow = post.brand.approval_workflow
    if workflow == Brand.ApprovalWorkflow.NONE:
        return True
    if workflow == Brand.ApprovalWorkflow.INTERNAL:
        return post.is_approved
    return post.approval_state == Post.Approval.CLIENT_APPROVED


def _validate_time(at: datetime) -> None:
    if timezone.is_naive(at):
        raise ValidationError({"scheduled_at": ["Give the time with its time zone."]})
    if at < timezone.now() - timezone.timedelta(seconds=60):
        raise ValidationError({"scheduled_at": ["That time is in the past."]})


def schedule_targets(*, post: Post, at: datetime | None = None) -> int:
    """Move every unpublished target to `scheduled` at `at` (default: the post's time).
    Only for posts whose workflow lets them go out; returns how many targets moved."""
    at = at or post.scheduled_at
    problems = post_problems(post=post)
    if problems:
        raise ValidationError(
            {"targets": [message for messages in problems.values() for message in messages]}
        )
    moved = 0
    for target in post.targets.all():
        if target.state == S.PUBLISHED:
            continue
        if target.state in (S.SCHEDULED, S.QUEUED):
            moved += _move(target.pk, frm=(S.SCHEDULED,), to=S.SCHEDULED, due_at=at)
            continue
        moved += _move(
            target.pk,
            frm=(S.DRAFT, S.FAILED, S.CANCELLED),
            to=S.SCHEDULED,
            due_at=at,
            last_error="",
            needs_attention=False,
            attempts=0,
        )
    return moved


def unschedule_targets(*, post: Post) -> int:
    """Take scheduled targets back to draft (the post needs approval again)."""
    return PostTarget.objects.filter(post=post, state=S.SCHEDULED).update(
        state=S.DRAFT, due_at=None, updated_at=timezone.now()
    )


@transaction.atomic
def post_schedule(*, post: Post, at: datetime, by) -> Post:
    """Plan the post for `at` (aware, any zone).

    Without an approval workflow, scheduling is the approval and the targets are scheduled at
    once. With one, the time is kept and the targets wait as drafts until the final approval
    (calendar_app.services.approvals), which schedules them.
    """
    _validate_time(at)
    post = Post.objects.select_for_update().select_related("brand").get(pk=post.pk)
    if post.brand.approval_workflow == Brand.ApprovalWorkflow.NONE and post.approval_state in (
        Post.Approval.DRAFT,
        Post.Approval.CHANGES_REQUESTED,
    ):
        post.approval_state = Post.Approval.APPROVED
    problems = post_problems(post=post)
    if problems:
        raise ValidationError(
            {"targets": [message for messages in problems.values() for message in messages]}
        )
    post.scheduled_at = at
    post.save(update_fields=["scheduled_at", "approval_state", "updated_at"])
    moved = schedule_targets(post=post, at=at) if post_is_publishable(post) else 0
    _audit(post, by=by, action="post.scheduled", data={"at": at.isoformat(), "targets": moved})
    return post


@transaction.atomic
def post_cancel(*, post: Post, by) -> int:
    """Cancel every target not yet handed to a platform. Returns how many were cancelled."""
    cancelled = PostTarget.objects.filter(post=post, state__in=PENDING_STATES).update(
        state=S.CANCELLED, due_at=None, updated_at=timezone.now()
    )
    _audit(post, by=by, action="post.cancelled", data={"targets": cancelled})
    return cancelled


@transaction.atomic
def target_retry(*, target: PostTarget, by) -> PostTarget:
    """A person asks to try a failed or unconfirmed target again, now."""
    if not _move(
        target.pk,
        frm=(S.FAILED, S.UNCONFIRMED),
        to=S.SCHEDULED,
        due_at=timezone.now(),
        needs_attention=False,
        last_error="",
        attempts=0,
    ):
        raise ValidationError(
            f"Only a failed or unconfirmed target can be retried; this one is {target.state}."
        )
    _audit(target.post, by=by, action="post_target.retried", data={"target": str(target.pk)})
    target.refresh_from_db()
    return target


@transaction.atomic
def target_mark_published(*, target: PostTarget, by, url: str = "") -> PostTarget:
    """A person checked the platform and confirms an unconfirmed target did go out."""
    if not _move(
        target.pk,
        frm=(S.UNCONFIRMED,),
        to=S.PUBLISHED,
        external_id=f"manual:{url}" if url else "manual",
        external_url=url,
        published_at=timezone.now(),
        needs_attention=False,
        last_error="",
    ):
        raise ValidationError(
            f"Only an unconfirmed target can be marked as published; this one is {target.state}."
        )
    _audit(target.post, by=by, action="post_target.marked_published", data={"url": url})
    webhook_events.post_published(target=target)
    target.refresh_from_db()
    return target


POST_EDITABLE_FIELDS = ["title", "text", "link", "tags"]
_IN_FLIGHT = (S.QUEUED, S.PUBLISHING)


@transaction.atomic
def post_update(*, post: Post, by, data: dict[str, Any]) -> Post:
    """Edit the shared text of a post. Refused while a target is being handed to a platform."""
    from agency.common import model_update

    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.targets.filter(state__in=_IN_FLIGHT).exists():
        raise ValidationError("The post is being published right now; edit it in a minute.")
    post, changed = model_update(instance=post, fields=POST_EDITABLE_FIELDS, data=data)
    if not changed:
        return post
    problems = post_problems(post=post)
    if problems and post.targets.filter(state=S.SCHEDULED).exists():
        raise ValidationError(
            {"text": [message for messages in problems.values() for message in messages]}
        )
    if set(changed) - {"title", "tags"}:
        post_reopen_review(post=post, by=by)
    _audit(post, by=by, action="post.updated", data={"fields": changed})
    return post


def post_content_fingerprint(*, post: Post) -> tuple:
    """Everything of a post that reaches the audience: text, link, media and every variant.
    Two equal fingerprints mean an approval still covers what will be published."""
    targets = post.targets.order_by("account_id").prefetch_related("media_override")
    return (
        post.text,
        post.link,
        tuple(sorted(str(pk) for pk in post.media.values_list("pk", flat=True))),
        tuple(
            (
                str(t.account_id),
                t.text_override,
                t.first_comment,
                tuple(sorted(str(m.pk) for m in t.media_override.all())),
            )
            for t in targets
        ),
    )


def post_reopen_review(*, post: Post, by) -> bool:
    """What was approved is not what will be published any more: back to review, targets back
    to draft. Returns True if it reopened (brands without a workflow never need it)."""
    from calendar_app.models import ApprovalDecision

    post.refresh_from_db(fields=["approval_state"])
    if post.brand.approval_workflow == Brand.ApprovalWorkflow.NONE or post.approval_state in (
        Post.Approval.DRAFT,
        Post.Approval.IN_REVIEW,
    ):
        return False
    post.approval_state = Post.Approval.IN_REVIEW
    post.save(update_fields=["approval_state", "updated_at"])
    unschedule_targets(post=post)
    ApprovalDecision.objects.create(
        post=post,
        by=by if getattr(by, "is_authenticated", False) else None,
        kind=ApprovalDecision.Kind.REOPENED,
    )
    return True


@transaction.atomic
def post_delete(*, post: Post, by) -> None:
    """Delete a post that never reached a platform; a published one stays as a record."""
    if post.targets.filter(state__in=(*_IN_FLIGHT, S.PUBLISHED, S.UNCONFIRMED)).exists():
        raise ValidationError(
            "This post was (or may have been) published; cancel it instead of deleting it."
        )
    _audit(post, by=by, action="post.deleted", data={"title": str(post)})
    post.delete()
