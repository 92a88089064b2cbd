"""Listening pages: a brand's rules, its mention feed with daily volume, and "turn into a
conversation". Staff only: clients get a 404, marketers read, admins and managers change."""

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
from agency.models import Brand
from agency.permissions import Area, brand_for_user, can_write
from community import selectors, services
from community.models import ListeningRule, Mention, Sentiment

FEED_PAGE_SIZE = 50


def community_brand(request, brand_id, *, write: bool = False) -> Brand:
    """The brand for a staff-only community page: 404 to anyone outside it and to its clients,
    403 to staff whose role only reads the community side."""
    return brand_for_user(
        user=request.user, brand_id=brand_id, write=write, area=Area.COMMUNITY, staff_only=True
    )


def split_terms(value: str) -> list[str]:
    return [t.strip() for t in value.replace("\n", ",").split(",") if t.strip()]


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ListeningRule.Kind.choices)
    terms = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Separated by commas or lines. Whole words or phrases, any case; a hashtag "
        "rule matches #tags only.",
    )
    excluded_terms = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="A post with any of these is left out.",
    )
    spike_ratio = forms.FloatField(
        initial=3.0, min_value=1, help_text="Alert when a day has this many times the usual."
    )
    spike_min_volume = forms.IntegerField(
        initial=10, min_value=1, help_text="…and at least this many mentions."
    )
    active = forms.BooleanField(required=False, initial=True)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["terms"] = split_terms(data["terms"])
        data["excluded_terms"] = split_terms(data["excluded_terms"])
        return data


def _rule_initial(rule: ListeningRule) -> dict:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "terms": ", ".join(rule.terms),
        "excluded_terms": ", ".join(rule.excluded_terms),
        "spike_ratio": rule.spike_ratio,
        "spike_min_volume": rule.spike_min_volume,
        "active": rule.active,
    }


@login_required
@require_http_methods(["GET", "POST"])
def rule_list(request, brand_id):
    brand = community_brand(request, brand_id, write=request.method == "POST")
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.listening_rule_create(
                brand=brand, by=request.user, **form.service_data()
            )
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="name")
        else:
            messages.success(request, f"Listening for “{rule.name}”.")
            return redirect("community:listening-rules", brand_id=brand.pk)
    return render(
        request,
        "community/listening/rules.html",
        {
            "brand": brand,
            "form": form,
            "rules": selectors.listening_rules_for_brand(brand=brand),
            "can_write": can_write(brand.user_role, Area.COMMUNITY),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, brand_id, rule_id):
    brand = community_brand(request, brand_id, write=True)
    rule = get_object_or_404(ListeningRule, brand=brand, pk=rule_id)
    form = RuleForm(request.POST or None, initial=_rule_initial(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.listening_rule_update(rule=rule, by=request.user, data=form.service_data())
        except ValidationError as exc:
            attach_service_errors(form, exc, unique_field="name")
        else:
            messages.success(request, f"Saved the rule “{rule.name}”.")
            return redirect("community:listening-rules", brand_id=brand.pk)
    return render(
        request,
        "community/listening/rule_edit.html",
        {"brand": brand, "form": form, "rule": rule},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def rule_delete(request, brand_id, rule_id):
    brand = community_brand(request, brand_id, write=True)
    rule = get_object_or_404(ListeningRule, brand=brand, pk=rule_id)
    name = rule.name
    services.listening_rule_delete(rule=rule, by=request.user)
    messages.success(request, f"Deleted the rule “{name}” and its mentions.")
    return redirect("community:listening-rules", brand_id=brand.pk)


class FeedFilterForm(forms.Form):
    rule = forms.ModelChoiceField(queryset=ListeningRule.objects.none(), required=False)
    sentiment = forms.ChoiceField(choices=[("", "Any"), *Sentiment.choices], required=False)
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = ListeningRule.objects.filter(brand=brand)
        self.fields["rule"].empty_label = "Every rule"


@login_required
@require_http_methods(["GET"])
def mention_feed(request, brand_id):
    brand = community_brand(request, brand_id)
    filters = FeedFilterForm(request.GET or None, brand=brand)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    rule = criteria.get("rule")
    mentions = selectors.mentions_for_feed(
        brand=brand,
        rule_id=rule.pk if rule else None,
        sentiment=criteria.get("sentiment") or "",
        start=criteria.get("start"),
        end=criteria.get("end"),
    )
    page = Paginator(mentions, FEED_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "community/listening/feed.html",
        {
            "brand": brand,
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "volumes": selectors.mention_volume(brand=brand),
            "spikes": selectors.spike_alerts_for_brand(brand=brand),
            "can_write": can_write(brand.user_role, Area.COMMUNITY),
        },
        status=400 if filters.errors else 200,
    )


@login_required
@require_POST
def mention_conversation(request, brand_id, mention_id):
    brand = community_brand(request, brand_id, write=True)
    mention = get_object_or_404(Mention, brand=brand, pk=mention_id)
    try:
        services.mention_to_conversation(mention=mention, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The mention by {mention.author_handle} is in the inbox.")
    return redirect("community:listening-feed", brand_id=brand.pk)


urlpatterns = [
    path("brands/<uuid:brand_id>/listening/", rule_list, name="listening-rules"),
    path("brands/<uuid:brand_id>/listening/feed/", mention_feed, name="listening-feed"),
    path(
        "brands/<uuid:brand_id>/listening/rules/<uuid:rule_id>/",
        rule_edit,
        name="listening-rule-edit",
    ),
    path(
        "brands/<uuid:brand_id>/listening/rules/<uuid:rule_id>/delete/",
        rule_delete,
        name="listening-rule-delete",
    ),
    path(
        "brands/<uuid:brand_id>/listening/mentions/<uuid:mention_id>/conversation/",
        mention_conversation,
        name="listening-mention-conversation",
    ),
]
