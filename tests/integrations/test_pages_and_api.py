"""The webhook pages and API: who may see and change what, and the secret shown only once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations import services
from integrations.models import Delivery, EventType, WebhookEndpoint
from integrations.tasks import deliver_webhook


@pytest.fixture
def endpoint_and_secret(make_endpoint, receiver):
    return make_endpoint(receiver.url, description="Acme's CRM")


@pytest.fixture
def endpoint(endpoint_and_secret):
    return endpoint_and_secret[0]


@pytest.fixture
def delivery(endpoint, brand, receiver):
    [delivery] = services.webhook_event_emit(
        event_type=EventType.POST_PUBLISHED, brand=brand, data={"n": 1}
    )
    deliver_webhook(str(delivery.pk))
    return delivery


def page_urls(endpoint, delivery):
    return {
        "get": [
            reverse("integrations:endpoint-detail", args=[endpoint.pk]),
            reverse("integrations:endpoint-deliveries", args=[endpoint.pk]),
            reverse("integrations:endpoint-edit", args=[endpoint.pk]),
            reverse("integrations:delivery-detail", args=[delivery.pk]),
            reverse("integrations:delivery-status", args=[delivery.pk]),
        ],
        "post": [
            reverse("integrations:endpoint-edit", args=[endpoint.pk]),
            reverse("integrations:endpoint-toggle", args=[endpoint.pk]),
            reverse("integrations:endpoint-rotate-secret", args=[endpoint.pk]),
            reverse("integrations:endpoint-test", args=[endpoint.pk]),
            reverse("integrations:delivery-replay", args=[delivery.pk]),
        ],
    }


def test_another_agencys_staff_get_404_everywhere(login, outsider, endpoint, delivery, enqueued):
    client = login(outsider)
    urls = page_urls(endpoint, delivery)
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert client.post(url).status_code == 404, url
    listing = client.get(reverse("integrations:endpoint-list"))
    assert listing.status_code == 200 and "Acme&#x27;s CRM" not in listing.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active
    assert enqueued.now == []


def test_a_client_of_the_brand_never_gets_in(login, client_user, endpoint, delivery, enqueued):
    client = login(client_user)
    urls = page_urls(endpoint, delivery)
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert client.post(url).status_code in (403, 404), url
    assert client.get(reverse("integrations:endpoint-list")).status_code == 403
    assert client.get(reverse("integrations:endpoint-create")).status_code == 403
    assert enqueued.now == []


def test_managers_read_but_do_not_change(login, manager, endpoint, delivery, enqueued):
    client = login(manager)
    urls = page_urls(endpoint, delivery)
    for url in urls["get"][:2] + urls["get"][3:]:
        assert client.get(url).status_code == 200, url
    page = client.get(urls["get"][0]).content.decode()
    assert "Acme&#x27;s CRM" in page and "Send test event" not in page
    for url in urls["post"]:
        assert client.post(url).status_code == 403, url
    assert client.get(reverse("integrations:endpoint-create")).status_code == 403
    assert Delivery.objects.count() == 1 and enqueued.now == []


def test_admin_adds_an_endpoint_and_sees_the_secret_once(login, admin, brand, receiver):
    client = login(admin)
    response = client.post(
        reverse("integrations:endpoint-create"),
        {
            "agency": str(brand.agency_id),
            "url": receiver.url,
            "brand": str(brand.pk),
            "event_types": ["post.published", "report.ready"],
            "description": "Acme's CRM",
        },
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.secret
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert endpoint.event_types == ["post.published", "report.ready"]
    assert endpoint.brand == brand and endpoint.created_by == admin

    pages = [
        reverse("integrations:endpoint-list"),
        reverse("integrations:endpoint-detail", args=[endpoint.pk]),
        reverse("integrations:endpoint-edit", args=[endpoint.pk]),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert secret not in body and secret[6:20] not in body, url
    assert endpoint.masked_secret in client.get(pages[1]).content.decode()


def test_admin_edits_disables_tests_and_replays_from_the_pages(
    login, admin, endpoint, delivery, receiver, enqueued, django_capture_on_commit_callbacks
):
    client = login(admin)
    response = client.post(
        reverse("integrations:endpoint-edit", args=[endpoint.pk]),
        {"url": receiver.url, "event_types": ["report.ready"], "description": "CRM"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.event_types, endpoint.description) == (["report.ready"], "CRM")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:endpoint-test", args=[endpoint.pk]))
    ping = Delivery.objects.get(event_type="ping")
    assert response.url == reverse("integrations:delivery-detail", args=[ping.pk])
    assert enqueued.now == [str(ping.pk)]

    detail = client.get(reverse("integrations:delivery-detail", args=[delivery.pk]))
    assert "Replay" in detail.content.decode() and "answer 200" in detail.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(
            reverse("integrations:delivery-replay", args=[delivery.pk]),
            headers={"HX-Request": "true"},
        )
    assert replayed.status_code == 200
    assert 'id="delivery-status"' in replayed.content.decode()
    assert "hx-trigger" in replayed.content.decode()  # polls until the replay has gone out
    assert enqueued.now[-1] == str(delivery.pk)
    deliver_webhook(str(delivery.pk))
    assert receiver.delivery_ids() == [str(delivery.pk)] * 2

    detail_url = reverse("integrations:endpoint-detail", args=[endpoint.pk])
    assert "No deliveries like that" in client.get(detail_url, {"state": "failed"}).content.decode()
    rotated = client.post(reverse("integrations:endpoint-rotate-secret", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode()
    assert endpoint.secret not in client.get(detail_url).content.decode()

    client.post(reverse("integrations:endpoint-toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active


def test_the_form_refuses_a_brand_of_another_agency_and_no_events(
    login, admin, brand, other_brand, receiver
):
    client = login(admin)
    response = client.post(
        reverse("integrations:endpoint-create"),
        {"agency": str(brand.agency_id), "url": receiver.url, "brand": str(other_brand.pk)},
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"brand", "event_types"}
    assert not WebhookEndpoint.objects.exists()


# -- API -------------------------------------------------------------------------------------------


def test_api_create_returns_the_secret_once_and_never_again(api_client, admin, brand, receiver):
    api_client.force_authenticate(admin)
    response = api_client.post(
        "/api/v1/webhook-endpoints/",
        {"url": receiver.url, "event_types": ["post.published"], "brand": str(brand.pk)},
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["agency"] == str(brand.agency_id)
    assert created["secret_hint"] == secret[:6] + "…"

    listed = api_client.get("/api/v1/webhook-endpoints/")
    detail = api_client.get(f"/api/v1/webhook-endpoints/{created['id']}/")
    patched = api_client.patch(
        f"/api/v1/webhook-endpoints/{created['id']}/", {"description": "CRM"}
    )
    for response in (listed, detail, patched):
        assert response.status_code == 200
        assert secret not in response.content.decode() and "secret" not in response.json()

    rotated = api_client.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret


def test_api_is_tenant_scoped(api_client, personas, endpoint, delivery, enqueued):
    endpoint_url = f"/api/v1/webhook-endpoints/{endpoint.pk}/"
    delivery_url = f"/api/v1/webhook-deliveries/{delivery.pk}/"
    for name in ("outsider", "client_user", "other_client"):
        api_client.force_authenticate(personas[name])
        assert api_client.get("/api/v1/webhook-endpoints/").json()["count"] == 0, name
        assert api_client.get("/api/v1/webhook-deliveries/").json()["count"] == 0, name
        assert api_client.get(endpoint_url).status_code == 404, name
        assert api_client.get(delivery_url).status_code == 404, name
        assert api_client.patch(endpoint_url, {"is_active": False}).status_code == 404, name
        assert api_client.delete(endpoint_url).status_code == 404, name
        assert api_client.post(f"{delivery_url}replay/").status_code == 404, name
        assert api_client.post(f"{endpoint_url}test/").status_code == 404, name
        created = api_client.post(
            "/api/v1/webhook-endpoints/",
            {"url": "https://example.com/h", "event_types": ["post.published"]},
        )
        assert created.status_code == 403, name
        assert created.json()["type"] == "permission_denied"
    assert WebhookEndpoint.objects.get().is_active and enqueued.now == []


def test_api_staff_read_and_only_admins_write(
    api_client, manager, admin, endpoint, delivery, receiver, enqueued
):
    endpoint_url = f"/api/v1/webhook-endpoints/{endpoint.pk}/"
    delivery_url = f"/api/v1/webhook-deliveries/{delivery.pk}/"
    api_client.force_authenticate(manager)
    assert api_client.get(endpoint_url).status_code == 200
    detail = api_client.get(delivery_url).json()
    assert detail["state"] == "succeeded" and detail["attempt_log"][0]["status_code"] == 200
    assert detail["payload"]["data"] == {"n": 1}
    assert api_client.patch(endpoint_url, {"is_active": False}).status_code == 403
    assert api_client.post(f"{delivery_url}replay/").status_code == 403
    assert api_client.post(f"{endpoint_url}test/").status_code == 403
    assert api_client.post(f"{endpoint_url}rotate-secret/").status_code == 403
    assert api_client.delete(endpoint_url).status_code == 403

    api_client.force_authenticate(admin)
    replayed = api_client.post(f"{delivery_url}replay/")
    assert replayed.status_code == 202 and replayed.json()["state"] == "pending"
    again = api_client.post(f"{delivery_url}replay/")
    assert again.status_code == 400 and again.json()["type"] == "validation_error"
    tested = api_client.post(f"{endpoint_url}test/")
    assert tested.status_code == 202 and tested.json()["event_type"] == "ping"
    listed = api_client.get("/api/v1/webhook-deliveries/", {"event_type": "ping"}).json()
    assert [d["id"] for d in listed["results"]] == [tested.json()["id"]]
    bad = api_client.patch(endpoint_url, {"event_types": ["post.exploded"]})
    assert bad.status_code == 400 and "event_types" in bad.json()["fields"]
    assert api_client.delete(endpoint_url).status_code == 204
    assert not Delivery.objects.exists()


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_lists_cost_the_same_queries_for_one_or_many_rows(
    api_client, login, admin, make_endpoint, receiver, brand
):
    make_endpoint(receiver.url)
    services.webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={})
    api_client.force_authenticate(admin)
    client = login(admin)
    urls = ["/api/v1/webhook-endpoints/", "/api/v1/webhook-deliveries/"]
    page = reverse("integrations:endpoint-list")
    one = [_count_queries(api_client, u) for u in urls] + [_count_queries(client, page)]
    for _ in range(4):
        make_endpoint(receiver.url)
    for _ in range(5):
        services.webhook_event_emit(event_type=EventType.POST_FAILED, brand=brand, data={})
    many = [_count_queries(api_client, u) for u in urls] + [_count_queries(client, page)]
    assert many == one
