"""Only approved posts are published; editing an approved post sends it back to review."""

from datetime import timedelta

from django.utils import timezone

from agency.models import Brand
from calendar_app.models import ApprovalDecision, Post, TargetState
from calendar_app.services import post_create, post_update

S = TargetState


def test_without_a_workflow_scheduling_is_the_approval(brand, account, manager):
    at = timezone.now() + timedelta(hours=3)
    post = post_create(brand=brand, by=manager, accounts=[account], text="hi", scheduled_at=at)
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.APPROVED
    assert post.targets.get().state == S.SCHEDULED


def test_with_a_workflow_the_time_is_kept_but_nothing_is_scheduled_before_approval(
    brand, account, manager
):
    brand.approval_workflow = Brand.ApprovalWorkflow.INTERNAL
    brand.save()
    at = timezone.now() + timedelta(hours=3)
    post = post_create(brand=brand, by=manager, accounts=[account], text="hi", scheduled_at=at)
    post.refresh_from_db()
    assert post.scheduled_at == at
    assert post.approval_state == Post.Approval.DRAFT
    assert post.targets.get().state == S.DRAFT


def test_editing_the_text_of_an_approved_post_sends_it_back_to_review(brand, account, manager):
    brand.approval_workflow = Brand.ApprovalWorkflow.INTERNAL
    brand.save()
    at = timezone.now() + timedelta(hours=3)
    post = post_create(brand=brand, by=manager, accounts=[account], text="v1", scheduled_at=at)
    Post.objects.filter(pk=post.pk).update(approval_state=Post.Approval.APPROVED)
    post.targets.update(state=S.SCHEDULED, due_at=at)

    post_update(post=post, by=manager, data={"title": "Internal title only"})
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.APPROVED  # a title is never published

    post_update(post=post, by=manager, data={"text": "v2"})
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.IN_REVIEW
    assert post.targets.get().state == S.DRAFT
    assert post.decisions.get().kind == ApprovalDecision.Kind.REOPENED


def test_editing_only_a_variant_in_the_composer_sends_an_approved_post_back_to_review(
    brand, account, manager
):
    from calendar_app.services import post_compose

    brand.approval_workflow = Brand.ApprovalWorkflow.INTERNAL
    brand.save()
    at = timezone.now() + timedelta(hours=3)
    post = post_create(brand=brand, by=manager, accounts=[account], text="v1", scheduled_at=at)
    Post.objects.filter(pk=post.pk).update(approval_state=Post.Approval.APPROVED)
    post.targets.update(state=S.SCHEDULED, due_at=at)

    # Saving the same content again keeps the approval.
    post_compose(brand=brand, by=manager, post=post, accounts=[account], text="v1")
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.APPROVED

    post_compose(
        brand=brand,
        by=manager,
        post=post,
        accounts=[account],
        text="v1",
        variants={account.pk: {"text": "A variant the reviewer never saw"}},
    )
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.IN_REVIEW
    assert post.targets.get().state == S.DRAFT
