"""A brand's client reads through the API what the portal shows them: posts sent to them,
approved or published, never a draft or a post in the agency's internal review, and never the
post's internal title. Staff of the same brand see everything."""

from datetime import UTC, datetime

import pytest

from calendar_app.models import Post
from calendar_app.services import post_create

AT = datetime(2031, 3, 4, 8, 0, tzinfo=UTC)
RANGE = {"start": "2031-03-01T00:00:00Z", "end": "2031-04-01T00:00:00Z"}


@pytest.fixture
def posts(brand, manager, account):
    made = {}
    for state in (Post.Approval.DRAFT, Post.Approval.IN_REVIEW, Post.Approval.CLIENT_REVIEW):
        post = post_create(
            brand=brand,
            by=manager,
            accounts=[account],
            title=f"internal {state}",
            text=f"text {state}",
            scheduled_at=AT,
        )
        # The approval services are tested elsewhere; here only the resulting state matters.
        Post.objects.filter(pk=post.pk).update(approval_state=state)
        made[state] = post
    return made


def ids(response):
    assert response.status_code == 200, response.json()
    return {row["post"] if "post" in row else row["id"] for row in response.json()["results"]}


def test_client_lists_only_posts_sent_to_them_without_internal_titles(
    api_client, client_user, posts
):
    api_client.force_authenticate(client_user)
    sent = posts[Post.Approval.CLIENT_REVIEW]
    response = api_client.get("/api/v1/posts/")
    assert ids(response) == {str(sent.pk)}
    assert response.json()["results"][0]["title"] == ""
    assert ids(api_client.get("/api/v1/post-targets/")) == {str(sent.pk)}
    events = api_client.get("/api/v1/calendar/", RANGE)
    assert ids(events) == {str(sent.pk)}
    assert events.json()["results"][0]["title"] == ""


@pytest.mark.parametrize("state", [Post.Approval.DRAFT, Post.Approval.IN_REVIEW])
def test_client_gets_404_on_a_draft_or_internal_review(api_client, client_user, posts, state):
    api_client.force_authenticate(client_user)
    post = posts[state]
    assert api_client.get(f"/api/v1/posts/{post.pk}/").status_code == 404
    target = post.targets.get()
    assert api_client.get(f"/api/v1/post-targets/{target.pk}/").status_code == 404


def test_a_published_post_is_visible_to_the_client_whatever_its_approval(
    api_client, client_user, posts
):
    draft = posts[Post.Approval.DRAFT]
    draft.targets.update(state="published", external_id="1", published_at=AT)
    api_client.force_authenticate(client_user)
    assert str(draft.pk) in ids(api_client.get("/api/v1/posts/"))


def test_staff_of_the_brand_see_every_post_with_its_title(api_client, manager, posts):
    api_client.force_authenticate(manager)
    response = api_client.get("/api/v1/posts/")
    assert ids(response) == {str(p.pk) for p in posts.values()}
    assert {row["title"] for row in response.json()["results"]} == {
        f"internal {state}" for state in posts
    }
    assert len(ids(api_client.get("/api/v1/calendar/", RANGE))) == 3
