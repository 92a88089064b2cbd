"""Approval pages: the staff's review list, the panel on a post's page, and the client portal's
list of posts waiting for the client. Every decision is a POST that calls one service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from agency.models import Brand, Role
from agency.permissions import Area, brand_for_user, brands_for_user, can_write
from calendar_app import services
from calendar_app.models import Post
from calendar_app.selectors import approvals as approval_selectors


def _post(request, post_id) -> Post:
    try:
        return (
            Post.objects.select_related("brand")
            .filter(brand__in=brands_for_user(user=request.user).values("pk"))
            .get(pk=post_id)
        )
    except Post.DoesNotExist as exc:
        raise Http404("No such post.") from exc


def _back(request, default: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _decide(request, post_id, action, *, success: str, default: str, with_comment=False):
    post = _post(request, post_id)
    kwargs = {"comment": request.POST.get("comment", "")} if with_comment else {}
    try:
        post = action(post=post, by=request.user, **kwargs)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages) + " Nothing was changed.")
    else:
        messages.success(request, success)
        _warn_if_not_scheduled(request, post)
    return _back(request, default)


def _warn_if_not_scheduled(request, post: Post) -> None:
    # The author hears it by notification too; the person who pressed should see it at once.
    if not services.post_is_publishable(post) or post.scheduled_at is None:
        return
    if post.scheduled_at > timezone.now():
        return
    messages.warning(
        request,
        "The post's time passed while it waited, so it was not scheduled: pick a new time.",
    )


# -- staff -----------------------------------------------------------------------------------


@login_required
@require_GET
def approval_list(request):
    staff_brands = approval_selectors.staff_brands_for_user(user=request.user)
    brands = list(staff_brands)
    if not brands:
        raise PermissionDenied("Reviewing posts is for the agency's staff.")
    brand = None
    if request.GET.get("brand"):
        brand = brand_for_user(user=request.user, brand_id=request.GET["brand"])
        if brand.user_role == Role.CLIENT:
            raise PermissionDenied("Reviewing posts is for the agency's staff.")
    posts = list(approval_selectors.posts_in_review(user=request.user, brand=brand)[:200])
    writable = {b.pk for b in brands if can_write(b.user_role, Area.CALENDAR)}
    for post in posts:
        post.can_decide = post.brand_id in writable
    return render(
        request,
        "calendar_app/approvals/list.html",
        {"posts": posts, "brands": brands, "brand": brand},
    )


@login_required
@require_POST
def post_submit(request, post_id):
    return _decide(
        request,
        post_id,
        services.post_submit_for_approval,
        success="Submitted for review.",
        default=reverse("calendar:post-detail", args=[post_id]),
    )


@login_required
@require_POST
def post_approve(request, post_id):
    return _decide(
        request,
        post_id,
        services.post_approve,
        success="Approved.",
        default=reverse("calendar:approvals"),
    )


@login_required
@require_POST
def post_request_changes(request, post_id):
    return _decide(
        request,
        post_id,
        services.post_request_changes,
        success="Sent back to the author with your comment.",
        default=reverse("calendar:approvals"),
        with_comment=True,
    )


@login_required
@require_GET
def post_approval_panel(request, post_id):
    """The approval state, history and buttons of one post: loaded into the post's page by
    HTMX, and a page of its own for a browser without JavaScript."""
    post = _post(request, post_id)
    brand = brand_for_user(user=request.user, brand_id=post.brand_id)
    context = {
        "post": post,
        "brand": brand,
        "decisions": approval_selectors.approval_decisions(post=post),
        "has_workflow": brand.approval_workflow != Brand.ApprovalWorkflow.NONE,
        "is_client": brand.user_role == Role.CLIENT,
        "can_review": can_write(brand.user_role, Area.CALENDAR),
        "next": reverse("calendar:post-detail", args=[post.pk]),
    }
    template = (
        "calendar_app/approvals/panel.html"
        if request.htmx
        else "calendar_app/approvals/post_approval.html"
    )
    return render(request, template, context)


# -- the client portal -------------------------------------------------------------------------


@login_required
@require_GET
def portal_approvals(request):
    if not approval_selectors.client_brands_for_user(user=request.user).exists():
        raise PermissionDenied("This page is for the brands' own people.")
    posts = approval_selectors.posts_for_client_review(user=request.user)
    return render(request, "calendar_app/approvals/portal.html", {"posts": posts})


@login_required
@require_POST
def portal_approve(request, post_id):
    return _decide(
        request,
        post_id,
        services.post_client_approve,
        success="Thank you: the post is approved.",
        default=reverse("calendar:portal-approvals"),
    )


@login_required
@require_POST
def portal_request_changes(request, post_id):
    return _decide(
        request,
        post_id,
        services.post_client_request_changes,
        success="Thank you: the agency will change the post and send it to you again.",
        default=reverse("calendar:portal-approvals"),
        with_comment=True,
    )


urlpatterns = [
    path("approvals/", approval_list, name="approvals"),
    path("posts/<uuid:post_id>/approval/", post_approval_panel, name="post-approval"),
    path("posts/<uuid:post_id>/submit-for-approval/", post_submit, name="post-submit"),
    path("posts/<uuid:post_id>/approve/", post_approve, name="post-approve"),
    path(
        "posts/<uuid:post_id>/request-changes/", post_request_changes, name="post-request-changes"
    ),
    path("portal/approvals/", portal_approvals, name="portal-approvals"),
    path("portal/approvals/<uuid:post_id>/approve/", portal_approve, name="portal-approve"),
    path(
        "portal/approvals/<uuid:post_id>/request-changes/",
        portal_request_changes,
        name="portal-request-changes",
    ),
]
