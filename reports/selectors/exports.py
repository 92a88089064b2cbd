"""Reads of the exports: the report with its goals (what the PDF and CSV show), each report
table as CSV, PDF exports and scheduled reports as their users may see them.

CSV cells that a spreadsheet would run as a formula (text starting with = + - @, a tab or a
carriage return) get a leading apostrophe; numbers are written as numbers, so a negative
change stays a number.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from agency.models import Brand
from agency.permissions import brands_for_user
from reports.models import Goal, ReportDelivery, ReportExport, ScheduledReport
from reports.selectors.analytics import brand_report
from reports.selectors.goals import goal_progress

__all__ = [
    "REPORT_TABLES",
    "csv_cell",
    "report_csv",
    "report_deliveries_for_schedule",
    "report_export_for_user",
    "report_exports_for_brand",
    "report_table",
    "report_with_goals",
    "scheduled_report_for_user",
    "scheduled_reports_for_brand",
]

# The tables of a report, each with its CSV columns in order.
REPORT_TABLES: dict[str, tuple[str, ...]] = {
    "daily": ("date", "followers", "impressions", "reach", "engagements"),
    "best_posts": (
        "target_id",
        "text",
        "account",
        "platform",
        "published_at",
        "engagements",
        "reach",
        "engagement_rate",
        "url",
    ),
    "inbox": ("conversations", "median_first_response_minutes", "median_resolution_minutes"),
    "paid": (
        "spend",
        "currency",
        "impressions",
        "clicks",
        "conversions",
        "conversion_value",
        "ctr",
        "cpc",
        "roas",
    ),
    "links": ("name", "code", "clicks"),
    "goals": (
        "name",
        "metric",
        "account",
        "direction",
        "start_date",
        "due_date",
        "baseline",
        "target",
        "current",
        "unit",
        "progress",
        "expected",
        "status",
    ),
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def report_with_goals(*, brand: Brand, start: date, end: date) -> dict[str, Any]:
    """brand_report plus "goals": the progress of every goal whose window overlaps the period,
    as of the period's last day (or today, if that is earlier)."""
    report = brand_report(brand=brand, start=start, end=end)
    today = min(end, timezone.localdate(timezone=brand.zone))
    goals = Goal.objects.filter(brand=brand, start_date__lte=end, due_date__gte=start)
    report["goals"] = []
    for goal in goals.select_related("account"):
        goal.brand = brand
        report["goals"].append(goal_progress(goal=goal, today=today))
    return report


def _goal_row(progress: dict) -> dict:
    goal: Goal = progress["goal"]
    return {
        "name": goal.name,
        "metric": goal.metric,
        "account": goal.account.handle if goal.account else "",
        "direction": goal.direction,
        "start_date": goal.start_date,
        "due_date": goal.due_date,
        "baseline": progress["baseline"],
        "target": progress["target"],
        "current": progress["current"],
        "unit": progress["unit"],
        "progress": progress["progress"],
        "expected": progress["expected"],
        "status": progress["status"],
    }


def report_table(*, brand: Brand, start: date, end: date, table: str) -> list[dict]:
    """One table of the report as rows of plain values, keyed by REPORT_TABLES[table]."""
    if table not in REPORT_TABLES:
        raise KeyError(table)
    if table == "goals":
        report = report_with_goals(brand=brand, start=start, end=end)
        return [_goal_row(p) for p in report["goals"]]
    report = brand_report(brand=brand, start=start, end=end)
    columns = REPORT_TABLES[table]
    if table == "daily":
        rows = report["daily"]
    elif table == "best_posts":
        rows = report["best_posts"]
    elif table == "inbox":
        rows = [report["inbox"]]
    elif table == "paid":
        rows = [report["paid"]] if report["paid"] else []
    else:
        rows = report["links"]["top"]
    return [{column: row.get(column) for column in columns} for row in rows]


def csv_cell(value: Any, *, zone=None) -> Any:
    """A value as csv.writer should write it: dates ISO, times in the brand's zone, no None,
    and text that a spreadsheet would run as a formula made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return (value.astimezone(zone) if zone else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def report_csv(*, brand: Brand, start: date, end: date, table: str) -> str:
    """The table as CSV text: a header of REPORT_TABLES[table], then its rows."""
    rows = report_table(brand=brand, start=start, end=end, table=table)
    columns = REPORT_TABLES[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    zone = brand.zone
    for row in rows:
        writer.writerow([csv_cell(row[column], zone=zone) for column in columns])
    return buffer.getvalue()


# -- PDF exports ------------------------------------------------------------------------------


def report_exports_for_brand(*, brand: Brand, limit: int = 10) -> QuerySet[ReportExport]:
    return (
        ReportExport.objects.filter(brand=brand)
        .select_related("requested_by")
        .order_by("-created_at")[:limit]
    )


def report_export_for_user(*, user, export_id) -> ReportExport:
    """The export if the user may see its brand (clients of the brand included);
    ReportExport.DoesNotExist otherwise."""
    return (
        ReportExport.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
        .select_related("brand")
        .get(pk=export_id)
    )


# -- scheduled reports ------------------------------------------------------------------------


def scheduled_reports_for_brand(*, brand: Brand) -> QuerySet[ScheduledReport]:
    return ScheduledReport.objects.filter(brand=brand).order_by("name")


def scheduled_report_for_user(*, user, schedule_id) -> ScheduledReport:
    """The schedule if the user may see its brand; ScheduledReport.DoesNotExist otherwise."""
    return (
        ScheduledReport.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
        .select_related("brand")
        .get(pk=schedule_id)
    )


def report_deliveries_for_schedule(
    *, schedule: ScheduledReport, limit: int = 100
) -> QuerySet[ReportDelivery]:
    return ReportDelivery.objects.filter(schedule=schedule).order_by("-period_start")[:limit]
