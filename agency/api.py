"""API plumbing shared by every app: the tenant-scoped viewset base, pagination, errors.

The conventions every viewset on the bases below follows (README, "The REST API"):

- Token scopes: TokenScopePermission (agency.permissions) needs `<read_area>:read` for a read and
  `<write_area>:write` for anything else; a brand-limited token sees only its brands (404), and
  is refused (403) by endpoints that answer for the whole agency unless they declare
  `honours_brand_limit = True`.
- Idempotency-Key on a POST: the first answer is stored with the request's fingerprint and
  replayed to repeats by the same token (or user); the same key with another request is a 422.
- ETag on a detail GET (and on the answers of create and update); If-Match on PUT, PATCH,
  DELETE and detail POST actions makes the write conditional: a stale tag is a 412. Without
  If-Match a write is unconditional, as before.
"""

import contextlib
import hashlib
import json

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import UniqueConstraint
from django.http import Http404
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from agency import crypto, services
from agency.exceptions import ApplicationError
from agency.filters import BrandFilter, SocialAccountFilter
from agency.models import ApiToken, Role, SocialAccount
from agency.permissions import (
    Area,
    TokenScopePermission,
    admin_agencies,
    brand_for_user,
    brands_for_user,
    token_of,
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
    "ApiConventionsMixin",
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


def _error_messages(errors, path: str = "") -> list[str]:
    """A field's errors as the declared list of strings, however deeply DRF nested them.

    A list item's or nested object's errors come keyed by index or sub-field
    ({"targets": [{"account": [...]}]}); each message keeps that path as a prefix
    ("0.account: ...") under the top-level field, so a client still finds it by field name.
    """
    if isinstance(errors, dict):
        items = errors.items()
    elif isinstance(errors, list) and any(isinstance(e, dict | list) for e in errors):
        items = enumerate(errors)
    elif isinstance(errors, list):
        return [f"{path}: {e}" if path else str(e) for e in errors]
    else:
        return [f"{path}: {errors}" if path else str(errors)]
    messages = []
    for key, nested in items:
        messages += _error_messages(nested, f"{path}.{key}" if path else str(key))
    return messages


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
        fields = {str(name): _error_messages(errors) for name, errors in data.items()}
        response.data = {"type": "validation_error", "detail": INVALID_DATA, "fields": fields}
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
    """drf-spectacular's schema plus the error responses and headers every endpoint can give.

    The exception handler gives every error one shape, so it is declared once here rather than on
    each action. 400 on writes and filtered lists, 404 where the path names an object, 429 with
    Retry-After everywhere; on viewsets with the API conventions also Idempotency-Key (POST),
    If-Match with its 412 (writes to an object) and ETag (detail reads and writes).
    """

    def _conventions(self) -> bool:
        return isinstance(self.view, ApiConventionsMixin)

    def _is_detail(self) -> bool:
        return "{" in self.path

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        parameters.append(
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[429],
                description="Seconds to wait before the next request is allowed.",
            )
        )
        if not self._conventions():
            return parameters
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Any unique string (a UUID) of up to 255 characters. A repeat "
                    "with the same key and the same request, within 24 hours, gets the first "
                    "answer again (with `Idempotent-Replayed: true`) and changes nothing; the "
                    "same key with a different request is a 422.",
                )
            )
        if self._is_detail() and self.method in ("PUT", "PATCH", "DELETE", "POST"):
            parameters.append(
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="The ETag of the object as you read it: the write happens only "
                    "if nobody changed the object since (else 412). Without it the write is "
                    "unconditional.",
                )
            )
        if self._is_detail() and self.method in ("GET", "PUT", "PATCH"):
            parameters.append(
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[200],
                    description="The object's version; send it back as If-Match to write.",
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = {
            "401": "Not authenticated: no, a wrong, or a revoked token.",
            "403": "Authenticated, but the role (or the token's scopes) may not do this.",
            "429": "Too many requests for this token (or user); see Retry-After.",
        }
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes["400"] = "The data or the filters are not valid; `fields` says which."
        if self._is_detail():
            codes["404"] = "No such object among those the user may see."
        elif self._is_list_view():
            codes["404"] = "No such page: `page` is past the last one."
        if self._conventions() and self.method == "POST":
            codes["422"] = "The Idempotency-Key was already used with a different request."
        if self._conventions() and self._is_detail() and self.method != "GET":
            codes["412"] = "If-Match does not match: the object changed since it was read."
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**response, "description": description}
        return dict(sorted(responses.items()))


# -- Idempotency-Key and If-Match -----------------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The object changed since you read it: If-Match does not match its ETag. "
        "Read it again and decide what to write."
    )
    default_code = "precondition_failed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for another request; use a new key."
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."
    default_code = "idempotency_key_in_progress"


