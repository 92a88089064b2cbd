"""Bulk CSV import of posts: every row is checked before anything is saved, then a Celery task
imports the rows in chunks.

    job = import_job_create(brand=brand, by=user, file_name="june.csv", data=raw_bytes)
    # job.status is "invalid" (job.errors says why, per row) or "queued" (the task is enqueued)
    import_run(job_id=job.pk)  # what calendar_app.import_tasks.import_posts calls

The task checks the stored file again with the same `import_validate` (accounts and times may
have changed while it waited), then creates posts with bulk inserts, CHUNK_ROWS rows per
transaction. Each chunk moves the job's `processed_rows` in the same transaction, so a crash
and redelivery resumes at the first row not yet imported and never imports a row twice.

Targets stay drafts until the last step, which schedules all of them at once (or, with an
approval workflow, leaves them waiting for approval, as post_schedule does). So the publishing
dispatcher never sees a half-imported file, and a failure can delete every post of the job.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agency.models import Brand, Platform, SocialAccount
from agency.platforms import MediaItem, PostPayload, get_adapter
from agency.services import audit_log, notify
from calendar_app.models import ImportJob, Media, Post, PostTarget, TargetState
from calendar_app.utm import link_with_utm

logger = logging.getLogger(__name__)

__all__ = [
    "IMPORT_CHUNK_ROWS",
    "IMPORT_COLUMNS",
    "IMPORT_LEASE",
    "IMPORT_MAX_FILE_BYTES",
    "IMPORT_MAX_ROWS",
    "IMPORT_REQUIRED_COLUMNS",
    "ImportCheck",
    "ImportRow",
    "import_chunk",
    "import_job_claim",
    "import_job_create",
    "import_job_fail",
    "import_jobs_stranded",
    "import_run",
    "import_validate",
]

IMPORT_MAX_ROWS = 10_000
IMPORT_MAX_FILE_BYTES = 20 * 1024 * 1024
IMPORT_CHUNK_ROWS = 500
# A running job whose progress has not moved for this long is taken to be abandoned by a crashed
# worker, so a redelivery may take it over. One chunk takes a second or two.
IMPORT_LEASE = timedelta(seconds=120)
IMPORT_REQUIRED_COLUMNS = ("account", "text", "time")
IMPORT_COLUMNS = (*IMPORT_REQUIRED_COLUMNS, "media", "first_comment", "tags", "title", "link")
# Beyond this the errors of a bad file are summed up: a user fixes the first ones and uploads
# again, and a 10,000-row file with every row wrong must not store megabytes of JSON.
MAX_STORED_ERRORS = 1000
# post_schedule accepts a time up to a minute old (the form was filled a moment ago); so do we.
PAST_GRACE = timedelta(seconds=60)

_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
_PLATFORMS = {p.value for p in Platform}
_TIME_HELP = (
    "write it as YYYY-MM-DD HH:MM in {zone} (for example {example}), or ISO 8601 with an offset"
)


@dataclass(slots=True)
class ImportRow:
    """One checked row, ready to become a post."""

    row: int
    account_ids: tuple[uuid.UUID, ...]
    text: str
    at: datetime
    media_ids: tuple[uuid.UUID, ...] = ()
    first_comment: str = ""
    tags: list[str] = field(default_factory=list)
    title: str = ""
    link: str = ""


@dataclass
class ImportCheck:
    """What import_validate found: the rows if all is well, else the errors (row 1 = header)."""

    rows: list[ImportRow]
    errors: list[dict]
    total_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _error(row: int | None, column: str, message: str) -> dict:
    return {"row": row, "column": column, "message": message}


def _column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _decode(data: bytes) -> tuple[str | None, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, "The file is saved as UTF-16. Save it as “CSV UTF-8” and upload it again."
    if data.startswith(b"PK\x03\x04"):
        return None, (
            "This is a spreadsheet workbook (such as .xlsx), not a CSV file. In your spreadsheet "
            "choose Save as (or Download), then “CSV UTF-8”, and upload that file."
        )
    offset = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        position = offset + exc.start
        line = data.count(b"\n", 0, position) + 1
        return None, (
            f"The file is not UTF-8: byte 0x{data[position]:02X} at byte position {position} "
            f"(line {line} of the file) cannot be read. Save the file as “CSV UTF-8” (not "
            "Windows, ANSI or Latin-1) and upload it again."
        )
    if "\x00" in text:
        # No text column can hold it (PostgreSQL refuses NUL), and no CSV export writes one.
        line = text.count("\n", 0, text.index("\x00")) + 1
        return None, (
            f"The file contains a NUL character (byte 0x00) on line {line}, so it is not a "
            "text CSV file. Save it as “CSV UTF-8” and upload it again."
        )
    return text, ""


def _delimiter(text: str) -> str:
    # Spreadsheets in many European locales (German among them) save "CSV" with semicolons.
    header = text.split("\n", 1)[0]
    if "," not in header and ";" in header:
        return ";"
    if "," not in header and "\t" in header:
        return "\t"
    return ","


class _Library:
    """The brand's accounts and media, loaded once, looked up per row without queries."""

    def __init__(self, brand: Brand):
        self.brand = brand
        self.zone = brand.zone
        self.accounts = list(brand.social_accounts.all())
        self.account_by_id = {a.pk: a for a in self.accounts}
        self.accounts_by_handle: dict[str, list[SocialAccount]] = {}
        for account in self.accounts:
            self.accounts_by_handle.setdefault(_handle_key(account.handle), []).append(account)
        self.media_by_name: dict[str, list[Media]] = {}
        for media in brand.media.all():
            self.media_by_name.setdefault(media.name.strip().casefold(), []).append(media)
        self.adapters: dict = {}
        self.known_handles = ", ".join(sorted({a.handle for a in self.accounts})[:8]) or "none"

    def adapter(self, platform: str):
        if platform not in self.adapters:
            self.adapters[platform] = get_adapter(platform)
        return self.adapters[platform]


