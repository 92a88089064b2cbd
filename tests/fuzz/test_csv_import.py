"""Fuzzing the bulk CSV import (docs/csv-import.md), through the service and the upload page.

What the importer promises: every row is checked before anything is saved; one bad row and
nothing is imported, the page lists every problem with its row number (the header is row 1) and
column; a good file is imported whole. So for every generated file: no exception and no 500; a
refused file leaves the post and target tables exactly as they were and says why in
words, per row or for the file; an accepted file becomes exactly one post per row, its text
stored verbatim (cells that a spreadsheet would run as formulas included: they are defused on
export, not altered on import).
"""

from __future__ import annotations

import codecs
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import assume, example, given
from hypothesis import strategies as st

from calendar_app.models import ImportJob, Post, PostTarget
from calendar_app.services import imports
from tests.factories import SocialAccountFactory
from tests.fuzz import fuzz_settings

OTHER_BRAND_ACCOUNT_ID = uuid.UUID("9b0e6f0c-7c1e-4d43-9d6c-0b8d1f0f9a11")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def setup(brand, manager, other_brand):
    account = SocialAccountFactory(brand=brand, handle="@acmecoffee")
    foreign = SocialAccountFactory(brand=other_brand, handle="@rivaltea", id=OTHER_BRAND_ACCOUNT_ID)
    return {"brand": brand, "account": account, "foreign": foreign, "manager": manager}


def counts() -> tuple[int, int]:
    return Post.objects.count(), PostTarget.objects.count()


def assert_errors_in_words(errors: list[dict]) -> None:
    assert errors, "a refused file must say why"
    for error in errors:
        assert set(error) == {"row", "column", "message"}
        assert error["row"] is None or (isinstance(error["row"], int) and error["row"] >= 1)
        assert isinstance(error["column"], str)
        assert isinstance(error["message"], str) and len(error["message"].strip()) > 10
        assert "Traceback" not in error["message"]


def check_outcome(setup, data: bytes, *, name: str = "posts.csv") -> ImportJob | None:
    """Upload through the service; a refused file writes nothing, an accepted one is imported
    whole by the task's own function. Returns the job (None: refused before one was made)."""
    brand, manager = setup["brand"], setup["manager"]
    before = counts()
    try:
        job = imports.import_job_create(brand=brand, by=manager, file_name=name, data=data)
    except imports.ValidationError as exc:  # only the size limit is refused this early
        assert len(data) > imports.IMPORT_MAX_FILE_BYTES, exc
        assert counts() == before
        return None
    if job.status == ImportJob.Status.INVALID:
        assert_errors_in_words(job.errors)
        assert counts() == before
        return job
    assert job.status == ImportJob.Status.QUEUED and job.errors == []
    outcome = imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    if outcome == "done":
        assert job.created_posts == job.total_rows
        assert counts()[0] == before[0] + job.total_rows
    else:
        assert outcome == "failed", outcome
        assert_errors_in_words(job.errors)
        assert counts() == before
    return job


# -- arbitrary bytes ---------------------------------------------------------------------------

PREFIXES = [
    b"",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    b"PK\x03\x04",
    b"account,text,time\r\n",
    codecs.BOM_UTF8 + b"account;text;time\n",
    b"account,text,time\n@acmecoffee,",
]


@fuzz_settings(max_examples=50)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=600))
@example(prefix=b"account,text,time\n", body=b"@acmecoffee,hello\x00world,2031-06-01 09:30\n")
@example(prefix=b"", body=b"\x00\x00\x00")
@example(prefix=b"account,text,time\n", body=b'@acmecoffee,"unterminated,2031-06-01 09:30\n')
def test_arbitrary_bytes_are_refused_in_words_and_write_nothing(setup, prefix, body):
    job = check_outcome(setup, prefix + body)
    assert job is not None
    # Random bytes never name a real account with a valid future time.
    assert job.status == ImportJob.Status.INVALID


# -- structured files: headers, cells, encodings, delimiters -------------------------------------


@dataclass
class Cell:
    value: str
    # The column the importer must name in its error for this cell, or None when it is fine.
    bad: str | None = None


def _future_local(brand, days: int, hour: int, minute: int) -> datetime:
    day = (timezone.now().astimezone(brand.zone) + timedelta(days=days)).date()
    # 09:00 to 20:59 never falls in a DST gap or overlap in Europe/Berlin.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=brand.zone)


def _dst_gap(brand) -> str:
    """02:30 on the last Sunday of next March: skipped in Europe/Berlin."""
    year = timezone.now().year + 1
    day = datetime(year, 3, 31, tzinfo=UTC)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return f"{day:%Y-%m-%d} 02:30"


