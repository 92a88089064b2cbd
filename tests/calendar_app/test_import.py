"""Bulk CSV import of posts: every row checked first, then imported in chunks by a task that
resumes after a crash, never imports a row twice, and undoes everything when it fails."""

import codecs
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Brand, Notification, SocialAccount
from calendar_app.import_tasks import import_posts
from calendar_app.models import ImportJob, Media, Post, PostTarget, TargetState
from calendar_app.services import imports
from tests.factories import SocialAccountFactory

S = TargetState
HEADER = "account,text,time"


def local_time(brand, *, days=3, hour=9, minute=30) -> datetime:
    """A future wall-clock time in the brand's zone, aware."""
    day = (timezone.now().astimezone(brand.zone) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=brand.zone)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def csv_file(*lines: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *lines]) + "\r\n").encode()


def many_rows(brand, handle: str, n: int) -> bytes:
    at = stamp(local_time(brand))
    return csv_file(*(f"{handle},Row number {i},{at}" for i in range(n)))


@pytest.fixture
def enqueued(monkeypatch):
    """Job ids the import task was enqueued with (the broker is not needed to run it here)."""
    sent: list[str] = []
    monkeypatch.setattr(import_posts, "delay", lambda job_id: sent.append(job_id))
    return sent


def upload(client, brand, data: bytes, name="posts.csv"):
    return client.post(
        reverse("calendar:import", args=[brand.pk]),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
    )


def create_job(brand, by, data: bytes, django_capture_on_commit_callbacks) -> ImportJob:
    with django_capture_on_commit_callbacks(execute=True):
        return imports.import_job_create(brand=brand, by=by, file_name="posts.csv", data=data)


# -- the happy path --------------------------------------------------------------------------


def test_valid_upload_queues_the_job_and_the_task_schedules_posts_in_the_brands_zone(
    login, manager, brand, account, enqueued, django_capture_on_commit_callbacks
):
    second = SocialAccountFactory(brand=brand, handle="@acme_bar")
    morning, evening = local_time(brand, hour=9, minute=30), local_time(brand, days=4, hour=18)
    data = csv_file(
        f"@acmecoffee,Cold brew is back,{stamp(morning)},,,summer|drinks,Cold brew,",
        f"@acmecoffee|{second.pk},Open late tonight,{stamp(evening)},,Menu in bio,,,"
        "https://acme.example.com/menu",
        header="Account,TEXT,time,media,first_comment,tags,title,link",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(login(manager), brand, data)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("calendar:import-detail", args=[job.pk])
    assert job.status == ImportJob.Status.QUEUED
    assert job.total_rows == 2
    assert enqueued == [str(job.pk)]
    assert Post.objects.count() == 0

    assert import_posts(str(job.pk)) == "done"

    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_posts) == ("done", 2, 2)
    first = Post.objects.get(text="Cold brew is back")
    assert first.scheduled_at == morning
    assert first.import_job == job
    assert first.author == manager
    assert first.tags == ["summer", "drinks"]
    assert first.title == "Cold brew"
    assert first.approval_state == Post.Approval.APPROVED
    target = first.targets.get()
    assert target.state == S.SCHEDULED
    assert target.due_at == morning
    assert target.due_at.utcoffset() == timedelta(0)  # stored in UTC
    late = Post.objects.get(text="Open late tonight")
    assert late.link == "https://acme.example.com/menu"
    assert {t.account_id for t in late.targets.all()} == {account.pk, second.pk}
    assert {t.due_at for t in late.targets.all()} == {evening}
    assert {t.first_comment for t in late.targets.all()} == {"Menu in bio"}


def test_time_with_an_offset_is_taken_as_written(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0, second=0)
    data = csv_file(f"@acmecoffee,Offset,{at.astimezone(brand.zone).isoformat()}")
    job = create_job(brand, manager, data, django_capture_on_commit_callbacks)
    import_posts(str(job.pk))
    assert PostTarget.objects.get().due_at == at


