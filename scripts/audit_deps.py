"""Audit the pinned dependency tree (constraints.txt) for known vulnerabilities with pip-audit.

    python scripts/audit_deps.py            the CI step (scripts/test.sh runs it)

Exit codes, and why (SECURITY.md, "Dependency audit"):
  1  a pinned package has a known vulnerability: CI fails until it is upgraded or, when no fixed
     version exists, its advisory id is listed in AUDIT_IGNORE with a reason.
  0  nothing known, or the vulnerability service could not be asked (no network, an outage, a
     mirror that does not serve the per-version data): a loud warning, not a red build, since a
     hiccup of an outside service says nothing about this change. AGENCY_AUDIT_STRICT=1 makes
     that case fail too (for a scheduled job that must prove an audit ran).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Advisory ids we accept knowingly, each with the reason. Empty: keep it that way if you can.
AUDIT_IGNORE: dict[str, str] = {}


def classify(report: dict | None, *, ignore: dict[str, str] = AUDIT_IGNORE) -> tuple[int, str]:
    """(exit code, what to print) for pip-audit's JSON report (None: pip-audit itself failed)."""
    if report is None:
        return 0, "WARNING: pip-audit could not run or reach its service; NOTHING WAS AUDITED."
    deps = report.get("dependencies", [])
    found = []
    for dep in deps:
        for vuln in dep.get("vulns", []):
            ids = {vuln.get("id", ""), *vuln.get("aliases", [])}
            if ids & set(ignore):
                continue
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            found.append(
                f"{dep['name']} {dep.get('version', '?')}: {vuln.get('id')} (fix: {fixes})"
            )
    if found:
        return 1, "Known vulnerabilities in pinned packages:\n  " + "\n  ".join(found)
    audited = [d for d in deps if "skip_reason" not in d]
    skipped = [d for d in deps if "skip_reason" in d]
    if deps and not audited:
        return 0, (
            f"WARNING: the vulnerability service answered for none of the {len(deps)} pinned "
            "packages (offline, or a mirror without per-version data); NOTHING WAS AUDITED."
        )
    note = f" ({len(skipped)} could not be audited)" if skipped else ""
    return 0, f"No known vulnerabilities in {len(audited)} pinned packages{note}."


def _requirements() -> Path:
    """constraints.txt without this project itself (pip-audit asks PyPI about every name)."""
    lines = [
        line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.lower().startswith("agency==")
    ]
    handle = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)  # noqa: SIM115
    handle.write("\n".join(lines) + "\n")
    handle.close()
    return Path(handle.name)


def run_audit(requirements: Path) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            "--no-deps",  # constraints.txt pins the whole tree already
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--timeout",
            "30",
            "--format",
            "json",
            "--output",
            str(out),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)  # noqa: S603
        if out.exists() and out.stat().st_size:
            try:
                return json.loads(out.read_text())
            except ValueError:
                pass
        sys.stderr.write(result.stderr[-2000:])
        return None


def main() -> int:
    requirements = _requirements()
    try:
        code, message = classify(run_audit(requirements))
    finally:
        requirements.unlink(missing_ok=True)
    print(message)
    if code == 0 and "NOTHING WAS AUDITED" in message and os.environ.get("AGENCY_AUDIT_STRICT"):
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
