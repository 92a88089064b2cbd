"""The PDF report: white-labelled HTML rendered by WeasyPrint, with charts drawn here as SVG.

    pdf = report_pdf_render(brand=brand, start=date(2025, 5, 1), end=date(2025, 5, 31))

Chart.js cannot run inside WeasyPrint (no JavaScript), so `svg_chart` draws each daily series
as a small inline SVG line or bar chart with a <title> and a <desc> that says in words what it
shows, for screen readers and for text extraction.

WeasyPrint never touches the network: `LocalFilesFetcher` serves our own static files and the
media files (the brand's logo) from disk and refuses every other URL, so a logo URL typed by
someone, or a remote stylesheet, can neither leak a request nor slow a render down.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from agency.models import Brand
from reports.models import Goal
from reports.selectors.analytics import METRIC_HELP
from reports.selectors.exports import report_with_goals

__all__ = [
    "REPORT_BASE_URL",
    "LocalFilesFetcher",
    "format_change",
    "format_number",
    "format_rate",
    "html_to_pdf",
    "report_pdf_context",
    "report_pdf_render",
    "svg_chart",
]

# Relative URLs in the templates (/static/..., /media/...) resolve against this; the reserved
# .invalid domain can never resolve, should anything ever try.
REPORT_BASE_URL = "https://report.agency.invalid/"
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DASH = "—"


# -- no network ---------------------------------------------------------------------------------


class LocalFilesFetcher(URLFetcher):
    """Serves REPORT_BASE_URL + STATIC_URL from the static finders and + MEDIA_URL from the
    default storage's folder; refuses everything else (http, file:, data: and the rest)."""

    def __init__(self) -> None:
        super().__init__(allow_redirects=False, timeout=1)

    def local_path(self, url: str) -> Path | None:
        if not url.startswith(REPORT_BASE_URL):
            return None
        path = unquote(urlsplit(url).path).lstrip("/")
        static_prefix = settings.STATIC_URL.strip("/") + "/"
        media_prefix = settings.MEDIA_URL.strip("/") + "/"
        try:
            if path.startswith(static_prefix):
                found = finders.find(path.removeprefix(static_prefix))
                return Path(found) if isinstance(found, str) else None
            if path.startswith(media_prefix):
                # FileSystemStorage.path refuses names that climb out of MEDIA_ROOT.
                return Path(default_storage.path(path.removeprefix(media_prefix)))
        except (SuspiciousFileOperation, NotImplementedError, ValueError):
            return None
        return None

    def fetch(self, url, headers=None):
        path = self.local_path(url)
        if path is None or not path.is_file():
            raise ValueError(f"Refused to fetch {url!r}: reports only use local files.")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=REPORT_BASE_URL, url_fetcher=LocalFilesFetcher()).write_pdf()


# -- numbers as the page shows them -------------------------------------------------------------


def format_number(value, *, places: int = 0) -> str:
    if value is None:
        return DASH
    return f"{Decimal(value):,.{places}f}"


def format_rate(value) -> str:
    """A Decimal fraction (0.0523) as a percentage with two places (5.23%)."""
    if value is None:
        return DASH
    return f"{Decimal(value) * 100:.2f}%"


def format_change(value) -> str:
    if value is None:
        return DASH
    percent = Decimal(value) * 100
    return f"{'+' if percent > 0 else ''}{percent:.1f}%"


def _format_goal_value(value, unit: str) -> str:
    if value is None:
        return DASH
    if unit == "%":
        return f"{Decimal(value):.2f}%"
    if unit == "min":
        return f"{Decimal(value):,.0f} min"
    if unit == "x":
        return f"{Decimal(value):.2f}x"
    number = Decimal(value)
    return format_number(number, places=0 if number == number.to_integral_value() else 2)


# -- charts ---------------------------------------------------------------------------------------


def _color(value: str, fallback: str = "#1d4ed8") -> str:
    return value if isinstance(value, str) and _HEX_COLOR.match(value) else fallback


def _label(day) -> str:
    return day.strftime("%-d %b") if isinstance(day, date) else str(day)


