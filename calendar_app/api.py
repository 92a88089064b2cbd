"""/api/v1/posts/: posts with their per-account targets; state changes are actions."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from agency.api import BrandScopedViewSet
from agency.permissions import Area
from calendar_app import selectors, services
from calendar_app.filters import PostFilter
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.serializers import (
    PostCreateSerializer,
    PostSerializer,
    PostUpdateSerializer,
    PublishAttemptSerializer,
    RetrySerializer,
    ScheduleSerializer,
)


class PostViewSet(BrandScopedViewSet):
    """Posts of the brands you can see. Managers and admins write; everyone else reads."""

    queryset = Post.objects.all()
    serializer_class = PostSerializer
    write_area = Area.CALENDAR
    filterset_class = PostFilter
    ordering_fields = ["scheduled_at", "created_at"]
    ordering = ["-created_at"]

    def scope_queryset(self, queryset):
        return queryset.select_related("brand", "author").prefetch_related(
            Prefetch("targets", queryset=PostTarget.objects.select_related("account"))
        )

    def get_serializer_class(self):
        return {
            "create": PostCreateSerializer,
            "update": PostUpdateSerializer,
            "partial_update": PostUpdateSerializer,
            "schedule": ScheduleSerializer,
            "retry": RetrySerializer,
        }.get(self.action, PostSerializer)

    def _read(self, post, code=status.HTTP_200_OK):
        post = self.get_queryset().get(pk=post.pk)
        return Response(PostSerializer(post, context=self.get_serializer_context()).data, code)

    @extend_schema(request=PostCreateSerializer, responses={201: PostSerializer})
    def create(self, request, *args, **kwargs):
        serializer = PostCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        brand = self.check_brand_write(data["brand"])
        post = services.post_create(
            brand=brand,
            by=request.user,
            accounts=[t["account"] for t in data["targets"]],
            title=data["title"],
            text=data["text"],
            link=data["link"],
            tags=data["tags"],
            variants={
                t["account"].pk: {"text": t["text_override"], "first_comment": t["first_comment"]}
                for t in data["targets"]
            },
            scheduled_at=data["scheduled_at"],
        )
        return self._read(post, status.HTTP_201_CREATED)

    @extend_schema(request=PostUpdateSerializer, responses={200: PostSerializer})
    def update(self, request, *args, **kwargs):
        post = self.get_object()
        serializer = PostUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        post = services.post_update(post=post, by=request.user, data=serializer.validated_data)
        return self._read(post)

    @extend_schema(request=PostUpdateSerializer, responses={200: PostSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance):
        services.post_delete(post=instance, by=self.request.user)

    @extend_schema(request=ScheduleSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        """Schedule every unpublished target at the given time (approved posts only)."""
        post = self.get_object()
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.post_schedule(
            post=post, at=serializer.validated_data["scheduled_at"], by=request.user
        )
        return self._read(post)

    @extend_schema(request=None, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel every target not yet handed to a platform."""
        post = self.get_object()
        services.post_cancel(post=post, by=request.user)
        return self._read(post)

    @extend_schema(request=RetrySerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Try failed or unconfirmed targets again now."""
        post = self.get_object()
        serializer = RetrySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        targets = post.targets.filter(state__in=[TargetState.FAILED, TargetState.UNCONFIRMED])
        if serializer.validated_data.get("target"):
            targets = targets.filter(pk=serializer.validated_data["target"])
        targets = list(targets)
        if not targets:
            raise ValidationError("No failed or unconfirmed target to retry.")
        for target in targets:
            services.target_retry(target=target, by=request.user)
        return self._read(post)

    @extend_schema(request=None, responses={200: PublishAttemptSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def attempts(self, request, pk=None):
        """Every publishing attempt of the post's targets, newest first."""
        post = self.get_object()
        queryset = selectors.attempts_for_post(post=post)
        page = self.paginate_queryset(queryset)
        serializer = PublishAttemptSerializer(page, many=True)
        return self.get_paginated_response(serializer.data)
