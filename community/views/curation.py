"""Curation pages: a brand's feeds and the library of suggestions they bring, with "Make a
draft" and "Dismiss". Staff only: clients get a 404, marketers read, admins and managers
change."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from agency.forms import attach_service_errors
from agency.permissions import Area, can_write
from community import selectors, services
from community.models import Feed, Suggestion
from community.views.listening import community_brand

LIBRARY_PAGE_SIZE = 30


class FeedForm(forms.Form):
    url = forms.URLField(
        label="Feed address",
        max_length=1000,
        assume_scheme="https",
        help_text="The RSS or Atom address, e.g. https://example.com/feed.xml.",
    )
    title = forms.CharField(
        max_length=300, required=False, help_text="Left blank, the feed's own title is used."
    )


class DraftForm(forms.Form):
    accounts = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Accounts"
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = selectors.accounts_for_drafts(brand=brand)


@login_required
@require_http_methods(["GET", "POST"])
def feed_list(request, brand_id):
    brand = community_brand(request, brand_id, write=request.method == "POST")
    form = FeedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            feed = services.feed_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="url")
        else:
            messages.success(request, f"Following {feed}; its articles arrive within the hour.")
            return redirect("community:curation-feeds", brand_id=brand.pk)
    return render(
        request,
        "community/curation/feeds.html",
        {
            "brand": brand,
            "form": form,
            "feeds": selectors.feeds_for_brand(brand=brand),
            "can_write": can_write(brand.user_role, Area.COMMUNITY),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def feed_edit(request, brand_id, feed_id):
    brand = community_brand(request, brand_id, write=True)
    feed = get_object_or_404(Feed, brand=brand, pk=feed_id)
    form = FeedForm(request.POST or None, initial={"url": feed.url, "title": feed.title})
    if request.method == "POST" and form.is_valid():
        try:
            services.feed_update(feed=feed, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="url")
        else:
            messages.success(request, f"Saved the feed {feed}.")
            return redirect("community:curation-feeds", brand_id=brand.pk)
    return render(
        request,
        "community/curation/feed_edit.html",
        {"brand": brand, "form": form, "feed": feed},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def feed_delete(request, brand_id, feed_id):
    brand = community_brand(request, brand_id, write=True)
    feed = get_object_or_404(Feed, brand=brand, pk=feed_id)
    name = str(feed)
    services.feed_delete(feed=feed, by=request.user)
    messages.success(request, f"No longer following {name}; its suggestions stay.")
    return redirect("community:curation-feeds", brand_id=brand.pk)


@login_required
@require_POST
def feed_fetch_now(request, brand_id, feed_id):
    brand = community_brand(request, brand_id, write=True)
    feed = get_object_or_404(Feed, brand=brand, pk=feed_id)
    result = services.feed_fetch(feed=feed)
    if result.status == "error":
        messages.error(request, f"{feed} was not read: {result.error}")
    elif result.status == "not_modified":
        messages.info(request, f"{feed} has nothing new.")
    else:
        messages.success(request, f"{feed}: {result.created} new suggestion(s).")
    return redirect("community:curation-feeds", brand_id=brand.pk)


@login_required
@require_http_methods(["GET"])
def library(request, brand_id):
    brand = community_brand(request, brand_id)
    status = request.GET.get("status", Suggestion.Status.NEW)
    if status not in Suggestion.Status.values and status != "all":
        status = Suggestion.Status.NEW
    suggestions = selectors.suggestions_for_brand(
        brand=brand, status="" if status == "all" else status
    )
    page = Paginator(suggestions, LIBRARY_PAGE_SIZE).get_page(request.GET.get("page"))
    writer = can_write(brand.user_role, Area.COMMUNITY)
    return render(
        request,
        "community/curation/library.html",
        {
            "brand": brand,
            "page": page,
            "status": status,
            "statuses": [*Suggestion.Status.choices, ("all", "All")],
            # Listed once for every tile's "Make a draft" form.
            "draft_accounts": list(selectors.accounts_for_drafts(brand=brand)) if writer else [],
            "can_write": writer,
        },
    )


@login_required
@require_POST
def suggestion_draft(request, brand_id, suggestion_id):
    brand = community_brand(request, brand_id, write=True)
    suggestion = get_object_or_404(Suggestion, brand=brand, pk=suggestion_id)
    form = DraftForm(request.POST, brand=brand)
    if not form.is_valid():
        messages.error(request, "Choose at least one connected account of this brand.")
        return redirect("community:curation-library", brand_id=brand.pk)
    try:
        post = services.suggestion_to_draft(
            suggestion=suggestion, by=request.user, accounts=list(form.cleaned_data["accounts"])
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("community:curation-library", brand_id=brand.pk)
    messages.success(request, f"“{suggestion.title}” is a draft post now.")
    return redirect("calendar:post-detail", post_id=post.pk)


@login_required
@require_POST
def suggestion_dismiss(request, brand_id, suggestion_id):
    brand = community_brand(request, brand_id, write=True)
    suggestion = get_object_or_404(Suggestion, brand=brand, pk=suggestion_id)
    try:
        services.suggestion_dismiss(suggestion=suggestion, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Dismissed “{suggestion.title}”.")
    return redirect("community:curation-library", brand_id=brand.pk)


urlpatterns = [
    path("brands/<uuid:brand_id>/curation/", feed_list, name="curation-feeds"),
    path("brands/<uuid:brand_id>/curation/suggestions/", library, name="curation-library"),
    path(
        "brands/<uuid:brand_id>/curation/feeds/<uuid:feed_id>/",
        feed_edit,
        name="curation-feed-edit",
    ),
    path(
        "brands/<uuid:brand_id>/curation/feeds/<uuid:feed_id>/delete/",
        feed_delete,
        name="curation-feed-delete",
    ),
    path(
        "brands/<uuid:brand_id>/curation/feeds/<uuid:feed_id>/fetch/",
        feed_fetch_now,
        name="curation-feed-fetch",
    ),
    path(
        "brands/<uuid:brand_id>/curation/suggestions/<uuid:suggestion_id>/draft/",
        suggestion_draft,
        name="curation-suggestion-draft",
    ),
    path(
        "brands/<uuid:brand_id>/curation/suggestions/<uuid:suggestion_id>/dismiss/",
        suggestion_dismiss,
        name="curation-suggestion-dismiss",
    ),
]