def _handle_key(handle: str) -> str:
    return handle.strip().lstrip("@").casefold()


def _find_accounts(value: str, lib: _Library) -> tuple[list[SocialAccount], list[str]]:
    found: dict = {}
    problems: list[str] = []
    parts = [p.strip() for p in value.split("|") if p.strip()]
    if not parts:
        return [], [f"The account is empty; write a handle such as {lib.known_handles}."]
    for part in parts:
        key, platform = part, None
        prefix, sep, rest = part.partition(":")
        if sep and prefix.strip().casefold() in _PLATFORMS:
            platform, key = prefix.strip().casefold(), rest.strip()
        try:
            account = lib.account_by_id.get(uuid.UUID(key))
            candidates = [account] if account else []
        except ValueError:
            candidates = lib.accounts_by_handle.get(_handle_key(key), [])
        if platform:
            candidates = [a for a in candidates if a.platform == platform]
        if not candidates:
            # Another brand's account is reported exactly like one that does not exist.
            problems.append(
                f"{lib.brand.name} has no account “{part}”. Its accounts are: "
                f"{lib.known_handles} (or use an account's id)."
            )
        elif len(candidates) > 1:
            platforms = ", ".join(a.platform for a in candidates)
            problems.append(
                f"“{part}” is the handle of several accounts ({platforms}); write it as "
                f"platform:handle, for example {candidates[0].platform}:{candidates[0].handle}."
            )
        elif candidates[0].status == SocialAccount.Status.DISCONNECTED:
            problems.append(
                f"{candidates[0]} is disconnected; reconnect it or remove it from this row."
            )
        else:
            found[candidates[0].pk] = candidates[0]
    return list(found.values()), problems


def _parse_time(value: str, lib: _Library, now: datetime) -> tuple[datetime | None, str]:
    value = value.strip()
    example = (now.astimezone(lib.zone) + timedelta(days=1)).strftime("%Y-%m-%d 09:30")
    help_text = _TIME_HELP.format(zone=lib.brand.time_zone, example=example)
    if not value:
        return None, f"The time is empty; {help_text}."
    if not _TIME_SHAPE.match(value):
        return None, f"“{value}” is not a time we can read; {help_text}."
    try:
        at = datetime.fromisoformat(value)
        # Near year 1 or 9999 the time cannot be moved to UTC and back (OverflowError).
        (at if at.tzinfo else at.replace(tzinfo=lib.zone)).astimezone(UTC).astimezone(lib.zone)
    except (ValueError, OverflowError):
        return None, f"“{value}” is not a valid date and time; {help_text}."
    if at.tzinfo is None:
        wall = at
        at = at.replace(tzinfo=lib.zone)
        # A wall-clock time skipped when the clocks go forward does not survive a round trip.
        if at.astimezone(UTC).astimezone(lib.zone).replace(tzinfo=None) != wall:
            return None, (
                f"{value} does not exist in {lib.brand.time_zone}: the clocks go forward then. "
                "Pick a time an hour later."
            )
    at = at.astimezone(UTC)
    if at < now - PAST_GRACE:
        local_now = now.astimezone(lib.zone).strftime("%Y-%m-%d %H:%M")
        return None, (f"{value} is in the past (it is now {local_now} in {lib.brand.time_zone}).")
    return at, ""


