"""`make bench`: every benchmark, one after the other, against the same PostgreSQL and Redis
that scripts/test.sh started. Each writes its own section of BENCHMARKS.md (between markers),
so a figure there always comes from a run of this command.

    bench/run.py            publishing: Celery ceiling, 10,000 targets, lag (issue 3)
    bench/bench_import.py   bulk CSV import of 10,000 rows (issue 4)
    bench/bench_webhooks.py signed webhooks accepted and ingested per second (issue 5)
    bench/bench_roi.py      ROI selectors over 1,000,000 insight rows (issue 6)
    bench/bench_api.py      posts list and calendar API over 100,000 posts (issue 8)

Extra arguments go to bench/run.py. `--only import,roi` runs just those.

Opt-in (never in the default run, because it takes minutes and loads the whole machine):

    bench/load/run.py       20 users on pages and API over 100,000 posts and 1,000,000
                            messages, with publishing (issue 9): `--only load`; its own
                            arguments in BENCH_LOAD_ARGS, e.g. "--posts 10000 --duration 60"
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"

STANDALONE = [
    ("import", "bench/bench_import.py", "Bulk CSV import (issue 4)"),
    ("webhooks", "bench/bench_webhooks.py", "Signed webhooks (issue 5)"),
    ("roi", "bench/bench_roi.py", "ROI selectors over 1,000,000 insight rows (issue 6)"),
    ("api", "bench/bench_api.py", "API over 100,000 posts against a bare endpoint (issue 8)"),
]


def write_section(key: str, title: str, body: str) -> None:
    start = f"<!-- bench:{key}:start (written by bench/all.py) -->"
    end = f"<!-- bench:{key}:end -->"
    block = f"{start}\n### {title}\n\n{body.strip()}\n{end}"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)


def run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def main(argv: list[str]) -> int:
    only = None
    if argv[:1] == ["--only"]:
        only, argv = set(argv[1].split(",")), argv[2:]
    failed = 0
    if only is None or "publishing" in only:
        # bench/run.py writes its own section and prints as it goes.
        code = subprocess.call([sys.executable, "bench/run.py", *argv], cwd=REPO_ROOT)
        failed += code != 0
    if only is not None and "load" in only:
        # Writes its own section (bench:load) and prints as it goes.
        load_args = shlex.split(os.environ.get("BENCH_LOAD_ARGS", ""))
        code = subprocess.call([sys.executable, "bench/load/run.py", *load_args], cwd=REPO_ROOT)
        failed += code != 0
    for key, script, title in STANDALONE:
        if only is not None and key not in only:
            continue
        print(f"== {script}", flush=True)
        started = time.monotonic()
        try:
            result = run([sys.executable, script], timeout=900)
        except subprocess.TimeoutExpired:
            write_section(
                key, title, f"Did not finish within 900 s on {time.strftime('%Y-%m-%d')}."
            )
            failed += 1
            continue
        print(result.stdout)
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            write_section(
                key, title, f"Failed in the last run (exit {result.returncode}); see its output."
            )
            failed += 1
            continue
        took = time.monotonic() - started
        note = f"\n\n_Measured {time.strftime('%Y-%m-%d')} by `make bench` ({took:.0f} s)._"
        write_section(key, title, result.stdout + note)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
