"""/api/v1/ influencers, collaborations, deliverables, attributed-sales, tracked-links and
utm-presets: what each role may read and write, the services' refusals as field errors, and
lists whose query count does not grow with their length."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ads import selectors, services
from ads.models import (
    AttributedSale,
    Collaboration,
    Deliverable,
    Influencer,
    LinkClickDaily,
    TrackedLink,
    UtmPreset,
)

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com/spring"


@pytest.fixture
def ann(home_agency):
    return Influencer.objects.create(agency=home_agency, name="Ann", handles={"instagram": "@ann"})


@pytest.fixture
def spring(brand, ann):
    return Collaboration.objects.create(
        brand=brand,
        influencer=ann,
        name="Spring",
        start_date=date(2025, 3, 1),
        fee=Decimal("100.00"),
        promo_code="ANN10",
    )


@pytest.fixture
def reel(spring):
    return Deliverable.objects.create(
        collaboration=spring, description="Reel", due_date=date(2025, 3, 5)
    )


@pytest.fixture
def link(brand):
    return TrackedLink.objects.create(brand=brand, code="spring", destination=SHOP)


@pytest.fixture
def preset(brand):
    return UtmPreset.objects.create(brand=brand, name="Bio", source="instagram")


def as_(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _resources(brand, ann, spring, reel, link, preset):
    """(list url, detail url or None, a valid create body) per endpoint."""
    return {
        "influencers": (
            f"/api/v1/influencers/{ann.pk}/",
            {"agency": str(brand.agency_id), "name": "New", "handles": {"tiktok": "@new"}},
        ),
        "collaborations": (
            f"/api/v1/collaborations/{spring.pk}/",
            {
                "brand": str(brand.pk),
                "influencer": str(ann.pk),
                "name": "Summer",
                "start_date": "2025-06-01",
            },
        ),
        "deliverables": (
            f"/api/v1/deliverables/{reel.pk}/",
            {"collaboration": str(spring.pk), "description": "Story", "due_date": "2025-03-09"},
        ),
        "attributed-sales": (
            None,
            {
                "collaboration": str(spring.pk),
                "date": "2025-03-02",
                "order_ref": "1001",
                "amount": "20.00",
                "currency": "EUR",
            },
        ),
        "tracked-links": (
            f"/api/v1/tracked-links/{link.pk}/",
            {"brand": str(brand.pk), "destination": SHOP},
        ),
        "utm-presets": (
            f"/api/v1/utm-presets/{preset.pk}/",
            {"brand": str(brand.pk), "name": "Mail", "source": "newsletter"},
        ),
    }


def _counts():
    return [
        m.objects.count()
        for m in (Influencer, Collaboration, Deliverable, AttributedSale, TrackedLink, UtmPreset)
    ]


@pytest.fixture
def resources(brand, ann, spring, reel, link, preset):
    return _resources(brand, ann, spring, reel, link, preset)


def test_an_outsider_sees_none_of_ours_and_changes_nothing(api_client, outsider, resources):
    client = as_(api_client, outsider)
    before = _counts()
    for name, (detail, body) in resources.items():
        if detail is not None:
            assert client.get(f"/api/v1/{name}/").json()["results"] == [], name
            assert client.get(detail).status_code == 404, name
            assert client.patch(detail, {"name": "Stolen"}).status_code in (404, 405), name
            assert client.delete(detail).status_code in (404, 405), name
        assert client.post(f"/api/v1/{name}/", body).status_code in (400, 403), name
    assert _counts() == before


@pytest.mark.parametrize("who", ["client_user", "other_client"])
def test_clients_are_refused_every_endpoint(request, api_client, resources, who):
    client = as_(api_client, request.getfixturevalue(who))
    before = _counts()
    for name, (detail, body) in resources.items():
        if detail is not None:
            assert client.get(f"/api/v1/{name}/").status_code == 403, name
            assert client.get(detail).status_code == 403, name
            assert client.patch(detail, {"name": "Stolen"}).status_code == 403, name
        assert client.post(f"/api/v1/{name}/", body).status_code == 403, name
    assert _counts() == before


def test_a_manager_reads_every_endpoint_and_is_refused_every_write(api_client, manager, resources):
    client = as_(api_client, manager)
    before = _counts()
    for name, (detail, body) in resources.items():
        if detail is not None:
            assert client.get(f"/api/v1/{name}/").status_code == 200, name
            assert client.get(detail).status_code == 200, name
            assert client.patch(detail, {"name": "Renamed"}).status_code in (403, 405), name
            assert client.delete(detail).status_code in (403, 405), name
        assert client.post(f"/api/v1/{name}/", body).status_code == 403, name
    assert _counts() == before


def test_a_marketer_creates_on_every_endpoint(api_client, marketer, resources):
    client = as_(api_client, marketer)
    for name, (_detail, body) in resources.items():
        response = client.post(f"/api/v1/{name}/", body)
        assert response.status_code == 201, (name, response.json())


def test_a_collaboration_answers_with_revenue_roi_and_its_deliverables(
    api_client, marketer, spring, reel
):
    AttributedSale.objects.create(
        collaboration=spring,
        date=date(2025, 3, 2),
        order_ref="1",
        amount=Decimal("250.00"),
        currency="EUR",
    )
    AttributedSale.objects.create(
        collaboration=spring,
        date=date(2025, 3, 2),
        order_ref="2",
        amount=Decimal("9.00"),
        currency="USD",
    )
    body = as_(api_client, marketer).get(f"/api/v1/collaborations/{spring.pk}/").json()
    assert body["revenue"] == "250.00" and body["roi"] == "1.5000"
    assert body["other_revenue"] == {"USD": "9.00"}
    assert body["late_deliverables"] == 1
    assert [d["description"] for d in body["deliverables"]] == ["Reel"]
    assert body["deliverables"][0]["is_late"] is True


def test_a_collaboration_without_fee_has_no_roi_and_can_make_its_link(
    api_client, marketer, brand, ann
):
    response = as_(api_client, marketer).post(
        "/api/v1/collaborations/",
        {
            "brand": str(brand.pk),
            "influencer": str(ann.pk),
            "name": "Gifted",
            "start_date": "2025-03-01",
            "fee": "0",
            "link_destination": SHOP,
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["roi"] is None
    made = Collaboration.objects.get(name="Gifted")
    assert made.tracked_link.destination == SHOP
    assert response.json()["tracked_link"] == str(made.tracked_link.pk)


def test_a_taken_promo_code_is_a_field_error(api_client, marketer, brand, ann, spring):
    response = as_(api_client, marketer).post(
        "/api/v1/collaborations/",
        {
            "brand": str(brand.pk),
            "influencer": str(ann.pk),
            "name": "Summer",
            "start_date": "2025-06-01",
            "promo_code": "ann10",
        },
    )
    assert response.status_code == 400
    assert "already used by “Spring”" in response.json()["fields"]["promo_code"][0]


def test_a_collaboration_stays_with_its_brand(api_client, marketer, sibling_brand, spring):
    response = as_(api_client, marketer).patch(
        f"/api/v1/collaborations/{spring.pk}/", {"brand": str(sibling_brand.pk)}
    )
    assert response.status_code == 400
    spring.refresh_from_db()
    assert spring.brand_id != sibling_brand.pk


def test_an_influencer_cannot_be_put_in_an_agency_the_caller_is_not_in(
    api_client, marketer, other_brand
):
    response = as_(api_client, marketer).post(
        "/api/v1/influencers/", {"agency": str(other_brand.agency_id), "name": "X"}
    )
    assert response.status_code == 400
    assert not Influencer.objects.exists()


def test_an_unknown_platform_handle_is_a_field_error(api_client, marketer, home_agency):
    response = as_(api_client, marketer).post(
        "/api/v1/influencers/",
        {"agency": str(home_agency.pk), "name": "X", "handles": {"orkut": "@x"}},
    )
    assert response.status_code == 400
    assert "not a platform we know" in response.json()["fields"]["handles"][0]


def test_a_repeated_order_is_refused_and_sales_cannot_be_listed(api_client, marketer, spring):
    client = as_(api_client, marketer)
    body = {
        "collaboration": str(spring.pk),
        "date": "2025-03-02",
        "order_ref": "1001",
        "amount": "20.00",
        "currency": "eur",
    }
    assert client.post("/api/v1/attributed-sales/", body).status_code == 201
    again = client.post("/api/v1/attributed-sales/", body)
    assert again.status_code == 400
    assert "already counted" in again.json()["fields"]["order_ref"][0]
    assert client.get("/api/v1/attributed-sales/").status_code == 405
    assert AttributedSale.objects.get().currency == "EUR"


def test_deliverables_filter_by_late(api_client, marketer, spring, reel):
    Deliverable.objects.create(
        collaboration=spring,
        description="Later",
        due_date=selectors.today_utc() + timedelta(days=3),
    )
    late = as_(api_client, marketer).get("/api/v1/deliverables/", {"late": "true"}).json()
    assert [d["description"] for d in late["results"]] == ["Reel"]


def test_a_tracked_link_lists_total_clicks_and_shows_them_per_day(api_client, marketer, link):
    services.link_click_record(link=link, day=date(2025, 3, 1))
    services.link_click_record(link=link, day=date(2025, 3, 1))
    services.link_click_record(link=link, day=date(2025, 3, 2))
    client = as_(api_client, marketer)
    [listed] = client.get("/api/v1/tracked-links/").json()["results"]
    assert listed["total_clicks"] == 3 and listed["short_url"].endswith("/l/spring")
    detail = client.get(f"/api/v1/tracked-links/{link.pk}/").json()
    assert detail["daily"] == [
        {"date": "2025-03-01", "clicks": 2, "unique_visitors": 0},
        {"date": "2025-03-02", "clicks": 1, "unique_visitors": 0},
    ]


def test_a_taken_code_or_a_javascript_destination_is_a_field_error(
    api_client, marketer, brand, link
):
    client = as_(api_client, marketer)
    taken = client.post(
        "/api/v1/tracked-links/", {"brand": str(brand.pk), "destination": SHOP, "code": "spring"}
    )
    assert taken.status_code == 400
    assert taken.json()["fields"]["code"] == ["The code “spring” is taken; choose another one."]
    bad = client.post(
        "/api/v1/tracked-links/", {"brand": str(brand.pk), "destination": "javascript:alert(1)"}
    )
    assert bad.status_code == 400 and "destination" in bad.json()["fields"]
    assert client.patch(f"/api/v1/tracked-links/{link.pk}/", {"name": "x"}).status_code == 405
    assert TrackedLink.objects.count() == 1


def test_a_marketer_changes_and_deletes_a_preset(api_client, marketer, preset):
    client = as_(api_client, marketer)
    changed = client.patch(f"/api/v1/utm-presets/{preset.pk}/", {"medium": "bio"})
    assert changed.status_code == 200 and changed.json()["medium"] == "bio"
    assert client.delete(f"/api/v1/utm-presets/{preset.pk}/").status_code == 204
    assert not UtmPreset.objects.exists()


def test_the_lists_do_not_grow_queries_with_their_length(
    api_client, marketer, brand, ann, spring, reel, link, preset, django_assert_max_num_queries
):
    client = as_(api_client, marketer)
    AttributedSale.objects.create(
        collaboration=spring,
        date=date(2025, 3, 2),
        order_ref="x",
        amount=Decimal("1.00"),
        currency="USD",
    )
    urls = [
        "/api/v1/collaborations/",
        "/api/v1/tracked-links/",
        "/api/v1/influencers/",
        "/api/v1/deliverables/",
        "/api/v1/utm-presets/",
    ]
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(50) as captured:
            client.get(url)
        counts[url] = len(captured)
    for n in range(4):
        more = Collaboration.objects.create(
            brand=brand, influencer=ann, name=f"More {n}", start_date=date(2025, 4, 1)
        )
        Deliverable.objects.create(
            collaboration=more, description="Post", due_date=date(2025, 4, 2)
        )
        AttributedSale.objects.create(
            collaboration=more,
            date=date(2025, 4, 2),
            order_ref="y",
            amount=Decimal("2.00"),
            currency="GBP",
        )
        Influencer.objects.create(agency=brand.agency, name=f"Inf {n}")
        more_link = TrackedLink.objects.create(brand=brand, code=f"more-{n}", destination=SHOP)
        LinkClickDaily.objects.create(link=more_link, date=date(2025, 4, 1), clicks=3)
        UtmPreset.objects.create(brand=brand, name=f"P{n}", source="x")
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200
