"""API plumbing shared by every app: the tenant-scoped viewset base, pagination, errors."""

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import UniqueConstraint
from django.http import Http404
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from agency import services
from agency.exceptions import ApplicationError
from agency.filters import BrandFilter, SocialAccountFilter
from agency.models import SocialAccount
from agency.permissions import (
    Area,
    admin_agencies,
    brand_for_user,
    brands_for_user,
    writable_areas,
)
from agency.selectors import client_brands_for_user, memberships_for_user
from agency.serializers import (
    BrandCreateSerializer,
    BrandField,
    BrandSerializer,
    MeSerializer,
    SocialAccountSerializer,
    SocialAccountUpdateSerializer,
)

# BrandField lives with the serializers; it is imported from here by every app's serializers.
__all__ = [
    "AutoSchema",
    "BrandField",
    "BrandScopedViewSet",
    "BrandViewSet",
    "ErrorSerializer",
    "MeView",
    "SocialAccountViewSet",
    "exception_handler",
]

INVALID_DATA = "The data is not valid."


def _field_of_unique_error(error: DjangoValidationError) -> str:
    # Django reports a multi-field unique constraint as a non-field error. Its last field is the
    # one the user picked (handle, slug); the others only scope it (brand, platform, agency), so
    # a client can show the message next to the right input.
    if error.code == "unique_together" and error.params and error.params.get("unique_check"):
        return error.params["unique_check"][-1]
    return "non_field_errors"


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(exc, "error_dict"):
        return {"non_field_errors": list(exc.messages)}
    fields: dict[str, list[str]] = {}
    for name, errors in exc.error_dict.items():
        for error in errors:
            key = _field_of_unique_error(error) if name == NON_FIELD_ERRORS else name
            fields.setdefault(key, []).extend(error.messages)
    return fields


def _unique_violation_fields(exc: IntegrityError) -> dict[str, list[str]] | None:
    """Field errors for a unique violation the database caught, or None for any other error.

    full_clean() in the services catches duplicates first; this is for two requests racing past
    it. Other integrity errors (a missing foreign key, a NULL) are bugs and stay 500s.
    """
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    if getattr(cause, "pgcode", None) != "23505" and not str(exc).startswith("UNIQUE constraint"):
        return None
    message = "A record with these values already exists."
    for model in apps.get_models():
        for candidate in model._meta.constraints:
            if isinstance(candidate, UniqueConstraint) and candidate.name == constraint:
                field = candidate.fields[-1] if candidate.fields else "non_field_errors"
                return {field: [message]}
    return {"non_field_errors": [message]}


def _error(type_: str, detail: str, fields: dict, status_code: int) -> Response:
    # The view's transaction (ATOMIC_REQUESTS) must not commit the half that did get written.
    set_rollback()
    return Response({"type": type_, "detail": detail, "fields": fields}, status=status_code)


def exception_handler(exc, context):
    """Every error is JSON: {"type", "detail", "fields"}."""
    if isinstance(exc, DjangoValidationError):
        # A refusal about the whole object ("only approved posts can be scheduled") is the
        # detail itself, so a client can show it as it is.
        detail = INVALID_DATA if hasattr(exc, "error_dict") else " ".join(exc.messages)
        return _error("validation_error", detail, _django_validation_fields(exc), 400)
    if isinstance(exc, ApplicationError):
        return _error("application_error", exc.message, exc.fields, 400)
    if isinstance(exc, IntegrityError):
        fields = _unique_violation_fields(exc)
        return None if fields is None else _error("validation_error", INVALID_DATA, fields, 400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"type": "validation_error", "detail": INVALID_DATA, "fields": data}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = {
            "type": getattr(exc, "default_code", "error"),
            "detail": str(detail),
            "fields": {},
        }
    return response


class ErrorSerializer(serializers.Serializer):
    """The shape of every error response, for the schema."""

    type = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error responses every endpoint can give.

    The exception handler gives every error one shape, so it is declared once here rather than on
    each action. 400 on writes and filtered lists, 404 where the path names an object.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = {
            "401": "Not authenticated: no, a wrong, or a revoked token.",
            "403": "Authenticated, but the role may not do this.",
        }
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes["400"] = "The data or the filters are not valid; `fields` says which."
        if "{" in self.path:
            codes["404"] = "No such object among those the user may see."
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**response, "description": description}
        return dict(sorted(responses.items()))


