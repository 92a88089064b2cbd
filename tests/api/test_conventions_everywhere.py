"""The API conventions (token scopes, Idempotency-Key, ETag/If-Match) hold on every viewset of
/api/v1/, including those that cannot sit on BrandScopedViewSet: the agency-wide influencer
directory, audit trail and webhooks, and the calendar."""

import pytest
from django.utils import timezone

from ads import services as ads_services
from ads.models import Influencer
from agency import api_urls
from agency.api import ApiConventionsMixin
from agency.models import ApiToken, AuditEvent, IdempotencyRecord
from calendar_app.services import post_create
from integrations import services as webhook_services
from integrations.models import Delivery, EventType, WebhookEndpoint
from tests.api.conftest import assert_error
from tests.factories import SocialAccountFactory

INFLUENCERS = "/api/v1/influencers/"
AUDIT = "/api/v1/audit-events/"
ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"
CALENDAR = "/api/v1/calendar/"

VIEWSETS = api_urls.router.registry


@pytest.mark.parametrize(
    ("prefix", "viewset"), [(p, v) for p, v, _ in VIEWSETS], ids=[p for p, _, _ in VIEWSETS]
)
def test_every_registered_viewset_follows_the_conventions(prefix, viewset):
    assert issubclass(viewset, ApiConventionsMixin), f"/api/v1/{prefix}/ lacks the conventions"


def test_the_walk_sees_the_viewsets_off_the_bases():
    prefixes = {prefix for prefix, _, _ in VIEWSETS}
    assert {"influencers", "audit-events", "webhook-endpoints", "webhook-deliveries"} <= prefixes
    assert "calendar" in prefixes


# -- influencers: agency-wide, staff only ---------------------------------------------------------


@pytest.fixture
def influencer(home_agency, admin):
    return ads_services.influencer_create(
        agency=home_agency, by=admin, name="Ann", handles={"instagram": "@ann"}
    )


def test_an_influencer_is_created_once_for_a_repeated_key(token_client, marketer, home_agency):
    client, _ = token_client(marketer)
    body = {"agency": str(home_agency.pk), "name": "Bea", "handles": {"tiktok": "@bea"}}
    first = client.post(INFLUENCERS, body, HTTP_IDEMPOTENCY_KEY="bea")
    again = client.post(INFLUENCERS, body, HTTP_IDEMPOTENCY_KEY="bea")
    assert first.status_code == again.status_code == 201, first.content
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Influencer.objects.filter(name="Bea").count() == 1
    other = client.post(INFLUENCERS, {**body, "name": "Cy"}, HTTP_IDEMPOTENCY_KEY="bea")
    assert_error(other, 422, type_="idempotency_key_reused")
    assert not Influencer.objects.filter(name="Cy").exists()
    assert first["ETag"] == client.get(f"{INFLUENCERS}{first.json()['id']}/")["ETag"]


def test_a_stale_influencer_write_is_412(token_client, marketer, influencer):
    alice, _ = token_client(marketer)
    bob, _ = token_client(marketer)
    url = f"{INFLUENCERS}{influencer.pk}/"
    seen = alice.get(url)["ETag"]
    assert bob.get(url)["ETag"] == seen
    done = alice.patch(url, {"notes": "alice"}, HTTP_IF_MATCH=seen)
    assert done.status_code == 200, done.content
    assert done["ETag"] != seen
    assert_error(bob.patch(url, {"notes": "bob"}, HTTP_IF_MATCH=seen), 412)
    assert_error(bob.delete(url, HTTP_IF_MATCH=seen), 412)
    influencer.refresh_from_db()
    assert influencer.notes == "alice"
    assert bob.delete(url, HTTP_IF_MATCH=done["ETag"]).status_code == 204


def test_influencers_stay_tenant_scoped_with_if_match(
    token_client, outsider, manager, client_user, influencer
):
    url = f"{INFLUENCERS}{influencer.pk}/"
    outsiders, _ = token_client(outsider)
    assert_error(outsiders.patch(url, {"notes": "x"}, HTTP_IF_MATCH='"any"'), 404)
    managers, _ = token_client(manager)
    # Managers read the directory; their role cannot change it, whatever the tag.
    assert_error(managers.patch(url, {"notes": "x"}, HTTP_IF_MATCH='"stale"'), 403)
    clients, _ = token_client(client_user)
    assert_error(clients.get(url), 403)
    influencer.refresh_from_db()
    assert influencer.notes == ""


# -- the audit trail: read-only, never edited -----------------------------------------------------


def test_an_audit_event_has_a_stable_etag(token_client, admin, influencer):
    client, _ = token_client(admin)
    event = AuditEvent.objects.get(action="influencer.created")
    url = f"{AUDIT}{event.uuid}/"
    first = client.get(url)
    assert first.status_code == 200, first.content
    assert first["ETag"].startswith('"') and first["ETag"] == client.get(url)["ETag"]
    other = AuditEvent.objects.create(
        agency=event.agency, action="x.y", target_type="x", target_id="1"
    )
    assert client.get(f"{AUDIT}{other.uuid}/")["ETag"] != first["ETag"]
    assert not client.get(AUDIT).has_header("ETag")
    without_scope, _ = token_client(
        admin, kind=ApiToken.Kind.INTEGRATION, scopes=["calendar:read", "ads:read"]
    )
    assert_error(without_scope.get(url), 403, detail_has="agency:read")


def test_another_agencys_audit_event_is_404(token_client, outsider, influencer):
    event = AuditEvent.objects.get(action="influencer.created")
    client, _ = token_client(outsider)
    assert_error(client.get(f"{AUDIT}{event.uuid}/"), 404)


# -- webhook endpoints and deliveries ------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # Deliveries are enqueued on commit; nothing here needs them sent.
    monkeypatch.setattr(webhook_services, "_enqueue", lambda ids: None)


