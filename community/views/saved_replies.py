"""A brand's saved replies: the list with a form to add one, edit, delete. Staff only: clients
and outsiders get a 404, marketers read, admins and managers change. The inbox's reply box
fills them in with the placeholders of one conversation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, can_write
from community import services
from community.forms import SavedReplyForm
from community.models import SavedReply
from community.selectors import workflow as selectors
from community.views.listening import community_brand

# What each placeholder becomes, for the page that explains them.
PLACEHOLDER_HELP = {
    "first_name": "The first word of the person's name, else their handle without the @, "
    "else “there”.",
    "handle": "The person's handle with its @, e.g. @lena_brews.",
}


@login_required
@require_http_methods(["GET", "POST"])
def saved_reply_list(request, brand_id):
    brand = community_brand(request, brand_id, write=request.method == "POST")
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.saved_reply_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="name")
        else:
            messages.success(request, f"Saved the reply “{saved.name}”.")
            return redirect("community:saved-replies", brand_id=brand.pk)
    return render(
        request,
        "community/saved_replies/list.html",
        {
            "brand": brand,
            "form": form,
            "saved_replies": selectors.saved_replies_for_brand(brand=brand),
            "placeholders": _placeholders(brand),
            "can_write": can_write(brand.user_role, Area.COMMUNITY),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def saved_reply_edit(request, brand_id, saved_reply_id):
    brand = community_brand(request, brand_id, write=True)
    saved = get_object_or_404(SavedReply, brand=brand, pk=saved_reply_id)
    form = SavedReplyForm(request.POST or None, initial={"name": saved.name, "text": saved.text})
    if request.method == "POST" and form.is_valid():
        try:
            services.saved_reply_update(saved_reply=saved, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="name")
        else:
            messages.success(request, f"Saved the reply “{saved.name}”.")
            return redirect("community:saved-replies", brand_id=brand.pk)
    return render(
        request,
        "community/saved_replies/edit.html",
        {"brand": brand, "form": form, "saved": saved, "placeholders": _placeholders(brand)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def saved_reply_delete(request, brand_id, saved_reply_id):
    brand = community_brand(request, brand_id, write=True)
    saved = get_object_or_404(SavedReply, brand=brand, pk=saved_reply_id)
    name = saved.name
    services.saved_reply_delete(saved_reply=saved, by=request.user)
    messages.success(request, f"Deleted the saved reply “{name}”.")
    return redirect("community:saved-replies", brand_id=brand.pk)


def _placeholders(brand) -> list[tuple[str, str]]:
    """(placeholder, what it becomes) in the order of the workflow service's PLACEHOLDERS."""
    words = {**PLACEHOLDER_HELP, "brand": f"The brand's name: {brand.name}."}
    return [(f"{{{name}}}", words[name]) for name in services.PLACEHOLDERS]


urlpatterns = [
    path("brands/<uuid:brand_id>/saved-replies/", saved_reply_list, name="saved-replies"),
    path(
        "brands/<uuid:brand_id>/saved-replies/<uuid:saved_reply_id>/",
        saved_reply_edit,
        name="saved-reply-edit",
    ),
    path(
        "brands/<uuid:brand_id>/saved-replies/<uuid:saved_reply_id>/delete/",
        saved_reply_delete,
        name="saved-reply-delete",
    ),
]
