"""The composer: one post for many accounts, its live check, and its actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Brand, Platform
from calendar_app import services
from calendar_app.models import Media, Post, PostTarget, TargetState
from tests.factories import PostTargetFactory, SocialAccountFactory

S = TargetState
LONG_URL = "https://example.com/" + "a" * 120


@pytest.fixture
def x_account(brand):
    return SocialAccountFactory(brand=brand, platform=Platform.X, handle="@acme_x")


@pytest.fixture
def media(brand):
    return Media.objects.create(
        brand=brand,
        file="library/beans.png",
        name="beans.png",
        kind=Media.Kind.IMAGE,
        mime_type="image/png",
        size=1000,
        width=1000,
        height=1000,
        checksum="a" * 64,
    )


@pytest.fixture
def other_media(other_brand):
    return Media.objects.create(
        brand=other_brand,
        file="library/tea.png",
        name="tea.png",
        kind=Media.Kind.IMAGE,
        mime_type="image/png",
        size=1000,
        checksum="b" * 64,
    )


def compose_url(brand):
    return reverse("calendar:compose", args=[brand.pk])


def check_url(brand):
    return reverse("calendar:compose-check", args=[brand.pk])


def in_two_days(brand):
    return (
        (timezone.now() + timedelta(days=2)).astimezone(brand.zone).replace(second=0, microsecond=0)
    )


# -- happy paths ---------------------------------------------------------------------------------


def test_manager_saves_a_draft_with_media_and_a_first_comment(
    login, manager, brand, account, media
):
    response = login(manager).post(
        compose_url(brand),
        {
            "action": "draft",
            "text": "Cold brew is back",
            "title": "Cold brew launch",
            "tags": "launch, summer",
            "media": [media.pk],
            "accounts": [account.pk],
            f"v_{account.pk}_first_comment": "Shop link in bio",
        },
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("calendar:post-detail", args=[post.pk])
    assert post.text == "Cold brew is back"
    assert post.tags == ["launch", "summer"]
    assert list(post.media.all()) == [media]
    target = post.targets.get()
    assert target.state == S.DRAFT
    assert target.first_comment == "Shop link in bio"
    assert AuditEvent.objects.filter(action="post.created", target_id=str(post.pk)).exists()


def test_schedule_with_a_variant_per_account_lands_at_the_brands_wall_clock_time(
    login, manager, brand, account, x_account, media
):
    at = in_two_days(brand)
    response = login(manager).post(
        compose_url(brand),
        {
            "action": "schedule",
            "text": "Our new single origin is here",
            "accounts": [account.pk, x_account.pk],
            "scheduled_at": at.strftime("%Y-%m-%dT%H:%M"),
            f"v_{account.pk}_text": "Sandbox gets a longer story about the single origin",
            f"v_{account.pk}_media": [media.pk],
            f"v_{x_account.pk}_text": "Single origin, short and sweet",
            f"v_{x_account.pk}_first_comment": "More at acme.example",
        },
    )
    assert response.status_code == 302
    post = Post.objects.get()
    sandbox = post.targets.get(account=account)
    x = post.targets.get(account=x_account)
    assert sandbox.text_override.startswith("Sandbox gets")
    assert list(sandbox.media_override.all()) == [media]
    assert x.text_override == "Single origin, short and sweet"
    assert x.first_comment == "More at acme.example"
    for target in (sandbox, x):
        assert target.state == S.SCHEDULED
        assert target.due_at == at
    # Berlin wall-clock time, stored in UTC.
    assert post.scheduled_at.astimezone(brand.zone).strftime("%H:%M") == at.strftime("%H:%M")


def test_schedule_with_an_approval_workflow_keeps_the_time_and_says_it_waits(
    login, manager, brand, account
):
    Brand.objects.filter(pk=brand.pk).update(approval_workflow=Brand.ApprovalWorkflow.INTERNAL)
    at = in_two_days(brand)
    client = login(manager)
    response = client.post(
        compose_url(brand),
        {
            "action": "schedule",
            "text": "Needs a look first",
            "accounts": [account.pk],
            "scheduled_at": at.strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )
    post = Post.objects.get()
    assert post.scheduled_at == at
    assert post.targets.get().state == S.DRAFT
    assert "needs approval first" in response.content.decode()
    assert "Europe/Berlin" in response.content.decode()


def test_a_draft_with_problems_is_saved_and_the_problems_are_shown(
    login, manager, brand, x_account
):
    response = login(manager).post(
        compose_url(brand),
        {"action": "draft", "text": "z" * 300, "accounts": [x_account.pk]},
        follow=True,
    )
    assert Post.objects.get().text == "z" * 300
    assert "X: the text is 300 characters long; the limit is 280." in response.content.decode()


def test_schedule_without_a_time_is_refused_in_words(login, manager, brand, account):
    response = login(manager).post(
        compose_url(brand),
        {"action": "schedule", "text": "When?", "accounts": [account.pk]},
    )
    assert response.status_code == 200
    assert "Give the time to publish at (Europe/Berlin)." in response.content.decode()
    assert not Post.objects.exists()


def test_add_to_queue_calls_the_queue_service(login, manager, brand, account, monkeypatch):
    calls = []
    monkeypatch.setattr(
        services,
        "post_add_to_queue",
        lambda *, post, by: calls.append((post.pk, by)),
        raising=False,
    )
    response = login(manager).post(
        compose_url(brand), {"action": "queue", "text": "Queue me", "accounts": [account.pk]}
    )
    post = Post.objects.get()
    assert response.status_code == 302
    assert calls == [(post.pk, manager)]


def test_add_to_queue_gives_the_next_free_slot(login, manager, brand, account):
    """Needs calendar_app.services.slots.post_add_to_queue (another engineer's work)."""
    from calendar_app.models import QueueSlot

    QueueSlot.objects.create(account=account, weekday=0, time="09:00")
    response = login(manager).post(
        compose_url(brand), {"action": "queue", "text": "Queue me", "accounts": [account.pk]}
    )
    assert response.status_code == 302
    target = Post.objects.get().targets.get()
    assert target.due_at is not None
    assert target.due_at.astimezone(brand.zone).strftime("%a %H:%M") == "Mon 09:00"


def test_submit_for_approval_calls_the_approval_service(
    login, manager, brand, account, monkeypatch
):
    Brand.objects.filter(pk=brand.pk).update(approval_workflow=Brand.ApprovalWorkflow.INTERNAL)
    calls = []
    monkeypatch.setattr(
        services,
        "post_submit_for_approval",
        lambda *, post, by: calls.append(post.pk),
        raising=False,
    )
    response = login(manager).post(
        compose_url(brand), {"action": "submit", "text": "Please check", "accounts": [account.pk]}
    )
    assert response.status_code == 302
    assert calls == [Post.objects.get().pk]


def test_submit_for_approval_puts_the_post_in_review(login, manager, brand, account):
    """Needs calendar_app.services.approvals.post_submit_for_approval (another engineer's)."""
    Brand.objects.filter(pk=brand.pk).update(approval_workflow=Brand.ApprovalWorkflow.INTERNAL)
    login(manager).post(
        compose_url(brand), {"action": "submit", "text": "Please check", "accounts": [account.pk]}
    )
    assert Post.objects.get().approval_state == Post.Approval.IN_REVIEW


def test_edit_changes_text_and_adds_an_account_with_its_variant(
    login, manager, brand, account, x_account
):
    post = services.post_create(brand=brand, by=manager, accounts=[account], text="Old text")
    response = login(manager).post(
        reverse("calendar:post-edit", args=[post.pk]),
        {
            "action": "draft",
            "text": "New text",
            "accounts": [account.pk, x_account.pk],
            f"v_{x_account.pk}_text": "New text for X",
        },
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.text == "New text"
    assert post.targets.get(account=x_account).text_override == "New text for X"
    assert post.targets.get(account=account).text_override == ""


def test_edit_removes_an_account_that_was_never_tried(login, manager, brand, account, x_account):
    post = services.post_create(
        brand=brand, by=manager, accounts=[account, x_account], text="Two accounts"
    )
    response = login(manager).post(
        reverse("calendar:post-edit", args=[post.pk]),
        {"action": "draft", "text": "Two accounts", "accounts": [x_account.pk]},
    )
    assert response.status_code == 302
    assert [t.account for t in post.targets.all()] == [x_account]


def test_edit_page_shows_the_post_and_its_variant(login, manager, brand, account):
    post = services.post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="Base text",
        variants={account.pk: {"text": "Variant text"}},
    )
    page = login(manager).get(reverse("calendar:post-edit", args=[post.pk])).content.decode()
    assert "Base text" in page
    assert "Variant text" in page
    assert "js/composer.js" in page
    assert "<script>" not in page


@pytest.mark.parametrize("state", [S.QUEUED, S.PUBLISHING, S.PUBLISHED])
def test_a_post_on_its_way_out_cannot_be_edited(login, manager, brand, state):
    target = PostTargetFactory(post__brand=brand, post__text="Going out")
    PostTarget.objects.filter(pk=target.pk).update(
        state=state, due_at=timezone.now(), external_id="x1"
    )
    client = login(manager)
    url = reverse("calendar:post-edit", args=[target.post.pk])
    assert client.get(url).status_code == 302
    client.post(url, {"action": "draft", "text": "Changed", "accounts": [target.account.pk]})
    target.post.refresh_from_db()
    assert target.post.text == "Going out"


# -- validation: nothing saved -------------------------------------------------------------------


def test_one_account_too_long_blocks_schedule_and_saves_nothing(
    login, manager, brand, account, x_account
):
    at = in_two_days(brand)
    response = login(manager).post(
        compose_url(brand),
        {
            "action": "schedule",
            "text": "x" * 300,
            "accounts": [account.pk, x_account.pk],
            "scheduled_at": at.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "X: the text is 300 characters long; the limit is 280." in page
    assert "Nothing was saved" in page
    assert not Post.objects.exists()
    assert not PostTarget.objects.exists()


def test_another_brands_account_cannot_be_attached(login, manager, brand, account, other_account):
    response = login(manager).post(
        compose_url(brand),
        {"action": "draft", "text": "Hi", "accounts": [account.pk, other_account.pk]},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Post.objects.exists()


def test_another_brands_media_cannot_be_attached(login, manager, brand, account, other_media):
    client = login(manager)
    for field in ("media", f"v_{account.pk}_media"):
        response = client.post(
            compose_url(brand),
            {"action": "draft", "text": "Hi", "accounts": [account.pk], field: [other_media.pk]},
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not Post.objects.exists()


def test_service_refuses_foreign_media_in_a_variant(brand, manager, account, other_media):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.post_compose(
            brand=brand,
            by=manager,
            accounts=[account],
            text="Hi",
            variants={account.pk: {"media": [other_media]}},
        )
    assert not Post.objects.exists()


# -- the live check ------------------------------------------------------------------------------


def test_check_counts_300_characters_as_a_problem_on_x(login, manager, brand, x_account):
    response = login(manager).post(
        check_url(brand), {"text": "y" * 300, "accounts": [x_account.pk]}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "300 / 280" in page
    assert "X: the text is 300 characters long; the limit is 280." in page
    assert not Post.objects.exists()


def test_check_counts_a_long_url_as_23_on_x_and_in_full_elsewhere(
    login, manager, brand, account, x_account
):
    response = login(manager).post(
        check_url(brand), {"text": f"Read {LONG_URL}", "accounts": [account.pk, x_account.pk]}
    )
    page = response.content.decode()
    assert "28 / 280" in page  # "Read " + 23
    assert f"{5 + len(LONG_URL)} / 5000" in page


def test_check_previews_the_link_with_utm_and_the_first_comment(
    login, manager, brand, x_account, media
):
    Brand.objects.filter(pk=brand.pk).update(utm_template="utm_source={platform}&utm_medium=social")
    response = login(manager).post(
        check_url(brand),
        {
            "text": "New beans https://acme.example/beans",
            "link": "https://acme.example/beans",
            "media": [media.pk],
            "accounts": [x_account.pk],
            f"v_{x_account.pk}_first_comment": "Ask us anything",
        },
    )
    page = response.content.decode()
    assert "https://acme.example/beans?utm_source=x&amp;utm_medium=social" in page
    assert "First comment: Ask us anything" in page
    assert media.file.url in page


def test_check_says_what_to_do_without_accounts(login, manager, brand):
    response = login(manager).post(check_url(brand), {"text": "Hello"})
    assert "Choose an account" in response.content.decode()


# -- tenancy and roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_strangers_get_404_everywhere(login, personas, brand, account, persona):
    post = services.post_create(brand=brand, by=None, accounts=[account], text="Secret plan")
    client = login(personas[persona])
    assert client.get(compose_url(brand)).status_code == 404
    assert (
        client.post(compose_url(brand), {"text": "x", "accounts": [account.pk]}).status_code == 404
    )
    assert client.post(check_url(brand), {"text": "x"}).status_code == 404
    edit = reverse("calendar:post-edit", args=[post.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"text": "Hacked", "accounts": [account.pk]}).status_code == 404
    post.refresh_from_db()
    assert post.text == "Secret plan"
    assert Post.objects.count() == 1


@pytest.mark.parametrize("persona", ["client_user", "marketer"])
def test_read_only_roles_get_403_and_change_nothing(login, personas, brand, account, persona):
    post = services.post_create(brand=brand, by=None, accounts=[account], text="Plan")
    client = login(personas[persona])
    assert client.get(compose_url(brand)).status_code == 403
    response = client.post(
        compose_url(brand), {"action": "draft", "text": "x", "accounts": [account.pk]}
    )
    assert response.status_code == 403
    assert client.post(check_url(brand), {"text": "x"}).status_code == 403
    edit = reverse("calendar:post-edit", args=[post.pk])
    assert client.post(edit, {"text": "Changed", "accounts": [account.pk]}).status_code == 403
    post.refresh_from_db()
    assert post.text == "Plan"
    assert Post.objects.count() == 1


def test_admin_may_compose(login, admin, brand, account):
    response = login(admin).get(compose_url(brand))
    assert response.status_code == 200
    assert "Europe/Berlin" in response.content.decode()
