"""/api/v1/posts/: create with targets, schedule, cancel, retry, attempts; tenancy and roles."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app import publishing
from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.services import post_create
from tests.factories import SocialAccountFactory

S = TargetState
URL = "/api/v1/posts/"


@pytest.fixture
def post(brand, account, manager):
    return post_create(brand=brand, by=manager, accounts=[account], text="Our new roast")


@pytest.fixture
def other_post(other_brand, other_account, outsider):
    return post_create(brand=other_brand, by=outsider, accounts=[other_account], text="Tea time")


def create_body(brand, accounts, **extra):
    return {
        "brand": str(brand.pk),
        "text": "Base text for everyone",
        "targets": [{"account": str(a.pk)} for a in accounts],
        **extra,
    }


def test_manager_creates_a_post_with_a_variant_and_schedules_it(
    api_client, manager, brand, account
):
    second = SocialAccountFactory(brand=brand, handle="@acme_two")
    api_client.force_authenticate(manager)
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    body = create_body(brand, [account, second], scheduled_at=at.isoformat())
    body["targets"][1]["text_override"] = "Only on the second account"
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert {t["state"] for t in data["targets"]} == {"scheduled"}
    assert data["brand_time_zone"] == "Europe/Berlin"
    post = Post.objects.get(pk=data["id"])
    assert post.targets.get(account=second).text_override == "Only on the second account"
    assert post.targets.get(account=account).due_at == at


def test_create_with_another_brands_account_is_refused_and_saves_nothing(
    api_client, manager, brand, other_account
):
    api_client.force_authenticate(manager)
    response = api_client.post(URL, create_body(brand, [other_account]), format="json")
    assert response.status_code == 400
    assert "targets" in response.json()["fields"]
    assert not Post.objects.exists()


def test_create_in_the_past_is_a_clear_400_and_nothing_is_saved(
    api_client, manager, brand, account
):
    api_client.force_authenticate(manager)
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = api_client.post(URL, create_body(brand, [account], scheduled_at=past), format="json")
    assert response.status_code == 400
    assert "in the past" in str(response.json()["fields"])
    assert not Post.objects.exists()


@pytest.mark.parametrize("persona", ["marketer", "client_user"])
def test_roles_that_read_the_calendar_cannot_write_it(
    api_client, request, persona, brand, account, post
):
    if persona == "client_user":
        # A client reads only what was sent to them (test_api_client_visibility.py).
        Post.objects.filter(pk=post.pk).update(approval_state=Post.Approval.CLIENT_REVIEW)
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(f"{URL}{post.pk}/").status_code == 200
    assert api_client.post(URL, create_body(brand, [account]), format="json").status_code == 403
    at = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api_client.post(f"{URL}{post.pk}/schedule/", {"scheduled_at": at}).status_code == 403
    assert api_client.post(f"{URL}{post.pk}/cancel/").status_code == 403
    assert api_client.patch(f"{URL}{post.pk}/", {"text": "x"}).status_code == 403
    assert api_client.delete(f"{URL}{post.pk}/").status_code == 403
    assert Post.objects.filter(pk=post.pk, text="Our new roast").exists()


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_gets_404_and_an_empty_list(api_client, request, persona, post):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(f"{URL}{post.pk}/").status_code == 404
    assert api_client.get(f"{URL}{post.pk}/attempts/").status_code == 404
    assert api_client.post(f"{URL}{post.pk}/cancel/").status_code == 404
    ids = [p["id"] for p in api_client.get(URL).json()["results"]]
    assert str(post.pk) not in ids


def test_anonymous_gets_401(api_client, post):
    assert api_client.get(URL).status_code == 401


def test_cancel_and_retry_and_attempts(
    api_client, manager, post, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(manager)
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.SCHEDULED, due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        publishing.dispatch_due()
    from agency.models import SandboxScript

    SandboxScript.objects.create(account=target.account, outcomes=["reject"])
    publishing.publish_target(target_id=target.pk)

    attempts = api_client.get(f"{URL}{post.pk}/attempts/").json()
    assert attempts["count"] == 1
    assert attempts["results"][0]["result"] == "failed"
    assert "refused" in attempts["results"][0]["error_message"]

    response = api_client.post(f"{URL}{post.pk}/retry/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["targets"][0]["state"] == "scheduled"
    # Nothing left to retry: a clear 400.
    again = api_client.post(f"{URL}{post.pk}/retry/", {}, format="json")
    assert again.status_code == 400
    assert "No failed" in again.json()["detail"]

    response = api_client.post(f"{URL}{post.pk}/cancel/")
    assert response.json()["targets"][0]["state"] == "cancelled"


def test_list_filters_by_state_and_uses_constant_queries(
    api_client, manager, brand, account, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api_client.force_authenticate(manager)
    post_create(brand=brand, by=manager, accounts=[account], text="one")
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(URL).status_code == 200
    for n in range(15):
        extra = SocialAccountFactory(brand=brand)
        post_create(brand=brand, by=manager, accounts=[account, extra], text=f"more {n}")
    with CaptureQueriesContext(connection) as many:
        data = api_client.get(URL).json()
    assert data["count"] == 16
    assert len(many) == len(few)
    drafts = api_client.get(URL, {"target_state": "draft"}).json()
    assert drafts["count"] == 16
    assert api_client.get(URL, {"target_state": "published"}).json()["count"] == 0


def test_edit_while_publishing_is_refused(api_client, manager, post):
    api_client.force_authenticate(manager)
    PostTarget.objects.filter(post=post).update(state=S.PUBLISHING)
    response = api_client.patch(f"{URL}{post.pk}/", {"text": "late edit"}, format="json")
    assert response.status_code == 400
    assert "being published" in response.json()["detail"] + str(response.json()["fields"])
    post.refresh_from_db()
    assert post.text == "Our new roast"


def test_delete_a_draft_but_not_a_published_post(api_client, manager, post, brand, account):
    api_client.force_authenticate(manager)
    assert api_client.delete(f"{URL}{post.pk}/").status_code == 204
    published = post_create(brand=brand, by=manager, accounts=[account], text="live")
    PostTarget.objects.filter(post=published).update(state=S.PUBLISHED, external_id="1")
    response = api_client.delete(f"{URL}{published.pk}/")
    assert response.status_code == 400
    assert Post.objects.filter(pk=published.pk).exists()