def account_cells(setup):
    account = setup["account"]
    good = st.sampled_from(
        [
            "@acmecoffee",
            "acmecoffee",
            " @ACMECOFFEE ",
            str(account.pk),
            str(account.pk).upper(),
            "sandbox:@acmecoffee",
            "@acmecoffee|@acmecoffee",
        ]
    ).map(Cell)
    bad = st.sampled_from(
        [
            "@nobody",
            "@rivaltea",  # another brand's handle
            str(OTHER_BRAND_ACCOUNT_ID),  # another brand's account by id
            str(uuid.UUID(int=7)),
            '=HYPERLINK("http://evil.example","x")',
            "@acmecoffee|@ghost",
            "instagram:@acmecoffee",
            "|",
            "",
        ]
    ).map(lambda v: Cell(v, "account"))
    return st.one_of(good, good, bad)


def time_cells(setup):
    brand = setup["brand"]
    good = st.builds(
        lambda days, hour, minute, form: Cell(form(_future_local(brand, days, hour, minute))),
        st.integers(2, 400),
        st.integers(9, 20),
        st.integers(0, 59),
        st.sampled_from(
            [
                lambda at: at.strftime("%Y-%m-%d %H:%M"),
                lambda at: at.strftime("%Y-%m-%dT%H:%M"),
                lambda at: at.isoformat(timespec="minutes"),
                lambda at: at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
                lambda at: " " + at.strftime("%Y-%m-%d %H:%M:%S") + " ",
            ]
        ),
    )
    bad = st.sampled_from(
        [
            "",
            "tomorrow at nine",
            "01/06/2031 09:30",
            "2031-13-45 10:00",
            "2031-02-30 10:00",
            "2031-06-01 25:61",
            "2001-01-01 10:00",  # in the past
            _dst_gap(brand),
            "9999-12-31T23:59-05:00",  # beyond the last representable UTC time
            "0001-01-01T00:00+05:00",
            "0001-01-01 00:30",  # naive: before year 1 in UTC
            "2031-06-01T09:30+25:00",
            "2031-06-01 09:30 Europe/Paris",
            "=NOW()",
        ]
    ).map(lambda v: Cell(v, "time"))
    return st.one_of(good, good, bad)


safe_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
text_cells = st.one_of(
    st.builds(
        lambda start, rest: Cell(start + rest),
        st.sampled_from(["", *FORMULA_STARTS[:4], '"', "'", "Cold brew"]),
        st.text(safe_chars, min_size=1, max_size=60),
    ),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1-2",
            "-50% today only",
            'Quotes "inside", commas, and\nnew lines\r\nboth kinds',
            "مرحبا بالعالم 👋🏽 ñ ß",
        ]
    ).map(Cell),
).map(lambda c: c if c.value.strip() else Cell(c.value, "text"))
title_cells = st.one_of(
    st.text(safe_chars, max_size=40).map(Cell),
    st.just(Cell('=HYPERLINK("http://evil.example")')),
    st.integers(201, 400).map(lambda n: Cell("t" * n, "title")),
)
tags_cells = st.sampled_from(["", "summer|drinks", "=1+1,@evil", "a, b ,, c"]).map(Cell)


HEADER_NAMES = {
    "account": ["account", "Account", " ACCOUNT "],
    "text": ["text", "Text"],
    "time": ["time", "TIME"],
    "title": ["title", "Title"],
    "tags": ["tags"],
    "first_comment": ["first_comment", "First Comment"],
}


@st.composite
def csv_files(draw, setup):
    optional = draw(st.lists(st.sampled_from(["title", "tags"]), unique=True, max_size=2))
    columns = ["account", "text", "time", *optional]
    columns = draw(st.permutations(columns))
    mutation = draw(
        st.sampled_from(["none"] * 6 + ["drop", "duplicate", "unknown", "empty", "no_rows"])
    )
    header_error = None
    header = [draw(st.sampled_from(HEADER_NAMES[c])) for c in columns]
    if mutation == "drop":
        gone = draw(st.sampled_from(["account", "text", "time"]))
        index = columns.index(gone)
        del columns[index], header[index]
        header_error = gone
    elif mutation == "duplicate":
        twice = draw(st.sampled_from(columns))
        columns.append(twice)
        header.append(twice)
        header_error = twice
    elif mutation == "unknown":
        extra = draw(st.sampled_from(["foo", "scheduled_at", "=cmd", "accounts"]))
        columns.append(extra)
        header.append(extra)
        header_error = extra.casefold()

    strategies = {
        "account": account_cells(setup),
        "text": text_cells,
        "time": time_cells(setup),
        "title": title_cells,
        "tags": tags_cells,
    }
    rows: list[list[Cell]] = []
    if mutation != "no_rows":
        for _ in range(draw(st.integers(1, 5))):
            row = [
                draw(strategies[c]) if c in strategies else Cell(draw(st.sampled_from(["", "x"])))
                for c in columns
            ]
            if draw(st.integers(0, 9)) == 0:  # a value in a column the header does not name
                row.append(Cell("stray", "extra"))
            rows.append(row)
    if mutation == "empty":
        return {"text": "", "header_error": "empty", "rows": [], "columns": columns}
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    blank_rows = draw(st.integers(0, 1))
    for number, row in enumerate(rows):
        if blank_rows and number == 1:
            writer.writerow([""] * len(columns))
        writer.writerow([c.value for c in row])
    return {
        "text": out.getvalue(),
        "header_error": header_error,
        "rows": rows,
        "columns": columns,
        "blank_at": 1 if blank_rows and len(rows) > 1 else None,
    }


