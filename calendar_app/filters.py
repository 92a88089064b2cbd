"""Query filters of the calendar's API lists."""

import django_filters

from agency.models import Platform
from calendar_app.models import Media, Post, PostTarget, QueueSlot, TargetState


class PostFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    scheduled_after = django_filters.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_before = django_filters.IsoDateTimeFilter(field_name="scheduled_at", lookup_expr="lt")
    target_state = django_filters.ChoiceFilter(
        field_name="targets__state", choices=TargetState.choices, distinct=True
    )
    account = django_filters.UUIDFilter(field_name="targets__account_id", distinct=True)
    approval_state = django_filters.ChoiceFilter(choices=Post.Approval.choices)

    class Meta:
        model = Post
        fields = ["brand", "approval_state"]


class PostTargetFilter(django_filters.FilterSet):
    post = django_filters.UUIDFilter(field_name="post_id")
    brand = django_filters.UUIDFilter(field_name="post__brand_id")
    account = django_filters.UUIDFilter(field_name="account_id")
    platform = django_filters.ChoiceFilter(field_name="account__platform", choices=Platform.choices)
    state = django_filters.ChoiceFilter(choices=TargetState.choices)
    needs_attention = django_filters.BooleanFilter()
    due_after = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = PostTarget
        fields = ["post", "brand", "account", "state", "needs_attention"]


class MediaFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    kind = django_filters.ChoiceFilter(choices=Media.Kind.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Media
        fields = ["brand", "kind", "name"]


class QueueSlotFilter(django_filters.FilterSet):
    account = django_filters.UUIDFilter(field_name="account_id")
    brand = django_filters.UUIDFilter(field_name="account__brand_id")
    weekday = django_filters.ChoiceFilter(choices=QueueSlot.Weekday.choices)

    class Meta:
        model = QueueSlot
        fields = ["account", "brand", "weekday"]