@pytest.fixture
def endpoint(home_agency, admin):
    endpoint, _secret = webhook_services.endpoint_create(
        agency=home_agency,
        url="https://hooks.example.com/agency",
        event_types=[EventType.POST_PUBLISHED],
        by=admin,
    )
    return endpoint


@pytest.fixture
def delivery(endpoint, brand):
    [delivery] = webhook_services.webhook_event_emit(
        event_type=EventType.POST_PUBLISHED, brand=brand, data={"n": 1}
    )
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED)
    delivery.refresh_from_db()
    return delivery


def test_a_repeated_endpoint_create_replays_the_secret_without_storing_it(
    token_client, admin, brand
):
    client, _ = token_client(admin)
    body = {"url": "https://crm.example.com/in", "event_types": ["post.published"]}
    first = client.post(ENDPOINTS, body, HTTP_IDEMPOTENCY_KEY="crm")
    again = client.post(ENDPOINTS, body, HTTP_IDEMPOTENCY_KEY="crm")
    assert first.status_code == again.status_code == 201, first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    assert WebhookEndpoint.objects.filter(url=body["url"]).count() == 1
    # The idempotency table is plain JSON: the secret is in it only encrypted.
    record = IdempotencyRecord.objects.get(key="crm")
    assert secret not in str(record.response_body)
    assert record.response_body["id"] == first.json()["id"]


def test_rotating_a_secret_is_conditional_and_replayed(token_client, admin, endpoint):
    client, _ = token_client(admin)
    url = f"{ENDPOINTS}{endpoint.pk}/"
    seen = client.get(url)["ETag"]
    assert client.patch(url, {"description": "CRM"}, HTTP_IF_MATCH=seen).status_code == 200
    endpoint.refresh_from_db()
    before = endpoint.secret
    assert_error(client.post(f"{url}rotate-secret/", HTTP_IF_MATCH=seen), 412)
    endpoint.refresh_from_db()
    assert endpoint.secret == before
    first = client.post(f"{url}rotate-secret/", HTTP_IDEMPOTENCY_KEY="rotate")
    again = client.post(f"{url}rotate-secret/", HTTP_IDEMPOTENCY_KEY="rotate")
    assert first.status_code == again.status_code == 200, first.content
    assert again.json()["secret"] == first.json()["secret"] != before
    endpoint.refresh_from_db()
    assert endpoint.secret == first.json()["secret"]
    assert AuditEvent.objects.filter(action__contains="rotated").count() == 1


def test_endpoints_stay_tenant_scoped_with_if_match(token_client, outsider, manager, endpoint):
    url = f"{ENDPOINTS}{endpoint.pk}/"
    outsiders, _ = token_client(outsider)
    assert_error(outsiders.patch(url, {"is_active": False}, HTTP_IF_MATCH='"x"'), 404)
    assert_error(outsiders.post(f"{url}rotate-secret/", HTTP_IDEMPOTENCY_KEY="k"), 404)
    managers, _ = token_client(manager)
    assert_error(managers.patch(url, {"is_active": False}, HTTP_IF_MATCH='"x"'), 403)
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_a_delivery_replay_is_conditional_and_idempotent(token_client, admin, delivery):
    client, _ = token_client(admin)
    url = f"{DELIVERIES}{delivery.pk}/"
    seen = client.get(url)["ETag"]
    assert seen.startswith('"')
    # Someone else touched it since it was read.
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=timezone.now())
    assert_error(client.post(f"{url}replay/", HTTP_IF_MATCH=seen), 412)
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.FAILED
    first = client.post(f"{url}replay/", HTTP_IDEMPOTENCY_KEY="replay-1")
    # Without the key a second replay is refused (the delivery is pending again); with it the
    # first answer comes back and nothing is replayed twice.
    again = client.post(f"{url}replay/", HTTP_IDEMPOTENCY_KEY="replay-1")
    assert first.status_code == again.status_code == 202, (first.content, again.content)
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="webhook_delivery.replayed").count() == 1
    assert_error(client.post(f"{url}replay/"), 400)


def test_another_agencys_delivery_is_404_with_if_match(token_client, outsider, delivery):
    client, _ = token_client(outsider)
    url = f"{DELIVERIES}{delivery.pk}/"
    assert_error(client.get(url), 404)
    assert_error(client.post(f"{url}replay/", HTTP_IF_MATCH='"x"'), 404)
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.FAILED


# -- the calendar: brand limits apply ------------------------------------------------------------


def test_a_brand_limited_token_reads_only_its_brands_calendar(
    token_client, admin, manager, brand, sibling_brand, account
):
    from datetime import UTC, datetime

    at = datetime(2031, 3, 4, 8, 0, tzinfo=UTC)
    ours = post_create(brand=brand, by=manager, accounts=[account], text="Ours", scheduled_at=at)
    sibling_account = SocialAccountFactory(brand=sibling_brand)
    post_create(
        brand=sibling_brand, by=admin, accounts=[sibling_account], text="Theirs", scheduled_at=at
    )
    window = {"start": "2031-03-01T00:00:00Z", "end": "2031-04-01T00:00:00Z"}
    unlimited, _ = token_client(admin, kind=ApiToken.Kind.INTEGRATION, scopes=["calendar:read"])
    assert unlimited.get(CALENDAR, window).json()["count"] == 2
    limited, _ = token_client(
        admin, kind=ApiToken.Kind.INTEGRATION, scopes=["calendar:read"], brands=[brand]
    )
    events = limited.get(CALENDAR, window).json()["results"]
    assert [e["post"] for e in events] == [str(ours.pk)]
    assert_error(limited.get(CALENDAR, {**window, "brand": str(sibling_brand.pk)}), 404)