def expected_errors(spec) -> set[tuple[int, str]]:
    """(row, column) of every problem the importer must report; rows as a spreadsheet counts."""
    expected = set()
    number = 1
    for index, row in enumerate(spec["rows"]):
        number += 1
        if spec.get("blank_at") == index:
            number += 1  # the blank row is skipped but still counted
        if not any(c.value.strip() for c in row):
            continue
        bad = {cell.bad for cell in row if cell.bad}
        for position, cell in enumerate(row):
            if cell.bad == "extra":
                expected.add((number, imports._column_letter(position)))
            elif cell.bad == "text" and bad & {"account", "time", "title"}:
                # The platform's rules (empty text among them) are applied to a row whose
                # accounts, time and fields are fine; before that they cannot be.
                continue
            elif cell.bad:
                expected.add((number, cell.bad))
    return expected


ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]


@fuzz_settings(max_examples=80)
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_generated_files_are_imported_whole_or_refused_with_every_problem_named(
    setup, data, encoding
):
    spec = data.draw(csv_files(setup))
    raw = spec["text"].encode(encoding, errors="replace")
    body_rows = [r for r in spec["rows"] if any(c.value.strip() for c in r)]

    if encoding == "cp1252":
        try:
            assume(raw.decode("utf-8") == spec["text"])  # plain ASCII: the same file
        except UnicodeDecodeError:
            job = check_outcome(setup, raw)
            assert job.status == ImportJob.Status.INVALID
            assert "UTF-8" in job.errors[0]["message"] and job.errors[0]["row"] is None
            return
    job = check_outcome(setup, raw)

    if encoding == "utf-16":
        assert job.status == ImportJob.Status.INVALID
        assert "UTF-16" in job.errors[0]["message"]
        return
    if spec["header_error"] == "empty":
        assert job.status == ImportJob.Status.INVALID
        assert "empty" in job.errors[0]["message"]
        return
    if spec["header_error"]:
        assert job.status == ImportJob.Status.INVALID
        assert {e["row"] for e in job.errors} == {1}
        named = " ".join(e["column"] + " " + e["message"] for e in job.errors).casefold()
        assert spec["header_error"] in named
        return
    if not body_rows:
        assert job.status == ImportJob.Status.INVALID
        assert "no posts" in job.errors[0]["message"]
        return

    expected = expected_errors(spec)
    if expected:
        assert job.status == ImportJob.Status.INVALID
        assert {(e["row"], e["column"]) for e in job.errors} == expected
        return
    assert job.status == ImportJob.Status.DONE, job.errors
    posts = list(Post.objects.filter(import_job=job).order_by("scheduled_at", "created_at"))
    assert len(posts) == len(body_rows)
    text_at = spec["columns"].index("text")
    # Verbatim: formula-like cells are not altered on the way in.
    assert sorted(p.text for p in posts) == sorted(r[text_at].value for r in body_rows)
    assert all(p.approval_state == Post.Approval.APPROVED for p in posts)


# -- big files and fields --------------------------------------------------------------------------


@fuzz_settings(max_examples=8)
@given(
    size=st.sampled_from([5_001, 20_000, 131_072, 131_073, 400_000]),
    where=st.sampled_from(["text", "account", "time"]),
)
def test_huge_fields_are_refused_in_words(setup, size, where):
    at = _future_local(setup["brand"], 3, 10, 0).strftime("%Y-%m-%d %H:%M")
    cells = {"account": "@acmecoffee", "text": "Hello", "time": at}
    cells[where] = "x" * size
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["account", "text", "time"])
    writer.writerow([cells["account"], cells["text"], cells["time"]])
    job = check_outcome(setup, out.getvalue().encode())
    assert job.status == ImportJob.Status.INVALID
    error = job.errors[0]
    if size > 131_072:  # Python's csv field limit: the whole file is refused, in words
        assert error["row"] is None and "CSV" in error["message"]
    else:
        assert (error["row"], error["column"]) == (2, where)
    if where == "text" and size <= 131_072:
        assert "limit is 5000" in error["message"]