def svg_chart(
    *,
    points: Sequence[tuple[Any, float | int | Decimal | None]],
    title: str,
    kind: str = "line",
    color: str = "#1d4ed8",
    width: int = 640,
    height: int = 180,
    chart_id: str = "chart",
    value_format: Callable[[Any], str] = format_number,
) -> SafeString:
    """An accessible inline SVG chart of a series of (day, value) points: role="img", a <title>
    and a <desc> that says the range, the highest and the lowest value in words. Missing values
    (None) leave a gap in a line and no bar; an empty or all-missing series says so."""
    if kind not in ("line", "bar"):
        raise ValueError(f"Unknown chart kind {kind!r}: use 'line' or 'bar'.")
    color = _color(color)
    known = [(day, float(v)) for day, v in points if v is not None]
    left, right, top, bottom = 56, 8, 8, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    if not known:
        parts.append(f'<desc id="{desc_id}">No data in this period.</desc>')
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
            f'font-size="12" fill="#555">No data in this period</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped

    high_day, high = max(known, key=lambda p: p[1])
    low_day, low = min(known, key=lambda p: p[1])
    first_day, last_day = points[0][0], points[-1][0]
    desc = (
        f"{len(points)} days from {_label(first_day)} to {_label(last_day)}. "
        f"Highest {value_format(high)} on {_label(high_day)}, "
        f"lowest {value_format(low)} on {_label(low_day)}."
    )
    parts.append(f'<desc id="{desc_id}">{escape(desc)}</desc>')

    floor = 0.0 if kind == "bar" or low >= 0 else low
    ceiling = high if high > floor else floor + 1  # all equal (or all zero): a flat line, no /0
    count = len(points)
    step = plot_w / count

    def y_of(value: float) -> float:
        return top + plot_h - (value - floor) / (ceiling - floor) * plot_h

    # Axes and the two labels of the value scale.
    parts.append(
        f'<g aria-hidden="true" font-size="10" fill="#555">'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="#999" stroke-width="1"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{escape(value_format(ceiling))}'
        f"</text>"
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">'
        f"{escape(value_format(floor))}</text>"
        f'<text x="{left}" y="{height - 6}">{escape(_label(first_day))}</text>'
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">'
        f"{escape(_label(last_day))}</text></g>"
    )
    if kind == "bar":
        bar_w = max(step * 0.7, 1)
        parts.append(f'<g class="bars" fill="{color}">')
        for index, (_day, value) in enumerate(points):
            if value is None:
                continue
            y = y_of(float(value))
            parts.append(
                f'<rect x="{left + index * step + (step - bar_w) / 2:.2f}" y="{y:.2f}" '
                f'width="{bar_w:.2f}" height="{top + plot_h - y:.2f}"/>'
            )
        parts.append("</g>")
    else:
        segments: list[list[str]] = [[]]
        for index, (_day, value) in enumerate(points):
            if value is None:
                if segments[-1]:
                    segments.append([])
                continue
            x = left + index * step + step / 2
            segments[-1].append(f"{x:.2f},{y_of(float(value)):.2f}")
        for segment in segments:
            if len(segment) == 1:
                x, y = segment[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
            elif segment:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(segment)}"/>'
                )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# -- the report --------------------------------------------------------------------------------

KEY_NUMBERS = (
    ("followers", "Followers", format_number),
    ("impressions", "Impressions", format_number),
    ("reach", "Reach", format_number),
    ("engagements", "Engagements", format_number),
    ("link_clicks", "Link clicks", format_number),
    ("engagement_rate", "Engagement rate", format_rate),
)


