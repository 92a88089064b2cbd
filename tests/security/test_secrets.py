"""No secret reaches a log line, a page, an API answer or the admin.

Representative flows run while every log record is captured (caplog at DEBUG on every logger,
and the project's own console handler with its redaction filter, as production formats it):
connecting an account with tokens, a publish whose error answer echoes the token, webhooks with
our app secret and verify token, creating an API token, and a 500 page with DEBUG off. Then every
captured text is searched for every secret value.
"""

import io
import logging
import logging.config
import re
from datetime import timedelta

import pytest
import requests
import responses
from django.apps import apps
from django.conf import settings as django_settings
from django.test import Client
from django.urls import path
from django.utils import timezone
from rest_framework.test import APIClient

from agency.models import SocialAccount
from agency.platforms.facebook import GRAPH_URL
from calendar_app import publishing
from calendar_app.models import PublishAttempt, TargetState
from tests.factories import DEFAULT_PASSWORD, PostFactory, PostTargetFactory

pytestmark = pytest.mark.django_db

ACCESS = "EAAB-access-token-s3cr3t-0001"
REFRESH = "refresh-token-s3cr3t-0002"
APP_SECRET = "meta-app-secret-s3cr3t-0003"
VERIFY = "meta-verify-token-s3cr3t-0004"
X_SECRET = "x-consumer-secret-s3cr3t-0005"
PAGE_ID = "546349135390552"


class _Seen:
    """Everything a person or an attacker could read: responses, and every log output."""

    def __init__(self, console: io.StringIO):
        self.texts: list[tuple[str, str]] = []
        self.console = console

    def add(self, where: str, content) -> None:
        if hasattr(content, "content") or hasattr(content, "streaming_content"):
            body = b"".join(content) if getattr(content, "streaming", False) else content.content
            content = body.decode("utf-8", "replace") + "\n" + str(dict(content.headers))
        self.texts.append((where, str(content)))

    def leaks(self, secrets: list[str]) -> list[str]:
        texts = [*self.texts, ("the console log, as production prints it", self.console.getvalue())]
        return [
            f"{secret!r} in {where}"
            for where, text in texts
            for secret in secrets
            if secret in text
        ]


