"""The tenancy matrix: every page and API endpoint, asked for brand A's data by people of other
tenants.

The routes come from the URLconf itself (tests/security/urlwalk.py walks it, the DRF router's
routes included), so a route added later cannot be left out by accident: a route that is in
none of MATRIX, LISTS and NO_OBJECT_ID fails `test_every_route_is_in_the_matrix` with the line
to add. Adding a route is one line:

    "app:url-name": ids("brand,post", "GP"),   # its URL parameters, in order -> world rows
    "app:list-name": listed("G"),              # no id in the path: ?brand=<A> is tried instead

Methods: G = GET, P = POST, A = PATCH, D = DELETE. World rows are the keys of
tests/security/factories_world.build_world ("row.field" for a lookup by another field than the
primary key); "=value" passes a literal (e.g. a table name).

Who asks: `outsider` (a manager of another agency) and `other_client` (a client of a sibling
brand of the same agency). A request fails the matrix when it
  * answers 2xx to a URL with one of brand A's ids in it (it should be 404 or 403),
  * answers 2xx with any of brand A's data in the body (its rows' ids, names, the brand's name),
  * answers 2xx to an API write, or 5xx to anything,
  * changes any of brand A's rows, or adds rows to brand A or its agency.
The positive control (`test_brand_staff_can_open_every_matrix_page`) proves the ids are right:
the brand's own admin opens the same GET URLs without a 404.
"""

import re
import uuid
from dataclasses import dataclass, field
from functools import cache

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import connection, models
from rest_framework.test import APIClient

from agency.models import Agency, Brand
from tests.security.factories_world import build_world
from tests.security.urlwalk import project_routes

# -- the matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rows: tuple[str, ...]  # world rows for the URL's parameters, in order
    methods: str
    query: dict = field(default_factory=dict)
    listing: bool = False  # no id in the path: ?brand=<A> (and a body naming brand A) instead


def ids(rows: str, methods: str = "G", **query) -> Case:
    return Case(tuple(r.strip() for r in rows.split(",")), methods, query)


def listed(methods: str = "G", **query) -> Case:
    return Case((), methods, query, listing=True)


WINDOW = {"start": "2026-01-01T00:00:00", "end": "2026-02-01T00:00:00"}

