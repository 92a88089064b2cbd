"""/api/v1/media/: a brand's media library. Uploads are multipart and judged by the same
service as the dashboard's (the file's bytes decide its type; the size limit is the server's)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from agency.api import BrandScopedViewSet
from agency.permissions import Area
from calendar_app import services
from calendar_app.filters import MediaFilter
from calendar_app.models import Media
from calendar_app.serializers import MediaSerializer, MediaUpdateSerializer, MediaUploadSerializer

__all__ = ["MediaViewSet"]


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": MediaUploadSerializer},
        responses={
            201: MediaSerializer,
            200: MediaSerializer,
        },
        description="Upload an image or video. The same file uploaded again gives back the "
        "file already in the library (200, `already_in_library: true`), not a copy.",
    ),
    partial_update=extend_schema(request=MediaUpdateSerializer, responses=MediaSerializer),
)
class MediaViewSet(BrandScopedViewSet):
    """Files of the brands' media libraries. Everyone who reads a brand's calendar may look;
    managers and admins upload, describe and delete."""

    queryset = Media.objects.all()
    serializer_class = MediaSerializer
    write_area = Area.CALENDAR
    filterset_class = MediaFilter
    ordering_fields = ["created_at", "name", "size"]
    ordering = ["-created_at"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    # Alt text is the one thing to change; a different file is a new upload.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset):
        return queryset.select_related("uploaded_by")

    def get_serializer_class(self):
        if self.action == "create":
            return MediaUploadSerializer
        if self.action == "partial_update":
            return MediaUpdateSerializer
        return MediaSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        brand = self.check_brand_write(data["brand"])
        media = services.media_upload(
            brand=brand, by=request.user, upload=data["upload"], alt_text=data["alt_text"]
        )
        code = status.HTTP_200_OK if media.already_in_library else status.HTTP_201_CREATED
        return Response(MediaSerializer(media, context=self.get_serializer_context()).data, code)

    def partial_update(self, request, *args, **kwargs):
        media = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        media = services.media_update(
            media=media, by=request.user, alt_text=serializer.validated_data["alt_text"]
        )
        return Response(MediaSerializer(media, context=self.get_serializer_context()).data)

    def perform_destroy(self, instance):
        services.media_delete(media=instance, by=self.request.user)
