"""CSV of every report table: what the selector returns reads back the same, formulas are made
inert, and only the brand's own people get it."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from calendar_app.models import TargetState
from reports.models import Goal, PostMetricsDaily
from reports.selectors import exports as export_selectors
from tests.factories import PostFactory, PostTargetFactory
from tests.reports.test_pdf import MAY_END, MAY_START, seed_report

QUERY = {"start": "2025-05-01", "end": "2025-05-31"}


@pytest.fixture
def may(brand, account):
    return seed_report(brand, account)


def _published(brand, account, text, engagements, minute):
    target = PostTargetFactory(
        post=PostFactory(brand=brand, text=text),
        account=account,
        state=TargetState.PUBLISHED,
        external_id=f"sandbox-{minute}",
        published_at=datetime(2025, 5, 10, 12, minute, tzinfo=UTC),
    )
    PostMetricsDaily.objects.create(
        target=target, date=date(2025, 5, 20), engagements=engagements, reach=1000
    )
    return target


def _download(client, brand, table, query=QUERY):
    response = client.get(reverse("reports:export-csv", args=[brand.pk, table]), query)
    assert response.status_code == 200, response.content
    return response


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _as_written(value, zone) -> str:
    """How a value of the selector reads back from the CSV."""
    cell = export_selectors.csv_cell(value, zone=zone)
    return str(cell)


def test_daily_csv_reads_back_what_the_selector_returned(login, brand, manager, may):
    expected = export_selectors.report_table(
        brand=brand, start=MAY_START, end=MAY_END, table="daily"
    )

    response = _download(login(manager), brand, "daily")
    rows = _rows(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        'filename="acme-coffee-daily-2025-05-01-2025-05-31.csv"' in response["Content-Disposition"]
    )
    assert len(rows) == 31
    assert rows[-1] == {
        "date": "2025-05-31",
        "followers": "1231",
        "impressions": "1000",
        "reach": "800",
        "engagements": "40",
    }
    assert rows == [{k: _as_written(v, brand.zone) for k, v in row.items()} for row in expected]


def test_best_posts_csv_keeps_commas_quotes_and_lines_and_defuses_formulas(
    login, brand, manager, account, may
):
    _published(brand, account, '=HYPERLINK("http://evil.example","click")', 900, 1)
    _published(brand, account, "@everyone -5 % today", 800, 2)
    _published(brand, account, 'Line one, with "quotes"\nline two', 700, 3)

    rows = _rows(_download(login(manager), brand, "best_posts"))
    texts = [row["text"] for row in rows]

    assert texts[:3] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'@everyone -5 % today",
        'Line one, with "quotes"\nline two',
    ]
    assert rows[0]["published_at"] == "2025-05-10T14:01:00+02:00"  # in the brand's zone
    assert rows[0]["engagement_rate"] == "0.9000"
    expected = export_selectors.report_table(
        brand=brand, start=MAY_START, end=MAY_END, table="best_posts"
    )
    assert rows == [{k: _as_written(v, brand.zone) for k, v in row.items()} for row in expected]


def test_goals_csv_has_each_goal_with_its_progress(login, brand, manager, may):
    Goal.objects.create(
        brand=brand,
        name="-Grow followers to 1,500",
        metric=Goal.Metric.FOLLOWERS,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(1500),
        baseline=Decimal(1000),
        start_date=date(2025, 4, 1),
        due_date=date(2025, 8, 31),
    )
    Goal.objects.create(  # over before May: not part of May's report
        brand=brand,
        name="Spring reach",
        metric=Goal.Metric.REACH,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(1000),
        start_date=date(2025, 3, 1),
        due_date=date(2025, 3, 31),
    )

    rows = _rows(_download(login(manager), brand, "goals"))

    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "'-Grow followers to 1,500"
    assert (row["metric"], row["current"], row["target"], row["status"]) == (
        "followers",
        "1231",
        "1500.0000",
        "on_track",
    )
    assert row["progress"] == "0.462"


@pytest.mark.parametrize(
    ("table", "header"),
    [
        ("inbox", ["conversations", "median_first_response_minutes", "median_resolution_minutes"]),
        ("links", ["name", "code", "clicks"]),
        ("paid", list(export_selectors.REPORT_TABLES["paid"])),
    ],
)
def test_every_other_table_downloads_with_its_header(login, brand, manager, table, header):
    response = _download(login(manager), brand, table)

    reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    assert next(reader) == header


def test_inbox_csv_has_one_row_of_the_period(login, brand, manager):
    rows = _rows(_download(login(manager), brand, "inbox"))

    assert rows == [
        {
            "conversations": "0",
            "median_first_response_minutes": "",
            "median_resolution_minutes": "",
        }
    ]


def test_csv_cell_guards_text_but_leaves_numbers_alone():
    assert export_selectors.csv_cell("=1+1") == "'=1+1"
    assert export_selectors.csv_cell("+49 30 1234") == "'+49 30 1234"
    assert export_selectors.csv_cell("-5") == "'-5"
    assert export_selectors.csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert export_selectors.csv_cell("\t=cmd") == "'\t=cmd"
    assert export_selectors.csv_cell("plain, text") == "plain, text"
    assert export_selectors.csv_cell(-5) == -5
    assert export_selectors.csv_cell(Decimal("-0.25")) == Decimal("-0.25")
    assert export_selectors.csv_cell(None) == ""


def test_unknown_table_is_not_found(login, brand, manager):
    response = login(manager).get(reverse("reports:export-csv", args=[brand.pk, "secrets"]))

    assert response.status_code == 404


def test_backwards_period_is_a_bad_request_that_says_why(login, brand, manager):
    response = login(manager).get(
        reverse("reports:export-csv", args=[brand.pk, "daily"]),
        {"start": "2025-05-31", "end": "2025-05-01"},
    )

    assert response.status_code == 400
    assert "before the first day" in response.content.decode()


def test_client_of_the_brand_downloads_its_csv(login, brand, client_user, may):
    rows = _rows(_download(login(client_user), brand, "daily"))

    assert rows[0]["date"] == "2025-05-01"


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_other_tenants_get_no_csv(persona, personas, login, brand, may):
    response = login(personas[persona]).get(
        reverse("reports:export-csv", args=[brand.pk, "daily"]), QUERY
    )

    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_log_in(client, brand):
    response = client.get(reverse("reports:export-csv", args=[brand.pk, "daily"]), QUERY)

    assert response.status_code == 302 and "/auth/login/" in response["Location"]
