"""The publishing engine against the sandbox platform, one step at a time (no Celery here;
tests/live/ runs the same engine with real workers)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agency.models import SandboxPost, SandboxScript, SocialAccount
from agency.services import social_account_reconnect
from calendar_app import publishing, publishing_sql
from calendar_app.models import PostTarget, PublishAttempt, TargetState
from calendar_app.services import post_cancel, post_create, target_mark_published, target_retry
from tests.factories import SocialAccountFactory

S = TargetState


@pytest.fixture(autouse=True, params=["one-statement", "orm"])
def engine_path(request, monkeypatch):
    """Every test here runs twice: through the one-statement claim and settle that PostgreSQL
    takes, and through the ORM path that SQLite (`make run`) takes."""
    if request.param == "orm":
        monkeypatch.setattr(publishing_sql, "available", lambda: False)
    return request.param


@pytest.fixture
def due_post(brand, account, manager):
    """A post scheduled a moment ago, so it is due now."""
    post = post_create(brand=brand, by=manager, accounts=[account], text="Hello from Acme")
    PostTarget.objects.filter(post=post).update(
        state=S.SCHEDULED, due_at=timezone.now() - timedelta(seconds=1)
    )
    return post


def dispatch(django_capture_on_commit_callbacks):
    # Enqueueing is tested with a real worker in tests/live; here we only want the claim.
    with django_capture_on_commit_callbacks(execute=False):
        return publishing.dispatch_due()


def script(account, *outcomes, delay_ms=0):
    SandboxScript.objects.update_or_create(
        account=account, defaults={"outcomes": list(outcomes), "delay_ms": delay_ms}
    )


def test_due_target_is_claimed_published_and_recorded_once(
    due_post, account, django_capture_on_commit_callbacks
):
    target = due_post.targets.get()
    assert dispatch(django_capture_on_commit_callbacks) == [target.pk]
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    sandbox = SandboxPost.objects.get(idempotency_key=str(target.idempotency_key))
    assert target.external_id == str(sandbox.pk)
    assert target.external_url.endswith(f"/sandbox/posts/{sandbox.pk}/")
    assert sandbox.text == "Hello from Acme"
    attempt = target.attempts_log.get()
    assert attempt.result == PublishAttempt.Result.PUBLISHED


def test_publish_twice_posts_once(due_post, django_capture_on_commit_callbacks):
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED
    # A duplicate delivery of the same task finds the target already moved on.
    assert publishing.publish_target(target_id=target.pk) == "lost"
    assert SandboxPost.objects.filter(idempotency_key=str(target.idempotency_key)).count() == 1


def test_second_dispatch_claims_nothing_already_queued(
    due_post, django_capture_on_commit_callbacks
):
    assert len(dispatch(django_capture_on_commit_callbacks)) == 1
    assert dispatch(django_capture_on_commit_callbacks) == []


def test_future_targets_are_not_dispatched(
    brand, account, manager, django_capture_on_commit_callbacks
):
    post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="Later",
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    assert dispatch(django_capture_on_commit_callbacks) == []


def test_throttle_then_success_retries_after_backoff(
    due_post, account, settings, django_capture_on_commit_callbacks
):
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 10
    script(account, "throttle", "ok")
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == S.SCHEDULED
    target.refresh_from_db()
    # The sandbox asks for 2 s; our backoff for attempt 1 is 5-10 s: the larger wins.
    assert target.due_at >= timezone.now() + timedelta(seconds=1.5)
    assert "Trying again" in target.last_error
    assert dispatch(django_capture_on_commit_callbacks) == []  # not due yet

    later = timezone.now() + timedelta(seconds=11)
    with django_capture_on_commit_callbacks(execute=False):
        assert publishing.dispatch_due(now=later) == [target.pk]
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED
    assert SandboxPost.objects.filter(idempotency_key=str(target.idempotency_key)).count() == 1
    results = list(target.attempts_log.order_by("started_at").values_list("result", flat=True))
    assert results == ["retry", "published"]


def test_transient_errors_give_up_after_max_attempts_and_tell_people(
    due_post, account, manager, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.PUBLISH_MAX_ATTEMPTS = 2
    script(account, "transient", "transient")
    target = due_post.targets.get()
    far = timezone.now() + timedelta(days=1)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=False):
            publishing.dispatch_due(now=far)
        publishing.publish_target(target_id=target.pk)
    target.refresh_from_db()
    assert target.state == S.FAILED
    assert "gave up after 2 attempts" in target.last_error
    assert manager.notifications.filter(title__startswith="Post failed").exists()
    assert any("Post failed" in m.subject for m in mailoutbox)


def test_rejected_fails_at_once_with_the_reason(
    due_post, account, django_capture_on_commit_callbacks
):
    script(account, "reject")
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == S.FAILED
    target.refresh_from_db()
    assert "refused the post" in target.last_error
    assert target.needs_attention
    assert not SandboxPost.objects.exists()


def test_timeout_after_sending_is_unconfirmed_then_reconciled_as_published(
    due_post, account, django_capture_on_commit_callbacks
):
    script(account, "timeout")
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == S.UNCONFIRMED
    # Unconfirmed is never re-dispatched blindly.
    assert dispatch(django_capture_on_commit_callbacks) == []
    assert publishing.reconcile_unconfirmed(target_id=target.pk) == S.PUBLISHED
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert SandboxPost.objects.filter(idempotency_key=str(target.idempotency_key)).count() == 1


def test_unconfirmed_that_the_platform_surely_lacks_is_retried(
    due_post, account, django_capture_on_commit_callbacks
):
    target = due_post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.UNCONFIRMED)
    assert publishing.reconcile_unconfirmed(target_id=target.pk) == S.SCHEDULED
    assert dispatch(django_capture_on_commit_callbacks) == [target.pk]
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED


def test_unconfirmed_that_cannot_be_checked_waits_for_a_person(
    brand, manager, django_capture_on_commit_callbacks
):
    x_account = SocialAccountFactory(brand=brand, platform="facebook", handle="AcmePage")
    post = post_create(brand=brand, by=manager, accounts=[x_account], text="Hi")
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.UNCONFIRMED)
    assert publishing.reconcile_unconfirmed(target_id=target.pk) == S.UNCONFIRMED
    target.refresh_from_db()
    assert target.needs_attention
    assert "Retry or Mark as published" in target.last_error
    assert manager.notifications.filter(title__startswith="Check whether").count() == 1
    # Checking again neither re-notifies nor changes anything.
    publishing.sweep()
    assert manager.notifications.filter(title__startswith="Check whether").count() == 1
    target_mark_published(target=target, by=manager, url="https://facebook.com/p/1")
    target.refresh_from_db()
    assert target.state == S.PUBLISHED


def test_expired_token_holds_posts_until_reconnected(
    due_post, account, manager, django_capture_on_commit_callbacks
):
    script(account, "auth_expired")
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == S.SCHEDULED
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_REAUTH
    assert manager.notifications.filter(title__startswith="Reconnect").count() == 1
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and target.last_error.startswith("Held")
    # Held: due, but not dispatched while the account needs reconnecting.
    assert dispatch(django_capture_on_commit_callbacks) == []
    social_account_reconnect(account=account, by=manager, access_token="fresh-token")
    assert dispatch(django_capture_on_commit_callbacks) == [target.pk]
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED


def test_worker_dying_mid_publish_is_recovered_by_the_sweeper_without_duplicate(
    due_post, account, django_capture_on_commit_callbacks
):
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    # What a SIGKILL leaves: claimed as publishing, the platform received it, nothing recorded.
    PostTarget.objects.filter(pk=target.pk).update(
        state=S.PUBLISHING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    SandboxPost.objects.create(account=account, idempotency_key=str(target.idempotency_key))
    PublishAttempt.objects.create(target=target, started_at=timezone.now())
    result = publishing.sweep()
    assert result["lost"] == 1
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert target.attempts_log.get().result == PublishAttempt.Result.UNCONFIRMED
    assert SandboxPost.objects.filter(idempotency_key=str(target.idempotency_key)).count() == 1


def test_lost_queued_task_is_requeued_by_the_sweeper(
    due_post, settings, django_capture_on_commit_callbacks
):
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    later = timezone.now() + timedelta(seconds=settings.PUBLISH_QUEUED_STALE_SECONDS + 1)
    assert publishing.sweep(now=later)["requeued"] == 1
    target.refresh_from_db()
    assert target.state == S.SCHEDULED


def test_cancel_stops_pending_targets_but_not_published_ones(
    due_post, brand, manager, django_capture_on_commit_callbacks
):
    published = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    publishing.publish_target(target_id=published.pk)
    other = SocialAccountFactory(brand=brand)
    pending = PostTarget.objects.create(
        post=due_post, account=other, state=S.SCHEDULED, due_at=timezone.now()
    )
    assert post_cancel(post=due_post, by=manager) == 1
    pending.refresh_from_db()
    published.refresh_from_db()
    assert pending.state == S.CANCELLED
    assert published.state == S.PUBLISHED


def test_retry_only_from_failed_or_unconfirmed(due_post, manager):
    from django.core.exceptions import ValidationError

    target = due_post.targets.get()
    with pytest.raises(ValidationError, match="Only a failed or unconfirmed"):
        target_retry(target=target, by=manager)
    PostTarget.objects.filter(pk=target.pk).update(state=S.FAILED)
    assert target_retry(target=target, by=manager).state == S.SCHEDULED


def test_backoff_grows_and_honours_retry_after(settings):
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 10
    settings.PUBLISH_BACKOFF_CAP_SECONDS = 60
    assert 5 <= publishing.backoff_seconds(1) <= 10
    assert 20 <= publishing.backoff_seconds(3) <= 40
    assert 30 <= publishing.backoff_seconds(10) <= 60
    assert publishing.backoff_seconds(1, retry_after=500) == 500


def _publish_with_linkedin_answering(target, status, body, headers=None):
    import responses

    from agency.platforms.linkedin import API_URL

    with responses.RequestsMock() as replay:
        replay.post(f"{API_URL}/posts", status=status, json=body, headers=headers or {})
        return publishing.publish_target(target_id=target.pk)


@pytest.fixture
def linkedin_target(brand, manager, django_capture_on_commit_callbacks):
    account = SocialAccountFactory(
        brand=brand, platform="linkedin", handle="acme", external_id="2414183"
    )
    post = post_create(brand=brand, by=manager, accounts=[account], text="We are hiring")
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=S.SCHEDULED, due_at=timezone.now())
    dispatch(django_capture_on_commit_callbacks)
    return target


def test_duplicate_after_an_unknown_outcome_settles_as_published(
    linkedin_target, django_capture_on_commit_callbacks
):
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    (a 5xx after sending is unknown; a retry then answers 422 DUPLICATE_POST naming the original).
    """
    assert _publish_with_linkedin_answering(linkedin_target, 504, {"message": "Gateway"}) == (
        S.UNCONFIRMED
    )
    # A person presses Retry: LinkedIn says it already has the post, and names it.
    target_retry(target=linkedin_target, by=None)
    dispatch(django_capture_on_commit_callbacks)
    duplicate = {
        "status": 422,
        "code": "DUPLICATE_POST",
        "message": "ERROR :: /commentary :: Content is a duplicate of "
        "urn:li:share:7130000000000000000",
    }
    assert _publish_with_linkedin_answering(linkedin_target, 422, duplicate) == S.PUBLISHED
    linkedin_target.refresh_from_db()
    assert linkedin_target.external_id == "urn:li:share:7130000000000000000"


