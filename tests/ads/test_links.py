"""UTM builder, presets, tracked short links and the public /l/<code> redirect: clicks counted
per UTC day without losing any, never an open redirect, no personal data, and the link pages'
tenancy and roles."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ads import selectors, services
from ads.models import LinkClickDaily, TrackedLink, UtmPreset

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com/spring"


@pytest.fixture
def link(brand, marketer):
    return services.tracked_link_create(brand=brand, by=marketer, destination=SHOP, code="spring")


# -- UTM builder ---------------------------------------------------------------------------------


def test_the_builder_adds_the_utm_parameters_given():
    url = services.utm_build(
        destination=SHOP, source="instagram", medium="influencer", campaign="spring sale"
    )
    assert url == (
        "https://shop.example.com/spring?utm_source=instagram&utm_medium=influencer"
        "&utm_campaign=spring+sale"
    )


def test_parameters_already_in_the_url_are_kept_and_win():
    url = services.utm_build(
        destination="https://shop.example.com/?ref=ann&utm_source=newsletter#top",
        source="instagram",
        content="reel {1}",
    )
    assert url == (
        "https://shop.example.com/?ref=ann&utm_source=newsletter&utm_content=reel+%7B1%7D#top"
    )


def test_the_builder_needs_a_source():
    with pytest.raises(ValidationError, match="utm_source"):
        services.utm_build(destination=SHOP, medium="social")


@pytest.mark.parametrize(
    "destination",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)//https://x.com",
        "data:text/html,<script>alert(1)</script>",
        "/spring",
        "shop.example.com/spring",
        "//evil.example.net/",
        "ftp://files.example.com/a",
        "https://",
        "",
    ],
)
def test_only_absolute_http_urls_are_destinations(destination):
    with pytest.raises(ValidationError):
        services.utm_build(destination=destination, source="x")
    with pytest.raises(ValidationError):
        services.validate_destination(destination)


@pytest.mark.parametrize(
    "destination", ["http://shop.example.com", "HTTPS://Shop.Example.com/a?b=c"]
)
def test_http_and_https_urls_are_destinations(destination):
    assert services.validate_destination(f"  {destination} ") == destination


def test_the_builder_page_shows_the_tagged_link_with_a_preset_filling_the_gaps(
    login, manager, brand
):
    preset = UtmPreset.objects.create(brand=brand, name="Influencer", medium="influencer")
    page = login(manager).get(
        reverse("ads:links", args=[brand.pk]),
        {"destination": SHOP, "source": "instagram", "preset": preset.pk},
    )
    assert page.status_code == 200
    assert "https://shop.example.com/spring?utm_source=instagram&amp;utm_medium=influencer" in (
        page.content.decode()
    )


def test_the_builder_page_refuses_a_javascript_url_in_words(login, marketer, brand):
    page = login(marketer).get(
        reverse("ads:links", args=[brand.pk]),
        {"destination": "javascript:alert(1)", "source": "x"},
    )
    assert page.status_code == 400
    assert "starting with https://" in page.content.decode()


# -- presets -------------------------------------------------------------------------------------


def test_preset_names_are_unique_per_brand_whatever_their_case(brand, sibling_brand, marketer):
    services.utm_preset_create(brand=brand, by=marketer, name="Newsletter", source="newsletter")
    with pytest.raises(ValidationError, match="already has a preset called “newsletter”"):
        services.utm_preset_create(brand=brand, by=marketer, name="newsletter", source="mail")
    services.utm_preset_create(brand=sibling_brand, by=marketer, name="Newsletter", source="x")
    with pytest.raises(ValidationError, match="at least one UTM value"):
        services.utm_preset_create(brand=brand, by=marketer, name="Empty")
    assert UtmPreset.objects.filter(brand=brand).count() == 1


def test_a_marketer_saves_and_deletes_presets_on_the_page(login, marketer, brand):
    client = login(marketer)
    saved = client.post(
        reverse("ads:preset-create", args=[brand.pk]),
        {"name": "Instagram bio", "source": "instagram", "medium": "bio"},
    )
    assert saved.status_code == 302
    preset = UtmPreset.objects.get(brand=brand)
    assert (preset.source, preset.medium) == ("instagram", "bio")
    assert client.post(reverse("ads:preset-delete", args=[preset.pk])).status_code == 302
    assert not UtmPreset.objects.exists()


# -- short links ---------------------------------------------------------------------------------


def test_a_random_code_is_url_safe_and_at_least_seven_characters(brand, marketer):
    link = services.tracked_link_create(brand=brand, by=marketer, destination=SHOP)
    assert len(link.code) >= 7
    assert set(link.code) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert link.created_by == marketer


def test_a_random_code_that_collides_is_drawn_again(brand, marketer, link, monkeypatch):
    codes = iter(["spring", "spring", "fresh-1"])
    monkeypatch.setattr(services.links, "new_link_code", lambda: next(codes))
    made = services.tracked_link_create(brand=brand, by=marketer, destination=SHOP)
    assert made.code == "fresh-1"
    assert TrackedLink.objects.count() == 2


def test_a_taken_custom_code_is_refused_in_words(brand, sibling_brand, marketer, link):
    with pytest.raises(ValidationError, match=r"The code “Spring” is taken; choose another one\."):
        services.tracked_link_create(
            brand=sibling_brand, by=marketer, destination=SHOP, code="Spring"
        )
    with pytest.raises(ValidationError, match="only letters, digits, hyphens"):
        services.tracked_link_create(brand=brand, by=marketer, destination=SHOP, code="a/b")
    assert TrackedLink.objects.count() == 1


def test_a_marketer_makes_a_short_link_on_the_page(login, marketer, brand):
    response = login(marketer).post(
        reverse("ads:link-create", args=[brand.pk]),
        {"destination": SHOP + "?utm_source=ig", "name": "Bio link", "code": "bio"},
    )
    link = TrackedLink.objects.get()
    assert response.status_code == 302
    assert (link.code, link.brand, link.name) == ("bio", brand, "Bio link")


def test_the_link_page_refuses_a_relative_destination(login, marketer, brand):
    response = login(marketer).post(
        reverse("ads:link-create", args=[brand.pk]), {"destination": "/spring"}
    )
    assert response.status_code == 400
    assert not TrackedLink.objects.exists()


# -- the redirect --------------------------------------------------------------------------------


def _clicks(link):
    return list(LinkClickDaily.objects.filter(link=link).values_list("date", "clicks"))


def test_following_a_link_redirects_to_its_destination_without_a_login(client, link):
    response = client.get("/l/spring")
    assert response.status_code == 302
    assert response["Location"] == SHOP
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_two_clicks_the_same_day_count_two_and_the_next_day_gets_its_own_row(
    client, link, monkeypatch
):
    day_one = datetime(2025, 3, 1, 23, 59, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: day_one)
    client.get("/l/spring")
    client.get("/l/spring")
    assert _clicks(link) == [(date(2025, 3, 1), 2)]
    monkeypatch.setattr(timezone, "now", lambda: day_one + timedelta(minutes=2))
    client.get("/l/spring")
    assert _clicks(link) == [(date(2025, 3, 1), 2), (date(2025, 3, 2), 1)]


@pytest.mark.parametrize(
    "query",
    [
        "?next=https://evil.example.net/",
        "?url=https://evil.example.net/",
        "?next=//evil.example.net&url=javascript:alert(1)&destination=https://evil.example.net",
    ],
)
def test_no_query_parameter_changes_where_a_link_goes(client, link, query):
    response = client.get(f"/l/spring{query}")
    assert response.status_code == 302
    assert response["Location"] == SHOP


def test_an_unknown_code_is_a_404_page(client, link):
    response = client.get("/l/nope-nope")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert not LinkClickDaily.objects.exists()


def test_a_head_request_redirects_but_is_not_counted_and_post_is_refused(client, link):
    assert client.head("/l/spring").status_code == 302
    assert client.post("/l/spring").status_code == 405
    assert _clicks(link) == []


def test_a_logged_in_client_follows_their_brands_link(login, client_user, link):
    response = login(client_user).get("/l/spring")
    assert response.status_code == 302 and response["Location"] == SHOP


def test_nothing_about_the_visitor_is_kept_and_no_cookie_is_set_by_default(client, link):
    response = client.get("/l/spring", HTTP_USER_AGENT="Bot/1.0", REMOTE_ADDR="203.0.113.9")
    assert not response.cookies
    row = LinkClickDaily.objects.get()
    assert (row.clicks, row.unique_visitors) == (1, 0)
    assert {f.name for f in LinkClickDaily._meta.concrete_fields} == {
        "id",
        "link",
        "date",
        "clicks",
        "unique_visitors",
    }


def test_with_the_cookie_setting_a_visitor_counts_once_a_day(client, link, settings):
    settings.AGENCY_LINK_UNIQUE_COOKIE = True
    first = client.get("/l/spring")
    cookie = first.cookies["al_spring"]
    assert cookie.value == timezone.now().date().isoformat()
    assert cookie["path"] == "/l/spring" and cookie["httponly"]
    client.get("/l/spring")
    row = LinkClickDaily.objects.get()
    assert (row.clicks, row.unique_visitors) == (2, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent connections (PostgreSQL)"
)
def test_concurrent_clicks_are_all_counted(brand, marketer):
    link = services.tracked_link_create(brand=brand, by=marketer, destination=SHOP, code="race")
    start = threading.Barrier(8)

    def click():
        try:
            start.wait()
            for _ in range(5):
                services.link_click_record(link=link)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert LinkClickDaily.objects.get(link=link).clicks == 40


def test_a_click_increments_in_the_database_not_from_a_stale_copy(link):
    services.link_click_record(link=link)
    # Another process counted meanwhile; our next click must add to that, not overwrite it.
    LinkClickDaily.objects.filter(link=link).update(clicks=10)
    services.link_click_record(link=link)
    assert LinkClickDaily.objects.get(link=link).clicks == 11


# -- reads ---------------------------------------------------------------------------------------


def test_clicks_per_link_per_day_for_the_reports(brand, marketer, link):
    other = services.tracked_link_create(brand=brand, by=marketer, destination=SHOP, code="bio")
    for day, target in [(1, link), (1, link), (2, link), (2, other), (9, other)]:
        services.link_click_record(link=target, day=date(2025, 3, day))
    rows = selectors.clicks_per_link_per_day(
        brand=brand, start=date(2025, 3, 1), end=date(2025, 3, 2)
    )
    assert [(r.date.day, r.link.code, r.clicks) for r in rows] == [
        (1, "spring", 2),
        (2, "bio", 1),
        (2, "spring", 1),
    ]


def test_the_link_list_takes_one_query_however_many_links(
    brand, marketer, link, django_assert_num_queries
):
    services.link_click_record(link=link)
    with django_assert_num_queries(1):
        assert [x.total_clicks for x in selectors.tracked_links_for_brand(brand=brand)] == [1]
    for n in range(4):
        more = services.tracked_link_create(brand=brand, by=marketer, destination=SHOP)
        services.link_click_record(link=more, day=date(2025, 1, n + 1))
    with django_assert_num_queries(1):
        assert len(list(selectors.tracked_links_for_brand(brand=brand))) == 5


def test_the_link_page_shows_clicks_per_day(login, manager, link):
    services.link_click_record(link=link)
    services.link_click_record(link=link)
    page = login(manager).get(reverse("ads:link-detail", args=[link.pk]))
    assert page.status_code == 200
    assert "2 click(s) in all" in page.content.decode()


# -- who sees and changes the link pages ---------------------------------------------------------


def _state():
    return (
        list(TrackedLink.objects.values_list("code", flat=True).order_by("code")),
        list(UtmPreset.objects.values_list("name", flat=True).order_by("name")),
    )


@pytest.mark.parametrize("who", ["outsider", "other_client", "client_user"])
def test_the_link_pages_are_refused_outside_the_brands_staff(request, login, brand, link, who):
    preset = UtmPreset.objects.create(brand=brand, name="Bio", source="instagram")
    client = login(request.getfixturevalue(who))
    refused = (404,) if who == "outsider" else (403, 404)
    before = _state()
    assert client.get(reverse("ads:links", args=[brand.pk])).status_code in refused
    assert client.get(reverse("ads:link-detail", args=[link.pk])).status_code in refused
    posts = [
        (reverse("ads:link-create", args=[brand.pk]), {"destination": SHOP, "code": "stolen"}),
        (reverse("ads:preset-create", args=[brand.pk]), {"name": "Stolen", "source": "x"}),
        (reverse("ads:preset-delete", args=[preset.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code in refused, url
    assert _state() == before


def test_a_manager_reads_and_builds_links_but_cannot_save_any(login, manager, brand, link):
    preset = UtmPreset.objects.create(brand=brand, name="Bio", source="instagram")
    client = login(manager)
    page = client.get(reverse("ads:links", args=[brand.pk]))
    assert page.status_code == 200 and "Make a tracked short link" not in page.content.decode()
    before = _state()
    assert (
        client.post(reverse("ads:link-create", args=[brand.pk]), {"destination": SHOP}).status_code
        == 403
    )
    assert (
        client.post(
            reverse("ads:preset-create", args=[brand.pk]), {"name": "Mine", "source": "x"}
        ).status_code
        == 403
    )
    assert client.post(reverse("ads:preset-delete", args=[preset.pk])).status_code == 403
    assert _state() == before
