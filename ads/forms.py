"""Forms of the marketer's pages. They collect input; ads.services validates and writes it.

The ad set form reads like an ads manager (age range, genders, locations as rows, interests,
audiences, lookalike, retargeting, exclusions, placements, devices); `targeting_document` turns
its cleaned data into the one targeting document of ads/targeting.py, and
`attach_targeting_errors` puts that module's refusals back next to the inputs they are about.
"""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ads.models import Ad, AdPlatform, Audience, BudgetKind, Campaign, Objective
from ads.targeting import DEVICES, LOCATION_TYPES, PLACEMENTS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
CHECKBOXES = forms.CheckboxSelectMultiple
MONEY = {"max_digits": 14, "decimal_places": 2}


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    platform = forms.ChoiceField(choices=AdPlatform.choices)
    objective = forms.ChoiceField(choices=Objective.choices)
    status = forms.ChoiceField(choices=Campaign.Status.choices, initial=Campaign.Status.DRAFT)
    start_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE, required=False)
    budget_kind = forms.ChoiceField(choices=BudgetKind.choices)
    budget_amount = forms.DecimalField(**MONEY, label="Budget")
    currency = forms.CharField(max_length=3, initial="EUR", help_text="ISO 4217, such as EUR.")
    ad_account_id = forms.CharField(
        max_length=100, required=False, help_text="The platform's ad account, e.g. act_123."
    )
    agency_fee = forms.DecimalField(**MONEY, initial=Decimal("0"))
    other_costs = forms.DecimalField(**MONEY, initial=Decimal("0"))
    revenue_override = forms.DecimalField(
        **MONEY, required=False, help_text="Revenue from the brand's own books, if known."
    )

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


_LINE = re.compile(r"^(?P<name>.+?)\s*\((?P<id>[^()]+)\)$")


def _parse_id_names(text: str, what: str) -> list[dict[str, str]]:
    items, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            errors.append(
                f"Line {number}: write each {what} as Name (id), "
                "for example Coffee (6003139266461)."
            )
            continue
        items.append({"id": match["id"].strip(), "name": match["name"].strip()})
    if errors:
        raise ValidationError(errors)
    return items


def _id_names_text(items: list[dict[str, str]]) -> str:
    return "\n".join(f"{item['name']} ({item['id']})" for item in items)


class LocationForm(forms.Form):
    type = forms.ChoiceField(
        choices=[(t, t.capitalize()) for t in LOCATION_TYPES], initial="country"
    )
    country = forms.CharField(max_length=2, help_text="Two letters, such as DE.")
    name = forms.CharField(max_length=200, required=False, help_text="For a region or city.")
    key = forms.CharField(
        max_length=100, required=False, label="Platform key", help_text="Optional."
    )
    radius_km = forms.IntegerField(
        required=False, label="Radius (km)", help_text="Cities: 1 to 80."
    )


LocationFormSet = forms.formset_factory(LocationForm, extra=1)


