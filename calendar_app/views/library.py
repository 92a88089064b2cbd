"""A brand's library: media (upload, alt text, delete, per-platform warnings), hashtag sets and
snippets. Everyone who reads the brand's calendar may look; admins and managers change."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, brand_for_user, can_write
from calendar_app import selectors, services
from calendar_app.composer_forms import (
    AltTextForm,
    HashtagSetForm,
    MediaUploadForm,
    SnippetForm,
)
from calendar_app.models import HashtagSet, Media, Snippet


def _brand(request, brand_id):
    """The brand, for writing on POST (403 for read-only roles) and reading otherwise."""
    return brand_for_user(
        user=request.user,
        brand_id=brand_id,
        write=request.method == "POST",
        area=Area.CALENDAR,
    )


# -- media ---------------------------------------------------------------------------------------


@login_required
def media_library(request, brand_id):
    brand = _brand(request, brand_id)
    form = MediaUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            media = services.media_upload(
                brand=brand,
                by=request.user,
                upload=form.cleaned_data["upload"],
                alt_text=form.cleaned_data["alt_text"],
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            if media.already_in_library:
                messages.info(request, f"This file is already in the library as {media.name}.")
            else:
                messages.success(request, f"Uploaded {media.name}.")
            return redirect("calendar:media-library", brand_id=brand.pk)
    items = selectors.media_platform_warnings(
        brand=brand, media=selectors.media_for_brand(brand=brand)
    )
    return render(
        request,
        "calendar_app/library/media.html",
        {
            "brand": brand,
            "form": form,
            "items": items,
            "can_write": can_write(brand.user_role, Area.CALENDAR),
            "max_mb": services.max_upload_bytes() // 1_048_576,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def media_update(request, brand_id, media_id):
    brand = _brand(request, brand_id)
    media = get_object_or_404(Media, brand=brand, pk=media_id)
    form = AltTextForm(request.POST)
    if form.is_valid():
        services.media_update(media=media, by=request.user, alt_text=form.cleaned_data["alt_text"])
        messages.success(request, f"Alt text of {media.name} saved.")
    else:
        messages.error(request, f"Alt text of {media.name} not saved: {form.errors['alt_text'][0]}")
    return redirect("calendar:media-library", brand_id=brand.pk)


@login_required
@require_POST
def media_delete(request, brand_id, media_id):
    brand = _brand(request, brand_id)
    media = get_object_or_404(Media, brand=brand, pk=media_id)
    try:
        services.media_delete(media=media, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Deleted {media.name}.")
    return redirect("calendar:media-library", brand_id=brand.pk)


# -- hashtag sets and snippets: the same pages for two kinds of named text ---------------------


@dataclass(frozen=True)
class _Kind:
    model: Any
    form: Any
    text_field: str
    noun: str
    plural: str
    url_prefix: str
    list_selector: Any
    create: Any
    update: Any
    delete: Any
    arg: str


HASHTAGS = _Kind(
    model=HashtagSet,
    form=HashtagSetForm,
    text_field="hashtags",
    noun="hashtag set",
    plural="Hashtag sets",
    url_prefix="hashtag",
    list_selector=selectors.hashtag_sets_for_brand,
    create=services.hashtag_set_create,
    update=services.hashtag_set_update,
    delete=services.hashtag_set_delete,
    arg="hashtag_set",
)
SNIPPETS = _Kind(
    model=Snippet,
    form=SnippetForm,
    text_field="text",
    noun="snippet",
    plural="Snippets",
    url_prefix="snippet",
    list_selector=selectors.snippets_for_brand,
    create=services.snippet_create,
    update=services.snippet_update,
    delete=services.snippet_delete,
    arg="snippet",
)


def _named_list(request, brand_id, kind: _Kind):
    brand = _brand(request, brand_id)
    form = kind.form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            obj = kind.create(
                brand=brand,
                by=request.user,
                name=form.cleaned_data["name"],
                **{kind.text_field: form.cleaned_data[kind.text_field]},
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the {kind.noun} “{obj.name}”.")
            return redirect(f"calendar:{kind.url_prefix}-list", brand_id=brand.pk)
    return render(
        request,
        "calendar_app/library/named_list.html",
        {
            "brand": brand,
            "form": form,
            "kind": kind,
            "objects": kind.list_selector(brand=brand),
            "can_write": can_write(brand.user_role, Area.CALENDAR),
        },
        status=400 if form.errors else 200,
    )


def _named_edit(request, brand_id, obj_id, kind: _Kind):
    # Editing is a write even to look at the form: read-only roles have the list.
    brand = brand_for_user(user=request.user, brand_id=brand_id, write=True, area=Area.CALENDAR)
    obj = get_object_or_404(kind.model, brand=brand, pk=obj_id)
    form = kind.form(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            kind.update(
                by=request.user,
                name=form.cleaned_data["name"],
                **{kind.arg: obj, kind.text_field: form.cleaned_data[kind.text_field]},
            )
        except ValidationError as exc:
            attach_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the {kind.noun} “{obj.name}”.")
            return redirect(f"calendar:{kind.url_prefix}-list", brand_id=brand.pk)
    return render(
        request,
        "calendar_app/library/named_edit.html",
        {"brand": brand, "form": form, "kind": kind, "object": obj},
        status=400 if form.errors else 200,
    )


def _named_delete(request, brand_id, obj_id, kind: _Kind):
    brand = _brand(request, brand_id)
    obj = get_object_or_404(kind.model, brand=brand, pk=obj_id)
    kind.delete(by=request.user, **{kind.arg: obj})
    messages.success(request, f"Deleted the {kind.noun} “{obj.name}”.")
    return redirect(f"calendar:{kind.url_prefix}-list", brand_id=brand.pk)


@login_required
def hashtag_list(request, brand_id):
    return _named_list(request, brand_id, HASHTAGS)


@login_required
def hashtag_edit(request, brand_id, obj_id):
    return _named_edit(request, brand_id, obj_id, HASHTAGS)


@login_required
@require_POST
def hashtag_delete(request, brand_id, obj_id):
    return _named_delete(request, brand_id, obj_id, HASHTAGS)


@login_required
def snippet_list(request, brand_id):
    return _named_list(request, brand_id, SNIPPETS)


@login_required
def snippet_edit(request, brand_id, obj_id):
    return _named_edit(request, brand_id, obj_id, SNIPPETS)


@login_required
@require_POST
def snippet_delete(request, brand_id, obj_id):
    return _named_delete(request, brand_id, obj_id, SNIPPETS)


urlpatterns = [
    path("brands/<uuid:brand_id>/media/", media_library, name="media-library"),
    path(
        "brands/<uuid:brand_id>/media/<uuid:media_id>/alt-text/",
        media_update,
        name="media-update",
    ),
    path("brands/<uuid:brand_id>/media/<uuid:media_id>/delete/", media_delete, name="media-delete"),
    path("brands/<uuid:brand_id>/hashtags/", hashtag_list, name="hashtag-list"),
    path("brands/<uuid:brand_id>/hashtags/<uuid:obj_id>/", hashtag_edit, name="hashtag-edit"),
    path(
        "brands/<uuid:brand_id>/hashtags/<uuid:obj_id>/delete/",
        hashtag_delete,
        name="hashtag-delete",
    ),
    path("brands/<uuid:brand_id>/snippets/", snippet_list, name="snippet-list"),
    path("brands/<uuid:brand_id>/snippets/<uuid:obj_id>/", snippet_edit, name="snippet-edit"),
    path(
        "brands/<uuid:brand_id>/snippets/<uuid:obj_id>/delete/",
        snippet_delete,
        name="snippet-delete",
    ),
]