def test_with_an_approval_workflow_imported_posts_keep_their_time_and_wait_as_drafts(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    brand.approval_workflow = Brand.ApprovalWorkflow.INTERNAL_CLIENT
    brand.save()
    at = local_time(brand)
    job = create_job(
        brand,
        manager,
        csv_file(f"@acmecoffee,Needs review,{stamp(at)}"),
        django_capture_on_commit_callbacks,
    )
    import_posts(str(job.pk))
    post = Post.objects.get()
    assert post.scheduled_at == at
    assert post.approval_state == Post.Approval.DRAFT
    target = post.targets.get()
    assert (target.state, target.due_at) == (S.DRAFT, None)


def test_media_names_from_the_library_are_attached(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    beans = Media.objects.create(
        brand=brand,
        file="library/beans.jpg",
        name="Beans.jpg",
        kind="image",
        mime_type="image/jpeg",
        size=1000,
        checksum="a" * 64,
    )
    data = csv_file(
        f"@acmecoffee,,{stamp(local_time(brand))},beans.jpg", header="account,text,time,media"
    )
    job = create_job(brand, manager, data, django_capture_on_commit_callbacks)
    import_posts(str(job.pk))
    assert list(Post.objects.get().media.all()) == [beans]


def test_a_utf8_bom_semicolons_and_blank_rows_are_accepted(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    at = stamp(local_time(brand))
    text = f"account;text;time\r\n@acmecoffee;Bonjour, café;{at}\r\n;;\r\n@acmecoffee;Zwei;{at}\r\n"
    job = create_job(
        brand, manager, codecs.BOM_UTF8 + text.encode(), django_capture_on_commit_callbacks
    )
    assert job.status == ImportJob.Status.QUEUED, job.errors
    assert job.total_rows == 2
    import_posts(str(job.pk))
    assert set(Post.objects.values_list("text", flat=True)) == {"Bonjour, café", "Zwei"}


def test_checking_a_file_takes_two_queries_whatever_its_size(
    brand, account, django_assert_num_queries
):
    data = many_rows(brand, "@acmecoffee", 300)
    with django_assert_num_queries(2):
        check = imports.import_validate(brand=brand, data=data)
    assert check.ok and len(check.rows) == 300


# -- refused files: the job is invalid, the errors say why, nothing else is saved ------------


def _refused(brand, by, data, django_capture_on_commit_callbacks):
    job = create_job(brand, by, data, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.INVALID
    assert Post.objects.count() == 0
    assert PostTarget.objects.count() == 0
    return job.errors


@pytest.mark.parametrize(
    ("bad_row", "column", "fragment"),
    [
        ("@nobody,Hello,{at}", "account", "Acme Coffee has no account “@nobody”"),
        ("@rivaltea,Hello,{at}", "account", "Acme Coffee has no account “@rivaltea”"),
        ("{other_id},Hello,{at}", "account", "Acme Coffee has no account"),
        ("@gone,Hello,{at}", "account", "is disconnected"),
        ("@acmecoffee,Hello,01.06.2031 09:30", "time", "is not a time we can read"),
        ("@acmecoffee,Hello,2031-02-30 09:30", "time", "is not a valid date and time"),
        ("@acmecoffee,Hello,", "time", "The time is empty"),
        ("@acmecoffee,Hello,2020-01-01 09:30", "time", "is in the past"),
        ("@acmecoffee,Hello,2031-03-30 02:30", "time", "does not exist in Europe/Berlin"),
        ("@acmecoffee,{long},{at}", "text", "@acmecoffee on Sandbox: the text is 5001"),
        ("@acmecoffee,,{at}", "text", "the post needs text or media"),
    ],
)
def test_each_bad_row_is_refused_with_its_spreadsheet_row_number(
    brand,
    account,
    other_account,
    manager,
    enqueued,
    bad_row,
    column,
    fragment,
    django_capture_on_commit_callbacks,
):
    SocialAccountFactory(brand=brand, handle="@gone", status=SocialAccount.Status.DISCONNECTED)
    at = stamp(local_time(brand))
    line = bad_row.format(at=at, other_id=other_account.pk, long="x" * 5001)
    data = csv_file(f"@acmecoffee,A good row,{at}", line)

    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)

    assert [(e["row"], e["column"]) for e in errors] == [(3, column)], errors
    assert fragment in errors[0]["message"]
    assert "Rival" not in errors[0]["message"]  # another brand's account is never revealed
    assert enqueued == []


def test_text_over_a_platforms_limit_is_refused_for_that_account(
    brand, manager, django_capture_on_commit_callbacks
):
    SocialAccountFactory(brand=brand, handle="@acme_x", platform="x")
    data = csv_file(f"@acme_x,{'y' * 281},{stamp(local_time(brand))}")
    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert errors[0]["row"] == 2
    assert errors[0]["message"].startswith("@acme_x on X: the text is 281 characters long")


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        ("nope.jpg", "has no file named “nope.jpg”"),
        ("https://cdn.example.com/a.jpg", "Add it to the media library of Acme Coffee first"),
    ],
)
def test_unknown_media_and_links_are_refused_in_words(
    brand, account, manager, cell, fragment, django_capture_on_commit_callbacks
):
    data = csv_file(
        f"@acmecoffee,Hi,{stamp(local_time(brand))},{cell}", header="account,text,time,media"
    )
    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert [(e["row"], e["column"]) for e in errors] == [(2, "media")]
    assert fragment in errors[0]["message"]


def test_every_row_is_checked_and_every_problem_listed(
    brand, account, manager, django_capture_on_commit_callbacks
):
    at = stamp(local_time(brand))
    data = csv_file(
        f"@nobody,a,{at}", f"@acmecoffee,b,{at}", "@acmecoffee,c,tomorrow", f"@x,d,{at}"
    )
    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert [(e["row"], e["column"]) for e in errors] == [
        (2, "account"),
        (4, "time"),
        (5, "account"),
    ]


@pytest.mark.parametrize(
    ("data", "row", "fragment"),
    [
        (b"", None, "The file is empty"),
        (b"account,text,time\r\n", None, "a header row but no posts"),
        (b"account,text\r\n@acmecoffee,hi\r\n", 1, "Missing column(s): time"),
        (b"account,text,time,colour\r\n", 1, "Unknown column(s): colour"),
        (b"account,text,time,text\r\n", 1, "Column(s) named twice: text"),
        (
            "account,text,time\r\n@acmecoffee,Café,2031-06-01 09:00\r\n".encode("cp1252"),
            None,
            "byte 0xE9 at byte position 34 (line 2 of the file)",
        ),
        (b"PK\x03\x04rest-of-a-zip", None, "not a CSV file"),
        (codecs.BOM_UTF16_LE + "account".encode("utf-16-le"), None, "UTF-16"),
    ],
)
def test_file_level_problems_are_refused_in_words(
    brand, account, manager, data, row, fragment, django_capture_on_commit_callbacks
):
    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert errors[0]["row"] == row
    assert fragment in errors[0]["message"]


def test_non_utf8_file_asks_to_save_as_utf8(
    brand, account, manager, django_capture_on_commit_callbacks
):
    data = "account,text,time\r\n@acmecoffee,Café,2031-06-01 09:00\r\n".encode("cp1252")
    [error] = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert "Save the file as “CSV UTF-8”" in error["message"]


def test_more_rows_than_the_limit_are_refused(
    brand, account, manager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "IMPORT_MAX_ROWS", 3)
    [error] = _refused(
        brand, manager, many_rows(brand, "@acmecoffee", 4), django_capture_on_commit_callbacks
    )
    assert "4 rows of posts; one import takes at most 3" in error["message"]


def test_a_value_under_a_nameless_column_is_refused(
    brand, account, manager, django_capture_on_commit_callbacks
):
    data = csv_file(f"@acmecoffee,hi,{stamp(local_time(brand))},surprise")
    errors = _refused(brand, manager, data, django_capture_on_commit_callbacks)
    assert [(e["row"], e["column"]) for e in errors] == [(2, "D")]


def test_the_detail_page_lists_each_problem_in_a_table(
    login, manager, brand, account, django_capture_on_commit_callbacks
):
    job = create_job(
        brand, manager, csv_file("@nobody,hi,2031-06-01 09:00"), django_capture_on_commit_callbacks
    )
    page = login(manager).get(reverse("calendar:import-detail", args=[job.pk])).content.decode()
    assert "Nothing was imported: 1 problem" in page
    assert '<th scope="row">2</th>' in page
    assert "Acme Coffee has no account “@nobody”" in page
    assert "hx-trigger" not in page


# -- the task: resume, duplicates, failures ----------------------------------------------------


def test_a_crash_after_the_first_chunk_resumes_without_importing_a_row_twice(
    brand, account, manager, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "IMPORT_CHUNK_ROWS", 2)
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 5), django_capture_on_commit_callbacks
    )
    # The first delivery claims the job, imports one chunk, and dies.
    outcome, claimed = imports.import_job_claim(job_id=job.pk)
    assert outcome == "claimed"
    rows = imports.import_validate(brand=brand, data=job.file.read()).rows
    assert imports.import_chunk(job=claimed, rows=rows[:2], start=0)
    # Its lease runs out before the broker redelivers the task.
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=5))

    assert import_posts(str(job.pk)) == "done"

    texts = list(Post.objects.values_list("text", flat=True))
    assert sorted(texts) == [f"Row number {i}" for i in range(5)]
    job.refresh_from_db()
    assert (job.processed_rows, job.created_posts, job.status) == (5, 5, "done")
    assert AuditEvent.objects.filter(action="import_job.chunk_imported").count() == 3


