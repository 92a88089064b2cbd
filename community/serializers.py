"""API shapes of the inbox and listening. They validate fields; community.services writes."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agency.serializers import BrandField, named_choice_field
from community.models import (
    Conversation,
    InternalNote,
    ListeningRule,
    Mention,
    Message,
    SavedReply,
    Sentiment,
)
from community.selectors import SlaState, inbox_staff_for_user

ConversationKindField = named_choice_field("ConversationKindEnum", Conversation.Kind.choices)
ConversationStatusField = named_choice_field("ConversationStatusEnum", Conversation.Status.choices)
PriorityField = named_choice_field("ConversationPriorityEnum", Conversation.Priority.choices)
SentimentField = named_choice_field("SentimentEnum", Sentiment.choices)
DirectionField = named_choice_field("MessageDirectionEnum", Message.Direction.choices)
SendStateField = named_choice_field("MessageSendStateEnum", Message.SendState.choices)
RuleKindField = named_choice_field("ListeningRuleKindEnum", ListeningRule.Kind.choices)
SlaStateField = named_choice_field("SlaStateEnum", list(SlaState.LABELS.items()))


@extend_schema_field(OpenApiTypes.INT)
class StaffUserField(serializers.PrimaryKeyRelatedField):
    """A teammate on the staff of an agency whose inbox the caller sees; anyone else does not
    exist, so an id never tells whose it is."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return get_user_model().objects.none()
        return inbox_staff_for_user(user=request.user)


# -- conversations -------------------------------------------------------------------------------


class ConversationSerializer(serializers.ModelSerializer):
    kind = ConversationKindField(read_only=True)
    status = ConversationStatusField(read_only=True)
    priority = PriorityField(read_only=True)
    sentiment = SentimentField(read_only=True, allow_blank=True)
    account_handle = serializers.CharField(source="account.handle", read_only=True)
    platform = serializers.CharField(source="account.platform", read_only=True)
    assignee_name = serializers.SerializerMethodField()
    needs_reply = serializers.BooleanField(
        read_only=True, help_text="Their latest message is newer than our latest reply."
    )
    sla_state = SlaStateField(read_only=True, help_text="The first-response SLA of the brand.")
    sla_deadline = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the first response is due (UTC)."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "brand",
            "account",
            "account_handle",
            "platform",
            "kind",
            "external_thread_id",
            "post_target",
            "participant_handle",
            "participant_name",
            "status",
            "priority",
            "assignee",
            "assignee_name",
            "tags",
            "sentiment",
            "preview",
            "needs_reply",
            "sla_state",
            "sla_deadline",
            "last_message_at",
            "first_inbound_at",
            "first_response_at",
            "resolved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_assignee_name(self, obj) -> str | None:
        user = obj.assignee
        return None if user is None else (user.get_full_name() or user.get_username())


class MessageSerializer(serializers.ModelSerializer):
    direction = DirectionField(read_only=True)
    send_state = SendStateField(read_only=True)
    sentiment = SentimentField(read_only=True, allow_blank=True)
    author_user = serializers.CharField(
        source="author_user.username",
        read_only=True,
        default=None,
        help_text="The teammate who wrote an outbound reply.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "author_handle",
            "author_name",
            "author_user",
            "text",
            "platform_message_id",
            "in_reply_to",
            "sent_at",
            "sentiment",
            "sentiment_score",
            "send_state",
            "attempts",
            "last_error",
            "hidden",
            "liked",
            "created_at",
        ]
        read_only_fields = fields


class InternalNoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, default=None)

    class Meta:
        model = InternalNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True, source="thread_messages")
    notes = InternalNoteSerializer(
        many=True, read_only=True, source="thread_notes", help_text="The team's internal notes."
    )

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages", "notes"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    assignee = StaffUserField(
        allow_null=True, help_text="A user id of the brand agency's staff; null unassigns."
    )


class StatusSerializer(serializers.Serializer):
    status = ConversationStatusField()


class PrioritySerializer(serializers.Serializer):
    priority = PriorityField()


class TagsSerializer(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        allow_empty=True,
        help_text="The whole set; stored lower case, without #, sorted. [] removes them all.",
    )


class HiddenSerializer(serializers.Serializer):
    hidden = serializers.BooleanField(default=True, help_text="false shows it again.")


class LikedSerializer(serializers.Serializer):
    liked = serializers.BooleanField(default=True, help_text="false takes the like back.")


class TextSerializer(serializers.Serializer):
    # Blank is let through so the service's own message says what is missing.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


# -- listening -----------------------------------------------------------------------------------


class ListeningRuleSerializer(serializers.ModelSerializer):
    brand = BrandField()
    kind = RuleKindField()
    terms = serializers.ListField(
        child=serializers.CharField(max_length=200),
        help_text="Any of these matches, as whole words or phrases in any case.",
    )
    excluded_terms = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    mention_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ListeningRule
        fields = [
            "id",
            "brand",
            "name",
            "kind",
            "terms",
            "excluded_terms",
            "spike_ratio",
            "spike_min_volume",
            "active",
            "mention_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["mention_count", "created_at", "updated_at"]
        # The service checks names per brand and says so in words.
        validators = []


class ListeningRuleUpdateSerializer(ListeningRuleSerializer):
    brand = serializers.UUIDField(source="brand_id", read_only=True)
    excluded_terms = serializers.ListField(child=serializers.CharField(max_length=200))

    class Meta(ListeningRuleSerializer.Meta):
        read_only_fields = ["brand", "mention_count", "created_at", "updated_at"]


class MentionSerializer(serializers.ModelSerializer):
    sentiment = SentimentField(read_only=True, allow_blank=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)

    class Meta:
        model = Mention
        fields = [
            "id",
            "brand",
            "rule",
            "rule_name",
            "found_via",
            "platform",
            "external_id",
            "author_handle",
            "text",
            "url",
            "posted_at",
            "sentiment",
            "conversation",
            "created_at",
        ]
        read_only_fields = fields


# -- saved replies -------------------------------------------------------------------------------


class SavedReplySerializer(serializers.ModelSerializer):
    brand = BrandField()

    class Meta:
        model = SavedReply
        fields = ["id", "brand", "name", "text", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []
        # The service trims and checks both, and says what is wrong in its own words.
        extra_kwargs = {"name": {"allow_blank": True}, "text": {"allow_blank": True}}


class SavedReplyUpdateSerializer(SavedReplySerializer):
    brand = serializers.UUIDField(source="brand_id", read_only=True)


class RenderQuerySerializer(serializers.Serializer):
    conversation = serializers.UUIDField(
        help_text="The conversation (of the same brand) to fill the placeholders for."
    )


class RenderedReplySerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The saved reply filled in for the conversation.")
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="Placeholders left as written, in words."
    )
