"""API plumbing shared by every app: the tenant-scoped viewset base, pagination, errors."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from agency.exceptions import ApplicationError
from agency.permissions import brand_for_user, brands_for_user


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if k == "__all__" else k): [str(m) for e in v for m in e.messages]
            for k, v in exc.error_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def exception_handler(exc, context):
    """Every error is JSON: {"type", "detail", "fields"}."""
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        return Response(
            {"type": "validation_error", "detail": "The data is not valid.", "fields": fields},
            status=400,
        )
    if isinstance(exc, ApplicationError):
        return Response(
            {"type": "application_error", "detail": exc.message, "fields": exc.fields},
            status=400,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "type": "validation_error",
            "detail": "The data is not valid.",
            "fields": data,
        }
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


class BrandField(serializers.PrimaryKeyRelatedField):
    """A brand the requesting user can see; any other id is 'does not exist'."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            from agency.models import Brand

            return Brand.objects.none()
        return brands_for_user(user=request.user)


class BrandScopedViewSet(viewsets.ModelViewSet):
    """The base of every tenant-owned API resource.

    Subclasses set `queryset`, `serializer_class`, `write_area` and, when the model does not have
    a `brand` foreign key itself, `brand_lookup` (the ORM path to the brand). The filtering by the
    user's brands happens here and cannot be skipped: override `scope_queryset` to add
    select_related and such, never `get_queryset`.

    Writes: create reads the brand from the validated data; update and delete from the object.
    Each is checked with `brand_for_user(write=True, area=write_area)`: a brand the user cannot
    see is 404, a role that cannot write the area is 403.
    """

    write_area: str
    brand_lookup: str = "brand"

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

    def check_brand_write(self, brand):
        return brand_for_user(
            user=self.request.user, brand_id=brand.pk, write=True, area=self.write_area
        )

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_brand_write(self.brand_of(obj))