def test_too_many_rows_and_too_many_bytes_are_refused_before_anything_is_written(setup, login):
    at = _future_local(setup["brand"], 3, 10, 0).strftime("%Y-%m-%d %H:%M")
    many = "account,text,time\n" + f"@acmecoffee,hi,{at}\n" * (imports.IMPORT_MAX_ROWS + 1)
    job = check_outcome(setup, many.encode())
    assert job.status == ImportJob.Status.INVALID
    assert "10,000" in job.errors[0]["message"]

    huge = b"account,text,time\n" + b"x" * imports.IMPORT_MAX_FILE_BYTES
    assert check_outcome(setup, huge) is None
    before = (counts(), ImportJob.objects.count())
    response = login(setup["manager"]).post(
        reverse("calendar:import", args=[setup["brand"].pk]),
        {"file": SimpleUploadedFile("big.csv", huge, content_type="text/csv")},
    )
    assert response.status_code == 400
    assert "the limit is 20 MB" in response.content.decode()
    assert (counts(), ImportJob.objects.count()) == before


# -- through the upload page -------------------------------------------------------------------

names = st.one_of(
    st.just("posts.csv"),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
    st.sampled_from(
        ["../../etc/passwd", "C:\\Users\\me\\plan.csv", "a" * 300 + ".csv", "x\x00.csv"]
    ),
)


@fuzz_settings(max_examples=25)
@given(
    data=st.data(),
    name=names,
    raw_prefix=st.sampled_from([b"", codecs.BOM_UTF8, b"\xff\xfe", b"\x00"]),
)
def test_upload_page_answers_302_or_400_never_500_and_writes_nothing_on_refusal(
    setup, login, data, name, raw_prefix
):
    spec = data.draw(csv_files(setup))
    raw = raw_prefix + spec["text"].encode()
    client = login(setup["manager"])
    before = counts()
    jobs_before = ImportJob.objects.count()
    response = client.post(
        reverse("calendar:import", args=[setup["brand"].pk]),
        {"file": SimpleUploadedFile(name, raw, content_type="text/csv")},
    )
    assert response.status_code in (302, 400), response.status_code
    # The upload only checks and records: posts are made by the task, never by the request.
    assert counts() == before
    if response.status_code == 400:
        assert ImportJob.objects.count() == jobs_before
        return
    job = ImportJob.objects.latest("created_at")
    assert "/" not in job.original_name and "\\" not in job.original_name
    assert "\x00" not in job.original_name
    page = client.get(response.url)
    assert page.status_code == 200
    if job.status == ImportJob.Status.INVALID:
        assert escape(job.errors[0]["message"]) in page.content.decode()
        progress = client.get(reverse("calendar:import-progress", args=[job.pk]))
        assert progress.status_code == 200


# -- formulas: stored verbatim, defused on the way out -------------------------------------------


@fuzz_settings(max_examples=10)
@given(
    start=st.sampled_from(FORMULA_STARTS[:4]),
    rest=st.text(safe_chars, min_size=1, max_size=30).filter(str.strip),
)
def test_formula_cells_are_stored_verbatim_and_defused_in_the_calendar_export(
    setup, login, start, rest
):
    brand = setup["brand"]
    at = _future_local(brand, 5, 10, 0)
    text = start + rest
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["account", "text", "time", "title", "tags"])
    writer.writerow(["@acmecoffee", text, at.strftime("%Y-%m-%d %H:%M"), text[:200], text])
    job = check_outcome(setup, out.getvalue().encode())
    assert job.status == ImportJob.Status.DONE, job.errors
    post = Post.objects.get(import_job=job)
    assert post.text == text and post.title == text[:200].strip()

    response = login(setup["manager"]).get(
        reverse("calendar:calendar-export"),
        {
            "brand": brand.pk,
            "start": (at - timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
            "end": (at + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
        },
    )
    assert response.status_code == 200
    exported = csv.DictReader(io.StringIO(response.content.decode()))
    rows = [r for r in exported if r["text"].endswith(rest)]
    assert rows
    for row in rows:
        for column in ("text", "post title", "tags"):
            assert not row[column].startswith(FORMULA_STARTS), (column, row[column])
