"""Dashboard forms of the shared kernel.

Plain forms, not ModelForms: a ModelForm writes the submitted values onto the instance while
validating, and the services (the only writers) need the untouched instance to see what changed.
Model validation happens once, in the service's full_clean; `attach_service_errors` shows its
messages next to the fields.
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.text import slugify

from agency.models import ApiToken, Brand, Platform, SocialAccount, hex_color, time_zone_names
from agency.permissions import Area, scope


def attach_service_errors(
    form: forms.Form, error: ValidationError, *, unique_field: str | None = None
) -> None:
    """Put a service's ValidationError on the form: per field where it has one, else on top.

    A uniqueness error over several columns has no field of its own; `unique_field` names the
    one the user can change to fix it, so the message shows next to that input.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        if field != NON_FIELD_ERRORS and field in form.fields:
            form.add_error(field, errors)
            continue
        for item in errors:
            is_unique = getattr(item, "code", None) in {"unique", "unique_together"}
            target = unique_field if is_unique and unique_field in form.fields else None
            form.add_error(target, item)


class DashboardForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ColorInput(forms.TextInput):
    input_type = "color"


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


class BrandForm(DashboardForm):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Short name used in links. Left blank, it is made from the name.",
    )
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices,
        initial="UTC",
        help_text="Posts are planned and shown in this time zone.",
    )
    website = forms.URLField(required=False, assume_scheme="https")
    contact_email = forms.EmailField(required=False)
    logo = forms.ImageField(required=False)
    primary_color = forms.CharField(
        max_length=7, initial="#1d4ed8", validators=[hex_color], widget=ColorInput
    )
    secondary_color = forms.CharField(
        max_length=7, initial="#f59e0b", validators=[hex_color], widget=ColorInput
    )
    approval_workflow = forms.ChoiceField(
        choices=Brand.ApprovalWorkflow.choices,
        required=False,
        initial=Brand.ApprovalWorkflow.NONE,
        help_text="Who must approve a post before it can be published.",
    )
    utm_template = forms.CharField(
        max_length=500,
        required=False,
        label="UTM template",
        help_text="Added to links in posts, e.g. utm_source={platform}&utm_medium=social"
        "&utm_campaign={campaign}. Placeholders: {platform}, {account}, {campaign}, {post}.",
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("slug") and cleaned.get("name"):
            cleaned["slug"] = slugify(cleaned["name"])[:80]
        return cleaned

    def service_data(self) -> dict:
        """The cleaned values for brand_create/brand_update; an empty upload keeps the logo."""
        data = dict(self.cleaned_data)
        data.pop("agency", None)
        if not data.get("approval_workflow"):
            # Left out of the form (older clients, tests): keep what the brand has.
            data.pop("approval_workflow", None)
        logo = data.pop("logo", None)
        if logo is False:  # the "clear" box of the file input
            data["logo"] = ""
        elif logo:
            data["logo"] = logo
        return data


class BrandCreateForm(BrandForm):
    agency = forms.ModelChoiceField(queryset=None, empty_label=None)

    field_order = ["agency"]

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies
        self._only_agency = agencies.first() if agencies.count() == 1 else None
        if self._only_agency is not None:
            # Nothing to choose: the brand goes to the one agency the user administers.
            del self.fields["agency"]

    @property
    def chosen_agency(self):
        return self._only_agency or self.cleaned_data["agency"]


class SocialAccountForm(DashboardForm):
    platform = forms.ChoiceField(choices=Platform.choices)
    handle = forms.CharField(max_length=200, help_text="The @name or page name on the platform.")
    display_name = forms.CharField(max_length=200, required=False)
    external_id = forms.CharField(
        max_length=200, required=False, help_text="The platform's own id of the account."
    )
    instance_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Server of the account, for Mastodon and self-hosted Bluesky.",
    )
    bio = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    link = forms.URLField(required=False, assume_scheme="https")
    avatar_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    # Credentials are write-only: never rendered back, and blank on an edit keeps the stored one.
    access_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    refresh_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    SECRET_FIELDS = ("access_token", "refresh_token")

    def __init__(self, *args, account: SocialAccount | None = None, **kwargs):
        if account is not None:
            kwargs.setdefault(
                "initial",
                {
                    name: getattr(account, name)
                    for name in self.base_fields
                    if name not in self.SECRET_FIELDS
                },
            )
        super().__init__(*args, **kwargs)
        if account is not None:
            stored = "A token is stored." if account.has_credentials else "No token is stored."
            for name in self.SECRET_FIELDS:
                self.fields[name].help_text = f"{stored} Leave blank to keep it."


class ApiTokenForm(DashboardForm):
    """Name, kind, one access level per area, and optionally the brands the token is limited to.

    A form posted without any access field (a script, an old page) leaves the scopes to the
    service's default: everything the user can do.
    """

    NO_ACCESS, READ, WRITE = "none", "read", "write"

    name = forms.CharField(
        max_length=100, help_text="What the token is for, for example 'Zapier' or 'reporting'."
    )
    kind = forms.ChoiceField(
        choices=ApiToken.Kind.choices,
        initial=ApiToken.Kind.PERSONAL,
        required=False,
        widget=forms.RadioSelect,
        help_text="Personal: your own scripts. Integration: another system acting for you.",
    )
    brands = forms.ModelMultipleChoiceField(
        queryset=Brand.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick none for every brand you can see, now and later.",
    )

    def __init__(self, *args, brands, read_only: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brands"].queryset = brands
        choices = [(self.NO_ACCESS, "No access"), (self.READ, "Read")]
        if not read_only:
            choices.append((self.WRITE, "Read and write"))
        self.area_fields = {}
        for area in Area:
            name = f"access_{area.value}"
            self.fields[name] = forms.ChoiceField(
                label=area.label, choices=choices, initial=self.READ, required=False
            )
            self.area_fields[name] = area
        if read_only:
            self.fields["kind"].help_text += " As a client, your tokens can only read."
        self.order_fields(["name", "kind", *self.area_fields, "brands"])

    def scopes(self) -> list[str] | None:
        if self.is_bound and not any(name in self.data for name in self.area_fields):
            return None
        chosen = []
        for name, area in self.area_fields.items():
            access = self.cleaned_data.get(name) or self.NO_ACCESS
            if access != self.NO_ACCESS:
                chosen.append(scope(area, write=access == self.WRITE))
        return chosen