MATRIX: dict[str, Case] = {
    # -- agency
    "dashboard": listed("G"),
    "brand-list": listed("G"),
    "brand-create": listed("GP"),
    "brand-detail": ids("brand", "G"),
    "brand-edit": ids("brand", "GP"),
    "account-create": ids("brand", "GP"),
    "account-edit": ids("account", "GP"),
    "account-disconnect": ids("account", "GP"),
    "token-list": listed("G"),
    "token-revoke": ids("token", "P"),
    "notification-list": listed("G"),
    "sandbox-post": ids("sandbox_post", "G"),
    # -- calendar_app
    "calendar:post-list": listed("G"),
    "calendar:post-create": ids("brand", "GP"),
    "calendar:post-detail": ids("post", "G"),
    "calendar:post-cancel": ids("post", "P"),
    "calendar:target-retry": ids("target", "P"),
    "calendar:target-mark-published": ids("target", "P"),
    "calendar:calendar": listed("G"),
    "calendar:calendar-events": listed("G", **WINDOW),
    "calendar:calendar-export": listed("G", **WINDOW),
    "calendar:target-reschedule": ids("target", "P"),
    "calendar:compose": ids("brand", "GP"),
    "calendar:compose-check": ids("brand", "GP"),
    "calendar:post-edit": ids("post", "GP"),
    "calendar:account-queue": ids("account", "G"),
    "calendar:slot-create": ids("account", "P"),
    "calendar:slots-add-suggested": ids("account", "P"),
    "calendar:slot-delete": ids("slot", "P"),
    "calendar:post-add-to-queue": ids("post", "P"),
    "calendar:approvals": listed("G"),
    "calendar:post-approval": ids("post", "G"),
    "calendar:post-submit": ids("post", "P"),
    "calendar:post-approve": ids("post", "P"),
    "calendar:post-request-changes": ids("post", "P"),
    "calendar:portal-approvals": listed("G"),
    "calendar:portal-approve": ids("post", "P"),
    "calendar:portal-request-changes": ids("post", "P"),
    "calendar:import": ids("brand", "GP"),
    "calendar:import-example": ids("brand", "G"),
    "calendar:import-detail": ids("import_job", "G"),
    "calendar:import-progress": ids("import_job", "G"),
    "calendar:media-library": ids("brand", "GP"),
    "calendar:media-update": ids("brand,media", "P"),
    "calendar:media-delete": ids("brand,media", "P"),
    "calendar:hashtag-list": ids("brand", "GP"),
    "calendar:hashtag-edit": ids("brand,hashtag_set", "GP"),
    "calendar:hashtag-delete": ids("brand,hashtag_set", "P"),
    "calendar:snippet-list": ids("brand", "GP"),
    "calendar:snippet-edit": ids("brand,snippet", "GP"),
    "calendar:snippet-delete": ids("brand,snippet", "P"),
    # -- community
    "community:inbox": listed("G"),
    "community:conversation": ids("conversation", "G"),
    "community:conversation-messages": ids("conversation", "G"),
    "community:saved-reply-fill": ids("conversation,saved_reply", "G"),
    "community:conversation-assign": ids("conversation", "P"),
    "community:conversation-status": ids("conversation", "P"),
    "community:conversation-priority": ids("conversation", "P"),
    "community:conversation-tags": ids("conversation", "P"),
    "community:conversation-note": ids("conversation", "P"),
    "community:conversation-reply": ids("conversation", "P"),
    "community:message-hide": ids("conversation,message", "P"),
    "community:message-like": ids("conversation,message", "P"),
    "community:listening-rules": ids("brand", "GP"),
    "community:listening-feed": ids("brand", "G"),
    "community:listening-rule-edit": ids("brand,rule", "GP"),
    "community:listening-rule-delete": ids("brand,rule", "P"),
    "community:listening-mention-conversation": ids("brand,mention", "GP"),
    "community:curation-feeds": ids("brand", "GP"),
    "community:curation-library": ids("brand", "G"),
    "community:curation-feed-edit": ids("brand,feed", "GP"),
    "community:curation-feed-delete": ids("brand,feed", "P"),
    "community:curation-feed-fetch": ids("brand,feed", "P"),
    "community:curation-suggestion-draft": ids("brand,suggestion", "P"),
    "community:curation-suggestion-dismiss": ids("brand,suggestion", "P"),
    "community:giveaway-list": ids("brand", "GP"),
    "community:giveaway-detail": ids("giveaway", "G"),
    "community:giveaway-draw": ids("giveaway", "P"),
    "community:giveaway-winners-csv": ids("giveaway", "G"),
    "community:giveaway-entrants-csv": ids("giveaway", "G"),
    "community:saved-replies": ids("brand", "GP"),
    "community:saved-reply-edit": ids("brand,saved_reply", "GP"),
    "community:saved-reply-delete": ids("brand,saved_reply", "P"),
    # -- ads
    "ads:ads-home": listed("G"),
    "ads:campaign-list": ids("brand", "G"),
    "ads:campaign-create": ids("brand", "GP"),
    "ads:campaign-detail": ids("campaign", "G"),
    "ads:campaign-edit": ids("campaign", "GP"),
    "ads:ad-set-create": ids("campaign", "GP"),
    "ads:ad-set-edit": ids("ad_set", "GP"),
    "ads:ad-set-meta-spec": ids("ad_set", "G"),
    "ads:ad-create": ids("ad_set", "GP"),
    "ads:ad-edit": ids("ad", "GP"),
    "ads:audience-list": ids("brand", "G"),
    "ads:audience-create": ids("brand", "GP"),
    "ads:audience-edit": ids("audience", "GP"),
    "ads:audience-delete": ids("audience", "P"),
    "ads:post-boost": ids("target", "GP"),
    "ads:campaign-insights": ids("campaign", "G"),
    "ads:campaign-insights-panel": ids("campaign", "G"),
    "ads:campaign-insights-sync": ids("campaign", "P"),
    "ads:insights-import": ids("brand", "GP"),
    "ads:brand-roi": ids("brand", "G"),
    "ads:currency-rates": ids("agency", "GP"),
    "ads:currency-rate-delete": ids("agency,currency_rate", "P"),
    "ads:influencer-list": listed("G"),
    "ads:influencer-detail": ids("influencer", "GP"),
    "ads:influencer-delete": ids("influencer", "P"),
    "ads:collaboration-list": ids("brand", "GP"),
    "ads:sales-import": ids("brand", "GP"),
    "ads:collaboration-detail": ids("collaboration", "GP"),
    "ads:collaboration-delete": ids("collaboration", "P"),
    "ads:deliverable-create": ids("collaboration", "P"),
    "ads:deliverable-update": ids("deliverable", "GP"),
    "ads:links": ids("brand", "G"),
    "ads:link-create": ids("brand", "GP"),
    "ads:preset-create": ids("brand", "P"),
    "ads:preset-delete": ids("utm_preset", "P"),
    "ads:link-detail": ids("tracked_link", "G"),
    # -- reports
    "reports:dashboard": ids("brand", "G"),
    "reports:metrics-refresh": ids("brand", "P"),
    "reports:goal-list": ids("brand", "G"),
    "reports:goal-create": ids("brand", "GP"),
    "reports:goal-edit": ids("brand,goal", "GP"),
    "reports:goal-delete": ids("brand,goal", "P"),
    "reports:portal-home": listed("G"),
    "reports:portal-dashboard": ids("brand", "G"),
    "reports:portal-calendar": ids("brand", "G"),
    "reports:portal-goals": ids("brand", "G"),
    "reports:portal-theme": ids("brand", "G"),
    "reports:magic-links": ids("brand", "GP"),
    "reports:magic-link-revoke": ids("brand,magic_link", "P"),
    "reports:export-csv": ids("brand,=daily", "G"),
    "reports:export-pdf": ids("brand", "GP"),
    "reports:export-detail": ids("export", "G"),
    "reports:export-progress": ids("export", "G"),
    "reports:export-download": ids("export", "G"),
    "reports:schedule-list": ids("brand", "GP"),
    "reports:schedule-edit": ids("schedule", "GP"),
    "reports:schedule-delete": ids("schedule", "P"),
    "reports:schedule-deliveries": ids("schedule", "G"),
    # -- API (/api/v1/)
    "api:brand-list": listed("G"),
    "api:brand-detail": ids("brand", "GAD"),
    "api:social-account-list": listed("GP"),
    "api:social-account-detail": ids("account", "GAD"),
    "api:social-account-disconnect": ids("account", "P"),
    "api:post-list": listed("GP"),
    "api:post-detail": ids("post", "GAD"),
    "api:post-attempts": ids("post", "G"),
    "api:post-cancel": ids("post", "P"),
    "api:post-retry": ids("post", "P"),
    "api:post-schedule": ids("post", "P"),
    "api:campaign-list": listed("GP"),
    "api:campaign-detail": ids("campaign", "GAD"),
    "api:ad-set-list": listed("GP"),
    "api:ad-set-detail": ids("ad_set", "GAD"),
    "api:ad-set-meta-spec": ids("ad_set", "G"),
    "api:ad-list": listed("GP"),
    "api:ad-detail": ids("ad", "GAD"),
    "api:audience-list": listed("GP"),
    "api:audience-detail": ids("audience", "GAD"),
    "api:influencer-list": listed("GP"),
    "api:influencer-detail": ids("influencer", "GAD"),
    "api:collaboration-list": listed("GP"),
    "api:collaboration-detail": ids("collaboration", "GAD"),
    "api:deliverable-list": listed("GP"),
    "api:deliverable-detail": ids("deliverable", "GAD"),
    "api:attributed-sale-list": listed("GP"),
    "api:attributed-sale-detail": ids("sale", "GAD"),
    "api:tracked-link-list": listed("GP"),
    "api:tracked-link-detail": ids("tracked_link", "GAD"),
    "api:utm-preset-list": listed("GP"),
    "api:utm-preset-detail": ids("utm_preset", "GAD"),
    "api:insight-list": listed("G"),
    "api:insight-kpis": listed("G"),
    "api:insight-detail": ids("insight", "G"),
    "api:audit-event-list": listed("G"),
    "api:audit-event-detail": ids("audit_event.uuid", "G"),
    "api:post-approve": ids("post", "P"),
    "api:post-client-approve": ids("post", "P"),
    "api:post-client-request-changes": ids("post", "P"),
    "api:post-decisions": ids("post", "G"),
    "api:post-mark-published": ids("post,target", "P"),
    "api:post-queue": ids("post", "P"),
    "api:post-request-changes": ids("post", "P"),
    "api:post-reschedule": ids("post,target", "P"),
    "api:post-submit-for-approval": ids("post", "P"),
    "api:post-target-list": listed("G"),
    "api:post-target-detail": ids("target", "GAD"),
    "api:media-list": listed("GP"),
    "api:media-detail": ids("media", "GAD"),
    "api:queue-slot-list": listed("GP"),
    "api:queue-slot-detail": ids("slot", "GAD"),
    "api:calendar-list": listed("G", **WINDOW),
    "api:conversation-list": listed("G"),
    "api:conversation-detail": ids("conversation", "GAD"),
    "api:conversation-assign": ids("conversation", "P"),
    "api:conversation-hide-message": ids("conversation,message", "P"),
    "api:conversation-like-message": ids("conversation,message", "P"),
    "api:conversation-messages": ids("conversation", "G"),
    "api:conversation-notes": ids("conversation", "GP"),
    "api:conversation-reply": ids("conversation", "P"),
    "api:conversation-set-priority": ids("conversation", "P"),
    "api:conversation-set-status": ids("conversation", "P"),
    "api:conversation-set-tags": ids("conversation", "P"),
    "api:listening-rule-list": listed("GP"),
    "api:listening-rule-detail": ids("rule", "GAD"),
    "api:mention-list": listed("G"),
    "api:mention-detail": ids("mention", "G"),
    "api:mention-to-conversation": ids("mention", "P"),
    "api:saved-reply-list": listed("GP"),
    "api:saved-reply-detail": ids("saved_reply", "GAD"),
    "api:saved-reply-render-for": ids("saved_reply", "GP"),
    "api:account-metric-list": listed("G"),
    "api:account-metric-detail": ids("account_metric", "G"),
    "api:post-metric-list": listed("G"),
    "api:post-metric-detail": ids("post_metric", "G"),
    "api:goal-list": listed("GP"),
    "api:goal-detail": ids("goal", "GAD"),
    "api:report-list": listed("GP"),
    "api:report-detail": ids("export", "GD"),
    "api:report-download": ids("export", "G"),
    "api:scheduled-report-list": listed("GP"),
    "api:scheduled-report-detail": ids("schedule", "GAD"),
    "api:scheduled-report-deliveries": ids("schedule", "G"),
    "api:webhook-endpoint-list": listed("GP"),
    "api:webhook-endpoint-detail": ids("webhook_endpoint", "GAD"),
    "api:webhook-endpoint-rotate-secret": ids("webhook_endpoint", "P"),
    "api:webhook-endpoint-test": ids("webhook_endpoint", "P"),
    "api:webhook-delivery-list": listed("G"),
    "api:webhook-delivery-detail": ids("webhook_delivery", "G"),
    "api:webhook-delivery-replay": ids("webhook_delivery", "P"),
    # -- integrations (outgoing webhooks)
    "integrations:endpoint-list": listed("G"),
    "integrations:endpoint-create": listed("GP"),
    "integrations:endpoint-detail": ids("webhook_endpoint", "G"),
    "integrations:endpoint-deliveries": ids("webhook_endpoint", "G"),
    "integrations:endpoint-edit": ids("webhook_endpoint", "GP"),
    "integrations:endpoint-toggle": ids("webhook_endpoint", "P"),
    "integrations:endpoint-rotate-secret": ids("webhook_endpoint", "P"),
    "integrations:endpoint-test": ids("webhook_endpoint", "P"),
    "integrations:delivery-detail": ids("webhook_delivery", "G"),
    "integrations:delivery-status": ids("webhook_delivery", "G"),
    "integrations:delivery-replay": ids("webhook_delivery", "P"),
}

