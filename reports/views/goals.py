"""The staff's pages of a brand's SMART goals: the list with live progress, add, edit, delete.

Reading needs a staff role on the brand (clients see goals in the portal); changing needs a role
that writes reports. Every change goes through reports.services.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agency.forms import DashboardForm, attach_service_errors
from agency.models import Brand, Role
from agency.permissions import Area, brand_for_user, can_write
from reports import services
from reports.models import Goal
from reports.selectors.goals import goals_for_brand, goals_with_progress

__all__ = ["GoalForm", "urlpatterns"]


def _staff_brand(request, brand_id, *, write: bool = False) -> Brand:
    brand = brand_for_user(
        user=request.user, brand_id=brand_id, write=write, area=Area.REPORTS if write else None
    )
    if brand.user_role == Role.CLIENT:
        raise PermissionDenied("Goals are managed by the agency; see them in the client portal.")
    return brand


class DateInput(forms.DateInput):
    input_type = "date"


class GoalForm(DashboardForm):
    name = forms.CharField(
        max_length=200,
        help_text="The goal in words, as the client reads it: e.g. “Answer Facebook messages "
        "within 24 hours (median) by 31 December”.",
    )
    metric = forms.ChoiceField(choices=Goal.Metric.choices)
    account = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The whole brand",
        help_text="For followers, reach, impressions, link clicks and engagement rate only.",
    )
    direction = forms.ChoiceField(choices=Goal.Direction.choices)
    target = forms.DecimalField(max_digits=16, decimal_places=4)
    baseline = forms.DecimalField(
        max_digits=16,
        decimal_places=4,
        required=False,
        help_text="The value at the start. Left empty: 0 for totals, the count on the start "
        "date for followers.",
    )
    start_date = forms.DateField(widget=DateInput)
    due_date = forms.DateField(widget=DateInput)
    owner = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Hears when the goal's status changes."
    )

    def __init__(self, *args, brand: Brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = brand.social_accounts.all()
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__agency_id=brand.agency_id, is_active=True)
            .order_by("username")
        )


def _initial(goal: Goal) -> dict:
    return {
        "name": goal.name,
        "metric": goal.metric,
        "account": goal.account_id,
        "direction": goal.direction,
        "target": goal.target,
        "baseline": goal.baseline,
        "start_date": goal.start_date,
        "due_date": goal.due_date,
        "owner": goal.owner_id,
    }


@login_required
@require_GET
def goal_list(request, brand_id):
    brand = _staff_brand(request, brand_id)
    return render(
        request,
        "reports/goals/list.html",
        {
            "brand": brand,
            "rows": goals_with_progress(brand=brand),
            "can_edit": can_write(brand.user_role, Area.REPORTS),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def goal_create(request, brand_id):
    brand = _staff_brand(request, brand_id, write=True)
    form = GoalForm(request.POST or None, brand=brand, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            goal = services.goal_create(brand=brand, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, f"The goal “{goal.name}” was added.")
            return redirect("reports:goal-list", brand_id=brand.pk)
    return render(request, "reports/goals/form.html", {"brand": brand, "form": form, "goal": None})


@login_required
@require_http_methods(["GET", "POST"])
def goal_edit(request, brand_id, goal_id):
    brand = _staff_brand(request, brand_id, write=True)
    goal = get_object_or_404(goals_for_brand(brand=brand), pk=goal_id)
    form = GoalForm(request.POST or None, brand=brand, initial=_initial(goal))
    if request.method == "POST" and form.is_valid():
        try:
            services.goal_update(goal=goal, by=request.user, data=form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, f"The goal “{goal.name}” was saved.")
            return redirect("reports:goal-list", brand_id=brand.pk)
    return render(request, "reports/goals/form.html", {"brand": brand, "form": form, "goal": goal})


@login_required
@require_POST
def goal_delete(request, brand_id, goal_id):
    brand = _staff_brand(request, brand_id, write=True)
    goal = get_object_or_404(goals_for_brand(brand=brand), pk=goal_id)
    name = goal.name
    services.goal_delete(goal=goal, by=request.user)
    messages.success(request, f"The goal “{name}” was deleted.")
    return redirect("reports:goal-list", brand_id=brand.pk)


urlpatterns = [
    path("brands/<uuid:brand_id>/goals/", goal_list, name="goal-list"),
    path("brands/<uuid:brand_id>/goals/new/", goal_create, name="goal-create"),
    path("brands/<uuid:brand_id>/goals/<uuid:goal_id>/edit/", goal_edit, name="goal-edit"),
    path("brands/<uuid:brand_id>/goals/<uuid:goal_id>/delete/", goal_delete, name="goal-delete"),
]
