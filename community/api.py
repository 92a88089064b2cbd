"""/api/v1/ of the community side: the inbox (conversations, their messages, notes and the
team's actions), listening (rules and mentions) and saved replies.

Staff only, like the dashboard's inbox: rows of brands the caller reads as a client are never
listed, so they are the outsider's 404, and so is writing to such a brand. Marketers read;
managers and admins act (Area.COMMUNITY). Every action calls the service the dashboard calls.
"""

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from agency.api import BrandScopedViewSet
from agency.permissions import Area, brand_for_user
from community import selectors, services
from community.filters import (
    ConversationFilter,
    ListeningRuleFilter,
    MentionFilter,
    SavedReplyFilter,
)
from community.models import Conversation, ListeningRule, Mention, SavedReply
from community.serializers import (
    AssignSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    HiddenSerializer,
    InternalNoteSerializer,
    LikedSerializer,
    ListeningRuleSerializer,
    ListeningRuleUpdateSerializer,
    MentionSerializer,
    MessageSerializer,
    PrioritySerializer,
    RenderedReplySerializer,
    RenderQuerySerializer,
    SavedReplySerializer,
    SavedReplyUpdateSerializer,
    StatusSerializer,
    TagsSerializer,
    TextSerializer,
)

__all__ = [
    "ConversationViewSet",
    "ListeningRuleViewSet",
    "MentionViewSet",
    "SavedReplyViewSet",
]


class _CommunityViewSet(BrandScopedViewSet):
    write_area = Area.COMMUNITY

    def scope_queryset(self, queryset):
        # On top of the base's "brands the user sees": only those they work on as staff. The
        # ids the base read for this request, as a list: a one-brand list is `brand_id = x`,
        # which an index ordered like the list serves (the membership subquery it replaces
        # was a join PostgreSQL could only sort after).
        return queryset.filter(**{f"{self.brand_lookup}__in": self.staff_brand_ids()})

    def check_brand_write(self, brand):
        return brand_for_user(
            user=self.request.user,
            brand_id=brand.pk,
            write=True,
            area=self.write_area,
            staff_only=True,
        )


