"""/api/v1/post-targets/ (each post on each account) and the per-target actions of a post:
reschedule (the calendar's drag and drop) and mark-published."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.models import Post, PostTarget, TargetState
from calendar_app.services import post_create
from tests.factories import SocialAccountFactory

S = TargetState
URL = "/api/v1/post-targets/"


@pytest.fixture
def post(brand, account, manager):
    return post_create(brand=brand, by=manager, accounts=[account], text="Our new roast")


@pytest.fixture
def other_post(other_brand, other_account, outsider):
    return post_create(brand=other_brand, by=outsider, accounts=[other_account], text="Tea time")


def test_list_per_post_with_state_and_external_url(api_client, manager, post, other_post, brand):
    second = post_create(
        brand=brand, by=manager, accounts=[SocialAccountFactory(brand=brand)], text="Another"
    )
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(
        state=S.PUBLISHED, external_id="99", external_url="https://social.example/p/99"
    )
    api_client.force_authenticate(manager)
    data = api_client.get(URL, {"post": str(post.pk)}).json()
    assert data["count"] == 1
    row = data["results"][0]
    assert row["id"] == str(target.pk)
    assert row["post"] == str(post.pk)
    assert row["state"] == "published"
    assert row["external_url"] == "https://social.example/p/99"
    assert row["brand_time_zone"] == "Europe/Berlin"
    everything = {r["post"] for r in api_client.get(URL).json()["results"]}
    assert everything == {str(post.pk), str(second.pk)}
    assert api_client.get(URL, {"state": "published"}).json()["count"] == 1
    detail = api_client.get(f"{URL}{target.pk}/").json()
    assert detail["effective_text"] == "Our new roast"


def test_a_bad_filter_value_is_a_400_with_the_field(api_client, manager, post):
    api_client.force_authenticate(manager)
    response = api_client.get(URL, {"state": "exploded"})
    assert response.status_code == 400
    assert "state" in response.json()["fields"]


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_sees_no_targets(api_client, request, persona, post):
    api_client.force_authenticate(request.getfixturevalue(persona))
    target = post.targets.get()
    assert api_client.get(f"{URL}{target.pk}/").status_code == 404
    ids = [row["id"] for row in api_client.get(URL).json()["results"]]
    assert str(target.pk) not in ids
    at = (timezone.now() + timedelta(days=1)).isoformat()
    base = f"/api/v1/posts/{post.pk}/targets/{target.pk}"
    assert api_client.post(f"{base}/reschedule/", {"at": at}).status_code == 404
    assert api_client.post(f"{base}/mark-published/", {}).status_code == 404


def test_targets_are_read_only(api_client, manager, post):
    api_client.force_authenticate(manager)
    target = post.targets.get()
    assert api_client.patch(f"{URL}{target.pk}/", {"text_override": "x"}).status_code == 405
    assert api_client.delete(f"{URL}{target.pk}/").status_code == 405


def test_client_reads_targets_of_their_brand(api_client, client_user, post):
    # Of a post sent to them: drafts stay with the agency (test_api_client_visibility.py).
    Post.objects.filter(pk=post.pk).update(approval_state=Post.Approval.CLIENT_REVIEW)
    api_client.force_authenticate(client_user)
    target = post.targets.get()
    assert api_client.get(f"{URL}{target.pk}/").status_code == 200


def test_reschedule_a_scheduled_target(api_client, manager, brand, account):
    at = timezone.now() + timedelta(days=1)
    post = post_create(brand=brand, by=manager, accounts=[account], text="Move me", scheduled_at=at)
    target = post.targets.get()
    assert target.state == S.SCHEDULED
    api_client.force_authenticate(manager)
    new = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = api_client.post(
        f"/api/v1/posts/{post.pk}/targets/{target.pk}/reschedule/",
        {"at": new.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    target.refresh_from_db()
    assert target.due_at == new
    assert response.json()["due_at"].startswith(new.strftime("%Y-%m-%dT%H:%M"))


def test_reschedule_into_the_past_is_a_400_and_nothing_moves(api_client, manager, brand, account):
    at = timezone.now() + timedelta(days=1)
    post = post_create(brand=brand, by=manager, accounts=[account], text="Move me", scheduled_at=at)
    target = post.targets.get()
    api_client.force_authenticate(manager)
    url = f"/api/v1/posts/{post.pk}/targets/{target.pk}/reschedule/"
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api_client.post(url, {"at": past}, format="json")
    assert response.status_code == 400
    assert "in the past" in response.json()["detail"]
    missing = api_client.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "at" in missing.json()["fields"]
    target.refresh_from_db()
    assert target.due_at == at


def test_a_target_of_another_post_is_a_404_under_this_post(api_client, manager, post, brand):
    foreign = post_create(
        brand=brand, by=manager, accounts=[SocialAccountFactory(brand=brand)], text="x"
    )
    api_client.force_authenticate(manager)
    url = f"/api/v1/posts/{post.pk}/targets/{foreign.targets.get().pk}/mark-published/"
    assert api_client.post(url, {}).status_code == 404
    not_an_id = api_client.post(f"/api/v1/posts/{post.pk}/targets/nope/mark-published/", {})
    assert not_an_id.status_code == 404
    assert not_an_id.json()["type"] == "not_found"


def test_mark_an_unconfirmed_target_published(api_client, manager, post):
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.UNCONFIRMED, needs_attention=True)
    api_client.force_authenticate(manager)
    url = f"/api/v1/posts/{post.pk}/targets/{target.pk}/mark-published/"
    bad = api_client.post(url, {"url": "not a url"}, format="json")
    assert bad.status_code == 400
    assert "url" in bad.json()["fields"]
    response = api_client.post(url, {"url": "https://social.example/p/1"}, format="json")
    assert response.status_code == 200, response.json()
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert target.external_url == "https://social.example/p/1"
    again = api_client.post(url, {}, format="json")
    assert again.status_code == 400


@pytest.mark.parametrize("persona", ["marketer", "client_user"])
def test_read_only_roles_cannot_move_or_settle_targets(
    api_client, request, persona, brand, account
):
    manager = request.getfixturevalue("manager")
    at = timezone.now() + timedelta(days=1)
    post = post_create(brand=brand, by=manager, accounts=[account], text="Stay", scheduled_at=at)
    target = post.targets.get()
    api_client.force_authenticate(request.getfixturevalue(persona))
    base = f"/api/v1/posts/{post.pk}/targets/{target.pk}"
    new = (timezone.now() + timedelta(days=2)).isoformat()
    assert api_client.post(f"{base}/reschedule/", {"at": new}).status_code == 403
    assert api_client.post(f"{base}/mark-published/", {}).status_code == 403
    target.refresh_from_db()
    assert target.due_at == at
