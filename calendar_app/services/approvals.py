"""The approval workflow of a brand's posts: internal review, then (optionally) the client's.

    draft | changes_requested --submit--> in_review
    in_review --approve--> approved                       (workflow "internal")
    in_review --approve--> approved --> client_review     (workflow "internal_client")
    in_review --request changes--> changes_requested
    client_review --client approves--> client_approved
    client_review --client requests changes--> changes_requested

Each step locks the post row and checks its state there, so two reviewers pressing at once
cannot both move it; each leaves an ApprovalDecision, an audit event and a notification. The
final approval schedules the targets if the post's time is still ahead; a post whose time passed
while it waited stays a draft and its author is asked for a new time (publishing a post hours
late is worse than not publishing it).

Who may act is checked here as well as in the views, so the API and any other caller get the
same rules: staff steps need write access to the brand's calendar; client steps are for the
brand's client users only.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, Role
from agency.permissions import Area, brand_for_user
from agency.services import audit_log, brand_managers, notify
from calendar_app.models import ApprovalDecision, Post, PostTarget, TargetState
from calendar_app.services.posts import post_is_publishable, post_problems, schedule_targets

A = Post.Approval
K = ApprovalDecision.Kind

__all__ = [
    "post_approve",
    "post_client_approve",
    "post_client_request_changes",
    "post_request_changes",
    "post_submit_for_approval",
]


# -- helpers -------------------------------------------------------------------------------------


def _check_staff(by, post: Post) -> None:
    brand_for_user(user=by, brand_id=post.brand_id, write=True, area=Area.CALENDAR)


def _check_client(by, post: Post) -> None:
    brand = brand_for_user(user=by, brand_id=post.brand_id)
    if brand.user_role != Role.CLIENT:
        raise PermissionDenied(f"Only {brand.name}'s own people decide for the client.")


def _lock(post: Post, *, allowed: tuple[str, ...], doing: str) -> Post:
    # of=("self",): the author join is nullable, and PostgreSQL cannot lock the outer side.
    locked = (
        Post.objects.select_for_update(of=("self",))
        .select_related("brand__agency", "author")
        .get(pk=post.pk)
    )
    if locked.approval_state not in allowed:
        states = " or ".join(f'"{A(state).label.lower()}"' for state in allowed)
        raise ValidationError(
            f'This post is "{locked.get_approval_state_display().lower()}"; only a post that is '
            f"{states} can be {doing}."
        )
    return locked


def _require_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": ["Say what should change: a comment is required."]})
    return comment


def _record(post: Post, *, by, kind: str, comment: str = "") -> ApprovalDecision:
    return ApprovalDecision.objects.create(post=post, by=by, kind=kind, comment=comment)


def _audit(post: Post, *, by, action: str, data: dict | None = None) -> None:
    audit_log(
        actor=by, action=action, target=post, agency=post.brand.agency, brand=post.brand, data=data
    )


def _post_url(post: Post) -> str:
    return reverse("calendar:post-detail", args=[post.pk])


def _when(post: Post) -> str:
    local = post.scheduled_at.astimezone(post.brand.zone)
    return f"{local:%a %d %b %Y %H:%M} ({post.brand.time_zone})"


def _tell_author(post: Post, *, by, title: str, body: str) -> None:
    # Nobody needs a notification about their own click; a post without an author (imported,
    # or its author left) goes to the brand's managers so the news is not lost.
    if post.author_id is not None:
        users = [post.author] if post.author_id != getattr(by, "pk", None) else []
    else:
        users = [u for u in brand_managers(brand=post.brand) if u.pk != getattr(by, "pk", None)]
    if users:
        notify(users=users, brand=post.brand, title=title, body=body, url=_post_url(post))


def _client_users(brand: Brand):
    return get_user_model().objects.filter(client_accesses__brand=brand, is_active=True)


def _release(post: Post) -> str:
    """Schedule a post that may now go out; returns a sentence saying what happened."""
    if not post_is_publishable(post):
        return ""
    if post.scheduled_at is None:
        return "It has no time yet: schedule it or add it to the queue."
    if post.scheduled_at <= timezone.now():
        return (
            f"Its time, {_when(post)}, passed while it waited, so it was not scheduled: "
            "pick a new time on the post's page."
        )
    problems = post_problems(post=post)
    if problems:
        found = " ".join(message for messages in problems.values() for message in messages)
        return f"It could not be scheduled: {found}"
    # A post added to the queue keeps one slot per account on its waiting drafts; the post's
    # time is the earliest of them. If someone re-timed the post since, the slots are stale.
    own_times = {
        t.pk: t.due_at for t in post.targets.filter(state=TargetState.DRAFT, due_at__isnull=False)
    }
    schedule_targets(post=post)
    if own_times and min(own_times.values()) == post.scheduled_at:
        for target_id, at in own_times.items():
            PostTarget.objects.filter(pk=target_id, state=TargetState.SCHEDULED).update(
                due_at=at, updated_at=timezone.now()
            )
    return f"It is scheduled for {_when(post)}."


def _set_state(post: Post, state: str) -> None:
    post.approval_state = state
    post.save(update_fields=["approval_state", "updated_at"])


# -- the steps -----------------------------------------------------------------------------------


@transaction.atomic
def post_submit_for_approval(*, post: Post, by) -> Post:
    _check_staff(by, post)
    if post.brand.approval_workflow == Brand.ApprovalWorkflow.NONE:
        raise ValidationError(
            f"{post.brand.name} has no approval workflow: scheduling a post publishes it. "
            "Turn on a workflow in the brand's settings to review posts first."
        )
    post = _lock(post, allowed=(A.DRAFT, A.CHANGES_REQUESTED), doing="submitted for approval")
    _set_state(post, A.IN_REVIEW)
    _record(post, by=by, kind=K.SUBMITTED)
    _audit(post, by=by, action="post.submitted_for_approval")
    reviewers = [u for u in brand_managers(brand=post.brand) if u.pk != by.pk]
    if reviewers:
        notify(
            users=reviewers,
            brand=post.brand,
            title=f"Review requested: {post}",
            body=f"{by.get_short_name() or by.get_username()} asks you to review this post.",
            url=reverse("calendar:approvals"),
        )
    _tell_author(
        post, by=by, title=f"Submitted for review: {post}", body="Your post is waiting for review."
    )
    return post


@transaction.atomic
def post_approve(*, post: Post, by, comment: str = "") -> Post:
    """Internal approval. With the client in the workflow, the post goes straight on to them."""
    _check_staff(by, post)
    post = _lock(post, allowed=(A.IN_REVIEW,), doing="approved")
    comment = (comment or "").strip()
    _set_state(post, A.APPROVED)
    _record(post, by=by, kind=K.APPROVED, comment=comment)
    _audit(post, by=by, action="post.approved")
    if post.brand.approval_workflow == Brand.ApprovalWorkflow.INTERNAL_CLIENT:
        _set_state(post, A.CLIENT_REVIEW)
        _record(post, by=by, kind=K.SENT_TO_CLIENT)
        _audit(post, by=by, action="post.sent_to_client")
        when = f" It is planned for {_when(post)}." if post.scheduled_at else ""
        notify(
            users=_client_users(post.brand),
            brand=post.brand,
            title=f"Please approve a post for {post.brand.name}",
            body=f'"{post}" is ready for your approval.{when}',
            url=reverse("calendar:portal-approvals"),
        )
        _tell_author(
            post,
            by=by,
            title=f"Approved, now with the client: {post}",
            body="The internal review approved your post; the client has been asked to approve "
            "it too.",
        )
        return post
    outcome = _release(post)
    _tell_author(post, by=by, title=f"Approved: {post}", body=f"Your post was approved. {outcome}")
    return post


@transaction.atomic
def post_request_changes(*, post: Post, by, comment: str) -> Post:
    _check_staff(by, post)
    comment = _require_comment(comment)
    post = _lock(post, allowed=(A.IN_REVIEW,), doing="sent back with changes")
    _set_state(post, A.CHANGES_REQUESTED)
    _record(post, by=by, kind=K.CHANGES_REQUESTED, comment=comment)
    _audit(post, by=by, action="post.changes_requested", data={"comment": comment})
    _tell_author(post, by=by, title=f"Changes requested: {post}", body=comment)
    return post


@transaction.atomic
def post_client_approve(*, post: Post, by, comment: str = "") -> Post:
    _check_client(by, post)
    post = _lock(post, allowed=(A.CLIENT_REVIEW,), doing="approved by the client")
    comment = (comment or "").strip()
    _set_state(post, A.CLIENT_APPROVED)
    _record(post, by=by, kind=K.CLIENT_APPROVED, comment=comment)
    _audit(post, by=by, action="post.client_approved")
    outcome = _release(post)
    _tell_author(
        post,
        by=by,
        title=f"The client approved: {post}",
        body=f"{post.brand.name} approved your post. {outcome}",
    )
    return post


@transaction.atomic
def post_client_request_changes(*, post: Post, by, comment: str) -> Post:
    _check_client(by, post)
    comment = _require_comment(comment)
    post = _lock(post, allowed=(A.CLIENT_REVIEW,), doing="sent back with changes by the client")
    _set_state(post, A.CHANGES_REQUESTED)
    _record(post, by=by, kind=K.CLIENT_CHANGES_REQUESTED, comment=comment)
    _audit(post, by=by, action="post.client_changes_requested", data={"comment": comment})
    _tell_author(
        post,
        by=by,
        title=f"The client asks for changes: {post}",
        body=comment,
    )
    return post
