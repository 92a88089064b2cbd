"""Influencers and collaborations: the directory, promo codes, deliverables running late, sales
imported from CSV (all rows checked first, duplicates skipped), revenue and ROI per
collaboration, and who may see and change any of it."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ads import selectors, services
from ads.models import AttributedSale, Collaboration, Deliverable, Influencer, TrackedLink
from agency.models import AuditEvent
from tests.factories import BrandFactory

pytestmark = pytest.mark.django_db

D0 = date(2025, 3, 1)


@pytest.fixture
def ann(home_agency):
    return Influencer.objects.create(
        agency=home_agency, name="Ann Artisan", handles={"instagram": "@ann"}, audience_size=12000
    )


def collab(brand, influencer, **kw):
    fields = {"name": "Spring beans", "start_date": D0, "fee": Decimal("100.00"), **kw}
    return Collaboration.objects.create(brand=brand, influencer=influencer, **fields)


def sale(collaboration, ref, amount, currency="EUR"):
    return AttributedSale.objects.create(
        collaboration=collaboration,
        date=D0,
        order_ref=ref,
        amount=Decimal(amount),
        currency=currency,
    )


# -- the directory -------------------------------------------------------------------------------


def test_handles_on_unknown_platforms_are_refused_and_nothing_is_saved(home_agency, marketer):
    with pytest.raises(ValidationError) as err:
        services.influencer_create(
            agency=home_agency, by=marketer, name="Ann", handles={"myspace": "@ann"}
        )
    assert "“myspace” is not a platform we know" in str(err.value)
    with pytest.raises(ValidationError, match="without spaces"):
        services.influencer_create(
            agency=home_agency, by=marketer, name="Ann", handles={"instagram": "ann artisan"}
        )
    assert not Influencer.objects.exists()


def test_a_marketer_adds_an_influencer_from_the_directory_page(login, marketer, home_agency):
    response = login(marketer).post(
        reverse("ads:influencer-list"),
        {
            "agency": home_agency.pk,
            "name": "Ann  Artisan",
            "handles": "Instagram: @ann\ntiktok: @ann.bakes",
            "audience_size": "12000",
            "rate": "450.00",
            "currency": "eur",
        },
    )
    influencer = Influencer.objects.get()
    assert response.status_code == 302
    assert influencer.name == "Ann Artisan"
    assert influencer.handles == {"instagram": "@ann", "tiktok": "@ann.bakes"}
    assert influencer.rate == Decimal("450.00") and influencer.currency == "EUR"
    assert AuditEvent.objects.filter(action="influencer.created", actor=marketer).exists()


def test_a_bad_handle_line_is_shown_on_the_form(login, marketer, home_agency):
    response = login(marketer).post(
        reverse("ads:influencer-list"),
        {"agency": home_agency.pk, "name": "Ann", "handles": "friendster: @ann", "currency": "EUR"},
    )
    assert response.status_code == 400
    assert "is not a platform we know" in response.content.decode()
    assert not Influencer.objects.exists()


def test_a_manager_reads_the_directory_but_cannot_change_it(login, manager, ann):
    client = login(manager)
    assert client.get(reverse("ads:influencer-list")).status_code == 200
    assert client.get(reverse("ads:influencer-detail", args=[ann.pk])).status_code == 200
    assert client.post(reverse("ads:influencer-list"), {"name": "X"}).status_code == 403
    edit = client.post(reverse("ads:influencer-detail", args=[ann.pk]), {"name": "Renamed"})
    assert edit.status_code == 403
    assert client.post(reverse("ads:influencer-delete", args=[ann.pk])).status_code == 403
    ann.refresh_from_db()
    assert ann.name == "Ann Artisan" and Influencer.objects.count() == 1


# A client is kept in the portal (403, reports.middleware) or, past it, told nothing is here.
REFUSED_CLIENT = (403, 404)


@pytest.mark.parametrize("who", ["client_user", "other_client"])
def test_clients_do_not_see_the_directory(request, login, ann, who):
    client = login(request.getfixturevalue(who))
    assert client.get(reverse("ads:influencer-list")).status_code in REFUSED_CLIENT
    detail = reverse("ads:influencer-detail", args=[ann.pk])
    assert client.get(detail).status_code in REFUSED_CLIENT
    assert client.post(detail, {"name": "Renamed"}).status_code in REFUSED_CLIENT
    delete = reverse("ads:influencer-delete", args=[ann.pk])
    assert client.post(delete).status_code in REFUSED_CLIENT
    assert Influencer.objects.filter(pk=ann.pk).exists()


def test_an_outsider_sees_their_own_directory_and_never_ours(login, outsider, ann):
    client = login(outsider)
    page = client.get(reverse("ads:influencer-list"))
    assert page.status_code == 200 and "Ann Artisan" not in page.content.decode()
    assert client.get(reverse("ads:influencer-detail", args=[ann.pk])).status_code == 404
    post = client.post(reverse("ads:influencer-detail", args=[ann.pk]), {"name": "Stolen"})
    assert post.status_code == 404
    assert client.post(reverse("ads:influencer-delete", args=[ann.pk])).status_code == 404
    ann.refresh_from_db()
    assert ann.name == "Ann Artisan"


def test_an_influencer_with_collaborations_is_not_deleted(login, marketer, brand, ann):
    collab(brand, ann)
    response = login(marketer).post(reverse("ads:influencer-delete", args=[ann.pk]), follow=True)
    assert "has 1 collaboration(s)" in response.content.decode()
    assert Influencer.objects.filter(pk=ann.pk).exists()


# -- collaborations ------------------------------------------------------------------------------


def test_a_collaboration_cannot_end_before_it_starts(brand, marketer, ann):
    with pytest.raises(ValidationError, match="end date is before the start date"):
        services.collaboration_create(
            brand=brand,
            by=marketer,
            influencer=ann,
            name="Backwards",
            start_date=D0,
            end_date=D0 - timedelta(days=1),
        )
    assert not Collaboration.objects.exists()


def test_promo_codes_are_unique_per_brand_whatever_their_case(brand, sibling_brand, marketer, ann):
    first = services.collaboration_create(
        brand=brand, by=marketer, influencer=ann, name="Spring", start_date=D0, promo_code="ANN10"
    )
    with pytest.raises(ValidationError) as err:
        services.collaboration_create(
            brand=brand,
            by=marketer,
            influencer=ann,
            name="Summer",
            start_date=D0,
            promo_code=" ann10 ",
        )
    assert "promo code ann10 is already used by “Spring”" in str(err.value)
    # Another brand's shop has its own codes.
    services.collaboration_create(
        brand=sibling_brand,
        by=marketer,
        influencer=ann,
        name="Bikes",
        start_date=D0,
        promo_code="ann10",
    )
    # Saving a collaboration with its own code is no clash.
    services.collaboration_update(collaboration=first, by=marketer, data={"promo_code": "Ann10"})
    assert Collaboration.objects.filter(brand=brand).count() == 1


def test_an_influencer_of_another_agency_cannot_collaborate_with_our_brand(brand, marketer):
    stranger = Influencer.objects.create(agency=BrandFactory().agency, name="Stranger")
    with pytest.raises(ValidationError, match="another agency's directory"):
        services.collaboration_create(
            brand=brand, by=marketer, influencer=stranger, name="X", start_date=D0
        )


def test_the_collaboration_form_makes_its_tracked_link_in_the_same_step(
    login, marketer, brand, ann
):
    response = login(marketer).post(
        reverse("ads:collaboration-list", args=[brand.pk]),
        {
            "influencer": ann.pk,
            "name": "Spring",
            "start_date": "2025-03-01",
            "fee": "500",
            "currency": "EUR",
            "promo_code": "ANN10",
            "link_destination": "https://shop.example.com/spring?utm_source=ann",
            "link_code": "ann-spring",
        },
    )
    assert response.status_code == 302
    made = Collaboration.objects.get()
    assert made.tracked_link.code == "ann-spring"
    assert made.tracked_link.destination == "https://shop.example.com/spring?utm_source=ann"
    assert made.tracked_link.brand == brand


def test_a_bad_link_destination_saves_neither_the_collaboration_nor_a_link(
    login, marketer, brand, ann
):
    response = login(marketer).post(
        reverse("ads:collaboration-list", args=[brand.pk]),
        {
            "influencer": ann.pk,
            "name": "Spring",
            "start_date": "2025-03-01",
            "fee": "500",
            "currency": "EUR",
            "link_destination": "javascript:alert(1)",
        },
    )
    assert response.status_code == 400
    assert "starting with https://" in response.content.decode()
    assert not Collaboration.objects.exists() and not TrackedLink.objects.exists()


# -- revenue and ROI -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "fee", "roi"),
    [
        ("250.00", "100.00", Decimal("1.5")),
        ("0", "100.00", Decimal("-1")),
        ("100.00", "300.00", Decimal("-0.6667")),
        ("0.10", "0.30", Decimal("-0.6667")),
        ("123.45", "0", None),
        ("0", "0.00", None),
    ],
)
def test_roi_is_revenue_less_fee_over_fee_in_exact_decimals(revenue, fee, roi):
    result = selectors.collaboration_roi(revenue=Decimal(revenue), fee=Decimal(fee))
    assert result == roi
    assert result is None or isinstance(result, Decimal)


def test_revenue_counts_the_fee_currency_and_lists_other_currencies_apart(brand, ann):
    spring = collab(brand, ann, fee=Decimal("100.00"), currency="EUR")
    sale(spring, "A1", "150.10")
    sale(spring, "A2", "99.90")
    sale(spring, "A3", "40.00", currency="USD")
    free = collab(brand, ann, name="Gifted", fee=Decimal("0"))
    sale(free, "B1", "10.00")

    rows = {c.name: c for c in selectors.collaborations_for_brand(brand=brand)}
    assert rows["Spring beans"].revenue == Decimal("250.00")
    assert rows["Spring beans"].roi == Decimal("1.5")
    assert rows["Spring beans"].other_revenue == {"USD": Decimal("40.00")}
    assert rows["Gifted"].roi is None and rows["Gifted"].other_revenue == {}


def test_the_collaboration_list_takes_the_same_queries_for_one_or_many(
    brand, ann, django_assert_num_queries
):
    first = collab(brand, ann)
    sale(first, "A1", "10.00", currency="USD")
    with django_assert_num_queries(2):
        assert len(selectors.collaborations_for_brand(brand=brand)) == 1
    for n in range(5):
        more = collab(brand, ann, name=f"More {n}")
        sale(more, f"M{n}", "5.00")
        sale(more, f"N{n}", "5.00", currency="GBP")
        Deliverable.objects.create(collaboration=more, description="Reel", due_date=D0)
    with django_assert_num_queries(2):
        assert len(selectors.collaborations_for_brand(brand=brand)) == 6


def test_the_list_page_shows_revenue_beside_roi_and_says_n_a_without_a_fee(
    login, manager, brand, ann
):
    spring = collab(brand, ann, fee=Decimal("100.00"))
    sale(spring, "A1", "250.00")
    sale(spring, "A2", "40.00", currency="USD")
    collab(brand, ann, name="Gifted", fee=Decimal("0"))
    body = login(manager).get(reverse("ads:collaboration-list", args=[brand.pk])).content.decode()
    assert "250.00 EUR" in body and "1.5000" in body
    assert "40.00 USD, not in the ROI (other currency)" in body
    assert "n/a" in body


# -- deliverables --------------------------------------------------------------------------------


def test_a_deliverable_past_due_and_not_published_is_late(brand, ann, marketer):
    spring = collab(brand, ann)
    yesterday = selectors.today_utc() - timedelta(days=1)
    late = services.deliverable_create(
        collaboration=spring, by=marketer, description="Reel", due_date=yesterday
    )
    done = services.deliverable_create(
        collaboration=spring,
        by=marketer,
        description="Story",
        due_date=yesterday,
        status="published",
        url="https://instagram.com/p/1",
    )
    services.deliverable_create(
        collaboration=spring, by=marketer, description="Post", due_date=selectors.today_utc()
    )
    flags = {
        d.pk: d.is_late for d in selectors.deliverables_for_collaboration(collaboration=spring)
    }
    assert flags[late.pk] is True and flags[done.pk] is False
    assert [d.pk for d in selectors.deliverables_late(brand=brand)] == [late.pk]
    assert selectors.collaborations_for_brand(brand=brand)[0].late_deliverables == 1


def test_late_is_computed_not_set_and_published_needs_its_link(brand, ann, marketer):
    spring = collab(brand, ann)
    with pytest.raises(ValidationError, match="follows from the due date"):
        services.deliverable_create(
            collaboration=spring, by=marketer, description="Reel", due_date=D0, status="late"
        )
    with pytest.raises(ValidationError, match="link of the published content"):
        services.deliverable_create(
            collaboration=spring, by=marketer, description="Reel", due_date=D0, status="published"
        )
    assert not Deliverable.objects.exists()


def test_a_marketer_moves_a_deliverable_on_from_the_page(login, marketer, brand, ann):
    spring = collab(brand, ann)
    reel = Deliverable.objects.create(collaboration=spring, description="Reel", due_date=D0)
    response = login(marketer).post(
        reverse("ads:deliverable-update", args=[reel.pk]),
        {"status": "published", "url": "https://instagram.com/p/1"},
    )
    assert response.status_code == 302
    reel.refresh_from_db()
    assert reel.status == "published"


# -- sales from CSV ------------------------------------------------------------------------------

GOOD_CSV = (
    "date,order_ref,amount,currency,promo_code,collaboration\n"
    "2025-03-02,1001,49.90,EUR,ann10,\n"
    "2025-03-02,1002,10.10,eur,,Spring beans\n"
    "2025-03-03,1001,49.90,EUR,ANN10,\n"
)


def test_importing_sales_attributes_them_and_skips_orders_already_counted(brand, ann, marketer):
    spring = collab(brand, ann, promo_code="ANN10")
    result = services.sales_import(brand=brand, by=marketer, data=GOOD_CSV.encode())
    assert (result.created, result.skipped) == (2, 1)
    assert sorted(spring.sales.values_list("order_ref", "amount")) == [
        ("1001", Decimal("49.90")),
        ("1002", Decimal("10.10")),
    ]
    again = services.sales_import(brand=brand, by=marketer, data=GOOD_CSV.encode())
    assert (again.created, again.skipped) == (0, 3)
    assert spring.sales.count() == 2
    assert selectors.collaborations_for_brand(brand=brand)[0].revenue == Decimal("60.00")


def test_one_bad_row_and_nothing_is_imported_with_every_error_by_line(brand, ann, marketer):
    collab(brand, ann, promo_code="ANN10")
    bad = (
        "date,order_ref,amount,currency,promo_code\n"
        "2025-03-02,1001,49.90,EUR,ANN10\n"
        "02/03/2025,1002,10.00,EUR,ANN10\n"
        "2025-03-02,1003,ten,EUR,NOPE\n"
        "2025-03-02,1004,1.999,EURO,ANN10\n"
        "2025-03-02,,5.00,EUR,\n"
    )
    with pytest.raises(ValidationError) as err:
        services.sales_import(brand=brand, by=marketer, data=bad.encode())
    messages = err.value.messages
    assert messages[0] == "Nothing was imported."
    assert messages[1] == "Line 3: date “02/03/2025” is not YYYY-MM-DD."
    assert "Line 4: no collaboration of this brand has the promo code NOPE" in messages[2]
    assert "amount “ten” is not a non-negative number" in messages[2]
    assert "amount “1.999”" in messages[3] and "currency “EURO”" in messages[3]
    assert messages[4].startswith("Line 6: give a promo_code or a collaboration")
    assert "order_ref must be 1 to 100 characters" in messages[4]
    assert not AttributedSale.objects.exists()


def test_a_file_without_the_needed_columns_is_refused_in_words(brand, marketer):
    with pytest.raises(ValidationError, match="missing: amount, currency"):
        services.sales_import(brand=brand, by=marketer, data=b"date,order_ref,promo_code\n")
    with pytest.raises(ValidationError, match="Add a promo_code or a collaboration column"):
        services.sales_import(brand=brand, by=marketer, data=b"date,order_ref,amount,currency\n")


def test_a_promo_code_of_another_brand_does_not_attribute_a_sale(
    brand, sibling_brand, ann, marketer
):
    collab(sibling_brand, ann, promo_code="BIKES5")
    data = b"date,order_ref,amount,currency,promo_code\n2025-03-02,1,5.00,EUR,BIKES5\n"
    with pytest.raises(ValidationError, match="no collaboration of this brand"):
        services.sales_import(brand=brand, by=marketer, data=data)


def _upload(content: str):
    return SimpleUploadedFile("sales.csv", content.encode(), content_type="text/csv")


def test_the_import_page_reports_created_and_skipped(login, marketer, brand, ann):
    collab(brand, ann, promo_code="ANN10")
    response = login(marketer).post(
        reverse("ads:sales-import", args=[brand.pk]), {"file": _upload(GOOD_CSV)}, follow=True
    )
    assert "Imported 2 sale(s); skipped 1 already counted." in response.content.decode()


def test_the_import_page_lists_row_errors_and_saves_nothing(login, marketer, brand, ann):
    collab(brand, ann, promo_code="ANN10")
    bad = "date,order_ref,amount,currency,promo_code\n2025-03-02,1,5.00,EUR,WRONG\n"
    response = login(marketer).post(
        reverse("ads:sales-import", args=[brand.pk]), {"file": _upload(bad)}
    )
    assert response.status_code == 400
    assert "Line 2: no collaboration of this brand has the promo code WRONG" in (
        response.content.decode()
    )
    assert not AttributedSale.objects.exists()


# -- who sees and changes the brand's pages ------------------------------------------------------


@pytest.fixture
def spring(brand, ann):
    spring = collab(brand, ann, promo_code="ANN10")
    Deliverable.objects.create(collaboration=spring, description="Reel", due_date=D0)
    return spring


def _pages(brand, spring):
    reel = spring.deliverables.get()
    return {
        "list": reverse("ads:collaboration-list", args=[brand.pk]),
        "detail": reverse("ads:collaboration-detail", args=[spring.pk]),
        "import": reverse("ads:sales-import", args=[brand.pk]),
        "deliverable": reverse("ads:deliverable-create", args=[spring.pk]),
        "status": reverse("ads:deliverable-update", args=[reel.pk]),
        "delete": reverse("ads:collaboration-delete", args=[spring.pk]),
    }


def _snapshot():
    return (
        list(Collaboration.objects.values_list("name", "promo_code").order_by("name")),
        list(Deliverable.objects.values_list("description", "status").order_by("description")),
        AttributedSale.objects.count(),
    )


@pytest.mark.parametrize("who", ["outsider", "other_client", "client_user"])
def test_anyone_outside_the_brands_staff_is_refused_and_changes_nothing(
    request, login, brand, spring, who
):
    client = login(request.getfixturevalue(who))
    refused = (404,) if who == "outsider" else REFUSED_CLIENT
    pages = _pages(brand, spring)
    before = _snapshot()
    for name in ("list", "detail", "import"):
        assert client.get(pages[name]).status_code in refused, name
    posts = {
        "list": {"name": "Stolen", "influencer": spring.influencer_id, "start_date": "2025-03-01"},
        "detail": {
            "name": "Stolen",
            "influencer": spring.influencer_id,
            "start_date": "2025-03-01",
        },
        "import": {"file": _upload(GOOD_CSV)},
        "deliverable": {"description": "Sneaky", "due_date": "2025-03-01", "status": "planned"},
        "status": {"status": "approved"},
        "delete": {},
    }
    for name, data in posts.items():
        assert client.post(pages[name], data).status_code in refused, name
    assert _snapshot() == before


def test_a_manager_reads_the_brands_collaborations_but_every_write_is_403(
    login, manager, brand, spring
):
    client = login(manager)
    pages = _pages(brand, spring)
    assert client.get(pages["list"]).status_code == 200
    detail = client.get(pages["detail"])
    assert detail.status_code == 200 and "Edit the collaboration" not in detail.content.decode()
    before = _snapshot()
    for name in ("list", "detail", "import", "deliverable", "status", "delete"):
        assert client.post(pages[name], {"name": "X", "status": "approved"}).status_code == 403
    assert _snapshot() == before


def test_a_marketer_edits_a_collaboration_and_adds_a_deliverable(login, marketer, brand, spring):
    client = login(marketer)
    pages = _pages(brand, spring)
    edit = client.post(
        pages["detail"],
        {
            "influencer": spring.influencer_id,
            "name": "Spring beans",
            "start_date": "2025-03-01",
            "end_date": "2025-03-31",
            "fee": "150.00",
            "currency": "EUR",
            "promo_code": "ANN15",
        },
    )
    assert edit.status_code == 302
    spring.refresh_from_db()
    assert (spring.fee, spring.promo_code, spring.end_date) == (
        Decimal("150.00"),
        "ANN15",
        date(2025, 3, 31),
    )
    add = client.post(
        pages["deliverable"],
        {"description": "Story", "due_date": "2025-03-10", "status": "planned"},
    )
    assert add.status_code == 302
    assert spring.deliverables.filter(description="Story").exists()
