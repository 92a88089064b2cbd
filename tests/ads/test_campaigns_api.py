"""/api/v1/campaigns/, ad-sets/, ads/, audiences/: tenancy, roles, targeting errors, Meta spec."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ads import services
from ads.models import Ad, AdSet, Audience, Campaign

DE = {"type": "country", "country": "DE"}


@pytest.fixture
def campaign(brand, marketer):
    return services.campaign_create(
        brand=brand,
        by=marketer,
        name="Spring",
        platform="meta",
        objective="sales",
        start_date=date(2026, 3, 1),
        budget_kind="daily",
        budget_amount=Decimal("20"),
    )


@pytest.fixture
def ad_set(campaign, marketer):
    return services.ad_set_create(
        campaign=campaign, by=marketer, name="Coffee lovers", targeting={"locations": [DE]}
    )


@pytest.fixture
def ad(ad_set, marketer):
    return services.ad_create(ad_set=ad_set, by=marketer, name="Beans")


@pytest.fixture
def audience(brand, marketer):
    return services.audience_create(brand=brand, by=marketer, name="Buyers", kind="custom")


def campaign_body(brand, **extra):
    return {
        "brand": str(brand.pk),
        "name": "Summer",
        "platform": "meta",
        "objective": "traffic",
        "start_date": "2026-06-01",
        "budget_kind": "lifetime",
        "budget_amount": "300.00",
        "currency": "EUR",
        **extra,
    }


def test_marketer_creates_campaign_ad_set_and_ad(api_client, marketer, brand, audience):
    api_client.force_authenticate(marketer)
    response = api_client.post("/api/v1/campaigns/", campaign_body(brand), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["budget_amount"] == "300.00"
    campaign_id = response.json()["id"]
    response = api_client.post(
        "/api/v1/ad-sets/",
        {
            "campaign": campaign_id,
            "name": "Buyers",
            "targeting": {
                "locations": [{"type": "country", "country": "de"}],
                "custom_audiences": [str(audience.pk)],
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["targeting"]["locations"] == [DE]
    assert response.json()["audiences"] == [str(audience.pk)]
    response = api_client.post(
        "/api/v1/ads/",
        {
            "ad_set": response.json()["id"],
            "name": "Ad",
            "creative_text": "Hi",
            "call_to_action": "shop_now",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_targeting_errors_come_back_by_field_path(api_client, marketer, campaign):
    api_client.force_authenticate(marketer)
    response = api_client.post(
        "/api/v1/ad-sets/",
        {
            "campaign": str(campaign.pk),
            "name": "Bad",
            "targeting": {
                "age_min": 40,
                "age_max": 30,
                "locations": [
                    {"type": "city", "country": "DE", "name": "Berlin", "radius_km": 200}
                ],
            },
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["fields"]["targeting.age_min"] == [
        "The minimum age (40) is above the maximum (30)."
    ]
    assert "between 1 and 80" in body["fields"]["targeting.locations.0.radius_km"][0]
    assert not AdSet.objects.exists()


def test_campaign_refusal_is_in_words(api_client, marketer, brand):
    api_client.force_authenticate(marketer)
    response = api_client.post(
        "/api/v1/campaigns/",
        campaign_body(brand, end_date="2026-05-01", budget_amount="0"),
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["end_date"] == [
        "The end date (1 May 2026) is before the start date (1 Jun 2026)."
    ]
    assert fields["budget_amount"] == ["The budget must be more than zero."]
    assert not Campaign.objects.exists()


def test_meta_spec_action_returns_the_export(api_client, manager, ad_set):
    """The shape is Meta's targeting spec:
    https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting"""
    api_client.force_authenticate(manager)
    response = api_client.get(f"/api/v1/ad-sets/{ad_set.pk}/meta-spec/")
    assert response.status_code == 200
    spec = response.json()
    assert spec["geo_locations"] == {"countries": ["DE"]}
    assert (spec["age_min"], spec["age_max"], spec["genders"]) == (18, 65, [1, 2])


def test_used_audience_cannot_be_deleted_over_the_api(api_client, marketer, campaign, audience):
    services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Uses it",
        targeting={"locations": [DE], "exclusions": {"audiences": [str(audience.pk)]}},
    )
    api_client.force_authenticate(marketer)
    response = api_client.delete(f"/api/v1/audiences/{audience.pk}/")
    assert response.status_code == 400
    assert "is used by the ad set(s) Uses it" in response.json()["detail"]
    assert Audience.objects.filter(pk=audience.pk).exists()


def test_manager_reads_but_cannot_write(api_client, manager, brand, campaign, ad_set, ad, audience):
    api_client.force_authenticate(manager)
    for url in ("campaigns", "ad-sets", "ads", "audiences"):
        assert api_client.get(f"/api/v1/{url}/").json()["count"] == 1
    before = snapshot()
    assert (
        api_client.post("/api/v1/campaigns/", campaign_body(brand), format="json").status_code
        == 403
    )
    assert (
        api_client.post(
            "/api/v1/audiences/",
            {"brand": str(brand.pk), "name": "X", "kind": "custom"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        api_client.post(
            "/api/v1/ad-sets/",
            {"campaign": str(campaign.pk), "name": "X", "targeting": {"locations": [DE]}},
            format="json",
        ).status_code
        == 403
    )
    assert (
        api_client.post(
            "/api/v1/ads/", {"ad_set": str(ad_set.pk), "name": "X"}, format="json"
        ).status_code
        == 403
    )
    for url, obj in (
        ("campaigns", campaign),
        ("ad-sets", ad_set),
        ("ads", ad),
        ("audiences", audience),
    ):
        assert (
            api_client.patch(
                f"/api/v1/{url}/{obj.pk}/", {"name": "Changed"}, format="json"
            ).status_code
            == 403
        )
    assert api_client.delete(f"/api/v1/audiences/{audience.pk}/").status_code == 403
    assert snapshot() == before


def snapshot():
    return (
        list(Campaign.objects.values_list("pk", "name")),
        list(AdSet.objects.values_list("pk", "name")),
        list(Ad.objects.values_list("pk", "name")),
        list(Audience.objects.values_list("pk", "name")),
    )


@pytest.mark.parametrize("persona", ["outsider", "other_client", "client_user"])
def test_outsiders_and_clients_see_no_ads(
    request, api_client, persona, brand, campaign, ad_set, ad, audience
):
    api_client.force_authenticate(request.getfixturevalue(persona))
    before = snapshot()
    for url, obj in (
        ("campaigns", campaign),
        ("ad-sets", ad_set),
        ("ads", ad),
        ("audiences", audience),
    ):
        assert api_client.get(f"/api/v1/{url}/").json()["count"] == 0
        assert api_client.get(f"/api/v1/{url}/{obj.pk}/").status_code == 404
        assert (
            api_client.patch(
                f"/api/v1/{url}/{obj.pk}/", {"name": "Hijacked"}, format="json"
            ).status_code
            == 404
        )
    assert api_client.get(f"/api/v1/ad-sets/{ad_set.pk}/meta-spec/").status_code == 404
    assert api_client.delete(f"/api/v1/audiences/{audience.pk}/").status_code == 404
    create = api_client.post("/api/v1/campaigns/", campaign_body(brand), format="json")
    # A client names a brand they can see, and is refused; anyone else names an unknown brand.
    assert create.status_code == (403 if persona == "client_user" else 400)
    assert (
        api_client.post(
            "/api/v1/ad-sets/",
            {"campaign": str(campaign.pk), "name": "X", "targeting": {"locations": [DE]}},
            format="json",
        ).status_code
        == 400
    )
    assert snapshot() == before


@pytest.mark.parametrize("resource", ["campaigns", "ad-sets", "ads", "audiences"])
def test_lists_use_constant_queries(api_client, marketer, brand, resource):
    api_client.force_authenticate(marketer)
    buyers = services.audience_create(brand=brand, by=marketer, name="Buyers", kind="custom")

    def grow(n):
        for i in range(n):
            c = services.campaign_create(
                brand=brand,
                by=marketer,
                name=f"c{n}-{i}",
                platform="meta",
                objective="sales",
                start_date=date(2026, 3, 1),
                budget_kind="daily",
                budget_amount=Decimal("5"),
            )
            s = services.ad_set_create(
                campaign=c,
                by=marketer,
                name="s",
                targeting={"locations": [DE], "custom_audiences": [str(buyers.pk)]},
            )
            services.ad_create(ad_set=s, by=marketer, name="a")
            services.audience_create(brand=brand, by=marketer, name=f"aud {n}-{i}", kind="persona")

    grow(1)
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(f"/api/v1/{resource}/").status_code == 200
    grow(6)
    with CaptureQueriesContext(connection) as many:
        response = api_client.get(f"/api/v1/{resource}/")
    assert response.status_code == 200
    assert response.json()["count"] >= 7
    assert len(many) == len(few)
