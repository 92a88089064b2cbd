"""/api/v1/posts/{id}/ approval actions, queueing and the decision history: each calls the
approval service, roles and tenancy hold, and refusals are 400s in words."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agency.models import Brand
from calendar_app.models import ApprovalDecision, Post, QueueSlot, TargetState
from calendar_app.services import post_create

A = Post.Approval
URL = "/api/v1/posts/"


def use_workflow(brand, workflow):
    brand.approval_workflow = workflow
    brand.save(update_fields=["approval_workflow"])


@pytest.fixture
def post(brand, account, manager):
    return post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="Autumn blend is back",
        scheduled_at=timezone.now() + timedelta(days=2),
    )


def set_state(post, state):
    Post.objects.filter(pk=post.pk).update(approval_state=state)


def test_manager_submits_approves_and_the_post_is_scheduled(api_client, manager, admin, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL)
    set_state(post, A.DRAFT)
    api_client.force_authenticate(manager)
    response = api_client.post(f"{URL}{post.pk}/submit-for-approval/")
    assert response.status_code == 200, response.json()
    assert response.json()["approval_state"] == "in_review"

    api_client.force_authenticate(admin)
    response = api_client.post(f"{URL}{post.pk}/approve/", {"comment": "Lovely"}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["approval_state"] == "approved"
    assert data["targets"][0]["state"] == "scheduled"
    kinds = list(ApprovalDecision.objects.filter(post=post).values_list("kind", "comment"))
    assert ("approved", "Lovely") in kinds
    assert ("submitted", "") in kinds


def test_request_changes_needs_a_comment_and_then_sends_it_back(api_client, manager, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL)
    set_state(post, A.IN_REVIEW)
    api_client.force_authenticate(manager)
    empty = api_client.post(f"{URL}{post.pk}/request-changes/", {"comment": " "}, format="json")
    assert empty.status_code == 400
    assert "comment" in empty.json()["fields"]
    missing = api_client.post(f"{URL}{post.pk}/request-changes/", {}, format="json")
    assert missing.status_code == 400
    assert "comment" in missing.json()["fields"]
    post.refresh_from_db()
    assert post.approval_state == A.IN_REVIEW

    response = api_client.post(
        f"{URL}{post.pk}/request-changes/", {"comment": "Shorter please"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["approval_state"] == "changes_requested"
    history = api_client.get(f"{URL}{post.pk}/decisions/").json()
    assert history["count"] == 1
    assert history["results"][0] == {
        **history["results"][0],
        "kind": "changes_requested",
        "comment": "Shorter please",
        "by": manager.username,
    }


def test_approving_a_post_not_in_review_is_a_400_in_words(api_client, manager, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL)
    set_state(post, A.DRAFT)
    api_client.force_authenticate(manager)
    response = api_client.post(f"{URL}{post.pk}/approve/", {}, format="json")
    assert response.status_code == 400
    assert "only a post that is" in response.json()["detail"]
    post.refresh_from_db()
    assert post.approval_state == A.DRAFT


def test_submitting_without_a_workflow_is_refused(api_client, manager, post):
    set_state(post, A.DRAFT)
    api_client.force_authenticate(manager)
    response = api_client.post(f"{URL}{post.pk}/submit-for-approval/")
    assert response.status_code == 400
    assert "no approval workflow" in response.json()["detail"]


def test_the_client_approves_a_post_sent_to_them(api_client, client_user, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL_CLIENT)
    set_state(post, A.CLIENT_REVIEW)
    api_client.force_authenticate(client_user)
    response = api_client.post(f"{URL}{post.pk}/client-approve/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["approval_state"] == "client_approved"
    assert response.json()["targets"][0]["state"] == "scheduled"
    # The history is what the client may read.
    history = api_client.get(f"{URL}{post.pk}/decisions/").json()
    assert history["results"][0]["kind"] == "client_approved"


def test_the_client_requests_changes_with_a_comment(api_client, client_user, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL_CLIENT)
    set_state(post, A.CLIENT_REVIEW)
    api_client.force_authenticate(client_user)
    url = f"{URL}{post.pk}/client-request-changes/"
    assert api_client.post(url, {"comment": ""}, format="json").status_code == 400
    response = api_client.post(url, {"comment": "Use the other photo"}, format="json")
    assert response.status_code == 200
    post.refresh_from_db()
    assert post.approval_state == A.CHANGES_REQUESTED


# The marketer reads the post and may not decide (403); the client does not even see a post in
# the agency's internal review or a draft (404, as in the portal).
@pytest.mark.parametrize(("persona", "code"), [("marketer", 403), ("client_user", 404)])
def test_staff_approval_refused_to_readers(api_client, request, persona, code, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL)
    set_state(post, A.IN_REVIEW)
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.post(f"{URL}{post.pk}/approve/", {}, format="json").status_code == code
    changes = {"comment": "no"}
    assert api_client.post(f"{URL}{post.pk}/request-changes/", changes).status_code == code
    set_state(post, A.DRAFT)
    assert api_client.post(f"{URL}{post.pk}/submit-for-approval/").status_code == code
    assert api_client.post(f"{URL}{post.pk}/queue/").status_code == code
    post.refresh_from_db()
    assert post.approval_state == A.DRAFT


@pytest.mark.parametrize("persona", ["manager", "marketer"])
def test_staff_cannot_decide_for_the_client(api_client, request, persona, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL_CLIENT)
    set_state(post, A.CLIENT_REVIEW)
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.post(f"{URL}{post.pk}/client-approve/", {}).status_code == 403
    post.refresh_from_db()
    assert post.approval_state == A.CLIENT_REVIEW


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_gets_404_on_every_approval_action(api_client, request, persona, post):
    use_workflow(post.brand, Brand.ApprovalWorkflow.INTERNAL_CLIENT)
    set_state(post, A.CLIENT_REVIEW)
    api_client.force_authenticate(request.getfixturevalue(persona))
    for action in (
        "submit-for-approval",
        "approve",
        "request-changes",
        "client-approve",
        "client-request-changes",
        "queue",
    ):
        response = api_client.post(f"{URL}{post.pk}/{action}/", {"comment": "x"}, format="json")
        assert response.status_code == 404, action
    assert api_client.get(f"{URL}{post.pk}/decisions/").status_code == 404
    post.refresh_from_db()
    assert post.approval_state == A.CLIENT_REVIEW


def test_queue_gives_each_target_the_next_free_slot(api_client, manager, brand, account):
    post = post_create(brand=brand, by=manager, accounts=[account], text="Queued roast")
    QueueSlot.objects.create(account=account, weekday=0, time="09:00")
    api_client.force_authenticate(manager)
    response = api_client.post(f"{URL}{post.pk}/queue/")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["targets"][0]["state"] == TargetState.SCHEDULED
    post.refresh_from_db()
    local = post.scheduled_at.astimezone(brand.zone)
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert post.scheduled_at > timezone.now()


def test_queue_without_slots_is_a_400_in_words(api_client, manager, brand, account):
    post = post_create(brand=brand, by=manager, accounts=[account], text="No slots")
    api_client.force_authenticate(manager)
    response = api_client.post(f"{URL}{post.pk}/queue/")
    assert response.status_code == 400
    assert "no queue slots" in response.json()["detail"]
    post.refresh_from_db()
    assert post.scheduled_at is None