def test_duplicate_without_an_earlier_attempt_is_a_failure_in_words(linkedin_target):
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    (422 DUPLICATE_POST: identical content was posted recently, not by this target)."""
    body = {"status": 422, "code": "DUPLICATE_POST", "message": "Content is a duplicate"}
    assert _publish_with_linkedin_answering(linkedin_target, 422, body) == S.FAILED
    linkedin_target.refresh_from_db()
    assert "Change the text" in linkedin_target.last_error


def test_a_worker_finishing_after_the_sweeper_corrects_its_row_instead_of_adding_one(
    due_post, account, monkeypatch, django_capture_on_commit_callbacks
):
    target = due_post.targets.get()
    dispatch(django_capture_on_commit_callbacks)
    adapter = publishing.adapter_for(account.platform)
    real_publish = adapter.publish

    def publish_past_the_lease(acc, payload, *, idempotency_key):
        result = real_publish(acc, payload, idempotency_key=idempotency_key)
        # The platform answered after the lease ran out: the sweeper already took the target
        # and the reconciler found the post by its key.
        PostTarget.objects.filter(pk=target.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert publishing.sweep()["lost"] == 1
        assert PostTarget.objects.get(pk=target.pk).state == S.PUBLISHED
        return result

    monkeypatch.setattr(adapter, "publish", publish_past_the_lease)
    assert publishing.publish_target(target_id=target.pk) == S.PUBLISHED
    target.refresh_from_db()
    assert target.state == S.PUBLISHED
    assert SandboxPost.objects.filter(idempotency_key=str(target.idempotency_key)).count() == 1
    # One try, one row: the sweeper's row for it, corrected by the worker that finished it.
    assert list(target.attempts_log.values_list("result", flat=True)) == [
        PublishAttempt.Result.PUBLISHED
    ]


def test_the_one_statement_claim_loads_what_the_orm_would(due_post, account, engine_path):
    if engine_path != "one-statement":
        pytest.skip("compares the PostgreSQL path with the ORM's")
    target = due_post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(
        state=S.QUEUED, platform_hints={"container": "17"}
    )
    now = timezone.now()
    loaded = publishing_sql.claim_and_load(target.pk, now=now, lease_until=now)
    orm = PostTarget.objects.select_related("post__brand", "account").get(pk=target.pk)
    for model_instance, expected in (
        (loaded, orm),
        (loaded.post, orm.post),
        (loaded.post.brand, orm.post.brand),
        (loaded.account, orm.account),
    ):
        for field in type(expected)._meta.concrete_fields:
            assert getattr(model_instance, field.attname) == getattr(expected, field.attname), field
    assert loaded.account.access_token == account.access_token  # decrypted by its converter
    assert loaded.platform_hints == {"container": "17"}
    assert (loaded.state, loaded.attempts) == (S.PUBLISHING, target.attempts + 1)
    assert (loaded.has_media_override, loaded.has_post_media) == (False, False)
    # A second claim loses: the target is no longer queued.
    assert publishing_sql.claim_and_load(target.pk, now=now, lease_until=now) is None
