"""Forms of the community pages: they parse the request; the services validate the change."""

from django import forms

from agency.models import SocialAccount
from community.models import Conversation, Sentiment


def _any(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class InboxFilterForm(forms.Form):
    """The inbox's GET filters; every field is optional and an invalid one is simply not used."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    brand = forms.ModelChoiceField(queryset=None, required=False, empty_label="All brands")
    account = forms.ModelChoiceField(queryset=None, required=False, empty_label="All accounts")
    status = forms.ChoiceField(
        choices=_any("Any status", Conversation.Status.choices), required=False
    )
    assignee = forms.ChoiceField(label="Assigned to", required=False)
    kind = forms.ChoiceField(choices=_any("Any kind", Conversation.Kind.choices), required=False)
    sentiment = forms.ChoiceField(choices=_any("Any sentiment", Sentiment.choices), required=False)
    priority = forms.ChoiceField(
        choices=_any("Any priority", Conversation.Priority.choices), required=False
    )
    tag = forms.CharField(required=False, max_length=40)

    def __init__(self, *args, brands, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands
        self.fields["account"].queryset = SocialAccount.objects.filter(
            brand__in=brands.values("pk")
        ).select_related("brand")
        self.fields["account"].label_from_instance = lambda a: f"{a} ({a.brand.name})"
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Nobody"),
            *[(str(u.pk), u.get_full_name() or u.get_username()) for u in staff],
        ]

    def filters(self) -> dict:
        """The valid filters (an invalid field is left out, and shown as an error)."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Nobody",
        label="Assigned to",
        error_messages={"invalid_choice": "Choose someone on the agency's staff, or nobody."},
    )

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = options
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Conversation.Status.choices)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Conversation.Priority.choices)


class TagsForm(forms.Form):
    tags = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separated by commas, for example: refund, vip.",
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Internal note",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        help_text="Seen by the team only; never sent.",
    )


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Reply",
        widget=forms.Textarea(attrs={"rows": 4, "id": "reply-box"}),
        max_length=10000,
    )


class SavedReplyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the team sees on the button in the inbox, e.g. Shipping."
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=10000,
        help_text="Placeholders: {first_name}, {brand} and {handle}; they are filled in for "
        "each conversation.",
    )
