"""Every /api/v1/ operation against its own OpenAPI schema, with Schemathesis.

The schema is the one the app serves (/api/schema/), loaded from the Django WSGI application in
this process; requests go to the same application, so they run on this test's PostgreSQL
database and transaction. Each operation gets a handful of generated requests (derandomized,
fixed seed: a CI run is reproducible) as a manager, a marketer and a client, each with an API
token (`Authorization: Token ...`). Every response must:

- not be a server error (5xx);
- use a status code the operation declares, with its declared content type;
- have a body that validates against the declared schema for that status.

Data: the demo agency of `make run` (brands, accounts, users, posts, metrics), plus a goal, a
scheduled report, a finished PDF report and some audit events, so a list is never trivially
empty. For an operation on one object (`{id}` in its path) most generated ids are replaced by
the id of a real object the persona can list, so detail, update and action endpoints run on
real rows, not only their 404; the rest stay random and check the 404.

Knobs for a deeper or narrower local run: SCHEMATHESIS_MAX_EXAMPLES (default 3),
SCHEMATHESIS_SEED, SCHEMATHESIS_PATHS (a regex of paths, default every /api/v1/ path).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from schemathesis import checks as st_checks
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi import checks as openapi_checks

pytestmark = pytest.mark.timeout(600)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261123"))
PERSONAS = ["manager", "marketer", "client"]
STRICT_CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]

CHECKS = list(STRICT_CHECKS)


def _keep_connection():
    """Unhook the receivers that close "old" database connections around each request.

    Inside a test's transaction they would throw the transaction away; Django's own test client
    unhooks the same two for the same reason. Returns the function that hooks them back.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)

    def restore():
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    return restore


def _load_schema():
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    restore = _keep_connection()
    try:
        loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    finally:
        restore()
    loaded.config.seed = SEED
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    loaded.config.generation.update(
        modes=["positive", "negative"],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        no_shrink=True,
        # PostgreSQL text cannot hold NUL: every input must turn one into a 400, never a 500.
        allow_x00=True,
    )
    loaded.config.update(suppress_health_check=[HealthCheck.all])
    return loaded.include(path_regex=os.environ.get("SCHEMATHESIS_PATHS", r"^/api/v1/"))


# Loaded when the module is collected: one test per operation and persona.
schema = _load_schema()


@pytest.fixture(scope="module")
def contract_media(tmp_path_factory):
    return tmp_path_factory.mktemp("contract-media")


@pytest.fixture(scope="module")
def contract_data(django_db_setup, django_db_blocker, contract_media):
    """The rows every test of this module reads, loaded once in a transaction that is rolled
    back at the end of the module (each test then runs in a savepoint inside it, as Django's
    setUpTestData does). Returns an API key per persona."""
    from django.db import transaction

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(MEDIA_ROOT=contract_media):
                keys = _load_data()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield keys
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _load_data() -> dict[str, str]:
    """The demo data of `make run`, a few rows of what it has none of, one token per persona."""
    from django.contrib.auth import get_user_model

    from agency.demo import demo_data_load
    from agency.models import Brand
    from agency.services import api_token_create
    from reports.models import Goal, ReportExport, ScheduledReport

    demo_data_load()
    brand = Brand.objects.get(slug="acme-coffee")
    today = timezone.localdate()
    Goal.objects.create(
        brand=brand,
        name="Reach 10,000 people",
        metric=Goal.Metric.REACH,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(10000),
        start_date=today - dt.timedelta(days=10),
        due_date=today + dt.timedelta(days=20),
    )
    ScheduledReport.objects.create(
        brand=brand,
        name="Monthly",
        frequency=ScheduledReport.Frequency.MONTHLY,
        recipients=["board@example.com"],
    )
    export = ReportExport.objects.create(
        brand=brand,
        period_start=today - dt.timedelta(days=30),
        period_end=today - dt.timedelta(days=1),
        status=ReportExport.Status.DONE,
        progress=100,
    )
    export.file.save("report.pdf", ContentFile(b"%PDF-1.4 contract test"), save=True)
    users = get_user_model().objects.filter(username__in=PERSONAS)
    return {u.username: api_token_create(user=u, name="schemathesis")[1] for u in users}


@pytest.fixture
def app(db, settings, contract_media):
    from django.core.wsgi import get_wsgi_application

    settings.MEDIA_ROOT = contract_media  # where the module's stored PDF is

    # No rate limits here: hundreds of requests a minute from one token are the point.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    restore = _keep_connection()
    try:
        yield get_wsgi_application()
    finally:
        restore()


_first_ids: dict[tuple[str, str], str | None] = {}


@pytest.fixture
def real_id(app, contract_data):
    """The first id a list shows a persona (every test starts from the same rows)."""
    from werkzeug.test import Client

    client = Client(app)

    def first_id(persona: str, collection: str) -> str | None:
        if (persona, collection) not in _first_ids:
            response = client.get(
                collection,
                headers={"Authorization": f"Token {contract_data[persona]}", "Host": "localhost"},
            )
            found = None
            if response.status_code == 200:
                body = json.loads(response.get_data())
                rows = body.get("results", body) if isinstance(body, dict) else body
                if rows and isinstance(rows, list) and "id" in rows[0]:
                    found = str(rows[0]["id"])
            _first_ids[persona, collection] = found
        return _first_ids[persona, collection]

    return first_id


@schema.parametrize()
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_operation_answers_as_its_schema_says(case, persona, app, contract_data, real_id):
    path = case.operation.path
    if "{id}" in path and case.path_parameters and "id" in case.path_parameters:
        generated = str(case.path_parameters["id"])
        # A quarter of the cases keep the generated id (a 404, or a 400 for a malformed one).
        if generated[:1] not in "cdef":
            real = real_id(persona, path.split("{id}")[0])
            if real is not None:
                case.path_parameters["id"] = real
    case.call_and_validate(
        headers={"Authorization": f"Token {contract_data[persona]}"}, checks=CHECKS
    )
