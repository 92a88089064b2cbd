"""/api/v1/posts/ and /api/v1/post-targets/: posts with their per-account targets; state
changes (scheduling, queueing, approval, retries) are actions that call calendar_app.services."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from agency.api import BrandScopedViewSet
from agency.models import Role
from agency.permissions import Area, brand_for_user
from calendar_app import selectors, services
from calendar_app.filters import PostFilter, PostTargetFilter
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.serializers import (
    ApprovalCommentSerializer,
    ApprovalDecisionSerializer,
    ChangesRequestSerializer,
    MarkPublishedSerializer,
    PostCreateSerializer,
    PostSerializer,
    PostTargetDetailSerializer,
    PostUpdateSerializer,
    PublishAttemptSerializer,
    RetrySerializer,
    ScheduleSerializer,
    TargetRescheduleSerializer,
)

__all__ = ["PostTargetViewSet", "PostViewSet"]

_CLIENT_ACTIONS = ("client_approve", "client_request_changes")
_TARGET_PATTERN = r"(?P<target_id>[^/.]+)"
_TARGET_ID = OpenApiParameter(
    "target_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="One of the post's targets."
)
_CHANGES_EXAMPLE = OpenApiExample(
    "Ask for changes", value={"comment": "Shorter, and tag the roastery."}, request_only=True
)


class PostViewSet(BrandScopedViewSet):
    """Posts of the brands you can see. Managers and admins write; everyone else reads, and a
    brand's client users approve (or send back) the posts sent to them."""

    queryset = Post.objects.all()
    serializer_class = PostSerializer
    write_area = Area.CALENDAR
    filterset_class = PostFilter
    ordering_fields = ["scheduled_at", "created_at"]
    ordering = ["-created_at"]

    def scope_queryset(self, queryset):
        visible = selectors.client_visible_posts_q(user=self.request.user, roles=self.brand_roles())
        return self._with_relations(queryset.filter(visible))

    @staticmethod
    def _with_relations(queryset):
        return queryset.select_related("brand", "author").prefetch_related(
            "media", Prefetch("targets", queryset=PostTarget.objects.select_related("account"))
        )

    def get_serializer_context(self):
        # The internal title is the agency's word for a post; its client reads the post itself.
        context = super().get_serializer_context()
        context["client_brand_ids"] = {
            pk for pk, role in self.brand_roles().items() if role == Role.CLIENT
        }
        return context

    def get_serializer_class(self):
        return {
            "create": PostCreateSerializer,
            "update": PostUpdateSerializer,
            "partial_update": PostUpdateSerializer,
            "schedule": ScheduleSerializer,
            "retry": RetrySerializer,
            "reschedule": TargetRescheduleSerializer,
            "mark_published": MarkPublishedSerializer,
            "approve": ApprovalCommentSerializer,
            "client_approve": ApprovalCommentSerializer,
            "request_changes": ChangesRequestSerializer,
            "client_request_changes": ChangesRequestSerializer,
        }.get(self.action, PostSerializer)

    def check_brand_write(self, brand):
        # The client's decisions are the one write a client makes: the staff write check would
        # refuse them, so here it is enough to see the brand, and the service checks that the
        # caller is one of the brand's client users (anyone else gets its 403).
        if self.action in _CLIENT_ACTIONS:
            return brand_for_user(user=self.request.user, brand_id=brand.pk)
        return super().check_brand_write(brand)

    def _read(self, post, code=status.HTTP_200_OK):
        post = self.get_queryset().get(pk=post.pk)
        return Response(PostSerializer(post, context=self.get_serializer_context()).data, code)

    def _validated(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _target_of(self, post, target_id) -> PostTarget:
        return get_object_or_404(post.targets.all(), pk=target_id)

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
            media=data["media"],
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

    # -- publishing ------------------------------------------------------------------------------

    @extend_schema(request=ScheduleSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        """Schedule every unpublished target at the given time (approved posts only)."""
        post = self.get_object()
        at = self._validated(request)["scheduled_at"]
        services.post_schedule(post=post, at=at, by=request.user)
        return self._read(post)

    @extend_schema(request=None, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def queue(self, request, pk=None):
        """Give each target its account's next free queue slot; the post's time is the earliest
        of them. With an approval workflow the times wait on the drafts until the approval."""
        post = self.get_object()
        services.post_add_to_queue(post=post, by=request.user)
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
        data = self._validated(request)
        targets = post.targets.filter(state__in=[TargetState.FAILED, TargetState.UNCONFIRMED])
        if data.get("target"):
            targets = targets.filter(pk=data["target"])
        targets = list(targets)
        if not targets:
            raise ValidationError("No failed or unconfirmed target to retry.")
        for target in targets:
            services.target_retry(target=target, by=request.user)
        return self._read(post)

    @extend_schema(
        request=TargetRescheduleSerializer,
        responses={200: PostTargetDetailSerializer},
        parameters=[_TARGET_ID],
    )
    @action(detail=True, methods=["post"], url_path=f"targets/{_TARGET_PATTERN}/reschedule")
    def reschedule(self, request, pk=None, target_id=None):
        """Move one target, as dragging it on the calendar does: a scheduled target gets a new
        time; a draft moves its post's planned time (only while every target is a draft)."""
        post = self.get_object()
        at = self._validated(request)["at"]
        target = services.target_reschedule(
            target=self._target_of(post, target_id), at=at, by=request.user
        )
        return Response(PostTargetDetailSerializer(_with_post(target)).data)

    @extend_schema(
        request=MarkPublishedSerializer,
        responses={200: PostTargetDetailSerializer},
        parameters=[_TARGET_ID],
    )
    @action(detail=True, methods=["post"], url_path=f"targets/{_TARGET_PATTERN}/mark-published")
    def mark_published(self, request, pk=None, target_id=None):
        """Settle an unconfirmed target: someone checked the platform and it did go out."""
        post = self.get_object()
        url = self._validated(request)["url"]
        target = services.target_mark_published(
            target=self._target_of(post, target_id), by=request.user, url=url
        )
        return Response(PostTargetDetailSerializer(_with_post(target)).data)

    @extend_schema(request=None, responses={200: PublishAttemptSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def attempts(self, request, pk=None):
        """Every publishing attempt of the post's targets, newest first."""
        post = self.get_object()
        page = self.paginate_queryset(selectors.attempts_for_post(post=post))
        return self.get_paginated_response(PublishAttemptSerializer(page, many=True).data)

    # -- approval --------------------------------------------------------------------------------

    @extend_schema(request=None, responses={200: PostSerializer})
    @action(detail=True, methods=["post"], url_path="submit-for-approval")
    def submit_for_approval(self, request, pk=None):
        """Send a draft (or a post sent back with changes) to the brand's internal review."""
        post = self.get_object()
        services.post_submit_for_approval(post=post, by=request.user)
        return self._read(post)

    @extend_schema(request=ApprovalCommentSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Internal approval. With the client in the brand's workflow the post goes on to them;
        otherwise it is scheduled if its time is still ahead."""
        post = self.get_object()
        comment = self._validated(request)["comment"]
        services.post_approve(post=post, by=request.user, comment=comment)
        return self._read(post)

    @extend_schema(
        request=ChangesRequestSerializer,
        responses={200: PostSerializer},
        examples=[_CHANGES_EXAMPLE],
    )
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        """Send a post in review back to its author with a comment."""
        post = self.get_object()
        comment = self._validated(request)["comment"]
        services.post_request_changes(post=post, by=request.user, comment=comment)
        return self._read(post)

    @extend_schema(request=ApprovalCommentSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"], url_path="client-approve")
    def client_approve(self, request, pk=None):
        """The brand's client approves a post the agency sent them (client users only)."""
        post = self.get_object()
        comment = self._validated(request)["comment"]
        services.post_client_approve(post=post, by=request.user, comment=comment)
        return self._read(post)

    @extend_schema(
        request=ChangesRequestSerializer,
        responses={200: PostSerializer},
        examples=[_CHANGES_EXAMPLE],
    )
    @action(detail=True, methods=["post"], url_path="client-request-changes")
    def client_request_changes(self, request, pk=None):
        """The brand's client sends a post back with a comment (client users only)."""
        post = self.get_object()
        comment = self._validated(request)["comment"]
        services.post_client_request_changes(post=post, by=request.user, comment=comment)
        # The post is the agency's again and leaves the client's view, but the answer to their
        # own decision is theirs to read.
        post = self._with_relations(Post.objects.filter(pk=post.pk)).get()
        return Response(PostSerializer(post, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: ApprovalDecisionSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def decisions(self, request, pk=None):
        """The post's approval history, newest first: what the client and an auditor read."""
        post = self.get_object()
        page = self.paginate_queryset(selectors.approval_decisions(post=post))
        return self.get_paginated_response(ApprovalDecisionSerializer(page, many=True).data)


def _with_post(target: PostTarget) -> PostTarget:
    return PostTarget.objects.select_related("post__brand", "account").get(pk=target.pk)


class PostTargetViewSet(BrandScopedViewSet):
    """Each post on each account: its state, due time, result and external URL. Read-only:
    targets change through their post's actions (/posts/{id}/schedule/, .../retry/,
    .../targets/{target_id}/reschedule/ ...)."""

    queryset = PostTarget.objects.all()
    serializer_class = PostTargetDetailSerializer
    write_area = Area.CALENDAR
    brand_lookup = "post__brand"
    filterset_class = PostTargetFilter
    ordering_fields = ["due_at", "published_at", "created_at"]
    ordering = ["-created_at"]
    http_method_names = ["get", "head", "options"]

    def scope_queryset(self, queryset):
        visible = selectors.client_visible_posts_q(
            user=self.request.user, path="post__", roles=self.brand_roles()
        )
        return queryset.filter(visible).select_related("post__brand", "account")