class AdSetForm(forms.Form):
    name = forms.CharField(max_length=200)
    status = forms.ChoiceField(choices=Campaign.Status.choices, initial=Campaign.Status.DRAFT)
    budget_kind = forms.ChoiceField(
        choices=[("", "Campaign's budget"), *BudgetKind.choices], required=False
    )
    budget_amount = forms.DecimalField(**MONEY, required=False, label="Budget")
    start_date = forms.DateField(widget=DATE, required=False)
    end_date = forms.DateField(widget=DATE, required=False)

    age_min = forms.IntegerField(initial=18, label="Age from")
    age_max = forms.IntegerField(initial=65, label="Age to", help_text="65 means 65 and over.")
    genders = forms.ChoiceField(
        choices=[("all", "All"), ("male", "Men"), ("female", "Women")],
        initial="all",
        widget=forms.RadioSelect,
    )
    languages = forms.CharField(
        required=False, help_text="Two-letter codes, separated by commas: de, en."
    )
    interests = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, as Name (id): Coffee (6003139266461).",
    )
    behaviours = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, as Name (id).",
    )
    audiences = forms.MultipleChoiceField(
        required=False, widget=CHECKBOXES, label="Include audiences"
    )
    lookalike_source = forms.ChoiceField(required=False, label="Lookalike of")
    lookalike_country = forms.CharField(max_length=2, required=False, label="Lookalike country")
    lookalike_percent = forms.IntegerField(
        required=False, label="Lookalike size (%)", help_text="1 (closest) to 10 (broadest)."
    )
    retargeting_kind = forms.ChoiceField(
        choices=[
            ("", "No retargeting"),
            ("website_visitors", "Website visitors"),
            ("engagers", "People who engaged with our accounts"),
        ],
        required=False,
        label="Retarget",
    )
    retargeting_days = forms.IntegerField(
        required=False, label="In the last (days)", help_text="1 to 180."
    )
    retargeting_accounts = forms.MultipleChoiceField(
        required=False, widget=CHECKBOXES, label="Engagers of"
    )
    excluded_audiences = forms.MultipleChoiceField(
        required=False, widget=CHECKBOXES, label="Exclude audiences"
    )
    excluded_interests = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, as Name (id).",
    )
    placements = forms.MultipleChoiceField(
        required=False,
        widget=CHECKBOXES,
        choices=[
            (
                f"{platform}:{position}",
                f"{platform.replace('_', ' ').title()}: {position.replace('_', ' ')}",
            )
            for platform, positions in PLACEMENTS.items()
            for position in positions
        ],
        help_text="None ticked: automatic placements.",
    )
    devices = forms.MultipleChoiceField(
        required=False,
        widget=CHECKBOXES,
        choices=[(d, d.capitalize()) for d in DEVICES],
        help_text="None ticked: every device.",
    )

    def __init__(self, *args, audiences=(), accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        audience_choices = [(str(a.pk), a.name) for a in audiences]
        self.fields["audiences"].choices = audience_choices
        self.fields["excluded_audiences"].choices = audience_choices
        self.fields["lookalike_source"].choices = [("", "No lookalike"), *audience_choices]
        self.fields["retargeting_accounts"].choices = [(str(a.pk), str(a)) for a in accounts]

    GROUPS = [
        ("Ad set", ["name", "status", "budget_kind", "budget_amount", "start_date", "end_date"]),
        ("Demographics", ["age_min", "age_max", "genders", "languages"]),
        ("Detailed targeting", ["interests", "behaviours"]),
        (
            "Audiences",
            [
                "audiences",
                "lookalike_source",
                "lookalike_country",
                "lookalike_percent",
                "retargeting_kind",
                "retargeting_days",
                "retargeting_accounts",
            ],
        ),
        ("Exclusions", ["excluded_audiences", "excluded_interests"]),
        ("Placements and devices", ["placements", "devices"]),
    ]

    def groups(self):
        """(legend, bound fields) in the order of an ads manager, for the template."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def clean_interests(self):
        return _parse_id_names(self.cleaned_data["interests"], "interest")

    def clean_behaviours(self):
        return _parse_id_names(self.cleaned_data["behaviours"], "behaviour")

    def clean_excluded_interests(self):
        return _parse_id_names(self.cleaned_data["excluded_interests"], "interest")

    def clean_languages(self):
        text = self.cleaned_data["languages"]
        return [code.strip() for code in re.split(r"[,\s]+", text) if code.strip()]

    def ad_set_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            k: data[k]
            for k in ("name", "status", "budget_kind", "budget_amount", "start_date", "end_date")
        }


def targeting_document(form: AdSetForm, formset) -> tuple[dict[str, Any], list[int]]:
    """The document from both forms' cleaned data, and for each of its locations the index of
    the formset row it came from (so errors find their row)."""
    data = form.cleaned_data
    locations, rows = [], []
    for index, row in enumerate(formset.forms):
        cleaned = getattr(row, "cleaned_data", None)
        if not cleaned or not cleaned.get("country") or cleaned.get("DELETE"):
            continue
        location: dict[str, Any] = {"type": cleaned["type"], "country": cleaned["country"]}
        for key in ("name", "key"):
            if cleaned.get(key):
                location[key] = cleaned[key]
        if cleaned.get("radius_km") is not None:
            location["radius_km"] = cleaned["radius_km"]
        locations.append(location)
        rows.append(index)
    doc: dict[str, Any] = {
        "age_min": data["age_min"],
        "age_max": data["age_max"],
        "genders": [data["genders"] or "all"],
        "locations": locations,
        "languages": data["languages"],
        "interests": data["interests"],
        "behaviours": data["behaviours"],
        "custom_audiences": list(data["audiences"]),
        "lookalike_audiences": [],
        "retargeting": None,
        "exclusions": {
            "audiences": list(data["excluded_audiences"]),
            "interests": data["excluded_interests"],
        },
        "placements": {},
        "devices": list(data["devices"]),
    }
    if data["lookalike_source"] or data["lookalike_country"] or data["lookalike_percent"]:
        lookalike: dict[str, Any] = {"source_audience": data["lookalike_source"]}
        lookalike["country"] = data["lookalike_country"]
        lookalike["percent"] = data["lookalike_percent"]
        doc["lookalike_audiences"] = [lookalike]
    if data["retargeting_kind"]:
        doc["retargeting"] = {
            "kind": data["retargeting_kind"],
            "days": data["retargeting_days"],
            "accounts": list(data["retargeting_accounts"]),
        }
    for choice in data["placements"]:
        platform, position = choice.split(":", 1)
        doc["placements"].setdefault(platform, []).append(position)
    return doc, rows


def targeting_initial(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Initial values of the form and of the location rows, from a stored document."""
    if not doc:
        return {}, []
    lookalike = (doc.get("lookalike_audiences") or [{}])[0]
    retargeting = doc.get("retargeting") or {}
    genders = doc.get("genders") or ["all"]
    initial = {
        "age_min": doc.get("age_min"),
        "age_max": doc.get("age_max"),
        "genders": genders[0] if len(genders) == 1 else "all",
        "languages": ", ".join(doc.get("languages") or []),
        "interests": _id_names_text(doc.get("interests") or []),
        "behaviours": _id_names_text(doc.get("behaviours") or []),
        "audiences": doc.get("custom_audiences") or [],
        "lookalike_source": lookalike.get("source_audience", ""),
        "lookalike_country": lookalike.get("country", ""),
        "lookalike_percent": lookalike.get("percent"),
        "retargeting_kind": retargeting.get("kind", ""),
        "retargeting_days": retargeting.get("days"),
        "retargeting_accounts": retargeting.get("accounts") or [],
        "excluded_audiences": (doc.get("exclusions") or {}).get("audiences") or [],
        "excluded_interests": _id_names_text((doc.get("exclusions") or {}).get("interests") or []),
        "placements": [
            f"{platform}:{position}"
            for platform, positions in (doc.get("placements") or {}).items()
            for position in positions
        ],
        "devices": doc.get("devices") or [],
    }
    return initial, [dict(location) for location in doc.get("locations") or []]


_FIELD_OF = {
    "custom_audiences": "audiences",
    "lookalike_audiences": "lookalike_source",
    "retargeting": "retargeting_kind",
    "placements": "placements",
    "languages": "languages",
    "interests": "interests",
    "behaviours": "behaviours",
}
_LOOKALIKE = {
    "source_audience": "lookalike_source",
    "country": "lookalike_country",
    "percent": "lookalike_percent",
}
_RETARGETING = {
    "kind": "retargeting_kind",
    "days": "retargeting_days",
    "accounts": "retargeting_accounts",
}


def _form_field(parts: list[str]) -> str | None:
    head = parts[0]
    if head in ("age_min", "age_max", "genders", "devices"):
        return head
    if head == "lookalike_audiences" and len(parts) >= 3:
        return _LOOKALIKE.get(parts[2], "lookalike_source")
    if head == "retargeting" and len(parts) >= 2:
        return _RETARGETING.get(parts[1], "retargeting_kind")
    if head == "exclusions" and len(parts) >= 2:
        return "excluded_audiences" if parts[1] == "audiences" else "excluded_interests"
    return _FIELD_OF.get(head)


def attach_targeting_errors(
    form: AdSetForm, formset, rows: list[int], exc: ValidationError
) -> list[str]:
    """Put a service's refusal next to its inputs; returns what belongs to the locations as a
    whole (shown above their rows)."""
    location_errors: list[str] = []
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return location_errors
    for key, errors in exc.error_dict.items():
        messages = [m for error in errors for m in error.messages]
        parts = key.split(".")
        if parts[0] == "targeting":
            parts = parts[1:]
        if not parts:
            form.add_error(None, messages)
        elif parts[0] == "locations":
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(rows):
                row = formset.forms[rows[int(parts[1])]]
                field = parts[2] if len(parts) >= 3 and parts[2] in row.fields else None
                row.add_error(field, messages)
            else:
                location_errors.extend(messages)
        elif parts[0] in form.fields and len(parts) == 1:
            form.add_error(parts[0], messages)
        else:
            form.add_error(_form_field(parts), messages)
    return location_errors


class AdForm(forms.Form):
    name = forms.CharField(max_length=200)
    creative_text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Text"
    )
    link = forms.URLField(max_length=2000, required=False, assume_scheme="https")
    call_to_action = forms.ChoiceField(choices=Ad.CallToAction.choices)
    status = forms.ChoiceField(choices=Campaign.Status.choices, initial=Campaign.Status.DRAFT)
    media = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=CHECKBOXES)

    def __init__(self, *args, media_queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["media"].queryset = media_queryset


class AudienceForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Audience.Kind.choices)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For a persona: who they are, what they want, where they spend time.",
    )
    spec = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 6, "class": "code"}),
        label="Targeting or source (JSON)",
        help_text='Saved targeting: a targeting document, e.g. {"locations": [{"type": '
        '"country", "country": "DE"}], "age_min": 25}. Custom audiences: their source.',
    )
    external_id = forms.CharField(
        max_length=100, required=False, help_text="The platform's id of this audience, if any."
    )

    def clean_spec(self):
        return self.cleaned_data["spec"] or {}


