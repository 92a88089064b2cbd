"""Campaigns, ad sets, ads and audiences: the services' refusals and the marketer's pages."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ads import services
from ads.models import Ad, AdSet, Audience, Campaign
from agency.models import AuditEvent
from tests.factories import BrandFactory

DE = {"type": "country", "country": "DE"}


def make_campaign(brand, by, **overrides):
    fields = {
        "name": "Spring beans",
        "platform": "meta",
        "objective": "sales",
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 3, 31),
        "budget_kind": "daily",
        "budget_amount": Decimal("25.00"),
        "currency": "EUR",
    }
    return services.campaign_create(brand=brand, by=by, **{**fields, **overrides})


@pytest.fixture
def campaign(brand, marketer):
    return make_campaign(brand, marketer)


@pytest.fixture
def ad_set(campaign, marketer):
    return services.ad_set_create(
        campaign=campaign, by=marketer, name="Coffee lovers", targeting={"locations": [DE]}
    )


# Services


def test_campaign_create_validates_and_leaves_an_audit_event(brand, marketer):
    campaign = make_campaign(brand, marketer)
    assert campaign.budget_amount == Decimal("25.00")
    assert AuditEvent.objects.filter(action="campaign.created", target_id=str(campaign.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"end_date": date(2026, 2, 1)},
            "end_date",
            "The end date (1 Feb 2026) is before the start",
        ),
        ({"budget_amount": Decimal("0")}, "budget_amount", "The budget must be more than zero."),
        ({"currency": "EURO"}, "currency", "EURO is not a currency code"),
        ({"currency": "ABC"}, "currency", "ABC is not a currency code"),
        ({"platform": "tiktok"}, "platform", "tiktok is not a platform"),
        ({"objective": "fame"}, "objective", "fame is not a objective"),
    ],
)
def test_campaign_refusals_are_in_words(brand, marketer, overrides, field, words):
    with pytest.raises(ValidationError) as caught:
        make_campaign(brand, marketer, **overrides)
    assert words in " ".join(caught.value.message_dict[field])
    assert not Campaign.objects.exists()


def test_campaign_update_checks_the_same_rules(campaign, marketer):
    with pytest.raises(ValidationError):
        services.campaign_update(
            campaign=campaign, by=marketer, data={"end_date": date(2026, 1, 1)}
        )
    services.campaign_update(campaign=campaign, by=marketer, data={"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == "active"
    assert campaign.end_date == date(2026, 3, 31)


def test_ad_set_targeting_is_validated_and_stored_normalised(campaign, marketer):
    with pytest.raises(ValidationError) as caught:
        services.ad_set_create(
            campaign=campaign,
            by=marketer,
            name="Broken",
            targeting={"age_min": 40, "age_max": 30, "locations": [DE]},
        )
    assert caught.value.message_dict == {
        "targeting.age_min": ["The minimum age (40) is above the maximum (30)."]
    }
    assert not AdSet.objects.exists()
    ad_set = services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Ok",
        targeting={"locations": [{"type": "country", "country": "at"}]},
    )
    assert ad_set.targeting["locations"] == [{"type": "country", "country": "AT"}]
    assert ad_set.targeting["age_min"] == 18


def test_ad_set_uses_only_audiences_of_its_brand(campaign, marketer, brand, other_brand):
    ours = services.audience_create(brand=brand, by=marketer, name="Buyers", kind="custom")
    theirs = services.audience_create(brand=other_brand, by=None, name="Theirs", kind="custom")
    with pytest.raises(ValidationError) as caught:
        services.ad_set_create(
            campaign=campaign,
            by=marketer,
            name="Mixed",
            targeting={"locations": [DE], "custom_audiences": [str(ours.pk), str(theirs.pk)]},
        )
    assert (
        "is not one of this brand's" in caught.value.message_dict["targeting.custom_audiences.1"][0]
    )
    ad_set = services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Buyers only",
        targeting={"locations": [DE], "custom_audiences": [str(ours.pk)]},
    )
    assert list(ad_set.audiences.all()) == [ours]


def test_audience_in_use_cannot_be_deleted(campaign, marketer, brand):
    buyers = services.audience_create(brand=brand, by=marketer, name="Buyers", kind="custom")
    services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Retarget buyers",
        targeting={"locations": [DE], "custom_audiences": [str(buyers.pk)]},
    )
    with pytest.raises(ValidationError, match="“Buyers” is used by the ad set"):
        services.audience_delete(audience=buyers, by=marketer)
    assert Audience.objects.filter(pk=buyers.pk).exists()


def test_saved_audience_spec_is_a_targeting_document_and_names_are_unique(brand, marketer):
    with pytest.raises(ValidationError) as caught:
        services.audience_create(
            brand=brand, by=marketer, name="Young", kind="saved", spec={"age_min": 5}
        )
    assert "spec.age_min" in caught.value.message_dict
    saved = services.audience_create(
        brand=brand,
        by=marketer,
        name="Young",
        kind="saved",
        spec={"age_max": 30, "locations": [DE]},
    )
    assert saved.spec["age_max"] == 30
    with pytest.raises(ValidationError, match="already has an audience “Young”"):
        services.audience_create(brand=brand, by=marketer, name="Young", kind="persona")


def test_ad_refuses_media_of_another_brand(ad_set, marketer, other_brand):
    from calendar_app.models import Media

    foreign = Media.objects.create(
        brand=other_brand,
        file="x.jpg",
        name="rival.jpg",
        kind="image",
        mime_type="image/jpeg",
        size=1,
        checksum="a" * 64,
    )
    with pytest.raises(ValidationError, match="another brand's library"):
        services.ad_create(ad_set=ad_set, by=marketer, name="Ad", media=[foreign])
    assert not Ad.objects.exists()


# Pages


def test_marketer_creates_a_campaign_from_the_form(login, marketer, brand):
    client = login(marketer)
    response = client.post(
        reverse("ads:campaign-create", args=[brand.pk]),
        {
            "name": "Autumn",
            "platform": "meta",
            "objective": "traffic",
            "status": "draft",
            "start_date": "2026-09-01",
            "end_date": "2026-08-01",
            "budget_kind": "lifetime",
            "budget_amount": "500",
            "currency": "eur",
            "agency_fee": "0",
            "other_costs": "0",
        },
    )
    assert response.status_code == 200
    assert (
        "The end date (1 Aug 2026) is before the start date (1 Sep 2026)."
        in response.content.decode()
    )
    assert not Campaign.objects.exists()
    response = client.post(
        reverse("ads:campaign-create", args=[brand.pk]),
        {
            "name": "Autumn",
            "platform": "meta",
            "objective": "traffic",
            "status": "draft",
            "start_date": "2026-09-01",
            "budget_kind": "lifetime",
            "budget_amount": "500",
            "currency": "eur",
            "agency_fee": "0",
            "other_costs": "0",
        },
    )
    campaign = Campaign.objects.get()
    assert response.url == reverse("ads:campaign-detail", args=[campaign.pk])
    assert campaign.currency == "EUR"
    assert "Autumn" in client.get(reverse("ads:campaign-list", args=[brand.pk])).content.decode()


def ad_set_post(**extra):
    data = {
        "name": "Coffee lovers",
        "status": "draft",
        "age_min": "25",
        "age_max": "45",
        "genders": "all",
        "interests": "Coffee (6003139266461)",
        "locations-TOTAL_FORMS": "2",
        "locations-INITIAL_FORMS": "0",
        "locations-MIN_NUM_FORMS": "0",
        "locations-MAX_NUM_FORMS": "1000",
        "locations-0-type": "country",
        "locations-0-country": "DE",
        "locations-1-type": "city",
        "locations-1-country": "AT",
        "locations-1-name": "Vienna",
        "locations-1-radius_km": "20",
        "placements": ["facebook:feed", "instagram:story"],
        "devices": ["mobile"],
    }
    data.update(extra)
    return data


def test_marketer_builds_targeting_in_the_ad_set_form(login, marketer, campaign):
    client = login(marketer)
    response = client.post(reverse("ads:ad-set-create", args=[campaign.pk]), ad_set_post())
    assert response.status_code == 302, response.content.decode()[:2000]
    targeting = AdSet.objects.get().targeting
    assert targeting["locations"][1] == {
        "type": "city",
        "country": "AT",
        "name": "Vienna",
        "radius_km": 20,
    }
    assert targeting["interests"] == [{"id": "6003139266461", "name": "Coffee"}]
    assert targeting["placements"] == {"facebook": ["feed"], "instagram": ["story"]}


def test_targeting_errors_show_next_to_their_inputs(login, marketer, campaign):
    client = login(marketer)
    response = client.post(
        reverse("ads:ad-set-create", args=[campaign.pk]),
        ad_set_post(age_min="40", age_max="30", **{"locations-1-radius_km": "120"}),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "The minimum age (40) is above the maximum (30)." in page
    assert "Location 2, radius (km) must be between 1 and 80, not 120." in page
    assert not AdSet.objects.exists()


def test_ad_set_edit_shows_the_stored_targeting_and_meta_spec(login, marketer, manager, ad_set):
    page = login(marketer).get(reverse("ads:ad-set-edit", args=[ad_set.pk])).content.decode()
    assert 'value="DE"' in page
    page = login(manager).get(reverse("ads:ad-set-meta-spec", args=[ad_set.pk])).content.decode()
    assert "geo_locations" in page
    assert "&quot;DE&quot;" in page


def test_campaign_detail_lists_ad_sets_and_ads(login, manager, marketer, ad_set):
    services.ad_create(ad_set=ad_set, by=marketer, name="Beans ad", creative_text="Fresh beans")
    page = (
        login(manager)
        .get(reverse("ads:campaign-detail", args=[ad_set.campaign_id]))
        .content.decode()
    )
    assert "Coffee lovers" in page
    assert "Fresh beans" in page
    assert "New ad set" not in page  # managers read, they do not write


def test_audience_pages_create_and_refuse_to_delete_a_used_one(login, marketer, brand, campaign):
    client = login(marketer)
    response = client.post(
        reverse("ads:audience-create", args=[brand.pk]),
        {"name": "Cafe owners", "kind": "persona", "description": "Run a small cafe", "spec": "{}"},
    )
    assert response.status_code == 302
    persona = Audience.objects.get()
    services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Cafes",
        targeting={"locations": [DE], "custom_audiences": [str(persona.pk)]},
    )
    response = client.post(reverse("ads:audience-delete", args=[persona.pk]), follow=True)
    assert "is used by the ad set(s) Cafes" in response.content.decode()
    assert Audience.objects.filter(pk=persona.pk).exists()


def test_campaign_list_uses_constant_queries(login, marketer, brand, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(marketer)
    url = reverse("ads:campaign-list", args=[brand.pk])
    make_campaign(brand, marketer, name="one")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(8):
        c = make_campaign(brand, marketer, name=f"more {n}")
        services.ad_set_create(campaign=c, by=marketer, name="s", targeting={"locations": [DE]})
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


# Tenancy and roles on every page


@pytest.fixture
def pages(brand, campaign, ad_set, marketer):
    audience = services.audience_create(brand=brand, by=marketer, name="Spare", kind="custom")
    ad = services.ad_create(ad_set=ad_set, by=marketer, name="Ad")
    return {
        "read": [
            reverse("ads:campaign-list", args=[brand.pk]),
            reverse("ads:campaign-detail", args=[campaign.pk]),
            reverse("ads:ad-set-meta-spec", args=[ad_set.pk]),
            reverse("ads:audience-list", args=[brand.pk]),
        ],
        "write": [
            reverse("ads:campaign-create", args=[brand.pk]),
            reverse("ads:campaign-edit", args=[campaign.pk]),
            reverse("ads:ad-set-create", args=[campaign.pk]),
            reverse("ads:ad-set-edit", args=[ad_set.pk]),
            reverse("ads:ad-create", args=[ad_set.pk]),
            reverse("ads:ad-edit", args=[ad.pk]),
            reverse("ads:audience-create", args=[brand.pk]),
            reverse("ads:audience-edit", args=[audience.pk]),
            reverse("ads:audience-delete", args=[audience.pk]),
        ],
    }


def snapshot():
    return (
        list(Campaign.objects.values_list("pk", "name", "updated_at")),
        list(AdSet.objects.values_list("pk", "targeting", "updated_at")),
        list(Ad.objects.values_list("pk", "updated_at")),
        list(Audience.objects.values_list("pk", "updated_at")),
    )


# Client users are held in the portal by reports' middleware (403) before these views answer;
# the views themselves give another tenant a 404 and a client of the brand a 403.
@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("outsider", {404}), ("other_client", {403, 404}), ("client_user", {403, 404})],
)
def test_outsiders_and_clients_are_kept_out_of_every_page(request, login, pages, persona, allowed):
    client = login(request.getfixturevalue(persona))
    before = snapshot()
    for url in pages["read"] + pages["write"]:
        if not url.endswith("/delete/"):
            got = client.get(url).status_code
            assert got in allowed, (url, got)
        assert client.post(url, {"name": "Hijacked"}).status_code in allowed, url
    assert snapshot() == before


def test_manager_reads_but_cannot_write(login, manager, pages):
    client = login(manager)
    before = snapshot()
    for url in pages["read"]:
        assert client.get(url).status_code == 200, url
    for url in pages["write"]:
        assert client.post(url, {"name": "Changed"}).status_code == 403, url
    assert snapshot() == before


def test_admin_and_marketer_open_every_page(login, admin, marketer, pages):
    for user in (admin, marketer):
        client = login(user)
        for url in pages["read"] + pages["write"][:-1]:
            assert client.get(url).status_code == 200, url


def test_nav_shows_ads_to_staff_only(login, marketer, client_user, brand):
    assert reverse("ads:ads-home") in login(marketer).get(reverse("dashboard")).content.decode()
    response = login(client_user).get(reverse("ads:ads-home"))
    assert response.status_code in (403, 404)


def test_other_brands_campaigns_are_not_listed(login, marketer, brand, home_agency):
    sibling = BrandFactory(agency=home_agency)
    make_campaign(sibling, marketer, name="Sibling campaign")
    page = login(marketer).get(reverse("ads:campaign-list", args=[brand.pk])).content.decode()
    assert "Sibling campaign" not in page


def test_views_themselves_refuse_clients_even_without_the_portal_middleware(
    settings, login, pages, client_user, other_client
):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "ClientPortalOnly" not in m]
    brand_page = pages["read"][0]
    assert login(client_user).get(brand_page).status_code == 403
    assert login(other_client).get(brand_page).status_code == 404
    assert login(client_user).get(pages["read"][1]).status_code == 404