class _Replay(Exception):
    """Not an error: carries the stored answer that handle_exception gives instead."""

    def __init__(self, record):
        super().__init__(record.key)
        self.record = record


def etag_for(obj, version_field: str = "updated_at") -> str | None:
    """A strong ETag from the row's id and its version: updated_at, which every service write
    moves (a viewset of rows that are never edited names created_at instead)."""
    return _etag(obj.pk, getattr(obj, version_field, None))


def _etag(pk, version) -> str | None:
    if version is None:
        return None
    digest = hashlib.sha256(f"{pk}:{version.isoformat()}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def if_match_allows(header: str, etag: str) -> bool:
    # A proxy that compresses may weaken a tag (W/"..."): it still names the same version.
    tags = [tag.strip() for tag in header.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


def _json_safe(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


def request_fingerprint(request) -> str:
    """What makes two POSTs "the same request": method, path with query, and body."""
    data = request.data
    if hasattr(data, "lists"):  # a form or multipart body; files count by name and size
        data = sorted(
            (
                name,
                [
                    v if isinstance(v, str) else f"file:{getattr(v, 'name', '')}:{v.size}"
                    for v in values
                ],
            )
            for name, values in data.lists()
        )
    body = json.dumps(data, sort_keys=True, cls=JSONEncoder)
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


class ApiConventionsMixin:
    """Token scopes, Idempotency-Key and ETag/If-Match for a viewset (see the module docstring).

    Applied by BrandScopedViewSet and BrandViewSet, so a viewset on either base follows the
    conventions without doing anything; viewsets that cannot be on them (agency-wide resources,
    the calendar) put it first among their bases. It declares `read_area` (None: the write
    area).
    """

    read_area: str | None = None
    # Every query of the two bases goes through brands_for_user, which applies a token's limit.
    # A viewset that answers for a whole agency (not through brands_for_user) sets it False, so
    # a brand-limited token is refused there rather than shown the other brands.
    honours_brand_limit = True
    # The field that moves whenever the row changes; it makes the ETag.
    etag_version_field = "updated_at"
    # Top-level fields of an answer that hold a secret shown once (a webhook signing secret).
    # The answer stored for an Idempotency-Key keeps them encrypted, as the model does, so the
    # idempotency table never holds a plaintext secret; a replay decrypts them.
    idempotency_sealed_fields: tuple[str, ...] = ()
    # Any id reaches the viewset, so a malformed one ("a.b") is the API's JSON 404 rather than
    # Django's HTML page from a route that did not match.
    lookup_value_regex = "[^/]+"

    def get_permissions(self):
        # Subclasses that set their own permission_classes (staff-only lists) keep the scopes.
        permissions = super().get_permissions()
        if not any(isinstance(p, TokenScopePermission) for p in permissions):
            permissions.append(TokenScopePermission())
        return permissions

    def dispatch(self, request, *args, **kwargs):
        # A write with Idempotency-Key or If-Match runs in one transaction: the key's claim and
        # the stored answer commit with what the request wrote, and the row lock of If-Match is
        # held until the write is done. A refused request leaves nothing behind.
        headers = request.headers
        if request.method in SAFE_METHODS or not (
            IDEMPOTENCY_HEADER in headers or "If-Match" in headers
        ):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or key is None or not request.user.is_authenticated:
            return
        key = key.strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: [f"Give 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters."]}
            )
        token = request.auth if isinstance(request.auth, ApiToken) else None
        owner = f"token:{token.pk}" if token else f"user:{request.user.pk}"
        fingerprint = request_fingerprint(request)
        record, claimed = services.idempotency_claim(
            user=request.user,
            owner=owner,
            key=key,
            fingerprint=fingerprint,
            method=request.method,
            path=request.get_full_path(),
        )
        if claimed:
            self._idempotency_record = record
        elif record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"This Idempotency-Key was already used for another request ({record.method} "
                f"{record.path} with a different body). Use a new key for a new request."
            )
        elif record.status_code is None:
            raise IdempotencyKeyInProgress()
        else:
            raise _Replay(record)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            record = exc.record
            headers = {**record.response_headers, REPLAYED_HEADER: "true"}
            body = self._unsealed(record.response_body)
            return Response(body, status=record.status_code, headers=headers)
        return super().handle_exception(exc)

    def get_object(self):
        if_match = self.request.headers.get("If-Match")
        check = (
            if_match is not None
            and self.request.method not in SAFE_METHODS
            and not getattr(self, "_precondition_checked", False)
        )
        if check:
            self._lock_object_row()
        obj = super().get_object()
        if check:
            # Once per request: a view that reads the object again after writing must not
            # compare the tag with its own write.
            self._precondition_checked = True
            etag = etag_for(obj, self.etag_version_field)
            if etag is not None and not if_match_allows(if_match, etag):
                raise PreconditionFailed()
        if getattr(self, "_etag_object", None) is None:
            self._etag_object = obj
        return obj

    def _lock_object_row(self) -> None:
        """Lock the row before reading it, so that the If-Match comparison and the write see
        the same version: a concurrent conditional write waits here, then reads the new
        version and gets its 412."""
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs.get(lookup_url_kwarg)
        if value is None or not connection.in_atomic_block:
            return
        model = self.get_queryset().model
        # Not an id at all: nothing to lock, and get_object answers 404.
        with contextlib.suppress(DjangoValidationError, ValueError, TypeError):
            rows = model._default_manager.select_for_update().filter(**{self.lookup_field: value})
            list(rows.values_list("pk", flat=True))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not 200 <= response.status_code < 300 or response.has_header(REPLAYED_HEADER):
            return response
        etag = self._response_etag(response)
        if etag is not None:
            response["ETag"] = etag
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            services.idempotency_record_response(
                record=record,
                status_code=response.status_code,
                body=self._sealed(_json_safe(response.data)),
                headers={"Location": response["Location"]}
                if response.has_header("Location")
                else {},
            )
        return response

    def _response_etag(self, response) -> str | None:
        action_name = getattr(self, "action", None)
        obj = getattr(self, "_etag_object", None)
        if action_name == "retrieve":
            return None if obj is None else etag_for(obj, self.etag_version_field)
        if action_name in ("update", "partial_update") and obj is not None:
            pk = obj.pk
        elif action_name == "create" and isinstance(response.data, dict):
            pk = response.data.get("id")
        else:
            return None
        # The write moved the version: read the new one rather than trust a stale instance.
        field = self.etag_version_field
        model = self.get_queryset().model
        if pk is None or not any(f.name == field for f in model._meta.concrete_fields):
            return None
        try:
            row = model._default_manager.filter(pk=pk).values("pk", field).first()
        except (DjangoValidationError, ValueError, TypeError):
            return None
        return None if row is None else _etag(row["pk"], row[field])

    def _sealed(self, body):
        if not isinstance(body, dict):
            return body
        return {
            name: crypto.encrypt(json.dumps(value))
            if name in self.idempotency_sealed_fields
            else value
            for name, value in body.items()
        }

    def _unsealed(self, body):
        if not isinstance(body, dict):
            return body
        return {
            name: json.loads(crypto.decrypt(value))
            if name in self.idempotency_sealed_fields and isinstance(value, str)
            else value
            for name, value in body.items()
        }


