"""API shapes of the shared kernel. They describe and validate fields; services do the writing."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agency.models import Agency, Brand, Membership, Role, SocialAccount
from agency.permissions import Area, brands_for_user


def named_choice_field(component_name: str, choices) -> type[serializers.ChoiceField]:
    """A ChoiceField class whose choices are their own named enum in the schema.

    drf-spectacular names enums after the field ("kind", "state", "status"), and the same name
    on different choice sets across apps warns and fails the schema build; a named component
    keeps each set apart without a project-wide ENUM_NAME_OVERRIDES entry per field.
    """
    values = [value for value, _ in choices]
    kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    lines = "\n".join(f"* `{value}` - {label}" for value, label in choices)

    @extend_schema_field({"type": kind, "enum": values, "description": lines}, component_name)
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    NamedChoiceField.__name__ = component_name.removesuffix("Enum") + "Field"
    return NamedChoiceField


# The type is declared because these fields are also used in serializers without a model,
# where drf-spectacular cannot derive it.
@extend_schema_field(OpenApiTypes.UUID)
class BrandField(serializers.PrimaryKeyRelatedField):
    """A brand the requesting user can see; any other id is 'does not exist'."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return Brand.objects.none()
        return brands_for_user(user=request.user)


@extend_schema_field(OpenApiTypes.UUID)
class MemberAgencyField(serializers.PrimaryKeyRelatedField):
    """An agency the requesting user is staff of; any other id is 'does not exist'."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return Agency.objects.none()
        return Agency.objects.filter(memberships__user=request.user)


class BrandSerializer(serializers.ModelSerializer):
    your_role = serializers.ChoiceField(
        source="user_role",
        choices=Role.choices,
        read_only=True,
        help_text="The requesting user's role on this brand.",
    )

    class Meta:
        model = Brand
        fields = [
            "id",
            "agency",
            "name",
            "slug",
            "time_zone",
            "website",
            "contact_email",
            "primary_color",
            "secondary_color",
            "approval_workflow",
            "utm_template",
            "logo",
            "your_role",
            "created_at",
        ]
        # A brand stays in the agency it was created in. The logo is sent as a multipart file;
        # the service judges it like the dashboard's upload (size and type).
        read_only_fields = ["agency"]
        # Uniqueness is checked once, by the service's full_clean().
        validators = []


class BrandCreateSerializer(BrandSerializer):
    agency = MemberAgencyField(
        help_text="The agency the brand is a client of; you must be its admin."
    )

    class Meta(BrandSerializer.Meta):
        read_only_fields: list[str] = []


_SECRET = {
    "write_only": True,
    "required": False,
    "allow_blank": True,
    "trim_whitespace": False,
    "style": {"input_type": "password"},
}


class SocialAccountSerializer(serializers.ModelSerializer):
    brand = BrandField()
    has_credentials = serializers.BooleanField(
        read_only=True, help_text="Whether an access token is stored; the token itself never is."
    )
    access_token = serializers.CharField(
        **_SECRET, help_text="Write only. Leave out or blank on update to keep the stored one."
    )
    refresh_token = serializers.CharField(
        **_SECRET, help_text="Write only. Leave out or blank on update to keep the stored one."
    )

    class Meta:
        model = SocialAccount
        fields = [
            "id",
            "brand",
            "platform",
            "handle",
            "external_id",
            "display_name",
            "instance_url",
            "bio",
            "link",
            "avatar_url",
            "status",
            "status_reason",
            "token_expires_at",
            "has_credentials",
            "created_at",
            "access_token",
            "refresh_token",
        ]
        # Status changes through the disconnect action and reconnecting, never by editing.
        read_only_fields = ["status", "status_reason"]
        validators = []


class SocialAccountUpdateSerializer(SocialAccountSerializer):
    # An account belongs to its brand for good; a different brand means a new account.
    brand = serializers.PrimaryKeyRelatedField(read_only=True)


class AgencyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name"]


class MembershipSerializer(serializers.ModelSerializer):
    agency = AgencyRefSerializer()
    # Declared with every role, not the staff subset, so the schema has one Role enum.
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["agency", "role"]


class BrandRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "name", "agency"]


class BrandAccessSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    writable_areas = serializers.ListField(child=serializers.ChoiceField(choices=Area.choices))


class MeSerializer(serializers.ModelSerializer):
    memberships = MembershipSerializer(many=True, help_text="Agencies the user is staff of.")
    client_brands = BrandRefSerializer(many=True, help_text="Brands the user reads as a client.")
    brands = BrandAccessSerializer(
        many=True, help_text="Every brand the user can see, with what they may change on it."
    )

    class Meta:
        model = get_user_model()
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "memberships",
            "client_brands",
            "brands",
        ]
        read_only_fields = fields