@pytest.fixture
def seen(caplog):
    """caplog at DEBUG on the root (so every logger), plus the project's console handler."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config_handler = django_settings.LOGGING["handlers"]["console"]
    handler.setFormatter(
        logging.Formatter(django_settings.LOGGING["formatters"]["plain"]["format"])
    )
    for name in config_handler.get("filters", []):
        spec = django_settings.LOGGING["filters"][name]["()"]
        module, _, cls = spec.rpartition(".")
        handler.addFilter(getattr(__import__(module, fromlist=[cls]), cls)())
    root = logging.getLogger()
    root.addHandler(handler)
    yield _Seen(stream)
    root.removeHandler(handler)


@pytest.fixture
def webhook_secrets(settings):
    settings.META_APP_SECRET = APP_SECRET
    settings.META_VERIFY_TOKEN = VERIFY
    settings.X_CONSUMER_SECRET = X_SECRET


def _all_secrets(extra=()):
    return [ACCESS, REFRESH, APP_SECRET, VERIFY, X_SECRET, DEFAULT_PASSWORD, *extra]


def test_connecting_an_account_shows_its_tokens_nowhere(
    login, admin, brand, seen, caplog, webhook_secrets
):
    client = login(admin)
    response = client.post(
        f"/brands/{brand.pk}/accounts/new/",
        {
            "platform": "facebook",
            "handle": "acmecoffee",
            "external_id": PAGE_ID,
            "access_token": ACCESS,
            "refresh_token": REFRESH,
        },
        follow=True,
    )
    seen.add("the page after connecting", response)
    account = SocialAccount.objects.get(handle="acmecoffee")
    assert account.access_token == ACCESS  # stored (encrypted), and readable by the code
    admin.is_staff = admin.is_superuser = True
    admin.save()
    for url in (
        f"/brands/{brand.pk}/",
        f"/accounts/{account.pk}/edit/",
        f"/admin/agency/socialaccount/{account.pk}/change/",
        "/admin/agency/socialaccount/",
        f"/api/v1/social-accounts/{account.pk}/",
        "/api/v1/social-accounts/",
    ):
        seen.add(url, client.get(url))
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert repr(account.access_token) == "SecretStr('********')"
    assert not seen.leaks(_all_secrets())


def _facebook_account(brand):
    return SocialAccount.objects.create(
        brand=brand,
        platform="facebook",
        handle="acmecoffee",
        external_id=PAGE_ID,
        access_token=ACCESS,
        refresh_token=REFRESH,
    )


def _queued_facebook_target(brand):
    account = _facebook_account(brand)
    post = PostFactory(brand=brand, text="Fresh roast today")
    target = PostTargetFactory(post=post, account=account)
    now = timezone.now()
    type(target).objects.filter(pk=target.pk).update(
        state=TargetState.QUEUED, due_at=now - timedelta(seconds=1), queued_at=now
    )
    return target


ECHOING_ERRORS = pytest.mark.parametrize(
    ("status", "error"),
    [
        # https://developers.facebook.com/docs/graph-api/guides/error-handling/ (code 190)
        (
            400,
            {
                "message": f"Invalid OAuth access token - Cannot parse access token: {ACCESS}",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "A1",
            },
        ),
        # A platform bug that echoes the request back, token and all, in a 500.
        (
            500,
            {
                "message": f"Internal error for request access_token={ACCESS}&message=Fresh",
                "type": "FacebookApiException",
                "code": 2,
                "fbtrace_id": "A2",
            },
        ),
        (
            400,
            {
                "message": "Invalid parameter",
                "type": "OAuthException",
                "code": 100,
                "error_user_msg": f"token {ACCESS} cannot post",
                "fbtrace_id": "A3",
            },
        ),
    ],
)


@ECHOING_ERRORS
def test_a_platform_error_that_echoes_the_token_is_recorded_without_it(
    login, admin, brand, seen, caplog, status, error
):
    target = _queued_facebook_target(brand)
    with responses.RequestsMock() as http:
        http.post(f"{GRAPH_URL}/{PAGE_ID}/feed", json={"error": error}, status=status)
        publishing.publish_target(target_id=target.pk)
    target.refresh_from_db()
    attempt = PublishAttempt.objects.get(target=target)
    assert attempt.error_message or target.last_error  # the error was recorded ...
    for field in ("error_message", "response_excerpt"):
        seen.add(f"PublishAttempt.{field}", getattr(attempt, field))
    seen.add("PostTarget.last_error", target.last_error)
    client = login(admin)
    seen.add("post page", client.get(f"/posts/{target.post_id}/"))
    seen.add("API attempts", client.get(f"/api/v1/posts/{target.post_id}/attempts/"))
    seen.add("notifications", client.get("/notifications/"))
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert not seen.leaks(_all_secrets())  # ... but not the token


def _poll_the_inbox(account, caplog):
    from community.models import PollCursor
    from community.services.inbox import poll_account_inbox

    poll_account_inbox(account=account)
    return [("PollCursor.error", c.error) for c in PollCursor.objects.filter(account=account)]


def _sync_metrics(account, caplog):
    from reports.services.analytics import metrics_backfill, metrics_sync_brand

    assert metrics_sync_brand(brand=account.brand)["skipped"]
    metrics_backfill(brand=account.brand, days=1)
    return [("the sync's log", "\n".join(r.getMessage() for r in caplog.records))]


def _sync_ad_insights(account, caplog):
    from ads.models import Campaign
    from ads.services.insights import campaign_sync_insights
    from agency.platforms.errors import PlatformError

    campaign = Campaign.objects.create(
        brand=account.brand,
        name="Spring sale",
        platform="meta",
        objective="sales",
        status=Campaign.Status.ACTIVE,
        start_date=timezone.localdate() - timedelta(days=3),
        budget_kind="daily",
        budget_amount="100",
        currency="EUR",
        external_id="120210000000000001",
    )
    day = timezone.localdate()
    try:
        campaign_sync_insights(campaign=campaign, since=day, until=day)
    except PlatformError as exc:  # the task logs it and stores it as the reauth reason
        return [("the error", str(exc)), ("its excerpt", exc.excerpt), ("its args", exc.args)]
    raise AssertionError("the sync should have failed")


@ECHOING_ERRORS
@pytest.mark.parametrize(
    "run", [_poll_the_inbox, _sync_metrics, _sync_ad_insights], ids=["inbox", "metrics", "ads"]
)
def test_reads_that_fail_with_the_token_echoed_record_it_nowhere(
    login, admin, brand, seen, caplog, status, error, run
):
    """Inbox polling, organic metrics and paid insights read the Graph API with the account's
    token, and store, log and show the errors they get back, as publishing does."""
    from agency.models import AuditEvent

    account = _facebook_account(brand)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add(
            responses.GET,
            re.compile(f"{re.escape(GRAPH_URL)}/.*"),
            json={"error": error},
            status=status,
        )
        recorded = run(account, caplog)
    assert all(text for _, text in recorded), recorded  # the error was recorded ...
    for where, text in recorded:
        seen.add(where, text)
    account.refresh_from_db()
    seen.add("SocialAccount.status_reason", account.status_reason)
    seen.add("audit events", list(AuditEvent.objects.values_list("data", flat=True)))
    client = login(admin)
    seen.add("notifications", client.get("/notifications/"))
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert not seen.leaks(_all_secrets())  # ... but not the token


def test_webhook_secrets_never_show(client, seen, caplog, webhook_secrets):
    seen.add(
        "a verify handshake with a wrong token",
        client.get(
            "/webhooks/meta/",
            {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "c"},
        ),
    )
    seen.add(
        "a verify handshake with the right token",
        client.get(
            "/webhooks/meta/",
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "ok-42"},
        ),
    )
    seen.add(
        "a Meta delivery with a bad signature",
        client.post(
            "/webhooks/meta/",
            b'{"object": "page", "entry": []}',
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64,
        ),
    )
    seen.add(
        "an X CRC check",
        client.get("/webhooks/x/", {"crc_token": "abc"}),
    )
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    # The right token echoes the challenge, never our token; the wrong one gets nothing.
    assert seen.texts[1][1].startswith("ok-42")
    assert not seen.leaks(_all_secrets())


def test_an_api_token_is_shown_once_and_never_again(login, manager, seen, caplog):
    client = login(manager)
    created = client.post("/settings/tokens/", {"name": "CI"}, follow=True)
    key = re.search(r'id="new-key"[^>]*value="([^"]+)"', created.content.decode()).group(1)
    assert len(key) > 20
    api = APIClient()
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    seen.add("the token list later", client.get("/settings/tokens/"))
    seen.add("the API", api.get("/api/v1/brands/", HTTP_AUTHORIZATION=f"Token {key}"))
    seen.add("a wrong key", APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}x"))
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert not seen.leaks(_all_secrets([key]))


def test_a_login_with_a_password_logs_no_password(client, manager, seen, caplog):
    client.post("/auth/login/", {"username": manager.username, "password": "wrong-Pa55word-x"})
    client.post("/auth/login/", {"username": manager.username, "password": DEFAULT_PASSWORD})
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert not seen.leaks(_all_secrets(["wrong-Pa55word-x"]))


# -- a 500 with DEBUG off ---------------------------------------------------------------------


def _boom(request):
    account = SocialAccount.objects.get(handle="acmecoffee")
    token = account.access_token  # a local the debug page would show
    # What requests says when a Graph API call cannot connect: the URL, token and all.
    raise requests.ConnectionError(
        "HTTPSConnectionPool(host='graph.facebook.com', port=443): Max retries exceeded with "
        f"url: /v19.0/{PAGE_ID}/feed?access_token={token}&message=Fresh"
    )


urlpatterns = [path("boom/", _boom)]


@pytest.mark.urls(__name__)
def test_a_server_error_page_and_its_log_show_no_secret(brand, seen, caplog, settings):
    settings.DEBUG = False
    SocialAccount.objects.create(
        brand=brand, platform="facebook", handle="acmecoffee", access_token=ACCESS
    )
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    seen.add("the 500 page", response)
    seen.add("logs", "\n".join(r.getMessage() for r in caplog.records))
    assert "ConnectionError" in seen.console.getvalue(), "the error was not logged with its trace"
    assert not seen.leaks([ACCESS])


def test_the_console_log_of_an_exception_is_redacted():
    """The redaction filter also cleans the traceback text a handler prints, not only the
    message (a requests error names the URL, query string and token with it)."""
    from agency.logging import RedactSecretsFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.security.redaction")
    logger.addHandler(handler)
    try:
        raise ValueError(f"GET https://graph.facebook.com/me?access_token={ACCESS}")
    except ValueError:
        logger.exception("call failed with Authorization: Bearer %s", ACCESS)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "call failed" in text and "ValueError" in text
    assert ACCESS not in text


@pytest.mark.skipif(not apps.is_installed("integrations"), reason="no integrations app")
def test_an_outgoing_webhook_secret_is_never_shown_after_it_is_made(login, admin, brand, seen):
    from tests.security.factories_world import WebhookEndpointFactory

    secret = "whsec-outgoing-s3cr3t-0006-abcdef"
    endpoint = WebhookEndpointFactory(agency=brand.agency, brand=brand, secret=secret)
    client = login(admin)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    for url in (
        "/settings/webhooks/",
        f"/settings/webhooks/{endpoint.pk}/",
        "/api/v1/webhook-endpoints/",
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        seen.add(url, response)
    assert not seen.leaks([secret])