class BoostForm(forms.Form):
    budget_amount = forms.DecimalField(**MONEY, label="Total budget")
    currency = forms.CharField(max_length=3, initial="EUR")
    days = forms.IntegerField(initial=7, help_text="1 to 90 days, from today.")
    countries = forms.CharField(
        required=False,
        help_text="Two-letter codes, separated by commas. Empty: the brand's own country.",
    )
    age_min = forms.IntegerField(required=False, label="Age from")
    age_max = forms.IntegerField(required=False, label="Age to")

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def targeting(self, *, default_country: str | None) -> dict[str, Any] | None:
        """The boost's targeting, or None for the service's default (the brand's country)."""
        data = self.cleaned_data
        codes = [c.strip() for c in re.split(r"[,\s]+", data["countries"] or "") if c.strip()]
        if not codes and data["age_min"] is None and data["age_max"] is None:
            return None
        if not codes and default_country:
            codes = [default_country]
        doc: dict[str, Any] = {
            "locations": [{"type": "country", "country": code} for code in codes]
        }
        for key in ("age_min", "age_max"):
            if data[key] is not None:
                doc[key] = data[key]
        return doc


__all__ = [
    "AdForm",
    "AdSetForm",
    "AudienceForm",
    "BoostForm",
    "CampaignForm",
    "LocationFormSet",
    "attach_targeting_errors",
    "targeting_document",
    "targeting_initial",
]