# Routes that take no object id, each with the reason it has no place in the matrix.
NO_OBJECT_ID: dict[str, str] = {
    "healthz": "liveness probe, no data",
    "media": "uploaded files by unguessable name, public as platforms fetch them by URL; "
    "tests/security/test_uploads.py",
    "tracked-link": "public short link /l/<code> by design; tests/ads/test_links.py",
    "switch-brand": "brand id in the body; test_switching_to_a_foreign_brand_shows_none_of_it",
    "notification-mark-all-read": "marks the caller's own notifications only",
    "community:webhook-meta": "called by Meta, HMAC-signed; tests/community/test_webhooks.py",
    "community:webhook-x": "called by X, HMAC-signed; tests/community/test_webhooks.py",
    "reports:portal-login": "a signed token, not an id; tests/reports/test_magic_links.py",
    "login": "authentication",
    "logout": "authentication",
    "password_change": "the caller's own password",
    "password_change_done": "static page",
    "password_reset": "authentication",
    "password_reset_done": "static page",
    "password_reset_confirm": "signed token, not an id",
    "password_reset_complete": "static page",
    "api:me": "the caller's own profile",
    "api:api-root": "index of links",
    "api-schema": "OpenAPI schema, no data",
    "api-docs": "Swagger UI page, no data",
    "api-redoc": "Redoc page, no data",
}
# Whole namespaces left out: the Django admin is for the platform's superusers (is_staff) only.
NO_OBJECT_ID_NAMESPACES = {
    "admin": "Django admin: is_staff superusers only (tests/agency/test_admin.py)"
}