class BrandScopedViewSet(viewsets.ModelViewSet):
    """The base of every tenant-owned API resource.

    Subclasses set `queryset`, `serializer_class`, `write_area` and, when the model does not have
    a `brand` foreign key itself, `brand_lookup` (the ORM path to the brand). The filtering by the
    user's brands happens here and cannot be skipped: override `scope_queryset` to add
    select_related and such, never `get_queryset`.

    Writes: create reads the brand from the validated data; update and delete from the object
    (and, if an update moves it, from the data too). Each is checked with
    `brand_for_user(write=True, area=write_area)`: a brand the user cannot see is 404, a role
    that cannot write the area is 403. The checks sit in `create` and `update`, so subclasses
    override `perform_create`/`perform_update` to call their service (setting
    `serializer.instance` to what it returns) without being able to skip them.
    """

    write_area: str
    brand_lookup: str = "brand"
    schema = AutoSchema()

    def scope_queryset(self, queryset):
        return queryset

    def get_queryset(self):
        queryset = super().get_queryset()
        visible = brands_for_user(user=self.request.user).values("pk")
        return self.scope_queryset(queryset.filter(**{f"{self.brand_lookup}__in": visible}))

    def brand_of(self, obj):
        for part in self.brand_lookup.split("__"):
            obj = getattr(obj, part)
        return obj

    def brand_from_data(self, validated_data):
        """The brand named by validated input, or None when the input does not name one."""
        first, *rest = self.brand_lookup.split("__")
        obj = validated_data.get(first)
        for part in rest:
            if obj is None:
                break
            obj = getattr(obj, part)
        return obj

    def check_brand_write(self, brand):
        return brand_for_user(
            user=self.request.user, brand_id=brand.pk, write=True, area=self.write_area
        )

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_brand_write(self.brand_of(obj))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        brand = self.brand_from_data(serializer.validated_data)
        if brand is None:
            raise exceptions.ValidationError({self.brand_lookup.split("__")[0]: ["Required."]})
        self.check_brand_write(brand)
        self.perform_create(serializer)
        headers = self.get_success_headers(serializer.data)
        return Response(serializer.data, status=status.HTTP_201_CREATED, headers=headers)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        moved_to = self.brand_from_data(serializer.validated_data)
        if moved_to is not None and moved_to.pk != self.brand_of(instance).pk:
            self.check_brand_write(moved_to)
        self.perform_update(serializer)
        if getattr(instance, "_prefetched_objects_cache", None):
            instance._prefetched_objects_cache = {}
        return Response(serializer.data)


# The shared kernel's own resources: brands, their social accounts, and who the caller is.


# The model is the brand itself, so this cannot be a BrandScopedViewSet: its queryset is
# brands_for_user, which also annotates the caller's role. Brands are never deleted over the API.
class BrandViewSet(viewsets.ModelViewSet):
    """Brands (the agency's clients) the caller can see. Agency admins add and change them."""

    serializer_class = BrandSerializer
    filterset_class = BrandFilter
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    schema = AutoSchema()

    def get_queryset(self):
        return brands_for_user(user=self.request.user)

    def get_serializer_class(self):
        return BrandCreateSerializer if self.action == "create" else BrandSerializer

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            brand_for_user(user=request.user, brand_id=obj.pk, write=True, area=Area.AGENCY)

    @extend_schema(responses={201: BrandSerializer})
    def create(self, request, *args, **kwargs):
        # Someone who may create brands nowhere hears "forbidden", not what is wrong with the data.
        if not admin_agencies(request.user).exists():
            raise exceptions.PermissionDenied("Only an agency admin can add brands.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        agency = data.pop("agency")
        if not admin_agencies(self.request.user).filter(pk=agency.pk).exists():
            raise exceptions.PermissionDenied(f"Only an admin of {agency} can add brands to it.")
        brand = services.brand_create(agency=agency, by=self.request.user, **data)
        # Read back through the tenancy query so the response carries the caller's role.
        serializer.instance = self.get_queryset().get(pk=brand.pk)

    def perform_update(self, serializer):
        serializer.instance = services.brand_update(
            brand=serializer.instance, by=self.request.user, data=serializer.validated_data
        )


@extend_schema_view(
    update=extend_schema(request=SocialAccountUpdateSerializer, responses=SocialAccountSerializer),
    partial_update=extend_schema(
        request=SocialAccountUpdateSerializer, responses=SocialAccountSerializer
    ),
)
class SocialAccountViewSet(BrandScopedViewSet):
    """Social accounts: one profile of a brand on one platform. Tokens are write-only."""

    queryset = SocialAccount.objects.all()
    serializer_class = SocialAccountSerializer
    write_area = Area.ACCOUNTS
    filterset_class = SocialAccountFilter
    ordering_fields = ["handle", "created_at"]
    # An account with history is disconnected, not deleted.
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return SocialAccountUpdateSerializer
        return SocialAccountSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        brand = data.pop("brand")
        serializer.instance = services.social_account_create(
            brand=brand, by=self.request.user, **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.social_account_update(
            account=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    @extend_schema(request=None, responses=SocialAccountSerializer)
    @action(detail=True, methods=["post"])
    def disconnect(self, request, pk=None):
        """Stop using the account: its stored credentials are erased, its history kept."""
        account = services.social_account_disconnect(account=self.get_object(), by=request.user)
        return Response(self.get_serializer(account).data)


class MeView(APIView):
    """Who the caller is, where they are staff or client, and what they may change per brand."""

    schema = AutoSchema()

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        brands = [
            {
                "id": brand.pk,
                "name": brand.name,
                "role": brand.user_role,
                "writable_areas": writable_areas(brand.user_role),
            }
            for brand in brands_for_user(user=user)
        ]
        me = {
            **{f: getattr(user, f) for f in ("id", "username", "email", "first_name", "last_name")},
            "memberships": memberships_for_user(user=user),
            "client_brands": client_brands_for_user(user=user),
            "brands": brands,
        }
        return Response(MeSerializer(me).data)
