"""Showing report numbers in words: percentages, changes, durations and each metric's help.

{% load report_tags %}
{{ metric.change|change_percent }}  {{ rate|percent }}  {{ minutes|duration_minutes }}
{% metric_help "reach" %}
"""

from decimal import Decimal

from django import template

from reports.selectors.analytics import METRIC_HELP

register = template.Library()

NOTHING = "—"


@register.simple_tag
def metric_help(name: str) -> str:
    return METRIC_HELP.get(name, "")


@register.filter
def percent(fraction) -> str:
    """0.0512 -> "5.12 %"; None -> "—"."""
    if fraction is None or fraction == "":
        return NOTHING
    return f"{Decimal(fraction) * 100:.2f} %"


@register.filter
def change_percent(fraction) -> str:
    """A change with its sign: 0.125 -> "+12.5 %", -0.03 -> "-3.0 %"; None -> "—"."""
    if fraction is None or fraction == "":
        return NOTHING
    value = Decimal(fraction) * 100
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}{abs(value):.1f} %"


@register.filter
def change_class(fraction) -> str:
    if fraction is None or fraction == "":
        return "change--none"
    return "change--up" if fraction > 0 else "change--down" if fraction < 0 else "change--flat"


@register.filter
def duration_minutes(minutes) -> str:
    """Decimal minutes in words: 95.5 -> "1 h 36 min"; None -> "—"."""
    if minutes is None or minutes == "":
        return NOTHING
    total = int(Decimal(minutes).to_integral_value())
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