class BrandScopedViewSet(ApiConventionsMixin, viewsets.ModelViewSet):
    """The base of every tenant-owned API resource.

    Subclasses set `queryset`, `serializer_class`, `write_area` and, when the model does not have
    a `brand` foreign key itself, `brand_lookup` (the ORM path to the brand). The filtering by the
    user's brands happens here and cannot be skipped: override `scope_queryset` to add
    select_related and such, never `get_queryset`. A token limited to some brands sees only those
    (brands_for_user applies the limit).

    Token scopes: reads need `<read_area>:read` (read_area defaults to write_area), writes
    `<write_area>:write`; an @action may pass its own `read_area=`/`write_area=`.

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
        visible = list(self.brand_roles())
        return self.scope_queryset(queryset.filter(**{f"{self.brand_lookup}__in": visible}))

    def brand_roles(self) -> dict:
        """{brand id: the caller's role} of every brand they may read (brands_for_user, so a
        token's brand limit applies), read once per request. A user has a handful of brands:
        filtering by their ids as a list (`brand_id IN (...)`) lets PostgreSQL walk an index on
        (brand, created_at) for `ORDER BY ... LIMIT`, which a nested membership subquery did not.
        Kept on the view, not the user: a test client reuses one user object across requests."""
        roles = getattr(self, "_brand_roles", None)
        if roles is None:
            rows = brands_for_user(user=self.request.user).values_list("pk", "user_role")
            roles = self._brand_roles = dict(rows)
        return roles

    def staff_brand_ids(self) -> list:
        """The caller's brands where they are staff (not a client), from brand_roles."""
        return [pk for pk, role in self.brand_roles().items() if role != Role.CLIENT]

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
class BrandViewSet(ApiConventionsMixin, viewsets.ModelViewSet):
    """Brands (the agency's clients) the caller can see. Agency admins add and change them."""

    write_area = Area.AGENCY
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
        token = token_of(request.user)
        if token is not None and token.brand_ids:
            # The new brand would be outside the token's own limit.
            raise exceptions.PermissionDenied("A token limited to some brands cannot add brands.")
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
    permission_classes = [IsAuthenticated, TokenScopePermission]
    read_area = Area.AGENCY
    honours_brand_limit = True

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
