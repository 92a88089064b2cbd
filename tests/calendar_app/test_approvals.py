"""The approval workflow: every transition, its refusals, who is told, and the staff pages."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, Brand, Notification
from calendar_app.models import ApprovalDecision, Post, PostTarget, TargetState
from calendar_app.services import (
    post_approve,
    post_client_approve,
    post_create,
    post_request_changes,
    post_submit_for_approval,
)

A = Post.Approval
K = ApprovalDecision.Kind
S = TargetState


def use_workflow(brand, workflow):
    brand.approval_workflow = workflow
    brand.save(update_fields=["approval_workflow"])


@pytest.fixture
def internal(brand):
    use_workflow(brand, Brand.ApprovalWorkflow.INTERNAL)
    return brand


@pytest.fixture
def with_client(brand):
    use_workflow(brand, Brand.ApprovalWorkflow.INTERNAL_CLIENT)
    return brand


def make_post(brand, account, manager, *, at=None, state=None):
    post = post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="Autumn blend is back",
        scheduled_at=at if at is not None else timezone.now() + timedelta(days=2),
    )
    if state is not None:
        Post.objects.filter(pk=post.pk).update(approval_state=state)
        post.refresh_from_db()
    return post


def states(post):
    post.refresh_from_db()
    return post.approval_state, list(post.targets.values_list("state", flat=True))


# -- transitions ---------------------------------------------------------------------------------


def test_submitting_puts_the_post_in_review_and_tells_the_reviewers(
    internal, account, manager, admin, mailoutbox
):
    post = make_post(internal, account, manager)

    post_submit_for_approval(post=post, by=manager)

    assert states(post) == (A.IN_REVIEW, [S.DRAFT])
    assert post.decisions.get().kind == K.SUBMITTED
    assert AuditEvent.objects.filter(action="post.submitted_for_approval").count() == 1
    assert Notification.objects.filter(user=admin, title__startswith="Review requested").exists()
    assert not Notification.objects.filter(user=manager, title__startswith="Review").exists()
    assert [m.to for m in mailoutbox] == [[admin.email]]


def test_posts_changes_requested_can_be_submitted_again(internal, account, manager):
    post = make_post(internal, account, manager, state=A.CHANGES_REQUESTED)
    post_submit_for_approval(post=post, by=manager)
    assert states(post)[0] == A.IN_REVIEW


def test_submitting_without_a_workflow_is_refused_in_words(brand, account, manager):
    post = make_post(brand, account, manager, at=None)
    with pytest.raises(ValidationError, match="has no approval workflow"):
        post_submit_for_approval(post=post, by=manager)
    assert not post.decisions.exists()


@pytest.mark.parametrize("state", [A.IN_REVIEW, A.APPROVED, A.CLIENT_REVIEW])
def test_submitting_twice_or_after_approval_is_refused(internal, account, manager, state):
    post = make_post(internal, account, manager, state=state)
    with pytest.raises(ValidationError, match="only a post that is"):
        post_submit_for_approval(post=post, by=manager)
    assert states(post)[0] == state


def test_internal_approval_schedules_the_post_and_tells_the_author(
    internal, account, manager, admin, mailoutbox
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)

    post_approve(post=post, by=admin)

    assert states(post) == (A.APPROVED, [S.SCHEDULED])
    assert post.targets.get().due_at == post.scheduled_at
    decision = post.decisions.get()
    assert (decision.kind, decision.by) == (K.APPROVED, admin)
    assert AuditEvent.objects.filter(action="post.approved", actor=admin).exists()
    note = Notification.objects.get(user=manager)
    assert note.title.startswith("Approved")
    assert "scheduled for" in note.body
    assert "Europe/Berlin" in note.body
    assert [m.to for m in mailoutbox] == [[manager.email]]


def test_approved_after_its_time_passed_the_post_stays_draft_and_the_author_is_asked(
    internal, account, manager, admin
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(minutes=5))

    post_approve(post=post, by=admin)

    assert states(post) == (A.APPROVED, [S.DRAFT])
    assert "pick a new time" in Notification.objects.get(user=manager).body


def test_approval_with_the_client_in_the_workflow_goes_on_to_the_client(
    with_client, account, manager, admin, client_user, other_client, mailoutbox
):
    post = make_post(with_client, account, manager, state=A.IN_REVIEW)

    post_approve(post=post, by=admin)

    assert states(post) == (A.CLIENT_REVIEW, [S.DRAFT])
    assert [d.kind for d in post.decisions.order_by("id")] == [K.APPROVED, K.SENT_TO_CLIENT]
    to_client = Notification.objects.get(user=client_user)
    assert to_client.url == reverse("calendar:portal-approvals")
    assert not Notification.objects.filter(user=other_client).exists()
    assert Notification.objects.filter(user=manager, title__contains="client").exists()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([client_user.email, manager.email])


def test_client_approval_schedules_the_post(with_client, account, manager, client_user):
    post = make_post(with_client, account, manager, state=A.CLIENT_REVIEW)

    post_client_approve(post=post, by=client_user)

    assert states(post) == (A.CLIENT_APPROVED, [S.SCHEDULED])
    assert post.decisions.get().kind == K.CLIENT_APPROVED
    assert Notification.objects.get(user=manager).title.startswith("The client approved")


def test_requesting_changes_needs_a_comment_and_tells_the_author(
    internal, account, manager, admin, mailoutbox
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    with pytest.raises(ValidationError, match="comment is required"):
        post_request_changes(post=post, by=admin, comment="   ")
    assert states(post)[0] == A.IN_REVIEW

    post_request_changes(post=post, by=admin, comment="Say 'roast', not 'toast'.")

    assert states(post) == (A.CHANGES_REQUESTED, [S.DRAFT])
    decision = post.decisions.get()
    assert (decision.kind, decision.comment) == (K.CHANGES_REQUESTED, "Say 'roast', not 'toast'.")
    assert Notification.objects.get(user=manager).body == "Say 'roast', not 'toast'."
    assert "roast" in mailoutbox[0].body


@pytest.mark.parametrize("state", [A.DRAFT, A.APPROVED, A.CHANGES_REQUESTED, A.CLIENT_REVIEW])
def test_only_a_post_in_review_can_be_approved_or_sent_back(
    internal, account, manager, admin, state
):
    post = make_post(internal, account, manager, state=state)
    with pytest.raises(ValidationError, match='only a post that is "in review"'):
        post_approve(post=post, by=admin)
    with pytest.raises(ValidationError, match='only a post that is "in review"'):
        post_request_changes(post=post, by=admin, comment="no")
    assert states(post)[0] == state
    assert not post.decisions.exists()


def test_a_staff_member_cannot_take_the_clients_step(with_client, account, manager, admin):
    post = make_post(with_client, account, manager, state=A.CLIENT_REVIEW)
    with pytest.raises(PermissionDenied):
        post_client_approve(post=post, by=admin)
    assert states(post)[0] == A.CLIENT_REVIEW


@pytest.mark.parametrize("who", ["marketer", "client_user"])
def test_marketers_and_clients_cannot_review(internal, account, manager, personas, who):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    with pytest.raises(PermissionDenied):
        post_approve(post=post, by=personas[who])
    assert states(post)[0] == A.IN_REVIEW


def test_a_queued_post_keeps_each_accounts_slot_when_approved(
    internal, brand, account, manager, admin
):
    from datetime import time

    from calendar_app.services import post_add_to_queue, slot_create
    from tests.factories import SocialAccountFactory

    other = SocialAccountFactory(brand=brand, handle="@acme_two")
    for weekday in range(7):
        slot_create(account=account, weekday=weekday, time=time(9, 0), by=manager)
        slot_create(account=other, weekday=weekday, time=time(20, 0), by=manager)
    post = post_create(brand=brand, by=manager, accounts=[account, other], text="two slots")
    post = post_add_to_queue(post=post, by=manager)
    planned = dict(post.targets.values_list("account_id", "due_at"))
    post_submit_for_approval(post=post, by=manager)

    post_approve(post=post, by=admin)

    after = dict(post.targets.filter(state=S.SCHEDULED).values_list("account_id", "due_at"))
    assert after == planned
    assert planned[account.pk] != planned[other.pk]


# -- staff pages ---------------------------------------------------------------------------------


def test_the_review_list_shows_posts_in_review_with_their_time_in_the_brands_zone(
    login, internal, account, manager, sibling_brand
):
    mine = make_post(internal, account, manager, state=A.IN_REVIEW)
    draft = make_post(internal, account, manager, state=A.DRAFT)
    page = login(manager).get(reverse("calendar:approvals")).content.decode()
    assert reverse("calendar:post-detail", args=[mine.pk]) in page
    assert reverse("calendar:post-detail", args=[draft.pk]) not in page
    assert "Europe/Berlin" in page
    assert reverse("calendar:post-approve", args=[mine.pk]) in page


def test_the_review_list_filters_by_brand(login, internal, account, manager, sibling_brand):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    client = login(manager)
    other = client.get(reverse("calendar:approvals"), {"brand": sibling_brand.pk})
    same = client.get(reverse("calendar:approvals"), {"brand": internal.pk})
    assert str(post) not in other.content.decode()
    assert str(post) in same.content.decode()


def test_the_review_list_takes_a_fixed_number_of_queries(
    login, internal, account, manager, django_assert_max_num_queries
):
    for _ in range(6):
        make_post(internal, account, manager, state=A.IN_REVIEW)
    client = login(manager)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("calendar:approvals")).status_code == 200


def test_marketer_sees_the_list_without_buttons(login, internal, account, manager, marketer):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    page = login(marketer).get(reverse("calendar:approvals")).content.decode()
    assert str(post) in page
    assert reverse("calendar:post-approve", args=[post.pk]) not in page


def test_approve_from_the_list(login, internal, account, manager, admin):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    response = login(admin).post(reverse("calendar:post-approve", args=[post.pk]))
    assert response.status_code == 302
    assert response.url == reverse("calendar:approvals")
    assert states(post) == (A.APPROVED, [S.SCHEDULED])


def test_request_changes_without_a_comment_says_so_and_changes_nothing(
    login, internal, account, manager, admin
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    client = login(admin)
    response = client.post(
        reverse("calendar:post-request-changes", args=[post.pk]), {"comment": ""}, follow=True
    )
    assert "comment is required" in response.content.decode()
    assert states(post)[0] == A.IN_REVIEW
    assert not post.decisions.exists()


def test_submit_from_the_post_page_returns_to_it(login, internal, account, manager):
    post = make_post(internal, account, manager)
    detail = reverse("calendar:post-detail", args=[post.pk])
    response = login(manager).post(
        reverse("calendar:post-submit", args=[post.pk]), {"next": detail}
    )
    assert response.url == detail
    assert states(post)[0] == A.IN_REVIEW


def test_an_offsite_next_is_ignored(login, internal, account, manager):
    post = make_post(internal, account, manager)
    response = login(manager).post(
        reverse("calendar:post-submit", args=[post.pk]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("calendar:post-detail", args=[post.pk])


def test_the_post_page_shows_the_panel_and_the_panel_its_history(
    login, internal, account, manager, admin
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    post_request_changes(post=post, by=admin, comment="Shorter, please.")
    client = login(manager)
    detail = client.get(reverse("calendar:post-detail", args=[post.pk])).content.decode()
    assert reverse("calendar:post-approval", args=[post.pk]) in detail
    assert 'id="approval-panel"' in detail

    fragment = client.get(
        reverse("calendar:post-approval", args=[post.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert "Changes requested" in fragment
    assert "Shorter, please." in fragment
    assert "Submit for review" in fragment


def test_the_panel_offers_a_client_only_the_clients_buttons(
    login, with_client, account, manager, client_user
):
    post = make_post(with_client, account, manager, state=A.CLIENT_REVIEW)
    # Clients decide on /portal/approvals/ (reports.middleware keeps them off staff pages).
    page = login(client_user).get(reverse("calendar:portal-approvals"))
    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("calendar:portal-approve", args=[post.pk]) in html
    assert reverse("calendar:post-approve", args=[post.pk]) not in html
    assert "Add to queue" not in html
    panel = login(client_user).get(reverse("calendar:post-approval", args=[post.pk]))
    assert panel.status_code == 403


STAFF_ACTIONS = ["calendar:post-submit", "calendar:post-approve", "calendar:post-request-changes"]


@pytest.mark.parametrize("who", ["outsider", "other_client"])
def test_foreign_users_get_404_on_every_approval_page_and_action(
    login, personas, internal, account, manager, who
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    client = login(personas[who])
    assert client.get(reverse("calendar:post-approval", args=[post.pk])).status_code == 404
    # other_client is no staff at all: the staff page itself is refused before the brand.
    expected = 404 if who == "outsider" else 403
    response = client.get(reverse("calendar:approvals"), {"brand": internal.pk})
    assert response.status_code == expected
    for name in [*STAFF_ACTIONS, "calendar:portal-approve", "calendar:portal-request-changes"]:
        url = reverse(name, args=[post.pk])
        assert client.post(url, {"comment": "x"}).status_code == 404, name
    assert states(post)[0] == A.IN_REVIEW
    assert not post.decisions.exists()


def test_an_outsider_filtering_by_our_brand_gets_404(login, outsider, internal):
    response = login(outsider).get(reverse("calendar:approvals"), {"brand": internal.pk})
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["marketer", "client_user"])
def test_marketers_and_clients_get_403_on_staff_approval_actions(
    login, personas, internal, account, manager, who
):
    post = make_post(internal, account, manager, state=A.IN_REVIEW)
    client = login(personas[who])
    for name in STAFF_ACTIONS:
        response = client.post(reverse(name, args=[post.pk]), {"comment": "x"})
        assert response.status_code == 403, name
    assert states(post) == (A.IN_REVIEW, [S.DRAFT])
    assert not post.decisions.exists()


def test_a_client_gets_403_on_the_staff_review_list(login, client_user):
    assert login(client_user).get(reverse("calendar:approvals")).status_code == 403


def test_the_nav_shows_approvals_to_staff_and_the_portal_to_clients(
    login, manager, client_user, brand
):
    staff_page = login(manager).get(reverse("calendar:approvals")).content.decode()
    assert f'href="{reverse("calendar:approvals")}"' in staff_page
    assert f'href="{reverse("calendar:portal-approvals")}"' not in staff_page
    client_page = login(client_user).get(reverse("calendar:portal-approvals")).content.decode()
    assert f'href="{reverse("calendar:portal-approvals")}"' in client_page
    assert f'href="{reverse("calendar:approvals")}"' not in client_page


def test_targets_stay_drafts_until_the_final_approval(with_client, account, manager, admin):
    post = make_post(with_client, account, manager)
    post_submit_for_approval(post=post, by=manager)
    assert states(post)[1] == [S.DRAFT]
    post_approve(post=post, by=admin)
    assert states(post)[1] == [S.DRAFT]
    assert not PostTarget.objects.filter(state=S.SCHEDULED).exists()