def test_a_chunk_already_imported_is_not_imported_again(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 2), django_capture_on_commit_callbacks
    )
    _, claimed = imports.import_job_claim(job_id=job.pk)
    rows = imports.import_validate(brand=brand, data=job.file.read()).rows
    assert imports.import_chunk(job=claimed, rows=rows, start=0)
    assert not imports.import_chunk(job=claimed, rows=rows, start=0)
    assert Post.objects.count() == 2


def test_duplicate_task_deliveries_import_once(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 3), django_capture_on_commit_callbacks
    )
    assert import_posts(str(job.pk)) == "done"
    assert import_posts(str(job.pk)) == "finished"
    assert Post.objects.count() == 3
    assert PostTarget.objects.count() == 3


def test_a_delivery_while_another_runs_the_job_leaves_it_alone(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 3), django_capture_on_commit_callbacks
    )
    assert imports.import_job_claim(job_id=job.pk)[0] == "claimed"
    assert imports.import_run(job_id=job.pk) == "busy"
    assert Post.objects.count() == 0


def test_an_unexpected_failure_undoes_the_whole_import_and_tells_the_user(
    brand, account, manager, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "IMPORT_CHUNK_ROWS", 2)
    real_chunk = imports.import_chunk
    calls = []

    def chunk_then_crash(**kwargs):
        calls.append(kwargs["start"])
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_chunk(**kwargs)

    monkeypatch.setattr(imports, "import_chunk", chunk_then_crash)
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 5), django_capture_on_commit_callbacks
    )

    assert import_posts(str(job.pk)) == "failed"

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert Post.objects.count() == 0
    assert PostTarget.objects.count() == 0
    assert "unexpected error (RuntimeError); nothing was imported" in job.errors[0]["message"]
    assert "database went away" not in job.errors[0]["message"]
    note = Notification.objects.get(user=manager)
    assert note.title == "Import of posts.csv failed: nothing was imported"


