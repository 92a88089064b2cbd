"""django-filter FilterSets of the reports API lists.

Brand, account and post filters are plain ids, not choices: the viewsets already limit rows to
the caller's brands, so another tenant's id matches nothing and no list is loaded to validate it.
`start` and `end` are calendar days, both included; an end before the start is a 400.
"""

import django_filters
from django import forms

from agency.models import Platform
from reports.models import (
    AccountMetricsDaily,
    Goal,
    PostMetricsDaily,
    ReportExport,
    ScheduledReport,
)

__all__ = [
    "AccountMetricFilter",
    "GoalFilter",
    "PostMetricFilter",
    "ReportExportFilter",
    "ScheduledReportFilter",
]


class PeriodForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The period ends before it starts.")
        return data


class AccountMetricFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="account__brand_id")
    account = django_filters.UUIDFilter(field_name="account_id")
    platform = django_filters.ChoiceFilter(field_name="account__platform", choices=Platform.choices)
    start = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="First day")
    end = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="Last day")

    class Meta:
        model = AccountMetricsDaily
        fields = ["brand", "account", "platform", "start", "end"]
        form = PeriodForm


class PostMetricFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="target__post__brand_id")
    account = django_filters.UUIDFilter(field_name="target__account_id")
    post = django_filters.UUIDFilter(field_name="target__post_id")
    target = django_filters.UUIDFilter(field_name="target_id")
    start = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="First day")
    end = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="Last day")

    class Meta:
        model = PostMetricsDaily
        fields = ["brand", "account", "post", "target", "start", "end"]
        form = PeriodForm


class GoalFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    account = django_filters.UUIDFilter(field_name="account_id")
    metric = django_filters.ChoiceFilter(choices=Goal.Metric.choices)
    active_on = django_filters.DateFilter(
        method="filter_active_on", label="Goals whose window contains this day"
    )

    class Meta:
        model = Goal
        fields = ["brand", "account", "metric"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(start_date__lte=value, due_date__gte=value)


class ReportExportFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    status = django_filters.ChoiceFilter(choices=ReportExport.Status.choices)

    class Meta:
        model = ReportExport
        fields = ["brand", "status"]


class ScheduledReportFilter(django_filters.FilterSet):
    brand = django_filters.UUIDFilter(field_name="brand_id")
    active = django_filters.BooleanFilter()

    class Meta:
        model = ScheduledReport
        fields = ["brand", "active"]