def _find_media(value: str, lib: _Library) -> tuple[list[Media], list[str]]:
    found: dict = {}
    problems: list[str] = []
    for part in (p.strip() for p in value.split("|")):
        if not part:
            continue
        if part.casefold().startswith(("http://", "https://")):
            problems.append(
                f"{part} is a link; files are not fetched from links. Add it to the media "
                f"library of {lib.brand.name} first, then write its name here."
            )
            continue
        candidates = lib.media_by_name.get(part.casefold(), [])
        if not candidates:
            problems.append(f"The media library of {lib.brand.name} has no file named “{part}”.")
        elif len(candidates) > 1:
            problems.append(
                f"{len(candidates)} files in the media library are named “{part}”; rename all "
                "but one of them."
            )
        else:
            found[candidates[0].pk] = candidates[0]
    return list(found.values()), problems


def _media_item(media: Media) -> MediaItem:
    return MediaItem(
        path=media.name,
        mime_type=media.mime_type,
        size=media.size,
        width=media.width,
        height=media.height,
        duration=media.duration,
        alt_text=media.alt_text,
    )


_TITLE_FIELD = Post._meta.get_field("title")
_LINK_FIELD = Post._meta.get_field("link")


def _platform_problems(
    *,
    lib: _Library,
    accounts: list[SocialAccount],
    text: str,
    link: str,
    title: str,
    tags: list[str],
    media: list[Media],
    first_comment: str,
) -> list[tuple[str, str]]:
    """Each account's platform rules applied to the payload it would receive (as payload_for
    builds it at publish time, UTM parameters included)."""
    items = tuple(_media_item(m) for m in media)
    problems: list[tuple[str, str]] = []
    for account in accounts:
        sent_link = link_with_utm(
            link=link,
            template=lib.brand.utm_template,
            platform=account.platform,
            account=account.handle,
            campaign=title or (tags[0] if tags else ""),
            # The real value is the post's id, not known yet; only its length matters here.
            post="x" * 8,
        )
        sent_text = text
        if link and sent_link != link and link in text:
            sent_text = text.replace(link, sent_link)
        adapter = lib.adapter(account.platform)
        payload = PostPayload(
            text=sent_text,
            link=sent_link or None,
            media=items,
            first_comment=first_comment or None,
        )
        label = getattr(adapter, "display_name", adapter.name)
        for message in adapter.validate(payload):
            message = message.removeprefix(f"{label}: ")
            lowered = message.casefold()
            if "first comment" in lowered:
                column = "first_comment"
            elif "text" in lowered:
                column = "text"
            elif "media" in lowered or "image" in lowered or "video" in lowered:
                column = "media"
            else:
                column = "text"
            problems.append((column, f"{account.handle} on {label}: {message}"))
    return problems


def _check_row(
    number: int, cells: dict[str, str], lib: _Library, now: datetime
) -> tuple[ImportRow | None, list[dict]]:
    errors: list[dict] = []
    accounts, problems = _find_accounts(cells.get("account", ""), lib)
    errors += [_error(number, "account", p) for p in problems]
    at, problem = _parse_time(cells.get("time", ""), lib, now)
    if problem:
        errors.append(_error(number, "time", problem))
    media, problems = _find_media(cells.get("media", ""), lib)
    errors += [_error(number, "media", p) for p in problems]
    title = cells.get("title", "").strip()
    link = cells.get("link", "").strip()
    for name, model_field, value in (("title", _TITLE_FIELD, title), ("link", _LINK_FIELD, link)):
        try:
            model_field.clean(value, None)
        except ValidationError as exc:
            errors += [_error(number, name, m) for m in exc.messages]
    text = cells.get("text", "")
    first_comment = cells.get("first_comment", "").strip()
    tags = list(dict.fromkeys(t.strip() for t in re.split(r"[,|]", cells.get("tags", ""))))
    tags = [t for t in tags if t]
    if not errors:
        for column, message in _platform_problems(
            lib=lib,
            accounts=accounts,
            text=text,
            link=link,
            title=title,
            tags=tags,
            media=media,
            first_comment=first_comment,
        ):
            errors.append(_error(number, column, message))
    if errors or at is None:
        return None, errors
    return (
        ImportRow(
            row=number,
            account_ids=tuple(a.pk for a in accounts),
            text=text,
            at=at,
            media_ids=tuple(m.pk for m in media),
            first_comment=first_comment,
            tags=tags,
            title=title,
            link=link,
        ),
        [],
    )


