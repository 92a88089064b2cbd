"""CSV import benchmark: how long 10,000 rows take to check and to import.

    DJANGO_SETTINGS_MODULE=tests.settings python bench/bench_import.py [--rows 10000]

Runs against DATABASE_URL (SQLite in a temporary file without it), in a fresh test database
that it creates, migrates and drops. One brand with 10 sandbox accounts; a generated CSV with one
post per row. It times

  validate   import_validate on the whole file (what the upload page does before saving)
  upload     import_job_create: validate again, store the file, record the job
  import     import_run in this process (what the Celery task calls; no broker, no worker):
             claim, re-check the file, bulk-insert chunk by chunk, schedule every target
  baseline   a bare bulk_create of as many Posts and PostTargets, for comparison

and prints a markdown table. Nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# `python bench/bench_import.py` puts bench/ first on the path, where its modules would shadow
# others (bench/tasks.py, bench/publishing.py); the repository root goes there instead.
if sys.path and Path(sys.path[0]).resolve() == REPO_ROOT / "bench":
    sys.path[0] = str(REPO_ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--accounts", type=int, default=10)
    return p.parse_args()


def make_csv(brand, handles: list[str], rows: int) -> bytes:
    start = (datetime.now(brand.zone) + timedelta(days=1)).replace(hour=8, minute=0)
    lines = ["account,text,time,first_comment,tags,title,link"]
    for n in range(rows):
        at = start + timedelta(minutes=15 * n)
        lines.append(
            f"{handles[n % len(handles)]},"
            f'"Post {n}: fresh beans from our roastery, brewed the way you like them. '
            f'Come by and try the new blend!",'
            f"{at:%Y-%m-%d %H:%M},"
            f"Tell us your favourite,"
            f'"coffee,bench",'
            f"Bench {n},"
            f"https://acme.example.com/p/{n}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def main() -> None:
    args = parse_args()
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    old_name = connection.settings_dict["NAME"]
    tmp = None
    if connection.vendor == "sqlite":
        # A file, as in development (WAL, like the web server and worker share it), not memory.
        tmp = tempfile.TemporaryDirectory(prefix="bench-import-")
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(Path(tmp.name) / "b.db")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args, connection, transaction, timezone)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if tmp:
            tmp.cleanup()


def run(args, connection, transaction, timezone) -> None:
    from agency.models import Agency, Brand, Membership, Role, SocialAccount
    from calendar_app import import_tasks
    from calendar_app.models import ImportJob, Post, PostTarget, TargetState
    from calendar_app.services import imports
    from tests.factories import UserFactory

    import_tasks.import_posts.delay = lambda job_id: None  # the run happens in this process
    agency = Agency.objects.create(name="Bench", slug="bench")
    user = UserFactory(username="bench_manager")
    Membership.objects.create(user=user, agency=agency, role=Role.MANAGER)
    brand = Brand.objects.create(
        agency=agency, name="Acme Coffee", slug="acme", time_zone="Europe/Berlin"
    )
    handles = [f"@acme{n}" for n in range(args.accounts)]
    for handle in handles:
        SocialAccount.objects.create(brand=brand, platform="sandbox", handle=handle)
    data = make_csv(brand, handles, args.rows)

    results: list[tuple[str, float]] = []
    t = time.perf_counter()
    check = imports.import_validate(brand=brand, data=data)
    results.append(("validate (import_validate)", time.perf_counter() - t))
    assert check.ok, check.errors[:3]

    t = time.perf_counter()
    job = imports.import_job_create(brand=brand, by=user, file_name="bench.csv", data=data)
    results.append(("upload (import_job_create)", time.perf_counter() - t))
    assert job.status == ImportJob.Status.QUEUED, job.errors[:3]

    t = time.perf_counter()
    outcome = imports.import_run(job_id=job.pk)
    import_seconds = time.perf_counter() - t
    results.append(("import (import_run, in-process)", import_seconds))
    assert outcome == "done", (outcome, ImportJob.objects.get(pk=job.pk).errors[:3])
    assert Post.objects.filter(import_job=job).count() == args.rows
    scheduled = PostTarget.objects.filter(post__import_job=job, state=TargetState.SCHEDULED)
    assert scheduled.count() == args.rows

    other = Brand.objects.create(agency=agency, name="Baseline", slug="baseline")
    accounts = [
        SocialAccount.objects.create(brand=other, platform="sandbox", handle=h) for h in handles
    ]
    at = timezone.now() + timedelta(days=1)
    t = time.perf_counter()
    with transaction.atomic():
        posts = Post.objects.bulk_create(
            [
                Post(brand=other, text=f"Post {n}", scheduled_at=at, tags=["coffee"])
                for n in range(args.rows)
            ],
            batch_size=imports.IMPORT_CHUNK_ROWS,
        )
        PostTarget.objects.bulk_create(
            [
                PostTarget(
                    post=p, account=accounts[n % len(accounts)], state="scheduled", due_at=at
                )
                for n, p in enumerate(posts)
            ],
            batch_size=imports.IMPORT_CHUNK_ROWS,
        )
    baseline = time.perf_counter() - t
    results.append(("baseline (bare bulk_create)", baseline))

    db = connection.vendor
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
    elif connection.vendor == "sqlite":
        db = f"SQLite {connection.Database.sqlite_version} (file, WAL)"
    print(
        f"\nCSV import, {args.rows:,} rows x 1 account, {args.accounts} accounts; {db}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs\n"
    )
    print("| step | rows | seconds | rows/s |")
    print("|---|---:|---:|---:|")
    for name, seconds in results:
        print(f"| {name} | {args.rows:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |")
    total = sum(s for name, s in results if not name.startswith(("baseline", "validate")))
    print(f"| **upload + import** | {args.rows:,} | **{total:.2f}** | {args.rows / total:,.0f} |")
    print(f"\nimport / baseline: {import_seconds / baseline:.1f}x")


if __name__ == "__main__":
    main()
