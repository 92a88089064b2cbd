"""The CI dependency audit (scripts/audit_deps.py): a known vulnerability fails the build, an
unreachable service warns loudly but does not; and its pins are the ones installed."""

import importlib.util
import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

VULN = {"id": "PYSEC-2099-1", "aliases": ["GHSA-xxxx"], "fix_versions": ["9.9.9"]}


def test_a_known_vulnerability_fails_the_build_and_names_the_fix():
    report = {"dependencies": [{"name": "django", "version": "5.2.0", "vulns": [VULN]}]}
    code, message = audit.classify(report)
    assert code == 1
    assert "django 5.2.0: PYSEC-2099-1 (fix: 9.9.9)" in message


def test_an_ignored_advisory_needs_its_id_listed():
    report = {"dependencies": [{"name": "django", "version": "5.2.0", "vulns": [VULN]}]}
    assert audit.classify(report, ignore={"GHSA-xxxx": "no fix; not reachable"})[0] == 0


def test_a_clean_report_passes():
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}]}
    assert audit.classify(report) == (0, "No known vulnerabilities in 1 pinned packages.")


@pytest.mark.parametrize(
    "report",
    [None, {"dependencies": [{"name": "django", "skip_reason": "not found on PyPI"}]}],
)
def test_an_unreachable_service_warns_that_nothing_was_audited_without_failing(report):
    code, message = audit.classify(report)
    assert code == 0
    assert "NOTHING WAS AUDITED" in message


def test_strict_mode_fails_when_nothing_was_audited(monkeypatch):
    monkeypatch.setattr(audit, "run_audit", lambda requirements: None)
    monkeypatch.setenv("AGENCY_AUDIT_STRICT", "1")
    assert audit.main() == 1
    monkeypatch.delenv("AGENCY_AUDIT_STRICT")
    assert audit.main() == 0


def test_the_ci_script_runs_the_audit_outside_focused_runs():
    script = (ROOT / "scripts" / "test.sh").read_text()
    block = script.split('if [ "${SKIP_LINT:-0}" != 1 ]; then', 1)[1].split("\nfi\n", 1)[0]
    assert "python scripts/audit_deps.py" in block


@pytest.mark.parametrize("name", ["django-csp", "django-axes", "pip-audit"])
def test_security_packages_are_pinned_in_both_files_and_installed_at_that_pin(name):
    pins = dict(
        re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    )
    pinned = pins[name]
    assert f'"{name}=={pinned}"' in (ROOT / "pyproject.toml").read_text()
    assert version(name) == pinned