def import_validate(*, brand: Brand, data: bytes, now: datetime | None = None) -> ImportCheck:
    """Check a whole CSV file against the brand's accounts, media and platform rules.

    Reads only: two queries (accounts, media) whatever the size of the file.
    """
    now = now or timezone.now()
    text, problem = _decode(data)
    if text is None:
        return ImportCheck(rows=[], errors=[_error(None, "", problem)])
    if not text.strip():
        return ImportCheck(
            rows=[],
            errors=[_error(None, "", "The file is empty. The first row must name the columns.")],
        )
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        return ImportCheck(
            rows=[], errors=[_error(None, "", f"The file cannot be read as CSV: {exc}.")]
        )

    header = [h.strip().casefold().replace(" ", "_") for h in records[0]]
    errors: list[dict] = []
    unknown = [h for h in header if h and h not in IMPORT_COLUMNS]
    if unknown:
        errors.append(
            _error(
                1,
                ", ".join(unknown),
                f"Unknown column(s): {', '.join(unknown)}. The columns are: "
                f"{', '.join(IMPORT_COLUMNS)}.",
            )
        )
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        errors.append(
            _error(1, ", ".join(repeated), f"Column(s) named twice: {', '.join(repeated)}.")
        )
    missing = [c for c in IMPORT_REQUIRED_COLUMNS if c not in header]
    if missing:
        errors.append(
            _error(
                1,
                ", ".join(missing),
                f"Missing column(s): {', '.join(missing)}. The first row must name the columns; "
                f"{', '.join(IMPORT_REQUIRED_COLUMNS)} are required.",
            )
        )
    if errors:
        return ImportCheck(rows=[], errors=errors)

    # Row numbers are the spreadsheet's: the header is row 1, blank rows still count.
    body = [
        (number, cells)
        for number, cells in enumerate(records[1:], start=2)
        if any(c.strip() for c in cells)
    ]
    if not body:
        return ImportCheck(
            rows=[], errors=[_error(None, "", "The file has a header row but no posts.")]
        )
    if len(body) > IMPORT_MAX_ROWS:
        return ImportCheck(
            rows=[],
            errors=[
                _error(
                    None,
                    "",
                    f"The file has {len(body):,} rows of posts; one import takes at most "
                    f"{IMPORT_MAX_ROWS:,}. Split it into several files.",
                )
            ],
            total_rows=len(body),
        )

    lib = _Library(brand)
    rows: list[ImportRow] = []
    for number, cells in body:
        named = {}
        for index, value in enumerate(cells):
            name = header[index] if index < len(header) else ""
            if name:
                named[name] = value
            elif value.strip():
                errors.append(
                    _error(
                        number,
                        _column_letter(index),
                        f"Column {_column_letter(index)} has a value but no name in the first "
                        "row; name the column or empty it.",
                    )
                )
        row, row_errors = _check_row(number, named, lib, now)
        errors += row_errors
        if row is not None:
            rows.append(row)
    if len(errors) > MAX_STORED_ERRORS:
        more = len(errors) - MAX_STORED_ERRORS
        errors = [
            *errors[:MAX_STORED_ERRORS],
            _error(None, "", f"… and {more:,} more problems not listed. Fix these first."),
        ]
    return ImportCheck(rows=[] if errors else rows, errors=errors, total_rows=len(body))


