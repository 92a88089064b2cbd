"""ETag and If-Match: a write based on a stale read is refused instead of losing an update."""

from datetime import date

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ads import services as ads_services
from ads.models import Audience
from agency.models import SocialAccount
from tests.api.concurrency import race
from tests.api.conftest import assert_error

ACCOUNTS = "/api/v1/social-accounts/"


def url(account):
    return f"{ACCOUNTS}{account.pk}/"


def test_a_detail_read_has_an_etag_and_a_list_none(token_client, manager, account):
    client, _ = token_client(manager)
    detail = client.get(url(account))
    assert detail["ETag"].startswith('"') and detail["ETag"].endswith('"')
    assert client.get(url(account))["ETag"] == detail["ETag"]
    assert not client.get(ACCOUNTS).has_header("ETag")


def test_a_write_with_the_current_etag_succeeds_and_moves_it(token_client, manager, account):
    client, _ = token_client(manager)
    etag = client.get(url(account))["ETag"]
    response = client.patch(url(account), {"bio": "new"}, HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert response["ETag"] != etag
    assert client.get(url(account))["ETag"] == response["ETag"]


def test_a_write_with_a_stale_etag_is_412_and_changes_nothing(token_client, manager, account):
    alice, _ = token_client(manager)
    bob, _ = token_client(manager)
    seen_by_both = alice.get(url(account))["ETag"]
    assert bob.get(url(account))["ETag"] == seen_by_both
    assert (
        alice.patch(url(account), {"bio": "alice"}, HTTP_IF_MATCH=seen_by_both).status_code == 200
    )
    stale = bob.patch(url(account), {"bio": "bob"}, HTTP_IF_MATCH=seen_by_both)
    assert_error(stale, 412, type_="precondition_failed", detail_has="If-Match")
    account.refresh_from_db()
    assert account.bio == "alice"
    put = bob.put(
        url(account), {"handle": "@bob", "platform": "mastodon"}, HTTP_IF_MATCH=seen_by_both
    )
    assert_error(put, 412)
    account.refresh_from_db()
    assert account.handle == "@acmecoffee"


def test_without_if_match_a_write_is_unconditional(token_client, manager, account):
    client, _ = token_client(manager)
    client.get(url(account))
    SocialAccount.objects.filter(pk=account.pk).update(bio="meanwhile", updated_at=timezone.now())
    assert client.patch(url(account), {"bio": "mine"}).status_code == 200
    account.refresh_from_db()
    assert account.bio == "mine"


def test_if_match_star_and_a_list_of_tags(token_client, manager, account):
    client, _ = token_client(manager)
    assert client.patch(url(account), {"bio": "a"}, HTTP_IF_MATCH="*").status_code == 200
    etag = client.get(url(account))["ETag"]
    tags = f'"not-it", W/{etag}'
    assert client.patch(url(account), {"bio": "b"}, HTTP_IF_MATCH=tags).status_code == 200


def test_a_stale_action_and_delete_are_412(token_client, admin, brand, account):
    client, _ = token_client(admin)
    stale = client.get(url(account))["ETag"]
    client.patch(url(account), {"bio": "moved on"})
    disconnect = client.post(f"{url(account)}disconnect/", HTTP_IF_MATCH=stale)
    assert_error(disconnect, 412)
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.CONNECTED

    audience = ads_services.audience_create(brand=brand, by=admin, name="Buyers", kind="custom")
    audience_url = f"/api/v1/audiences/{audience.pk}/"
    old = client.get(audience_url)["ETag"]
    assert client.patch(audience_url, {"name": "Repeat buyers"}).status_code == 200
    assert_error(client.delete(audience_url, HTTP_IF_MATCH=old), 412)
    assert Audience.objects.filter(pk=audience.pk).exists()
    fresh = client.get(audience_url)["ETag"]
    assert client.delete(audience_url, HTTP_IF_MATCH=fresh).status_code == 204
    assert not Audience.objects.filter(pk=audience.pk).exists()


def test_create_answers_with_the_new_objects_etag(token_client, manager, brand):
    client, _ = token_client(manager)
    created = client.post(
        ACCOUNTS, {"brand": str(brand.pk), "platform": "mastodon", "handle": "@new"}
    )
    assert created.status_code == 201
    detail = client.get(f"{ACCOUNTS}{created.json()['id']}/")
    assert created["ETag"] == detail["ETag"]


def test_an_outsiders_if_match_is_still_a_404(token_client, outsider, account):
    client, _ = token_client(outsider)
    assert_error(client.patch(url(account), {"bio": "x"}, HTTP_IF_MATCH='"whatever"'), 404)


def test_a_role_that_cannot_write_hears_403_not_412(token_client, marketer, account):
    client, _ = token_client(marketer)
    assert_error(client.patch(url(account), {"bio": "x"}, HTTP_IF_MATCH='"stale"'), 403)


def test_campaigns_of_another_app_get_the_same_conventions(token_client, marketer, brand):
    client, _ = token_client(marketer)
    created = client.post(
        "/api/v1/campaigns/",
        {
            "brand": str(brand.pk),
            "name": "Summer",
            "platform": "meta",
            "objective": "traffic",
            "start_date": str(date(2026, 6, 1)),
            "budget_kind": "lifetime",
            "budget_amount": "300.00",
            "currency": "EUR",
        },
        HTTP_IDEMPOTENCY_KEY="summer",
    )
    assert created.status_code == 201, created.content
    campaign_url = f"/api/v1/campaigns/{created.json()['id']}/"
    etag = client.get(campaign_url)["ETag"]
    assert (
        client.patch(campaign_url, {"name": "Summer sale"}, HTTP_IF_MATCH=etag).status_code == 200
    )
    assert_error(client.patch(campaign_url, {"name": "Lost"}, HTTP_IF_MATCH=etag), 412)
    assert client.get(campaign_url).json()["name"] == "Summer sale"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writes_with_the_same_etag_one_wins(token_client, manager, account):
    client, token = token_client(manager)
    token.last_used_at = timezone.now()
    token.save(update_fields=["last_used_at"])
    etag = client.get(url(account))["ETag"]
    key = client._credentials["HTTP_AUTHORIZATION"]

    def patch(bio):
        def call():
            thread_client = APIClient()
            thread_client.credentials(HTTP_AUTHORIZATION=key)
            return thread_client.patch(url(account), {"bio": bio}, HTTP_IF_MATCH=etag)

        return call

    # Both read the same version; without the row lock both comparisons would pass.
    alice, bob = race(
        lambda: SocialAccount.objects.select_for_update().get(pk=account.pk),
        patch("alice"),
        patch("bob"),
    )
    assert sorted([alice.status_code, bob.status_code]) == [200, 412], (alice.content, bob.content)
    winner = "alice" if alice.status_code == 200 else "bob"
    account.refresh_from_db()
    assert account.bio == winner
