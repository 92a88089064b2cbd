"""Writes of SMART goals: create, change, delete, and record status changes (the beat task).

Each goal is checked in words before it is saved: the due date after the start, a positive
target, a direction that makes sense for the metric, an account and an owner of the brand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, Membership
from agency.services import audit_log, notify
from integrations import events as webhook_events
from reports.models import Goal
from reports.selectors.goals import (
    CUMULATIVE_METRICS,
    METRIC_DIRECTIONS,
    ORGANIC_METRICS,
    goal_progress,
)

__all__ = [
    "GOAL_FIELDS",
    "goal_create",
    "goal_delete",
    "goal_record_status",
    "goal_update",
    "goals_record_statuses",
]

GOAL_FIELDS = [
    "name",
    "metric",
    "account",
    "direction",
    "target",
    "baseline",
    "start_date",
    "due_date",
    "owner",
]
# Statuses that no longer change once the due date is behind: the sweep skips them.
FINAL_STATUSES = frozenset({Goal.Status.ACHIEVED, Goal.Status.MISSED})


def _validate(goal: Goal) -> None:
    errors: dict[str, list[str]] = {}
    if goal.start_date and goal.due_date and goal.due_date <= goal.start_date:
        errors.setdefault("due_date", []).append(
            "The due date must come after the start date: a goal needs time to be reached."
        )
    if goal.target is not None and goal.target <= 0:
        errors.setdefault("target", []).append("The target must be more than zero.")
    if goal.baseline is not None and goal.baseline < 0:
        errors.setdefault("baseline", []).append("The baseline cannot be below zero.")
    allowed = METRIC_DIRECTIONS.get(goal.metric)
    if allowed and goal.direction and goal.direction not in allowed:
        metric = Goal.Metric(goal.metric).label.lower()
        if goal.direction == Goal.Direction.AT_LEAST:
            why = f"{metric.capitalize()} is something to keep down: choose “Stay at or under”."
        else:
            why = f"{metric.capitalize()} is something to grow: choose “Reach at least”."
        errors.setdefault("direction", []).append(why)
    if (
        goal.direction == Goal.Direction.AT_LEAST
        and goal.metric in CUMULATIVE_METRICS
        and goal.baseline is not None
        and goal.target is not None
        and goal.target <= goal.baseline
    ):
        errors.setdefault("target", []).append(
            "The target must be above the baseline, or there is nothing to reach."
        )
    if goal.account_id:
        if goal.metric not in ORGANIC_METRICS:
            errors.setdefault("account", []).append(
                "Inbox and paid goals cover the whole brand: leave the account empty."
            )
        elif goal.account.brand_id != goal.brand_id:
            errors.setdefault("account", []).append("That account belongs to another brand.")
    if (
        goal.owner_id
        and not Membership.objects.filter(
            user_id=goal.owner_id, agency_id=goal.brand.agency_id
        ).exists()
    ):
        errors.setdefault("owner", []).append("The owner must work at the brand's agency.")
    if errors:
        raise ValidationError(errors)
    # Field types and choices; the constraint's message is replaced by the words above.
    goal.full_clean(validate_constraints=False)


@transaction.atomic
def goal_create(*, brand: Brand, by, **fields: Any) -> Goal:
    goal = Goal(brand=brand, **{k: v for k, v in fields.items() if k in GOAL_FIELDS})
    _validate(goal)
    goal.save()
    audit_log(
        actor=by,
        action="goal.created",
        target=goal,
        agency=brand.agency,
        brand=brand,
        data={"metric": goal.metric, "direction": goal.direction, "target": str(goal.target)},
    )
    return goal


@transaction.atomic
def goal_update(*, goal: Goal, by, data: dict[str, Any]) -> Goal:
    before = {field: getattr(goal, field) for field in GOAL_FIELDS}
    for field in GOAL_FIELDS:
        if field in data:
            setattr(goal, field, data[field])
    changed = [field for field in GOAL_FIELDS if getattr(goal, field) != before[field]]
    if not changed:
        return goal
    _validate(goal)
    goal.save(update_fields=[*changed, "updated_at"])
    audit_log(
        actor=by,
        action="goal.updated",
        target=goal,
        agency=goal.brand.agency,
        brand=goal.brand,
        data={"fields": changed},
    )
    return goal


@transaction.atomic
def goal_delete(*, goal: Goal, by) -> None:
    audit_log(
        actor=by,
        action="goal.deleted",
        target=goal,
        agency=goal.brand.agency,
        brand=goal.brand,
        data={"name": goal.name},
    )
    goal.delete()


def _notify_owner(goal: Goal, old: str, new: str, current: Decimal | None) -> None:
    if goal.owner is None:
        return
    label = Goal.Status(new).label.lower()
    before = Goal.Status(old).label.lower() if old else "new"
    notify(
        users=[goal.owner],
        brand=goal.brand,
        title=f"Goal “{goal.name}” is now {label}",
        body=(
            f"{goal.brand.name}: the goal went from {before} to {label}"
            + (f" (current value {current})." if current is not None else ".")
        ),
        url=reverse("reports:goal-list", args=[goal.brand_id]),
    )


@transaction.atomic
def goal_record_status(*, goal: Goal, today: dt.date | None = None) -> bool:
    """Store the goal's live status if it changed, tell the owner, and return whether it did.

    The update is conditional on the status it read, so two overlapping sweeps record (and
    notify) a change once.
    """
    progress = goal_progress(goal=goal, today=today)
    old, new = goal.last_status, progress["status"]
    if old == new:
        return False
    now = timezone.now()
    claimed = Goal.objects.filter(pk=goal.pk, last_status=old).update(
        last_status=new, status_changed_at=now
    )
    if not claimed:
        return False
    goal.last_status, goal.status_changed_at = new, now
    audit_log(
        actor=None,
        action="goal.status_changed",
        target=goal,
        agency=goal.brand.agency,
        brand=goal.brand,
        data={"from": old, "to": new, "current": str(progress["current"])},
    )
    webhook_events.goal_status_changed(goal=goal, old=old, new=new, current=progress["current"])
    # The first look at a fresh goal is not news; anything after it is.
    if old or new not in (Goal.Status.NOT_STARTED, Goal.Status.ON_TRACK):
        _notify_owner(goal, old, new, progress["current"])
    return True


def goals_record_statuses(*, today: dt.date | None = None) -> int:
    """The beat sweep: re-evaluate every goal still in play; returns how many changed.

    Goals whose due date passed more than a day ago and whose status is final are skipped.
    `today` (for tests) overrides each brand's own date.
    """
    cutoff = (today or timezone.localdate()) - dt.timedelta(days=1)
    goals = (
        Goal.objects.select_related("brand__agency", "owner", "account")
        .exclude(last_status__in=FINAL_STATUSES, due_date__lt=cutoff)
        .order_by("pk")
    )
    return sum(goal_record_status(goal=goal, today=today) for goal in goals.iterator())