# GET routes the brand's own admin cannot open in the world as built (the positive control).
CONTROL_EXCEPTIONS = {
    "reports:portal-dashboard": "the portal is for the brand's client users",
    "reports:portal-calendar": "the portal is for the brand's client users",
    "reports:portal-goals": "the portal is for the brand's client users",
    "reports:portal-theme": "the portal is for the brand's client users",
}

INTRUDER_BODY = {
    "name": "intruder",
    "title": "intruder",
    "text": "intruder",
    "alt_text": "intruder",
    "description": "intruder",
    "status": "closed",
    "priority": "urgent",
    "tags": "intruder",
    "hashtags": "#intruder",
    "url": "https://intruder.example.com/feed.xml",
    "destination": "https://intruder.example.com/",
    "start": "2026-03-01T10:00:00",
    "at": "2026-03-01T10:00:00",
}


def _routes():
    return project_routes()


def _is_listed(route) -> bool:
    namespace = route.name.split(":", 1)[0] if ":" in route.name else ""
    return (
        route.name in MATRIX or route.name in NO_OBJECT_ID or namespace in NO_OBJECT_ID_NAMESPACES
    )


def test_every_route_is_in_the_matrix():
    missing = [r for r in _routes() if not _is_listed(r)]
    lines = [
        f'add "{r.name}" ({r.route}, parameters {list(r.kwargs)}) to the matrix in '
        "tests/security/test_tenancy_matrix.py (MATRIX, or NO_OBJECT_ID with a reason)"
        for r in missing
    ]
    assert not lines, "\n".join(lines)