def test_rows_that_went_bad_while_queued_fail_the_job_with_their_errors(
    brand, account, manager, enqueued, django_capture_on_commit_callbacks
):
    job = create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 2), django_capture_on_commit_callbacks
    )
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.DISCONNECTED)
    assert import_posts(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert [e["row"] for e in job.errors] == [None, 2, 3]
    assert Post.objects.count() == 0


# -- pages: tenancy, roles, progress --------------------------------------------------------


@pytest.fixture
def queued_job(brand, account, manager, enqueued, django_capture_on_commit_callbacks):
    return create_job(
        brand, manager, many_rows(brand, "@acmecoffee", 2), django_capture_on_commit_callbacks
    )


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_other_tenants_get_404_on_every_import_page(login, personas, brand, queued_job, who):
    client = login(personas[who])
    urls = [
        reverse("calendar:import", args=[brand.pk]),
        reverse("calendar:import-example", args=[brand.pk]),
        reverse("calendar:import-detail", args=[queued_job.pk]),
        reverse("calendar:import-progress", args=[queued_job.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    response = upload(client, brand, many_rows(brand, "@acmecoffee", 1))
    assert response.status_code == 404
    assert ImportJob.objects.count() == 1


@pytest.mark.parametrize("who", ["marketer"])  # clients: in the portal (reports.middleware)
def test_read_only_roles_see_imports_but_cannot_upload(
    login, personas, brand, queued_job, enqueued, who
):
    client = login(personas[who])
    page = client.get(reverse("calendar:import", args=[brand.pk]))
    assert page.status_code == 200
    assert b'type="file"' not in page.content
    assert b"posts.csv" in page.content
    assert client.get(reverse("calendar:import-detail", args=[queued_job.pk])).status_code == 200
    response = upload(client, brand, many_rows(brand, "@acmecoffee", 1))
    assert response.status_code == 403
    assert ImportJob.objects.count() == 1
    assert enqueued == [str(queued_job.pk)]


def test_upload_page_explains_the_columns_and_lists_recent_imports(
    login, manager, brand, queued_job
):
    page = login(manager).get(reverse("calendar:import", args=[brand.pk])).content.decode()
    assert 'type="file"' in page
    for column in imports.IMPORT_COLUMNS:
        assert f"<code>{column}</code>" in page
    assert "Europe/Berlin" in page
    assert reverse("calendar:import-detail", args=[queued_job.pk]) in page


def test_example_file_uses_the_brands_accounts(login, marketer, brand, account):
    response = login(marketer).get(reverse("calendar:import-example", args=[brand.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("account,text,time,")
    assert "@acmecoffee" in body
    assert imports.import_validate(brand=brand, data=response.content).ok


def test_upload_without_a_file_is_refused_in_words(login, manager, brand):
    response = login(manager).post(reverse("calendar:import", args=[brand.pk]), {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_progress_polls_while_the_job_runs_and_stops_when_it_is_done(login, manager, queued_job):
    client = login(manager)
    url = reverse("calendar:import-progress", args=[queued_job.pk])
    running = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert f'hx-get="{url}"' in running
    assert "0 of 2 rows imported" in running
    detail = client.get(reverse("calendar:import-detail", args=[queued_job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in detail

    import_posts(str(queued_job.pk))

    done = client.get(url).content.decode()
    assert "hx-trigger" not in done
    assert "hx-get" not in done
    assert "Posts created</dt><dd>2</dd>" in done
    assert "@acmecoffee: 2 posts" in done
    assert reverse("calendar:post-list") in done


def test_a_job_whose_task_was_lost_is_picked_up_by_the_sweeper(brand, account, manager):
    """The broker lost the task (say Redis restarted): the job would wait forever. The sweeper
    re-enqueues it; the claim keeps a late original delivery from importing twice."""
    from datetime import timedelta

    from django.utils import timezone

    from agency.celery import app
    from calendar_app.import_tasks import sweep_stranded_imports
    from calendar_app.models import ImportJob, Post
    from calendar_app.services.imports import import_job_create, import_jobs_stranded

    day = (timezone.now() + timedelta(days=3)).astimezone(brand.zone).date().isoformat()
    data = f"account,text,time\n{account.handle},Lost and found,{day} 09:00\n".encode()
    job = import_job_create(brand=brand, by=manager, file_name="plan.csv", data=data)
    fresh = import_job_create(brand=brand, by=manager, file_name="new.csv", data=data)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert import_jobs_stranded() == [job.pk]

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        assert sweep_stranded_imports() == 1
    finally:
        app.conf.task_always_eager = eager
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Post.objects.filter(import_job=job).count() == 1
    fresh.refresh_from_db()
    assert fresh.status == ImportJob.Status.QUEUED  # not stranded yet: left alone
