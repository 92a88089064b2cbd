"""Forms of the composer, the media library, hashtag sets and snippets.

The composer has one fixed part (text, link, media, accounts, time) and, per account of the
brand, a variant (text, media, first comment) whose fields are named `v_<account id>_<what>`, so
the page can show each next to its account and the server can tell them apart.
"""

from __future__ import annotations

import zoneinfo

from django import forms

from agency.models import SocialAccount
from agency.platforms import get_adapter
from calendar_app.models import HashtagSet, Media, Post, Snippet


class MediaChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Media) -> str:
        return obj.name


class ComposerForm(forms.Form):
    ACTIONS = {
        "draft": "Save draft",
        "schedule": "Schedule",
        "queue": "Add to queue",
        "submit": "Submit for approval",
    }

    text = forms.CharField(
        label="Text",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Used on every account without its own text.",
    )
    link = forms.URLField(
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="Tagged with the brand's UTM parameters per account when published.",
    )
    title = forms.CharField(max_length=200, required=False, help_text="Internal, never published.")
    tags = forms.CharField(
        max_length=500, required=False, help_text="Internal labels, separated by commas."
    )
    media = MediaChoiceField(
        queryset=Media.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    accounts = forms.ModelMultipleChoiceField(
        queryset=SocialAccount.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    scheduled_at = forms.DateTimeField(
        label="Time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, brand, post: Post | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.brand = brand
        self.post = post
        media = brand.media.order_by("-created_at")
        self.fields["media"].queryset = media
        self.fields["accounts"].queryset = brand.social_accounts.exclude(
            status=SocialAccount.Status.DISCONNECTED
        )
        self.fields["scheduled_at"].help_text = f"In {brand.time_zone}. Needed for Schedule only."
        # Evaluated once: the variant fields and the template both walk the accounts.
        self.account_list = list(self.fields["accounts"].queryset)
        self.media_list = list(media)
        for account in self.account_list:
            prefix = f"v_{account.pk}"
            self.fields[f"{prefix}_text"] = forms.CharField(
                label=f"Text for {account}",
                required=False,
                widget=forms.Textarea(attrs={"rows": 4}),
                help_text="Leave empty to use the text above.",
            )
            self.fields[f"{prefix}_media"] = MediaChoiceField(
                label=f"Media for {account}",
                queryset=media,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text="Leave all unticked to use the media above.",
            )
            if get_adapter(account.platform).rules.supports_first_comment:
                self.fields[f"{prefix}_first_comment"] = forms.CharField(
                    label=f"First comment on {account}",
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
        if post is not None and not self.is_bound:
            self.initial.update(_initial_from_post(post))

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [tag.strip() for tag in raw.split(",") if tag.strip()]

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # The browser sends wall-clock time; it means the brand's zone, not the server's.
        return value.replace(tzinfo=zoneinfo.ZoneInfo(self.brand.time_zone))

    def clean(self):
        cleaned = super().clean()
        action = self.data.get("action", "draft")
        if action not in self.ACTIONS:
            raise forms.ValidationError("Choose one of the buttons at the end of the form.")
        self.action = action
        if (
            action == "schedule"
            and not cleaned.get("scheduled_at")
            and "scheduled_at" not in (self.errors)
        ):
            self.add_error("scheduled_at", f"Give the time to publish at ({self.brand.time_zone}).")
        return cleaned

    def variants(self) -> dict[str, dict]:
        """Per chosen account: {"text", "first_comment", "media"} as the service takes them."""
        result = {}
        for account in self.cleaned_data.get("accounts") or []:
            prefix = f"v_{account.pk}"
            result[str(account.pk)] = {
                "text": self.cleaned_data.get(f"{prefix}_text", ""),
                "first_comment": self.cleaned_data.get(f"{prefix}_first_comment", ""),
                "media": list(self.cleaned_data.get(f"{prefix}_media") or []),
            }
        return result

    def media_choices(self, name: str = "media") -> list[dict]:
        """The brand's media with whether each is ticked in field `name`, for thumbnails."""
        bound = self[name]
        ticked = {str(v) for v in (bound.value() or [])}
        return [
            {
                "media": media,
                "checked": str(media.pk) in ticked,
                "id": f"{bound.auto_id}_{index}",
                "name": bound.html_name,
            }
            for index, media in enumerate(self.media_list)
        ]

    def account_choices(self) -> list[dict]:
        bound = self["accounts"]
        ticked = {str(v) for v in (bound.value() or [])}
        return [
            {
                "account": account,
                "checked": str(account.pk) in ticked,
                "id": f"{bound.auto_id}_{index}",
                "platform": get_adapter(account.platform).display_name,
            }
            for index, account in enumerate(self.account_list)
        ]

    def variant_blocks(self) -> list[dict]:
        """Each account with its variant's bound fields, in the order of the accounts."""
        ticked = {str(v) for v in (self["accounts"].value() or [])}
        blocks = []
        for account in self.account_list:
            prefix = f"v_{account.pk}"
            blocks.append(
                {
                    "account": account,
                    "chosen": str(account.pk) in ticked,
                    "text": self[f"{prefix}_text"],
                    "media": self[f"{prefix}_media"],
                    "media_choices": self.media_choices(f"{prefix}_media"),
                    "first_comment": self[f"{prefix}_first_comment"]
                    if f"{prefix}_first_comment" in self.fields
                    else None,
                }
            )
        return blocks


def _initial_from_post(post: Post) -> dict:
    initial = {
        "text": post.text,
        "link": post.link,
        "title": post.title,
        "tags": ", ".join(post.tags or []),
        "media": [m.pk for m in post.media.all()],
        "accounts": [t.account_id for t in post.targets.all()],
    }
    if post.scheduled_at:
        initial["scheduled_at"] = post.scheduled_at.astimezone(post.brand.zone).replace(tzinfo=None)
    for target in post.targets.all():
        prefix = f"v_{target.account_id}"
        initial[f"{prefix}_text"] = target.text_override
        initial[f"{prefix}_first_comment"] = target.first_comment
        initial[f"{prefix}_media"] = [m.pk for m in target.media_override.all()]
    return initial


class MediaUploadForm(forms.Form):
    upload = forms.FileField(
        label="Image or video",
        help_text="JPEG, PNG, GIF or WebP images; MP4 or MOV videos.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,video/mp4,video/quicktime"}),
    )
    alt_text = forms.CharField(
        label="Alt text",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the image shows, for people using screen readers.",
    )


class AltTextForm(forms.Form):
    alt_text = forms.CharField(
        label="Alt text", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class HashtagSetForm(forms.ModelForm):
    class Meta:
        model = HashtagSet
        fields = ["name", "hashtags"]
        widgets = {"hashtags": forms.Textarea(attrs={"rows": 3})}


class SnippetForm(forms.ModelForm):
    class Meta:
        model = Snippet
        fields = ["name", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}
