import django_filters

from calendar_app.models import Post, TargetState


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
