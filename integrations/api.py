"""/api/v1/webhook-endpoints/ and /api/v1/webhook-deliveries/.

Endpoints belong to an agency, not to one brand, so these viewsets are scoped by the caller's
staff memberships (integrations.selectors), the same way BrandScopedViewSet scopes by brands:
the querysets come from the selectors and are never widened. Staff read; agency admins write.
Another agency's endpoint (or a client asking) is a 404; a staff member who is not an admin
and tries to write is a 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from agency.api import ApiConventionsMixin, AutoSchema
from integrations import selectors, services
from integrations.models import Delivery, DeliveryAttempt, EventType, WebhookEndpoint
from integrations.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WebhookEndpointFilter(filters.FilterSet):
    agency = filters.UUIDFilter(field_name="agency_id")
    brand = filters.UUIDFilter(field_name="brand_id")
    is_active = filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["agency", "brand", "is_active"]


class DeliveryFilter(filters.FilterSet):
    endpoint = filters.UUIDFilter(field_name="endpoint_id")
    brand = filters.UUIDFilter(field_name="brand_id")
    state = filters.ChoiceFilter(choices=Delivery.State.choices)
    event_type = filters.ChoiceFilter(choices=EventType.choices)
    event_id = filters.UUIDFilter()

    class Meta:
        model = Delivery
        fields = ["endpoint", "brand", "state", "event_type", "event_id"]


class WebhookEndpointViewSet(ApiConventionsMixin, viewsets.ModelViewSet):
    """Where the agency's events are sent. The secret is only in the answer that creates (or
    rotates) it; afterwards `secret_hint` shows its first characters."""

    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["created_at", "url"]
    ordering = ["-created_at"]
    schema = AutoSchema()
    # Endpoints are the agency's: a token limited to some brands is refused.
    honours_brand_limit = False
    idempotency_sealed_fields = ("secret",)

    def get_queryset(self):
        return selectors.endpoints_for_user(user=self.request.user)

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in SAFE_METHODS:
            selectors.endpoint_for_user(user=request.user, endpoint_id=obj.pk, write=True)

    def _agency_for_create(self, data):
        admin_of = list(selectors.admin_agencies_for(user=self.request.user))
        if not admin_of:
            raise PermissionDenied("Only an agency admin can add webhook endpoints.")
        agency = data.get("agency") or (data["brand"].agency if data.get("brand") else None)
        if agency is None:
            if len(admin_of) > 1:
                raise ValidationError({"agency": ["Say which agency the endpoint is for."]})
            agency = admin_of[0]
        if agency.pk not in {a.pk for a in admin_of}:
            raise PermissionDenied(f"Only an admin of {agency} can add webhook endpoints to it.")
        return agency

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        agency = self._agency_for_create(data)
        data.pop("agency", None)
        endpoint, secret = services.endpoint_create(agency=agency, by=request.user, **data)
        endpoint.secret = secret
        body = WebhookEndpointWithSecretSerializer(
            endpoint, context=self.get_serializer_context()
        ).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        agency = data.pop("agency", None)
        if agency is not None and agency.pk != serializer.instance.agency_id:
            raise ValidationError({"agency": ["An endpoint stays with its agency."]})
        serializer.instance = services.endpoint_update(
            endpoint=serializer.instance, by=self.request.user, data=data
        )

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance, by=self.request.user)

    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, in this answer only; the old one stops signing at once."""
        endpoint = self.get_object()
        endpoint.secret = services.endpoint_rotate_secret(endpoint=endpoint, by=request.user)
        return Response(
            WebhookEndpointWithSecretSerializer(
                endpoint, context=self.get_serializer_context()
            ).data
        )

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `ping` event to this endpoint now (to check the receiver and its signature
        check). Follow it with /webhook-deliveries/{id}/."""
        delivery = services.endpoint_send_test(endpoint=self.get_object(), by=request.user)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(
    ApiConventionsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Each event sent (or being sent) to each endpoint, with every attempt in the detail."""

    filterset_class = DeliveryFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]
    schema = AutoSchema()
    # Deliveries are read by agency, like their endpoints: a brand-limited token is refused.
    honours_brand_limit = False

    def get_queryset(self):
        queryset = selectors.deliveries_for_user(user=self.request.user)
        if self.action != "list":
            queryset = queryset.select_related("endpoint__agency").prefetch_related(
                Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-id"))
            )
        return queryset

    def get_serializer_class(self):
        return DeliverySerializer if self.action == "list" else DeliveryDetailSerializer

    @extend_schema(request=None, responses={202: DeliveryDetailSerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Send a delivery that succeeded or failed once more: same delivery id, same body, a new
        attempt (receivers drop what they have already handled by X-Agency-Delivery)."""
        delivery = self.get_object()
        selectors.delivery_for_user(user=request.user, delivery_id=delivery.pk, write=True)
        delivery = services.delivery_replay(delivery=delivery, by=request.user)
        delivery = self.get_queryset().get(pk=delivery.pk)
        return Response(DeliveryDetailSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
