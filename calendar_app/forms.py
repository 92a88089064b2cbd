import zoneinfo

from django import forms

from agency.models import SocialAccount


class PostForm(forms.Form):
    """The simple composer: one text for every chosen account, draft or scheduled."""

    title = forms.CharField(max_length=200, required=False, help_text="Internal, never published.")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    link = forms.URLField(required=False, max_length=2000, assume_scheme="https")
    accounts = forms.ModelMultipleChoiceField(
        queryset=SocialAccount.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    first_comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Posted as the first comment where the platform allows it.",
    )
    scheduled_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text="In the brand's time zone. Leave empty to save a draft.",
    )

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.brand = brand
        self.fields["accounts"].queryset = brand.social_accounts.exclude(
            status=SocialAccount.Status.DISCONNECTED
        )
        self.fields[
            "scheduled_at"
        ].help_text = f"In {brand.time_zone}. Leave empty to save a draft."

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # The browser sends wall-clock time; it means the brand's zone, not the server's.
        naive = value.replace(tzinfo=None)
        return naive.replace(tzinfo=zoneinfo.ZoneInfo(self.brand.time_zone))
