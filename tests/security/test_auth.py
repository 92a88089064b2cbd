"""Authentication hardening: login throttling, session fixation, password rules, CSRF on every
form, secure cookies and HSTS in production, and no open redirect after log-in."""

import json
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD
from tests.security.test_tenancy_matrix import MATRIX, _url
from tests.security.urlwalk import project_routes

pytestmark = pytest.mark.django_db

LOGIN = "/auth/login/"


def _fail(client, username, times, **extra):
    for _ in range(times):
        client.post(LOGIN, {"username": username, "password": "wrong-password"}, **extra)


# -- login throttling (django-axes) ---------------------------------------------------------------


def test_after_the_failure_limit_even_the_right_password_is_refused_in_words(client, manager):
    _fail(client, manager.username, django_settings.AXES_FAILURE_LIMIT)
    response = client.post(LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed log-ins" in text
    assert "Try again in 15 minutes" in text
    assert "_auth_user_id" not in client.session


def test_one_failure_below_the_limit_still_logs_in(client, manager):
    _fail(client, manager.username, django_settings.AXES_FAILURE_LIMIT - 1)
    response = client.post(LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_the_lockout_is_per_username_and_address(client, manager, marketer):
    _fail(client, manager.username, django_settings.AXES_FAILURE_LIMIT)
    # The same person from another address, and another person from the same address, log in.
    other_ip = Client()
    ok = other_ip.post(
        LOGIN,
        {"username": manager.username, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert ok.status_code == 302
    ok = Client().post(LOGIN, {"username": marketer.username, "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302


def test_a_successful_login_resets_the_count(client, manager):
    limit = django_settings.AXES_FAILURE_LIMIT
    _fail(client, manager.username, limit - 1)
    assert client.post(LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD}).url
    client.logout()
    _fail(client, manager.username, limit - 1)
    response = client.post(LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


def test_the_admin_login_is_throttled_too(client, manager):
    _fail(client, manager.username, django_settings.AXES_FAILURE_LIMIT)
    response = client.post(
        "/admin/login/", {"username": manager.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_the_one_counted(
    client, manager, settings
):
    settings.AGENCY_TRUSTED_PROXY_COUNT = 1
    _fail(
        client, manager.username, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    # Another client behind the same proxy is not locked out ...
    ok = Client().post(
        LOGIN,
        {"username": manager.username, "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.8",
    )
    assert ok.status_code == 302
    # ... and the locked-out one cannot escape by prepending a made-up address.
    locked = Client().post(
        LOGIN,
        {"username": manager.username, "password": DEFAULT_PASSWORD},
        HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7",
    )
    assert locked.status_code == 429


# -- sessions -------------------------------------------------------------------------------------


def test_the_session_key_changes_at_login(client, manager):
    session = client.session
    session["before_login"] = "planted"
    session.save()
    planted = session.session_key
    client.cookies[django_settings.SESSION_COOKIE_NAME] = planted
    client.post(LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD})
    assert client.session["_auth_user_id"] == str(manager.pk)
    assert client.session.session_key != planted
    # The planted key no longer opens anything.
    fixated = Client()
    fixated.cookies[django_settings.SESSION_COOKIE_NAME] = planted
    assert fixated.get("/brands/").status_code == 302


# -- passwords ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak", ["short1", "password123", "12345678901", "max_manager1", "Qwertyuiop"]
)
def test_a_weak_new_password_is_refused_on_the_change_form(login, manager, weak):
    client = login(manager)
    response = client.post(
        reverse("password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": weak, "new_password2": weak},
    )
    assert response.status_code == 200
    manager.refresh_from_db()
    assert manager.check_password(DEFAULT_PASSWORD)
    assert not manager.check_password(weak)


def test_a_weak_password_is_refused_on_the_reset_form(client, manager):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(manager.pk))
    token = default_token_generator.make_token(manager)
    page = client.get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    form_url = page.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "password1", "new_password2": "password1"})
    assert response.status_code == 200
    assert "This password is too common" in response.content.decode()
    manager.refresh_from_db()
    assert manager.check_password(DEFAULT_PASSWORD)


def test_a_strong_new_password_is_accepted(login, manager):
    client = login(manager)
    strong = "a-long-unusual-passphrase-93"
    response = client.post(
        reverse("password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": strong, "new_password2": strong},
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.check_password(strong)


# -- CSRF on every form ---------------------------------------------------------------------------

# The only views that take a POST without a CSRF token: platforms call them, and each checks an
# HMAC signature instead (tests/community/test_webhooks.py).
CSRF_EXEMPT = {"community:webhook-meta", "community:webhook-x"}


def _dashboard_post_urls(world) -> list[tuple[str, str]]:
    """Every page route that takes a POST (the matrix says which), plus the account forms."""
    urls = []
    for route in project_routes():
        if route.route.startswith(("api/", "admin/")) or route.name in CSRF_EXEMPT:
            continue
        case = MATRIX.get(route.name)
        if case is not None and "P" in case.methods:
            urls.append((route.name, _url(route, case, world)))
    urls += [
        ("login", LOGIN),
        ("logout", "/auth/logout/"),
        ("password_change", reverse("password_change")),
        ("password_reset", reverse("password_reset")),
        ("switch-brand", "/switch-brand/"),
        ("token-list", "/settings/tokens/"),
        ("notification-mark-all-read", "/notifications/mark-all-read/"),
        ("admin:login", "/admin/login/"),
    ]
    return urls


@pytest.fixture
def world(brand, manager, client_user):
    from tests.security.factories_world import build_world

    return build_world(brand=brand, staff=manager, client=client_user)


def test_every_dashboard_form_refuses_a_post_without_the_csrf_token(admin, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    urls = _dashboard_post_urls(world)
    assert len(urls) > 60  # the walk found the forms
    accepted = []
    for name, url in urls:
        response = client.post(url, {"name": "x", "text": "x"})
        if response.status_code != 403:
            accepted.append(f"{name} POST {url}: {response.status_code}")
    assert not accepted, "\n".join(accepted)


def test_the_same_post_with_the_token_gets_past_csrf(admin, world):
    """The control: with the token, a form of the walk is handled (not a CSRF 403)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    client.get("/brands/new/")
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = client.post(
        _url(
            next(r for r in project_routes() if r.name == "calendar:snippet-list"),
            MATRIX["calendar:snippet-list"],
            world,
        ),
        {"csrfmiddlewaretoken": token, "name": "Sign-off", "text": "Cheers"},
    )
    assert response.status_code in (200, 302)


def test_the_api_with_a_session_needs_the_csrf_token(admin, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/api/v1/posts/", {"brand": str(world["brand"].pk)})
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()


def test_webhooks_are_the_only_csrf_exempt_views():
    exempt = {
        r.name
        for r in project_routes()
        if getattr(r.callback, "csrf_exempt", False) and not r.route.startswith(("api/", "admin/"))
    }
    assert exempt == CSRF_EXEMPT


# -- production settings: secure cookies, HSTS ----------------------------------------------------

_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
# Only so the page renders without a collectstatic run; nothing about security changes.
s.STORAGES = {**s.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
r = Client().get("/auth/login/", secure=True)
print(json.dumps({
    "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "session_httponly": s.SESSION_COOKIE_HTTPONLY, "csrf_httponly": s.CSRF_COOKIE_HTTPONLY,
    "ssl_redirect": s.SECURE_SSL_REDIRECT, "status": r.status_code,
    "hsts": r.headers.get("Strict-Transport-Security"),
    "csp": r.headers.get("Content-Security-Policy"),
    "nosniff": r.headers.get("X-Content-Type-Options"),
    "frame": r.headers.get("X-Frame-Options"),
    "csrf_cookie_secure": bool(r.cookies["csrftoken"]["secure"]),
}))
"""


def test_production_settings_send_secure_cookies_hsts_and_the_csp(tmp_path):
    from tests.agency.test_deploy import _production_env

    env = _production_env(
        tmp_path,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FERNET_KEYS=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _PROBE],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200
    assert seen["session_secure"] and seen["csrf_secure"] and seen["csrf_cookie_secure"]
    assert seen["session_httponly"] and seen["csrf_httponly"]
    assert seen["ssl_redirect"] is True
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["nosniff"] == "nosniff"
    assert seen["frame"] == "DENY"
    assert "script-src 'self'" in seen["csp"]
    assert "unsafe-inline" not in seen["csp"]
    assert "frame-ancestors 'none'" in seen["csp"]


# -- no open redirect -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "https://evil.example/auth/login/",
        "///evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_site(client, manager, target):
    response = client.post(
        LOGIN, {"username": manager.username, "password": DEFAULT_PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x"])
def test_the_brand_switcher_never_redirects_off_site(login, manager, brand, target):
    response = login(manager).post("/switch-brand/", {"brand_id": str(brand.pk), "next": target})
    assert response.status_code == 302
    assert "evil.example" not in response.url


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x"])
def test_the_query_of_a_tracked_link_cannot_choose_where_it_goes(client, brand, target):
    from tests.security.factories_world import TrackedLinkFactory

    link = TrackedLinkFactory(brand=brand, destination="https://brand.example.com/spring")
    response = client.get(f"/l/{link.code}", {"next": target, "url": target, "to": target})
    assert response.status_code == 302
    assert response.url == "https://brand.example.com/spring"


@pytest.mark.parametrize("destination", ["javascript:alert(1)", "//evil.example/x", "/local"])
def test_a_tracked_link_destination_must_be_an_absolute_http_url(login, admin, brand, destination):
    """The API path to the same rule the link builder page has (tests/ads/test_links.py)."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin)
    response = api.post(
        "/api/v1/tracked-links/",
        {"brand": str(brand.pk), "destination": destination, "name": "x"},
        format="json",
    )
    assert response.status_code == 400