class _NoCreate:
    # Conversations and mentions arrive from the platforms; POST is for their actions only.
    # The base is a ModelViewSet, so the router would route POST on the list to create.
    @extend_schema(exclude=True)
    def create(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(request.method)


_MESSAGE_PATTERN = r"(?P<message_id>[^/.]+)"
_MESSAGE_ID = OpenApiParameter(
    "message_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="A message of it."
)


def _text_example(text: str) -> OpenApiExample:
    return OpenApiExample("Example", value={"text": text}, request_only=True)


class ConversationViewSet(_NoCreate, _CommunityViewSet):
    """The unified inbox: comment threads, direct messages, mentions and reviews of every
    account, latest activity first (as the dashboard's inbox lists them)."""

    queryset = Conversation.objects.all()
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    # No default ordering here: the inbox selector's (latest activity first) stands.
    ordering_fields = ["last_message_at", "first_inbound_at", "created_at"]
    http_method_names = ["get", "post", "head", "options"]

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).select_related("account", "assignee", "brand")

    def get_serializer_class(self):
        return {
            "retrieve": ConversationDetailSerializer,
            "assign": AssignSerializer,
            "set_status": StatusSerializer,
            "set_priority": PrioritySerializer,
            "set_tags": TagsSerializer,
            "reply": TextSerializer,
            "hide_message": HiddenSerializer,
            "like_message": LikedSerializer,
        }.get(self.action, ConversationSerializer)

    def _validated(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _read(self, conversation):
        # Read back as a row of the inbox, with the selector's annotations (SLA, needs_reply).
        fresh = selectors.conversation_for_user(
            user=self.request.user, conversation_id=conversation.pk
        )
        return Response(ConversationSerializer(fresh, context=self.get_serializer_context()).data)

    def _thread(self, conversation, kind: str) -> list:
        return [row for k, row in selectors.thread_items(conversation=conversation) if k == kind]

    def retrieve(self, request, *args, **kwargs):
        """One conversation with its messages and the team's internal notes, in time order."""
        conversation = self.get_object()
        items = selectors.thread_items(conversation=conversation)
        conversation.thread_messages = [row for kind, row in items if kind == "message"]
        conversation.thread_notes = [row for kind, row in items if kind == "note"]
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(request=None, responses={200: MessageSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def messages(self, request, pk=None):
        """The conversation's messages, oldest first: theirs and our replies with their
        sending state."""
        page = self.paginate_queryset(self._thread(self.get_object(), "message"))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"], request=None, responses={200: InternalNoteSerializer(many=True)}
    )
    @extend_schema(
        methods=["POST"],
        request=TextSerializer,
        responses={201: InternalNoteSerializer},
        examples=[_text_example("Customer called too; refund approved by Ana.")],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def notes(self, request, pk=None):
        """The team's internal notes (never sent to the platform); POST adds one."""
        conversation = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(self._thread(conversation, "note"))
            return self.get_paginated_response(InternalNoteSerializer(page, many=True).data)
        text = TextSerializer(data=request.data)
        text.is_valid(raise_exception=True)
        note = services.note_add(
            conversation=conversation, text=text.validated_data["text"], by=request.user
        )
        return Response(InternalNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TextSerializer,
        responses={201: MessageSerializer},
        examples=[_text_example("Thanks for asking! The new roast is in stores on Friday.")],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def reply(self, request, pk=None):
        """Queue a reply to their latest message. It is sent once, in the background, by the
        inbox's sender; its `send_state` says how far it got (pending, sent, failed...)."""
        conversation = self.get_object()
        text = self._validated(request)["text"]
        message = services.message_reply(conversation=conversation, text=text, by=request.user)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    def _message(self, conversation, message_id):
        return get_object_or_404(
            conversation.messages.select_related("account", "conversation__brand__agency"),
            pk=message_id,
        )

    @extend_schema(
        request=HiddenSerializer, responses={200: MessageSerializer}, parameters=[_MESSAGE_ID]
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=f"messages/{_MESSAGE_PATTERN}/hide",
        filter_backends=[],
    )
    def hide_message(self, request, pk=None, message_id=None):
        """Hide (or show again) one of their comments on the platform, where its API allows
        it; elsewhere a 400 says to do it in the platform's app."""
        message = self._message(self.get_object(), message_id)
        hidden = self._validated(request)["hidden"]
        message = services.message_hide(message=message, by=request.user, hidden=hidden)
        return Response(MessageSerializer(message).data)

    @extend_schema(
        request=LikedSerializer, responses={200: MessageSerializer}, parameters=[_MESSAGE_ID]
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=f"messages/{_MESSAGE_PATTERN}/like",
        filter_backends=[],
    )
    def like_message(self, request, pk=None, message_id=None):
        """Like (or unlike) one of their messages as the brand, where the platform allows it."""
        message = self._message(self.get_object(), message_id)
        liked = self._validated(request)["liked"]
        message = services.message_like(message=message, by=request.user, liked=liked)
        return Response(MessageSerializer(message).data)

    @extend_schema(request=AssignSerializer, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def assign(self, request, pk=None):
        """Give the conversation to a teammate of the brand's agency (null: to nobody)."""
        conversation = self.get_object()
        to = self._validated(request)["assignee"]
        services.conversation_assign(conversation=conversation, to=to, by=request.user)
        return self._read(conversation)

    @extend_schema(request=StatusSerializer, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[])
    def set_status(self, request, pk=None):
        """Open, pending (waiting for them) or closed."""
        conversation = self.get_object()
        value = self._validated(request)["status"]
        services.conversation_set_status(conversation=conversation, status=value, by=request.user)
        return self._read(conversation)

    @extend_schema(request=PrioritySerializer, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="priority", filter_backends=[])
    def set_priority(self, request, pk=None):
        conversation = self.get_object()
        value = self._validated(request)["priority"]
        services.conversation_set_priority(
            conversation=conversation, priority=value, by=request.user
        )
        return self._read(conversation)

    @extend_schema(
        request=TagsSerializer,
        responses={200: ConversationSerializer},
        examples=[
            OpenApiExample("Tags", value={"tags": ["refund", "Late delivery"]}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"], url_path="tags", filter_backends=[])
    def set_tags(self, request, pk=None):
        """Replace the conversation's tags."""
        conversation = self.get_object()
        tags = self._validated(request)["tags"]
        services.conversation_set_tags(conversation=conversation, tags=tags, by=request.user)
        return self._read(conversation)


class ListeningRuleViewSet(_CommunityViewSet):
    """What each brand listens for beyond its inbox: keywords, hashtags, its own and its
    competitors' names."""

    queryset = ListeningRule.objects.all()
    serializer_class = ListeningRuleSerializer
    filterset_class = ListeningRuleFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).annotate(mention_count=Count("mentions"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ListeningRuleUpdateSerializer
        return ListeningRuleSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        rule = services.listening_rule_create(brand=data.pop("brand"), by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=rule.pk)

    def perform_update(self, serializer):
        rule = services.listening_rule_update(
            rule=serializer.instance, by=self.request.user, data=serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=rule.pk)

    def perform_destroy(self, instance):
        services.listening_rule_delete(rule=instance, by=self.request.user)


class MentionViewSet(_NoCreate, _CommunityViewSet):
    """Posts anywhere that matched a listening rule, newest first."""

    queryset = Mention.objects.all()
    serializer_class = MentionSerializer
    filterset_class = MentionFilter
    ordering_fields = ["posted_at", "created_at"]
    ordering = ["-posted_at", "-created_at"]
    http_method_names = ["get", "post", "head", "options"]

    def scope_queryset(self, queryset):
        return super().scope_queryset(queryset).select_related("rule")

    @extend_schema(request=None, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="to-conversation")
    def to_conversation(self, request, pk=None):
        """Bring the mention into the inbox as a conversation to answer. Asking again gives the
        same conversation."""
        mention = self.get_object()
        conversation = services.mention_to_conversation(mention=mention, by=request.user)
        fresh = selectors.conversation_for_user(user=request.user, conversation_id=conversation.pk)
        return Response(ConversationSerializer(fresh, context=self.get_serializer_context()).data)


class SavedReplyViewSet(_CommunityViewSet):
    """Text the team reuses in replies, with placeholders {first_name}, {brand} and {handle}."""

    queryset = SavedReply.objects.all()
    serializer_class = SavedReplySerializer
    filterset_class = SavedReplyFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return SavedReplyUpdateSerializer
        return SavedReplySerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.saved_reply_create(
            brand=data["brand"], name=data["name"], text=data["text"], by=self.request.user
        )

    def perform_update(self, serializer):
        saved, data = serializer.instance, serializer.validated_data
        serializer.instance = services.saved_reply_update(
            saved_reply=saved,
            name=data.get("name", saved.name),
            text=data.get("text", saved.text),
            by=self.request.user,
        )

    def perform_destroy(self, instance):
        services.saved_reply_delete(saved_reply=instance, by=self.request.user)

    @extend_schema(parameters=[RenderQuerySerializer], responses={200: RenderedReplySerializer})
    @action(detail=True, methods=["get"], url_path="render", filter_backends=[])
    def render_for(self, request, pk=None):
        """The saved reply filled in for one conversation of the same brand, ready to send."""
        saved = self.get_object()
        query = RenderQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            conversation = selectors.conversation_for_user(
                user=request.user, conversation_id=query.validated_data["conversation"]
            )
        except Conversation.DoesNotExist as exc:
            raise exceptions.ValidationError(
                {"conversation": ["No such conversation in your inbox."]}
            ) from exc
        if conversation.brand_id != saved.brand_id:
            raise exceptions.ValidationError(
                {"conversation": ["The conversation belongs to another brand."]}
            )
        rendered = services.saved_reply_render(saved_reply=saved, conversation=conversation)
        return Response({"text": str(rendered), "problems": rendered.problems})
