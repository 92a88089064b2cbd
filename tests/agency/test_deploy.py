"""The production deployment: docker-compose.yml, Dockerfile, README, settings, key rotation.

Docker itself cannot run here, so these tests check what can be checked without an engine: the
files agree with each other and with the README, the image's build step and the production
settings work on this checkout, and `docker compose config` accepts the file when a client is
installed.
"""

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from agency.management.commands.rotate_secrets import encrypted_fields
from agency.models import Brand, SocialAccount
from tests.factories import SocialAccountFactory

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["web", "worker", "beat"]
SERVICES = [*APP_SERVICES, "postgres", "redis"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _argv(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any of agency's settings, plus `extra`."""
    prefixes = ("DJANGO_", "AGENCY_", "DATABASE_", "CELERY_", "FERNET_", "EMAIL_", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("REDIS_URL", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _production_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "agency.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "AGENCY_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    return _clean_env(**{**env, **extra})


def _run(args: list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


# --- docker-compose.yml ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_every_long_running_service_has_a_healthcheck(compose, name):
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert healthcheck["test"]


def test_web_healthcheck_calls_healthz_and_probes_the_ones_that_matter(compose):
    services = compose["services"]
    web_test = " ".join(_argv(services["web"]["healthcheck"]["test"]))
    assert "/healthz" in web_test
    assert "X-Forwarded-Proto" in web_test
    worker_test = " ".join(_argv(services["worker"]["healthcheck"]["test"]))
    assert "inspect ping" in worker_test
    assert "pg_isready" in " ".join(_argv(services["postgres"]["healthcheck"]["test"]))
    assert "redis-cli ping" in " ".join(_argv(services["redis"]["healthcheck"]["test"]))


def test_data_lives_in_named_volumes(compose):
    assert {"postgres-data", "redis-data", "media"} <= set(compose["volumes"])
    mounts = {name: svc.get("volumes", []) for name, svc in compose["services"].items()}
    assert "postgres-data:/var/lib/postgresql/data" in mounts["postgres"]
    assert "redis-data:/data" in mounts["redis"]
    for name in APP_SERVICES:
        assert "media:/app/media" in mounts[name], name


def test_app_services_wait_for_the_one_shot_migration(compose):
    services = compose["services"]
    assert _argv(services["migrate"]["command"])[-3:] == ["manage.py", "migrate", "--noinput"]
    # A restart policy on a one-shot would run it again and again.
    assert str(services["migrate"].get("restart", "no")) == "no"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert services[name]["env_file"] in (".env", [".env"]), name


def test_worker_consumes_every_routed_queue_with_a_thread_pool(compose, settings):
    argv = _argv(compose["services"]["worker"]["command"])
    assert argv[:4] == ["celery", "-A", "agency", "worker"]
    assert "--pool=threads" in argv
    queues = next(a for a in argv if a.startswith("--queues=")).split("=", 1)[1].split(",")
    routed = {route["queue"] for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values()}
    assert {"celery", "dispatch", "publish"} | routed <= set(queues)


def test_beat_uses_the_database_scheduler(compose):
    argv = _argv(compose["services"]["beat"]["command"])
    assert argv[:4] == ["celery", "-A", "agency", "beat"]
    assert "--scheduler=django_celery_beat.schedulers:DatabaseScheduler" in argv


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and _run([docker, "compose", "version"], os.environ.copy()).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    return None


def test_docker_compose_accepts_the_file_with_the_example_env(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` plugin nor docker-compose installed on this machine")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    # A clean environment: interpolation from the developer's shell must not be what passes.
    result = subprocess.run(  # noqa: S603
        [*cli, "-f", "docker-compose.yml", "config", "-q"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --- README and Dockerfile agree with the compose file ------------------------------------------


def _readme_service_commands() -> dict[str, list[str]]:
    """The `| service | `command` |` rows of the README's docker compose section."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Production with docker compose$(.*?)(?=^## )", readme, re.M | re.S)
    assert section, "README.md has no '## Production with docker compose' section"
    rows = re.findall(r"^\|\s*`([a-z-]+)`\s*\|\s*`([^`]+)`\s*\|", section.group(1), re.M)
    return {name: shlex.split(command) for name, command in rows}


def test_readme_documents_exactly_the_commands_compose_runs(compose):
    documented = _readme_service_commands()
    in_compose = {
        name: _argv(svc["command"]) for name, svc in compose["services"].items() if "command" in svc
    }
    assert documented == in_compose


def test_image_default_command_is_the_web_command(compose):
    cmds = [args for instruction, args in _dockerfile_instructions() if instruction == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    assert json.loads(cmds[-1]) == _argv(compose["services"]["web"]["command"])


def test_image_is_python_311_slim_and_runs_as_non_root():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    runs = " ".join(args for instruction, args in instructions if instruction == "RUN")
    assert "pip install -c constraints.txt ." in runs


def test_image_build_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", "var", ".venv", ".git"} <= ignored


def test_image_collectstatic_step_works_with_its_throwaway_secrets(tmp_path):
    """Runs the Dockerfile's collectstatic command as written, with the image's env."""
    run = next(
        args
        for instruction, args in _dockerfile_instructions()
        if instruction == "RUN" and "collectstatic" in args
    )
    step = run.split("&&")[0].strip()
    assert "collectstatic" in step
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="agency.settings",
        AGENCY_VAR_DIR=str(tmp_path / "var"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
    )
    result = _run(["bash", "-c", step], env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()


# --- production settings -----------------------------------------------------------------------


def test_deploy_check_is_clean_under_production_settings(tmp_path):
    env = _production_env(tmp_path)
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_refuse_to_load_without_secret_key_when_debug_is_off(tmp_path):
    env = _production_env(tmp_path, DJANGO_SECRET_KEY="", AGENCY_ALLOW_DEV_SECRETS="0")
    result = _run([sys.executable, "-c", "import django; django.setup()"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_refuse_to_load_without_fernet_keys_when_debug_is_off(tmp_path):
    env = _production_env(tmp_path, FERNET_KEYS="", AGENCY_ALLOW_DEV_SECRETS="0")
    result = _run([sys.executable, "-c", "import django; django.setup()"], env)
    assert result.returncode != 0
    assert "FERNET_KEYS must be set when DEBUG is off" in result.stderr


def test_debug_is_off_by_default(tmp_path):
    dotenv = ROOT / ".env"
    if dotenv.exists() and "DJANGO_DEBUG" in dotenv.read_text():
        pytest.skip("a local .env sets DJANGO_DEBUG, so the default cannot be observed here")
    env = _production_env(tmp_path)
    del env["DJANGO_DEBUG"]
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = _run([sys.executable, "-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_healthz_answers_plain_http_probes_while_pages_redirect_to_https(db, client, settings):
    """Probes inside the compose network speak plain HTTP; every other page goes to HTTPS."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    settings.ALLOWED_HOSTS = ["agency.example.com"]
    probe = client.get("/healthz", HTTP_HOST="agency.example.com")
    assert probe.status_code == 200
    assert probe.json() == {"status": "ok"}
    page = client.get("/auth/login/", HTTP_HOST="agency.example.com")
    assert page.status_code == 301
    assert page["Location"].startswith("https://")
    assert client.get("/healthz", HTTP_HOST="evil.example.net").status_code == 400


def test_every_setting_from_the_environment_is_documented():
    names = set(
        re.findall(
            r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]+)\"", (ROOT / "agency/settings.py").read_text()
        )
    )
    assert names, "no env(...) calls found: the pattern is out of date"
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    assert sorted(n for n in names if n not in example) == []
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


# --- rotate_secrets ------------------------------------------------------------------------------


@pytest.fixture
def key_a():
    return Fernet.generate_key().decode()


@pytest.fixture
def key_b():
    return Fernet.generate_key().decode()


def _stored(account) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM agency_socialaccount WHERE id = %s",
            [account.pk.hex if connection.vendor == "sqlite" else account.pk],
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_after_rotation_only_the_new_key_is_needed(settings, key_a, key_b):
    settings.FERNET_KEYS = [key_a]
    account = SocialAccountFactory(access_token="token-one", refresh_token="refresh-one")
    before = _stored(account)

    settings.FERNET_KEYS = [key_b, key_a]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)

    settings.FERNET_KEYS = [key_b]
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert (fresh.access_token, fresh.refresh_token) == ("token-one", "refresh-one")
    assert _stored(account) != before
    assert "agency.SocialAccount.access_token,refresh_token: 2 values rotated in 1 rows" in (
        out.getvalue()
    )


@pytest.mark.django_db
def test_without_rotation_rows_still_need_the_old_key(settings, key_a, key_b):
    settings.FERNET_KEYS = [key_a]
    account = SocialAccountFactory()
    settings.FERNET_KEYS = [key_b]
    with pytest.raises(InvalidToken):
        SocialAccount.objects.get(pk=account.pk)


@pytest.mark.django_db
def test_rotation_in_small_batches_reaches_every_row_and_keeps_empty_values(settings, key_a, key_b):
    settings.FERNET_KEYS = [key_a]
    accounts = SocialAccountFactory.create_batch(5)
    empty = SocialAccountFactory(access_token="", refresh_token="")

    settings.FERNET_KEYS = [key_b, key_a]
    call_command("rotate_secrets", "--batch-size=2", stdout=StringIO())

    settings.FERNET_KEYS = [key_b]
    for account in accounts:
        assert SocialAccount.objects.get(pk=account.pk).access_token == account.access_token
    assert _stored(empty) == ("", "")


@pytest.mark.django_db
def test_rotation_stops_with_a_clear_error_on_a_value_no_key_decrypts(settings, key_a, key_b):
    settings.FERNET_KEYS = [key_a]
    SocialAccountFactory()
    settings.FERNET_KEYS = [key_b]
    with pytest.raises(CommandError, match=r"agency\.SocialAccount\.access_token .*FERNET_KEYS"):
        call_command("rotate_secrets", stdout=StringIO())


def test_rotation_discovers_encrypted_fields_by_type():
    found = {model: [f.name for f in fields] for model, fields in encrypted_fields().items()}
    assert found[SocialAccount] == ["access_token", "refresh_token"]
    assert Brand not in found
