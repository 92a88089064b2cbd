"""Dashboard forms of outgoing webhooks (plain forms: the services validate and write)."""

from django import forms

from agency.forms import DashboardForm
from integrations.models import SUBSCRIBABLE_EVENTS, Delivery, EventType


class EndpointForm(DashboardForm):
    agency = forms.ModelChoiceField(queryset=None, empty_label=None)
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        help_text="Where the events are POSTed as JSON, e.g. https://example.com/agency-hook.",
    )
    brand = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every brand of the agency",
        help_text="Only this brand's events, e.g. for a client's own system.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=SUBSCRIBABLE_EVENTS,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(
        max_length=300, required=False, help_text="What listens there, for the team."
    )

    def __init__(self, *args, agencies, brands, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies
        self.fields["brand"].queryset = brands
        if len(agencies) == 1:
            # One agency: nothing to choose.
            self.fields["agency"].initial = agencies[0].pk
            self.fields["agency"].widget = forms.HiddenInput()


class EndpointEditForm(EndpointForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An endpoint stays with its agency.
        del self.fields["agency"]


class DeliveryFilterForm(DashboardForm):
    state = forms.ChoiceField(choices=[("", "Any state"), *Delivery.State.choices], required=False)
    event_type = forms.ChoiceField(
        label="Event", choices=[("", "Any event"), *EventType.choices], required=False
    )