def report_pdf_context(*, brand: Brand, start: date, end: date) -> dict[str, Any]:
    """What the PDF template shows, with every number already formatted as on the page."""
    report = report_with_goals(brand=brand, start=start, end=end)
    key_numbers = [
        {
            "name": name,
            "label": label,
            "value": fmt(report["organic"][name]["value"]),
            "previous": fmt(report["organic"][name]["previous"]),
            "change": format_change(report["organic"][name]["change"]),
            "help": METRIC_HELP.get(name, ""),
        }
        for name, label, fmt in KEY_NUMBERS
    ]
    daily = report["daily"]
    charts = [
        svg_chart(
            points=[(d["date"], d["followers"]) for d in daily],
            title="Followers per day",
            kind="line",
            color=brand.primary_color,
            chart_id="chart-followers",
        ),
        svg_chart(
            points=[(d["date"], d["engagements"]) for d in daily],
            title="Engagements per day",
            kind="bar",
            color=brand.secondary_color,
            chart_id="chart-engagements",
        ),
        svg_chart(
            points=[(d["date"], d["impressions"]) for d in daily],
            title="Impressions per day",
            kind="line",
            color=brand.primary_color,
            chart_id="chart-impressions",
        ),
    ]
    statuses = dict(Goal.Status.choices)
    goals = [
        {
            "name": g["goal"].name,
            "metric": g["goal"].get_metric_display(),
            "due_date": g["goal"].due_date,
            "current": _format_goal_value(g["current"], g["unit"]),
            "target": _format_goal_value(g["target"], g["unit"]),
            "progress": DASH if g["progress_percent"] is None else f"{g['progress_percent']}%",
            "status": g["status"],
            "status_label": statuses.get(g["status"], g["status"]),
        }
        for g in report["goals"]
    ]
    zone = brand.zone
    best_posts = [
        {
            **post,
            "published_local": post["published_at"].astimezone(zone)
            if post["published_at"]
            else None,
            "engagements": format_number(post["engagements"]),
            "reach": format_number(post["reach"]),
            "engagement_rate": format_rate(post["engagement_rate"]),
        }
        for post in report["best_posts"]
    ]
    inbox = report["inbox"]
    paid = report["paid"]
    paid_rows = None
    if paid and (paid.get("spend") or paid.get("impressions")):
        currency = paid.get("currency") or ""

        def money(value) -> str:
            return DASH if value is None else f"{format_number(value, places=2)} {currency}".strip()

        paid_rows = [
            ("Spend", money(paid.get("spend"))),
            ("Impressions", format_number(paid.get("impressions"))),
            ("Clicks", format_number(paid.get("clicks"))),
            ("Click-through rate", format_rate(paid.get("ctr"))),
            ("Cost per click", money(paid.get("cpc"))),
            ("Conversions", format_number(paid.get("conversions"))),
            ("Conversion value", money(paid.get("conversion_value"))),
            (
                "Return on ad spend",
                DASH if paid.get("roas") is None else f"{Decimal(paid['roas']):.2f}x",
            ),
        ]
    return {
        "brand": brand,
        "report": report,
        "start": start,
        "end": end,
        "generated_at": timezone.now().astimezone(zone),
        "primary": _color(brand.primary_color),
        "secondary": _color(brand.secondary_color, "#f59e0b"),
        "logo_url": brand.logo.url if brand.logo else "",
        "goals": goals,
        "key_numbers": key_numbers,
        "charts": charts,
        "best_posts": best_posts,
        "best_times": report["best_times"][:5],
        "inbox": {
            "conversations": format_number(inbox["conversations"]),
            "first_response": _format_goal_value(inbox["median_first_response_minutes"], "min"),
            "resolution": _format_goal_value(inbox["median_resolution_minutes"], "min"),
        },
        "paid_rows": paid_rows,
        "links": {
            "clicks": format_number(report["links"]["clicks"]),
            "top": [
                {**link, "clicks": format_number(link["clicks"])} for link in report["links"]["top"]
            ],
        },
    }


def report_pdf_render(
    *,
    brand: Brand,
    start: date,
    end: date,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """The brand's report for the period as PDF bytes. `on_progress(percent)` hears 50 once the
    numbers are gathered and 90 once the PDF is drawn."""
    context = report_pdf_context(brand=brand, start=start, end=end)
    if on_progress:
        on_progress(50)
    pdf = html_to_pdf(render_to_string("reports/pdf/report.html", context))
    if on_progress:
        on_progress(90)
    return pdf
