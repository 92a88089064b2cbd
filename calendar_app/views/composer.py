"""The composer: one post for many accounts, with a variant per account, a live check per
platform (HTMX partial) and the actions Save draft, Schedule, Add to queue, Submit."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from agency.models import Brand
from agency.permissions import Area, brand_for_user
from calendar_app import selectors, services
from calendar_app.composer_forms import ComposerForm
from calendar_app.models import Post


def _checks(form: ComposerForm, post: Post | None = None) -> list:
    """The live check of what the form holds; bad fields just count as empty."""
    data = getattr(form, "cleaned_data", None)
    if data is None:
        return []
    return selectors.composer_check(
        brand=form.brand,
        accounts=data.get("accounts") or [],
        text=data.get("text", ""),
        link=data.get("link", ""),
        title=data.get("title", ""),
        tags=data.get("tags") or [],
        media=data.get("media") or [],
        variants=form.variants(),
        post_id=str(post.pk) if post else "",
    )


def _success_message(post: Post, action: str) -> str:
    brand = post.brand
    if action == "schedule":
        when = date_format(post.scheduled_at.astimezone(brand.zone), "DATETIME_FORMAT")
        if brand.approval_workflow != Brand.ApprovalWorkflow.NONE and not post.is_approved:
            return (
                f"Saved for {when} ({brand.time_zone}). {brand.name} needs approval first: "
                "the post goes out at that time once it is approved."
            )
        return f"Scheduled for {when} ({brand.time_zone})."
    if action == "queue":
        return "Added to the queue: each account got its next free slot."
    if action == "submit":
        return "Submitted for approval."
    return "Draft saved."


def _flat(problems: dict[str, list[str]]) -> list[str]:
    return [message for messages_ in problems.values() for message in messages_]


def _attach_errors(form: ComposerForm, exc: ValidationError) -> dict[str, list[str]]:
    """Field errors go next to their field; problems keyed by account id go to the account."""
    per_account: dict[str, list[str]] = {}
    account_ids = {str(a.pk) for a in form.account_list}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return per_account
    for key, errors in exc.message_dict.items():
        if key in account_ids:
            per_account[key] = errors
        elif key in form.fields:
            form.add_error(key, errors)
        else:
            form.add_error(None, errors)
    if per_account:
        form.add_error(None, "Nothing was saved: some accounts cannot take this post as it is.")
    return per_account


def _compose(request, *, brand: Brand, post: Post | None):
    form = ComposerForm(request.POST or None, brand=brand, post=post)
    account_problems: dict[str, list[str]] = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.post_compose(
                brand=brand,
                by=request.user,
                post=post,
                action=form.action,
                accounts=data["accounts"],
                text=data["text"],
                title=data["title"],
                link=data["link"],
                tags=data["tags"],
                media=data["media"],
                variants=form.variants(),
                at=data["scheduled_at"],
            )
        except ValidationError as exc:
            account_problems = _attach_errors(form, exc)
        else:
            messages.success(request, _success_message(saved, form.action))
            if form.action == "draft":
                # A draft may be unfinished; say now what would stop it being scheduled.
                for problem in _flat(services.post_problems(post=saved)):
                    messages.warning(request, problem)
            return redirect("calendar:post-detail", post_id=saved.pk)
    checks = _checks(form, post) if form.is_bound else _initial_checks(form, post)
    return render(
        request,
        "calendar_app/composer/compose.html",
        {
            "form": form,
            "brand": brand,
            "post": post,
            "checks": checks,
            "account_problems": account_problems,
            "actions": ComposerForm.ACTIONS,
            "approval_needed": brand.approval_workflow != Brand.ApprovalWorkflow.NONE,
            "hashtag_sets": selectors.hashtag_sets_for_brand(brand=brand),
            "snippets": selectors.snippets_for_brand(brand=brand),
        },
    )


def _initial_checks(form: ComposerForm, post: Post | None) -> list:
    if post is None:
        return []
    targets = list(post.targets.all())
    return selectors.composer_check(
        brand=post.brand,
        accounts=[t.account for t in targets],
        text=post.text,
        link=post.link,
        title=post.title,
        tags=post.tags,
        media=list(post.media.all()),
        variants={
            str(t.account_id): {
                "text": t.text_override,
                "first_comment": t.first_comment,
                "media": list(t.media_override.all()),
            }
            for t in targets
        },
        post_id=str(post.pk),
    )


@login_required
def compose(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.CALENDAR)
    return _compose(request, brand=brand, post=None)


@login_required
def post_edit(request, post_id):
    try:
        post = selectors.post_for_composer(user=request.user, post_id=post_id)
    except (Post.DoesNotExist, ValidationError) as exc:
        raise Http404("No such post.") from exc
    brand = brand_for_user(
        user=request.user, brand_id=post.brand_id, write=True, area=Area.CALENDAR
    )
    locked = [t for t in post.targets.all() if t.state in services.COMPOSER_LOCKED_STATES]
    if locked:
        messages.error(
            request,
            f"The post is {locked[0].get_state_display().lower()} on {locked[0].account}; "
            "it can no longer be edited.",
        )
        return redirect("calendar:post-detail", post_id=post.pk)
    return _compose(request, brand=brand, post=post)


@login_required
@require_POST
def compose_check(request, brand_id):
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.CALENDAR)
    form = ComposerForm(request.POST, brand=brand)
    form.is_valid()
    post = None
    if request.POST.get("post_id"):
        try:
            post = Post.objects.filter(brand=brand, pk=request.POST["post_id"]).first()
        except ValidationError:
            post = None
    return render(
        request,
        "calendar_app/composer/_check.html",
        {"checks": _checks(form, post), "brand": brand},
    )


urlpatterns = [
    path("brands/<uuid:brand_id>/compose/", compose, name="compose"),
    path("brands/<uuid:brand_id>/compose/check/", compose_check, name="compose-check"),
    path("posts/<uuid:post_id>/edit/", post_edit, name="post-edit"),
]
