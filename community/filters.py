"""Query filters of the inbox's and listening's API lists."""

import django_filters
from django.core.validators import RegexValidator

from agency.models import Platform
from community import selectors
from community.models import Conversation, ListeningRule, Mention, SavedReply, Sentiment


class ConversationFilter(django_filters.FilterSet):
    """The inbox's filters. They are validated here and applied by the inbox's own selector
    (community.selectors.inbox_conversations), so the API and the dashboard always agree on
    what "tag", "assignee" or "q" match."""

    brand = django_filters.UUIDFilter()
    account = django_filters.UUIDFilter()
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Conversation.Kind.choices)
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices)
    priority = django_filters.ChoiceFilter(choices=Conversation.Priority.choices)
    assignee = django_filters.CharFilter(
        validators=[RegexValidator(r"^(me|unassigned|\d+)$", "Give me, unassigned or a user id.")],
        help_text="me, unassigned, or a user id.",
    )
    tag = django_filters.CharFilter(
        max_length=200, help_text="Comma-separated; a conversation must have every one."
    )
    q = django_filters.CharFilter(
        max_length=200, help_text="Words in the preview, the participant or any message."
    )

    class Meta:
        model = Conversation
        fields = ["brand", "account", "status", "kind", "sentiment", "priority"]

    def filter_queryset(self, queryset):
        given = {k: v for k, v in self.form.cleaned_data.items() if v not in (None, "")}
        # The viewset's own tenant-scoped rows are where the selector starts from: rows outside
        # them cannot come back (an `id IN (...)` of them on top made every page a sort).
        return selectors.inbox_conversations(user=self.request.user, filters=given, within=queryset)


class ListeningRuleFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    kind = django_filters.ChoiceFilter(choices=ListeningRule.Kind.choices)
    active = django_filters.BooleanFilter()

    class Meta:
        model = ListeningRule
        fields = ["brand", "kind", "active"]


class MentionFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    rule = django_filters.UUIDFilter(field_name="rule_id")
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices)
    posted_after = django_filters.IsoDateTimeFilter(field_name="posted_at", lookup_expr="gte")
    posted_before = django_filters.IsoDateTimeFilter(field_name="posted_at", lookup_expr="lt")
    in_inbox = django_filters.BooleanFilter(
        field_name="conversation", lookup_expr="isnull", exclude=True
    )
    q = django_filters.CharFilter(field_name="text", lookup_expr="icontains")

    class Meta:
        model = Mention
        fields = ["brand", "rule", "platform", "sentiment"]


class SavedReplyFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = SavedReply
        fields = ["brand", "name"]
