"""The client portal's approvals: a client approves or sends back their own brand's posts that
wait for them, and can do nothing else."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, Notification
from calendar_app.models import ApprovalDecision, Post, TargetState
from calendar_app.services import post_create
from tests.factories import SocialAccountFactory

A = Post.Approval
K = ApprovalDecision.Kind
S = TargetState

PORTAL = "calendar:portal-approvals"


@pytest.fixture
def with_client(brand, sibling_brand):
    for b in (brand, sibling_brand):
        b.approval_workflow = Brand.ApprovalWorkflow.INTERNAL_CLIENT
        b.save(update_fields=["approval_workflow"])
    return brand


def waiting_post(brand, manager, *, state=A.CLIENT_REVIEW, text="Pumpkin spice, finally"):
    account = brand.social_accounts.first() or SocialAccountFactory(brand=brand)
    post = post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text=text,
        scheduled_at=timezone.now() + timedelta(days=3),
    )
    Post.objects.filter(pk=post.pk).update(approval_state=state)
    post.refresh_from_db()
    return post


def approval_state(post):
    post.refresh_from_db()
    return post.approval_state


def test_the_portal_lists_the_clients_waiting_posts_with_text_time_and_accounts(
    login, with_client, account, manager, client_user, sibling_brand
):
    mine = waiting_post(with_client, manager)
    waiting_post(with_client, manager, state=A.IN_REVIEW, text="Internal draft, not for you")
    waiting_post(sibling_brand, manager, text="Another brand's post")

    page = login(client_user).get(reverse(PORTAL)).content.decode()

    assert "Pumpkin spice, finally" in page
    assert "Internal draft" not in page
    assert "Another brand" not in page
    local = mine.scheduled_at.astimezone(with_client.zone)
    assert local.strftime("%H:%M") in page
    assert "Europe/Berlin" in page
    assert str(account) in page
    assert reverse("calendar:portal-approve", args=[mine.pk]) in page


def test_the_portal_list_takes_a_fixed_number_of_queries(
    login, with_client, account, manager, client_user, django_assert_max_num_queries
):
    for i in range(5):
        waiting_post(with_client, manager, text=f"Post {i}")
    client = login(client_user)
    with django_assert_max_num_queries(10):
        assert client.get(reverse(PORTAL)).status_code == 200


def test_the_client_approves_and_the_post_is_scheduled(
    login, with_client, account, manager, client_user, mailoutbox
):
    post = waiting_post(with_client, manager)

    response = login(client_user).post(reverse("calendar:portal-approve", args=[post.pk]))

    assert response.status_code == 302
    assert response.url == reverse(PORTAL)
    assert approval_state(post) == A.CLIENT_APPROVED
    assert list(post.targets.values_list("state", flat=True)) == [S.SCHEDULED]
    decision = post.decisions.get()
    assert (decision.kind, decision.by) == (K.CLIENT_APPROVED, client_user)
    assert Notification.objects.filter(user=manager, title__contains="client approved").exists()
    assert [m.to for m in mailoutbox] == [[manager.email]]


def test_the_client_requests_changes_with_a_comment(
    login, with_client, account, manager, client_user
):
    post = waiting_post(with_client, manager)

    login(client_user).post(
        reverse("calendar:portal-request-changes", args=[post.pk]),
        {"comment": "Our logo is the old one."},
    )

    assert approval_state(post) == A.CHANGES_REQUESTED
    decision = post.decisions.get()
    assert (decision.kind, decision.comment) == (
        K.CLIENT_CHANGES_REQUESTED,
        "Our logo is the old one.",
    )
    assert Notification.objects.get(user=manager).body == "Our logo is the old one."
    assert list(post.targets.values_list("state", flat=True)) == [S.DRAFT]


def test_changes_without_a_comment_are_refused_in_words(
    login, with_client, account, manager, client_user
):
    post = waiting_post(with_client, manager)
    response = login(client_user).post(
        reverse("calendar:portal-request-changes", args=[post.pk]), {"comment": " "}, follow=True
    )
    assert "comment is required" in response.content.decode()
    assert approval_state(post) == A.CLIENT_REVIEW
    assert not post.decisions.exists()


@pytest.mark.parametrize("state", [A.DRAFT, A.IN_REVIEW, A.APPROVED, A.CLIENT_APPROVED])
def test_the_client_can_only_decide_posts_waiting_for_them(
    login, with_client, account, manager, client_user, state
):
    post = waiting_post(with_client, manager, state=state)
    client = login(client_user)
    response = client.post(reverse("calendar:portal-approve", args=[post.pk]), follow=True)
    client.post(
        reverse("calendar:portal-request-changes", args=[post.pk]), {"comment": "No"}, follow=True
    )
    assert "Nothing was changed" in response.content.decode()
    assert approval_state(post) == state
    assert not post.decisions.exists()


def test_the_client_approved_after_the_time_passed_leaves_the_post_a_draft(
    login, with_client, account, manager, client_user
):
    post = waiting_post(with_client, manager)
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(hours=1))

    response = login(client_user).post(
        reverse("calendar:portal-approve", args=[post.pk]), follow=True
    )

    assert approval_state(post) == A.CLIENT_APPROVED
    assert list(post.targets.values_list("state", flat=True)) == [S.DRAFT]
    assert "pick a new time" in response.content.decode()
    assert "pick a new time" in Notification.objects.get(user=manager).body


def test_a_client_of_another_brand_gets_404_and_changes_nothing(
    login, with_client, account, manager, other_client
):
    post = waiting_post(with_client, manager)
    client = login(other_client)
    for name in ("calendar:portal-approve", "calendar:portal-request-changes"):
        assert client.post(reverse(name, args=[post.pk]), {"comment": "x"}).status_code == 404
    assert approval_state(post) == A.CLIENT_REVIEW


def test_an_outsider_gets_404_on_the_portal_actions(login, with_client, account, manager, outsider):
    post = waiting_post(with_client, manager)
    client = login(outsider)
    for name in ("calendar:portal-approve", "calendar:portal-request-changes"):
        assert client.post(reverse(name, args=[post.pk]), {"comment": "x"}).status_code == 404
    assert approval_state(post) == A.CLIENT_REVIEW


@pytest.mark.parametrize("who", ["admin", "manager", "marketer"])
def test_staff_are_not_the_client_and_get_403_on_the_clients_actions(
    login, personas, with_client, account, manager, who
):
    post = waiting_post(with_client, manager)
    client = login(personas[who])
    assert client.get(reverse(PORTAL)).status_code == 403
    for name in ("calendar:portal-approve", "calendar:portal-request-changes"):
        assert client.post(reverse(name, args=[post.pk]), {"comment": "x"}).status_code == 403
    assert approval_state(post) == A.CLIENT_REVIEW
    assert not post.decisions.exists()


def test_a_client_can_do_nothing_else(login, with_client, account, manager, client_user):
    """Staff pages and actions, the queue included, refuse the client (403)."""
    in_review = waiting_post(with_client, manager, state=A.IN_REVIEW, text="In review")
    draft = waiting_post(with_client, manager, state=A.DRAFT, text="Draft")
    client = login(client_user)
    assert client.get(reverse("calendar:approvals")).status_code == 403
    assert client.get(reverse("calendar:account-queue", args=[account.pk])).status_code == 403
    posts = [
        ("calendar:post-approve", in_review),
        ("calendar:post-request-changes", in_review),
        ("calendar:post-submit", draft),
        ("calendar:post-add-to-queue", draft),
    ]
    for name, post in posts:
        response = client.post(reverse(name, args=[post.pk]), {"comment": "x"})
        assert response.status_code == 403, name
    assert approval_state(in_review) == A.IN_REVIEW
    assert approval_state(draft) == A.DRAFT
    assert not ApprovalDecision.objects.exists()