@transaction.atomic
def import_job_create(*, brand: Brand, by, file_name: str, data: bytes) -> ImportJob:
    """Check the file and record the import: `invalid` with its errors (nothing else saved), or
    `queued` with the import task enqueued once this transaction commits."""
    if len(data) > IMPORT_MAX_FILE_BYTES:
        raise ValidationError(
            f"The file is {len(data) / 1_048_576:.1f} MB; the limit is "
            f"{IMPORT_MAX_FILE_BYTES // 1_048_576} MB."
        )
    check = import_validate(brand=brand, data=data)
    job = ImportJob(
        brand=brand,
        created_by=by if getattr(by, "is_authenticated", False) else None,
        original_name=(file_name or "import.csv").replace("\\", "/").rsplit("/", 1)[-1][:255],
        status=ImportJob.Status.QUEUED if check.ok else ImportJob.Status.INVALID,
        total_rows=check.total_rows,
        errors=check.errors,
    )
    # Stored under a name of ours: the user's file name never reaches the file system.
    job.file.save(f"{uuid.uuid4().hex}.csv", ContentFile(data), save=False)
    job.full_clean()
    job.save()
    audit_log(
        actor=by,
        action="import_job.created" if check.ok else "import_job.refused",
        target=job,
        agency=brand.agency,
        brand=brand,
        data={"rows": check.total_rows, "errors": len(check.errors)},
    )
    if check.ok:
        from calendar_app.import_tasks import import_posts

        job_id = str(job.pk)
        transaction.on_commit(lambda: import_posts.delay(job_id))
    return job


def import_job_claim(*, job_id) -> tuple[str, ImportJob | None]:
    """Take the job for this delivery of the task: ("claimed", job) if it was queued, or running
    but abandoned (no progress for IMPORT_LEASE); ("busy", None) if another delivery is working
    on it; ("finished", None) if there is nothing left to do."""
    now = timezone.now()
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ImportJob.Status.QUEUED)
            | Q(status=ImportJob.Status.RUNNING, updated_at__lt=now - IMPORT_LEASE)
        )
        .update(
            status=ImportJob.Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
            updated_at=now,
        )
    )
    if claimed:
        return "claimed", ImportJob.objects.select_related("brand__agency", "created_by").get(
            pk=job_id
        )
    running = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING).exists()
    return ("busy" if running else "finished"), None


@transaction.atomic
def import_chunk(*, job: ImportJob, rows: list[ImportRow], start: int) -> bool:
    """Create the posts of `rows` (rows[0] is the job's row index `start`) and move the job's
    progress, in one transaction. False, and nothing written, if the job is not running at
    exactly `start` (another delivery got there first)."""
    now = timezone.now()
    locked = (
        ImportJob.objects.select_for_update(of=("self",))
        .filter(pk=job.pk, status=ImportJob.Status.RUNNING, processed_rows=start)
        .first()
    )
    if locked is None:
        return False
    author = job.created_by
    posts, targets, media_links = [], [], []
    through = Post.media.through
    for row in rows:
        post = Post(
            brand_id=job.brand_id,
            author=author,
            title=row.title,
            text=row.text,
            link=row.link,
            tags=row.tags,
            scheduled_at=row.at,
            import_job=job,
            # Approval and scheduling are decided once for the whole file, in _import_finish.
            approval_state=Post.Approval.DRAFT,
        )
        posts.append(post)
        targets += [
            PostTarget(post=post, account_id=account_id, first_comment=row.first_comment)
            for account_id in row.account_ids
        ]
        media_links += [through(post_id=post.pk, media_id=m) for m in row.media_ids]
    Post.objects.bulk_create(posts)
    PostTarget.objects.bulk_create(targets)
    if media_links:
        through.objects.bulk_create(media_links)
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=start + len(rows),
        created_posts=F("created_posts") + len(posts),
        updated_at=now,
    )
    audit_log(
        actor=author,
        action="import_job.chunk_imported",
        target=job,
        agency=job.brand.agency,
        brand=job.brand,
        data={"rows": [rows[0].row, rows[-1].row], "posts": len(posts), "targets": len(targets)},
    )
    return True


