"""The post pages: list, create form, detail with attempts, and the retry / cancel actions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.services import post_create

S = TargetState


@pytest.fixture
def post(brand, account, manager):
    return post_create(brand=brand, by=manager, accounts=[account], text="Cold brew season")


@pytest.fixture
def failed_target(post):
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(
        state=S.FAILED, last_error="Sandbox: the platform refused this post.", needs_attention=True
    )
    return target


def create_url(brand):
    return reverse("calendar:post-create", args=[brand.pk])


def test_manager_creates_and_schedules_a_post_in_the_brands_zone(login, manager, brand, account):
    client = login(manager)
    at = (
        (timezone.now() + timedelta(days=2)).astimezone(brand.zone).replace(second=0, microsecond=0)
    )
    response = client.post(
        create_url(brand),
        {
            "text": "New beans from Ethiopia",
            "accounts": [account.pk],
            "scheduled_at": at.strftime("%Y-%m-%dT%H:%M"),
            "first_comment": "Shop link in bio",
        },
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("calendar:post-detail", args=[post.pk])
    target = post.targets.get()
    assert target.state == S.SCHEDULED
    assert target.due_at == at
    assert target.first_comment == "Shop link in bio"
    page = client.get(response.url).content.decode()
    assert "New beans from Ethiopia" in page
    assert "Europe/Berlin" in page
    assert at.strftime("%H:%M") in page


def test_form_errors_are_shown_in_words_and_nothing_is_saved(login, manager, brand, account):
    client = login(manager)
    past = (timezone.now() - timedelta(days=1)).astimezone(brand.zone)
    response = client.post(
        create_url(brand),
        {
            "text": "Too late",
            "accounts": [account.pk],
            "scheduled_at": past.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 200
    assert "That time is in the past." in response.content.decode()
    assert not Post.objects.exists()

    response = client.post(create_url(brand), {"text": "No account chosen"})
    assert "This field is required." in response.content.decode()
    assert not Post.objects.exists()


def test_account_of_another_brand_cannot_be_chosen(login, manager, brand, other_account):
    response = login(manager).post(
        create_url(brand), {"text": "Sneaky", "accounts": [other_account.pk]}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Post.objects.exists()


@pytest.mark.parametrize("persona", ["marketer"])  # clients: in the portal (reports.middleware)
def test_readers_of_the_calendar_cannot_write_it(login, request, persona, brand, post, account):
    client = login(request.getfixturevalue(persona))
    assert client.get(reverse("calendar:post-detail", args=[post.pk])).status_code == 200
    assert client.get(create_url(brand)).status_code == 403
    assert (
        client.post(create_url(brand), {"text": "x", "accounts": [account.pk]}).status_code == 403
    )
    assert client.post(reverse("calendar:post-cancel", args=[post.pk])).status_code == 403
    target = post.targets.get()
    assert client.post(reverse("calendar:target-retry", args=[target.pk])).status_code == 403
    assert Post.objects.count() == 1
    assert post.targets.get().state == S.DRAFT


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_gets_404_everywhere(login, request, persona, brand, post):
    client = login(request.getfixturevalue(persona))
    target = post.targets.get()
    assert client.get(reverse("calendar:post-detail", args=[post.pk])).status_code == 404
    assert client.get(create_url(brand)).status_code == 404
    assert client.post(reverse("calendar:post-cancel", args=[post.pk])).status_code == 404
    assert client.post(reverse("calendar:target-retry", args=[target.pk])).status_code == 404
    mark = reverse("calendar:target-mark-published", args=[target.pk])
    assert client.post(mark).status_code == 404
    assert "Cold brew season" not in client.get(reverse("calendar:post-list")).content.decode()


def test_anonymous_is_sent_to_login(client, post):
    response = client.get(reverse("calendar:post-detail", args=[post.pk]))
    assert response.status_code == 302
    assert reverse("login") in response.url


def test_failed_target_shows_why_and_can_be_retried(login, manager, post, failed_target):
    client = login(manager)
    page = client.get(reverse("calendar:post-detail", args=[post.pk])).content.decode()
    assert "the platform refused this post" in page
    assert "Retry" in page
    response = client.post(reverse("calendar:target-retry", args=[failed_target.pk]), follow=True)
    assert "will be tried again" in response.content.decode()
    failed_target.refresh_from_db()
    assert failed_target.state == S.SCHEDULED


def test_unconfirmed_target_can_be_marked_published_by_a_person(login, manager, post):
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.UNCONFIRMED, needs_attention=True)
    client = login(manager)
    client.post(
        reverse("calendar:target-mark-published", args=[target.pk]),
        {"url": "https://example.com/p/1"},
    )
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert target.external_url == "https://example.com/p/1"


def test_mark_published_on_a_draft_is_refused_in_words(login, manager, post):
    target = post.targets.get()
    response = login(manager).post(
        reverse("calendar:target-mark-published", args=[target.pk]), follow=True
    )
    assert "Only an unconfirmed target" in response.content.decode()
    target.refresh_from_db()
    assert target.state == S.DRAFT


def test_post_list_query_count_does_not_grow_with_posts(
    login, manager, brand, account, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(manager)
    post_create(brand=brand, by=manager, accounts=[account], text="first")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("calendar:post-list"))
    for n in range(12):
        post_create(brand=brand, by=manager, accounts=[account], text=f"more {n}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("calendar:post-list"))
    assert len(many) == len(few)


def test_the_post_list_shows_the_latest_planned_posts_first_with_their_counts(
    manager, brand, account
):
    from calendar_app.selectors import posts_for_user

    now = timezone.now()
    planned = [
        post_create(
            brand=brand,
            by=manager,
            accounts=[account],
            text=f"day {n}",
            scheduled_at=now + timedelta(days=n),
        )
        for n in (3, 1, 5, 2, 4)
    ]
    draft = post_create(brand=brand, by=manager, accounts=[account], text="unplanned")
    PostTarget.objects.filter(post=planned[2]).update(state=S.PUBLISHED, external_id="x1")
    rows = list(posts_for_user(user=manager, brand=brand, limit=4))
    # Unplanned drafts first (as Post.Meta.ordering), then the latest planned; only `limit`.
    assert [p.text for p in rows] == ["unplanned", "day 5", "day 4", "day 3"]
    assert rows[0].pk == draft.pk
    assert [(p.target_count, p.published_count) for p in rows] == [(1, 0), (1, 1), (1, 0), (1, 0)]


def test_the_post_list_links_each_post_and_shows_its_time_in_its_brands_zone(
    login, manager, brand, account
):
    brand.time_zone = "America/New_York"
    brand.save(update_fields=["time_zone"])
    at = timezone.now() + timedelta(days=3)
    scheduled = post_create(
        brand=brand, by=manager, accounts=[account], text="Iced latte", scheduled_at=at
    )
    draft = post_create(brand=brand, by=manager, accounts=[account], text="Someday")
    PostTarget.objects.filter(post=scheduled).update(state=S.FAILED)

    page = login(manager).get(reverse("calendar:post-list")).content.decode()

    local = timezone.localtime(at, brand.zone)
    when = date_filter(local, "D j M Y, H:i")
    detail = reverse("calendar:post-detail", args=[scheduled.pk])
    assert f'<a href="{detail}">Iced latte</a></th>' in page
    assert f"<td>{brand.name}</td>\n        <td>{when}</td>" in page
    assert '<span class="warn">1</span>' in page
    assert f'<a href="{reverse("calendar:post-detail", args=[draft.pk])}">Someday</a>' in page
    assert '<span class="muted">draft</span>' in page


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_the_post_lists_times_read_as_the_date_filter_prints_them(zone):
    """The list formats its 200 times without the date filter (calendar_app/views/posts.py);
    every day of a year, at times around midnight and noon, must read the same."""
    import zoneinfo

    from calendar_app.views.posts import _ScheduledWords

    words = _ScheduledWords()
    start = datetime(2027, 1, 1, tzinfo=UTC)
    for day in range(366):
        for minutes in (0, 7, 59, 12 * 60 + 30, 23 * 60 + 59):
            local = timezone.localtime(
                start + timedelta(days=day, minutes=minutes), zoneinfo.ZoneInfo(zone)
            )
            assert words(local) == date_filter(local, "D j M Y, H:i")