def test_the_matrix_names_only_routes_that_exist():
    names = {r.name for r in _routes()}
    stale = sorted(set(MATRIX) - names) + sorted(set(NO_OBJECT_ID) - names)
    assert not stale, f"no such route any more, remove from the matrix: {stale}"


def test_each_matrix_entry_gives_one_row_per_url_parameter():
    by_name = {r.name: r for r in _routes()}
    wrong = [
        f"{name}: parameters {list(by_name[name].kwargs)}, rows {list(case.rows)}"
        for name, case in MATRIX.items()
        if name in by_name and len(case.rows) != len(by_name[name].kwargs)
    ]
    assert not wrong, "\n".join(wrong)


# -- the world and its fingerprint ---------------------------------------------------------------


@pytest.fixture
def world(brand, manager, client_user, settings):
    w = build_world(brand=brand, staff=manager, client=client_user)
    # Real files, so downloads and previews of the owner work (the positive control).
    for key in ("export", "import_job", "media"):
        obj = w[key]
        file = obj.file
        file.storage.save(file.name, ContentFile(b"%PDF-1.4 sample" if key == "export" else b"x"))
    return w


def _path_to(model, target, depth=3, seen=()):
    """The ORM lookup from `model` to `target` (Brand or Agency) through foreign keys."""
    if model is target:
        return "pk"
    if depth == 0:
        return None
    best = None
    for f in model._meta.get_fields():
        if not (f.is_relation and f.many_to_one and f.concrete) or f.related_model in seen:
            continue
        if f.related_model is target:
            return f.name
        rest = _path_to(f.related_model, target, depth - 1, (*seen, model))
        if rest and (best is None or rest.count("__") + 1 < best.count("__")):
            best = f"{f.name}__{rest}" if rest != "pk" else f.name
    return best