def _import_finish(job: ImportJob) -> bool:
    with transaction.atomic():
        locked = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("brand")
            .filter(pk=job.pk, status=ImportJob.Status.RUNNING)
            .first()
        )
        if locked is None:
            return False
        now = timezone.now()
        posts = Post.objects.filter(import_job=job)
        scheduled = 0
        # What post_schedule does per post, for the whole file at once: without a workflow,
        # scheduling is the approval and the targets go out at the post's time; with one, the
        # time is kept and the targets wait as drafts for the final approval.
        if locked.brand.approval_workflow == Brand.ApprovalWorkflow.NONE:
            posts.update(approval_state=Post.Approval.APPROVED, updated_at=now)
            scheduled = PostTarget.objects.filter(
                post__import_job=job, state=TargetState.DRAFT
            ).update(
                state=TargetState.SCHEDULED,
                due_at=Subquery(Post.objects.filter(pk=OuterRef("post_id")).values("scheduled_at")),
                updated_at=now,
            )
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.DONE, finished_at=now, updated_at=now
        )
        locked.refresh_from_db()
        audit_log(
            actor=locked.created_by,
            action="import_job.done",
            target=locked,
            agency=job.brand.agency,
            brand=job.brand,
            data={"posts": locked.created_posts, "scheduled_targets": scheduled},
        )
        if locked.created_by:
            waiting = "" if scheduled else " They wait for approval before they are published."
            notify(
                users=[locked.created_by],
                brand=locked.brand,
                title=f"Import of {locked.original_name} done: {locked.created_posts:,} posts",
                body=f"{locked.created_posts:,} posts were created for {locked.brand}.{waiting}",
                url=f"/imports/{locked.pk}/",
                email=False,
            )
    return True


def import_job_fail(*, job: ImportJob, message: str, errors: list[dict] | None = None) -> bool:
    """Give up on a job: delete every post it created (all still drafts: scheduling is the last
    step), record why, and tell the user. False if the job had already ended."""
    with transaction.atomic():
        locked = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("brand__agency", "created_by")
            .filter(pk=job.pk, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
            .first()
        )
        if locked is None:
            return False
        deleted = Post.objects.filter(import_job=locked).count()
        Post.objects.filter(import_job=locked).delete()
        locked.status = ImportJob.Status.FAILED
        locked.errors = [_error(None, "", message), *(errors or [])]
        locked.finished_at = timezone.now()
        locked.processed_rows = 0
        locked.created_posts = 0
        locked.save(
            update_fields=[
                "status",
                "errors",
                "finished_at",
                "processed_rows",
                "created_posts",
                "updated_at",
            ]
        )
        audit_log(
            actor=None,
            action="import_job.failed",
            target=locked,
            agency=locked.brand.agency,
            brand=locked.brand,
            data={"message": message[:500], "deleted_posts": deleted},
        )
    if locked.created_by:
        notify(
            users=[locked.created_by],
            brand=locked.brand,
            title=f"Import of {locked.original_name} failed: nothing was imported",
            body=message,
            url=f"/imports/{locked.pk}/",
        )
    return True


def import_run(*, job_id) -> str:
    """The import task's work: claim the job, check the file again, import the rows not yet
    imported chunk by chunk, then schedule them all. Returns "done", "failed", "busy" (another
    delivery holds the job), "finished" (nothing to do) or "lost" (taken over mid-way)."""
    outcome, job = import_job_claim(job_id=job_id)
    if job is None:
        return outcome
    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        check = import_validate(brand=job.brand, data=data)
        if not check.ok:
            import_job_fail(
                job=job,
                message="The file no longer passes the checks (accounts, media or times changed "
                "since it was uploaded); nothing was imported. Fix the rows below and upload it "
                "again.",
                errors=check.errors,
            )
            return "failed"
        for start in range(job.processed_rows, len(check.rows), IMPORT_CHUNK_ROWS):
            if not import_chunk(
                job=job, rows=check.rows[start : start + IMPORT_CHUNK_ROWS], start=start
            ):
                return "lost"
        return "done" if _import_finish(job) else "lost"
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        import_job_fail(
            job=job,
            message=f"The import stopped on an unexpected error ({exc.__class__.__name__}); "
            "nothing was imported. Try again; if it fails again, tell your administrator.",
        )
        return "failed"


def import_jobs_stranded(*, older_than: timedelta = timedelta(minutes=5)) -> list:
    """Jobs still waiting (or running with no progress) long after they should have started:
    their task was lost (a broker restart) or their worker died. Re-enqueueing is safe: the
    task claims the job atomically and resumes after the last committed chunk."""
    cutoff = timezone.now() - max(older_than, IMPORT_LEASE)
    return list(
        ImportJob.objects.filter(
            status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