@cache
def _tenant_paths() -> list[tuple[type[models.Model], type[models.Model], str]]:
    labels = {"agency", "calendar_app", "community", "ads", "reports", "integrations"}
    found = []
    for model in apps.get_models():
        if model._meta.app_label in labels:
            for target in (Brand, Agency):
                path = _path_to(model, target)
                if path:
                    found.append((model, target, path))
    return found


def fingerprint(world) -> dict:
    """Brand A's rows, and how many rows of each model belong to brand A or its agency.

    Two queries in all (the matrix takes one after every write): the counts as one UNION ALL,
    the rows as one UNION ALL of their text form (PostgreSQL; other databases read each row).
    """
    values = {Brand: world["brand"], Agency: world["agency"]}
    parts, params = [], []
    for model, target, path in _tenant_paths():
        qs = model._base_manager.filter(**{path: values[target].pk}).values("pk")
        sql, qparams = qs.query.sql_with_params()
        parts.append(f"SELECT %s, COUNT(*) FROM ({sql}) AS sub")  # noqa: S608 - ORM SQL
        params += [f"{model._meta.label} of {target.__name__}", *qparams]
    rows = [(k, o) for k, o in world.items() if isinstance(o, models.Model)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        snap = dict(cursor.fetchall())
        if connection.vendor == "postgresql":
            parts, params = [], []
            for key, obj in rows:
                meta = type(obj)._meta
                table, pk = connection.ops.quote_name(meta.db_table), meta.pk.column
                parts.append(f"SELECT %s, CAST(t AS text) FROM {table} t WHERE t.{pk} = %s")  # noqa: S608
                params += [key, obj.pk]
            cursor.execute(" UNION ALL ".join(parts), params)
            found = dict(cursor.fetchall())
            snap |= {key: found.get(key) for key, _ in rows}
        else:
            for key, obj in rows:
                snap[key] = type(obj)._base_manager.filter(pk=obj.pk).values().first()
    return snap


def _diff(before: dict, after: dict) -> list[str]:
    return [k for k in before if before[k] != after.get(k)]


def _leaks(world) -> list[str]:
    """What of brand A no one else may see: its marker, name and the ids of its rows (UUIDs only;
    a small integer id would match any number on a page)."""
    out = {world["marker"]: "marker", world["brand"].name: "brand name"}
    for key, obj in world.items():
        if isinstance(obj, models.Model) and key != "agency" and not isinstance(obj.pk, int):
            out[str(obj.pk)] = f"id of {key}"
        if isinstance(getattr(obj, "uuid", None), uuid.UUID):
            out[str(obj.uuid)] = f"uuid of {key}"
    return out


# -- asking ------------------------------------------------------------------------------------

METHOD = {"G": "get", "P": "post", "A": "patch", "D": "delete"}


def _url(route, case, world) -> str:
    path = "/" + route.route
    values = []
    for row in case.rows:
        if row.startswith("="):
            values.append(row[1:])
        else:
            key, _, attr = row.partition(".")
            values.append(str(getattr(world[key], attr or "pk")))
    # Fill the URL's parameters from the pattern text: <conv:name> or (?P<name>...).
    for name, value in zip(route.kwargs, values, strict=True):
        path = re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", value, path, count=1)
    path = path.replace("^", "").replace("$", "")
    return path


def _client_for(route, user, client):
    if route.route.startswith("api/"):
        api = APIClient()
        api.force_authenticate(user)
        return api, True
    client.force_login(user)
    return client, False


def _check_route(route, case, world, user, client, state: dict) -> list[str]:
    """Asks one route with each of its methods; `state` is brand A's fingerprint, kept current
    (only writes are fingerprinted around; the test compares the whole world at its end)."""
    http, is_api = _client_for(route, user, client)
    url = _url(route, case, world)
    brand = world["brand"]
    query = dict(case.query)
    if case.listing:
        query["brand"] = str(brand.pk)
    problems = []
    leaks = _leaks(world)
    if case.listing:
        # The page may echo its own query (?brand=<A>, e.g. in a "next" field): not a leak.
        leaks.pop(str(brand.pk))
    for letter in case.methods:
        method = METHOD[letter]
        body = {**INTRUDER_BODY}
        if case.listing:
            body |= {"brand": str(brand.pk), "agency": str(world["agency"].pk)}
        if method == "get":
            response = http.get(url, query)
        elif is_api:
            response = getattr(http, method)(url, body, format="json")
        else:
            response = getattr(http, method)(url, body)
        status = response.status_code
        what = f"{method.upper()} {url}"
        if status >= 500:
            problems.append(f"{what}: {status}")
        if 200 <= status < 300:
            content = b"".join(response) if response.streaming else response.content
            text = content.decode("utf-8", "replace")
            shown = [f"{label} {leak}" for leak, label in leaks.items() if leak in text]
            if shown:
                problems.append(f"{what}: {status} shows brand A's data {shown[:3]}")
            elif not case.listing:
                problems.append(f"{what}: {status}, opened one of brand A's rows by its id")
            if is_api and method != "get":
                problems.append(f"{what}: {status}, the API accepted a write")
        if method != "get":
            after = fingerprint(world)
            changed = _diff(state, after)
            if changed:
                problems.append(f"{what}: {status} and brand A's data changed: {changed}")
            state.clear()
            state.update(after)
    return problems


def _matrix_routes():
    return [r for r in _routes() if r.name in MATRIX]


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_no_route_shows_or_changes_another_tenants_data(request, persona, world, client):
    """Every matrix route, every method, as someone of another agency or another brand."""
    user = request.getfixturevalue(persona)
    start = fingerprint(world)
    state = dict(start)
    problems = []
    for route in _matrix_routes():
        for problem in _check_route(route, MATRIX[route.name], world, user, client, state):
            problems.append(f"{persona} {route.name}: {problem}")
    changed = _diff(start, fingerprint(world))
    if changed:
        problems.append(f"{persona}: brand A's data changed during the GETs: {changed}")
    assert not problems, "\n".join(problems)


def test_brand_staff_can_open_every_matrix_page(admin, world, client):
    """The positive control: the same ids work for the brand's own admin, so the 404s above
    come from tenancy, not from wrong ids or a broken world."""
    failures = []
    for route in _matrix_routes():
        case = MATRIX[route.name]
        if "G" not in case.methods or case.listing or route.name in CONTROL_EXCEPTIONS:
            continue
        http, _ = _client_for(route, admin, client)
        url = _url(route, case, world)
        status = http.get(url, case.query).status_code
        if status in (404, 403) or status >= 500:
            failures.append(f"{route.name} GET {url}: {status}")
    assert not failures, "\n".join(failures)


def test_the_brands_client_opens_its_portal(client_user, world, client):
    client.force_login(client_user)
    for name in CONTROL_EXCEPTIONS:
        route = next(r for r in _routes() if r.name == name)
        url = _url(route, MATRIX[name], world)
        assert client.get(url).status_code == 200, url


def test_listings_show_brand_as_data_to_its_staff(admin, world, client):
    """The leak check can fail: the same listings, asked by the brand's admin, do show
    brand A's marker (so its absence for the outsider means something)."""
    client.force_login(admin)
    for name in ("brand-list", "calendar:post-list", "community:inbox", "ads:influencer-list"):
        route = next(r for r in _routes() if r.name == name)
        response = client.get(_url(route, MATRIX[name], world), {"brand": world["brand"].pk})
        assert response.status_code == 200, name
        assert world["marker"] in response.content.decode() or world["brand"].name in (
            response.content.decode()
        ), name


def test_switching_to_a_foreign_brand_shows_none_of_it(outsider, world, client):
    client.force_login(outsider)
    client.post("/switch-brand/", {"brand_id": str(world["brand"].pk), "next": "/posts/"})
    assert client.session.get("current_brand_id") in (None, "", str(outsider.pk))
    for path in ("/posts/", "/calendar/", "/inbox/", "/approvals/", "/campaigns/"):
        response = client.get(path)
        assert world["marker"] not in response.content.decode(), path


def test_the_fingerprint_sees_a_change(world):
    """The state check of the matrix is not blind: a write to one of A's rows shows in it."""
    before = fingerprint(world)
    world["snippet"].text = "changed"
    world["snippet"].save()
    assert "snippet" in _diff(before, fingerprint(world))
    before = fingerprint(world)
    from tests.security.factories_world import SnippetFactory

    SnippetFactory(brand=world["brand"])
    assert "calendar_app.Snippet of Brand" in _diff(before, fingerprint(world))
