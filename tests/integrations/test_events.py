"""Each event type is emitted by the real code path that makes it true, and is sent."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from agency.models import SandboxScript
from calendar_app import publishing
from calendar_app.models import PostTarget, TargetState
from calendar_app.services import post_create, target_mark_published
from community.models import Conversation
from community.services import conversation_assign, inbound_ingest
from integrations.models import Delivery, EventType
from integrations.tasks import deliver_webhook
from tests.ads.test_pacing import TODAY, at_noon, make_campaign, spend
from tests.community.test_ingest import T0, comment
from tests.reports.test_goals import make_goal, snapshot

E = EventType


@pytest.fixture
def listening(make_endpoint, receiver):
    endpoint, _secret = make_endpoint(receiver.url)
    return endpoint


def only(event_type) -> Delivery:
    [delivery] = Delivery.objects.filter(event_type=event_type)
    return delivery


def sent_body(receiver, delivery) -> dict:
    assert deliver_webhook(str(delivery.pk)) == Delivery.State.SUCCEEDED
    request = receiver.requests[-1]
    assert request.headers["X-Agency-Event"] == delivery.event_type
    return json.loads(request.body)


def due_target(brand, account, manager, django_capture_on_commit_callbacks) -> PostTarget:
    post = post_create(brand=brand, by=manager, accounts=[account], text="Spring menu is here")
    PostTarget.objects.filter(post=post).update(
        state=TargetState.SCHEDULED, due_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=False):
        [target_id] = publishing.dispatch_due()
    return PostTarget.objects.get(pk=target_id)


def test_publishing_a_sandbox_post_emits_post_published(
    listening, receiver, brand, account, manager, django_capture_on_commit_callbacks
):
    target = due_target(brand, account, manager, django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == TargetState.PUBLISHED

    body = sent_body(receiver, only(E.POST_PUBLISHED))
    target.refresh_from_db()
    assert body["data"]["target"]["state"] == "published"
    assert body["data"]["target"]["external_id"] == target.external_id
    assert body["data"]["target"]["account"]["handle"] == "@acmecoffee"
    assert body["data"]["post"]["text"] == "Spring menu is here"
    assert body["brand"]["id"] == str(brand.pk)


def test_a_refused_post_emits_post_failed_with_the_reason(
    listening, receiver, brand, account, manager, django_capture_on_commit_callbacks
):
    SandboxScript.objects.create(account=account, outcomes=["reject"])
    target = due_target(brand, account, manager, django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == TargetState.FAILED

    body = sent_body(receiver, only(E.POST_FAILED))
    assert body["data"]["target"]["state"] == "failed"
    assert "refused the post" in body["data"]["target"]["error"]
    assert not Delivery.objects.filter(event_type=E.POST_PUBLISHED).exists()


def test_marking_an_unconfirmed_post_published_emits_it_once(
    listening, brand, account, manager, admin, django_capture_on_commit_callbacks
):
    SandboxScript.objects.create(account=account, outcomes=["timeout"])
    target = due_target(brand, account, manager, django_capture_on_commit_callbacks)
    assert publishing.publish_target(target_id=target.pk) == TargetState.UNCONFIRMED
    target_mark_published(target=target, by=manager, url="https://example.com/p/1")
    assert only(E.POST_PUBLISHED).payload["data"]["target"]["external_url"] == (
        "https://example.com/p/1"
    )


def test_an_inbound_message_emits_message_received_once(listening, receiver, account):
    message = inbound_ingest(
        account=account, item=comment(1, at=T0, text="Oat milk?"), source="poll"
    )
    # The same platform message again (webhook after poll) stores and emits nothing.
    assert inbound_ingest(account=account, item=comment(1, at=T0), source="webhook") is None
    # Our own reply, seen on the platform, is not an inbound message.
    inbound_ingest(account=account, item=comment(2, at=T0, handle="@acmecoffee"), source="poll")

    body = sent_body(receiver, only(E.MESSAGE_RECEIVED))
    assert body["data"]["message"]["id"] == str(message.pk)
    assert body["data"]["message"]["text"] == "Oat milk?"
    assert body["data"]["conversation"]["id"] == str(message.conversation_id)


def test_assigning_a_conversation_emits_conversation_assigned(
    listening, receiver, brand, account, admin, manager
):
    conversation = Conversation.objects.create(
        brand=brand, account=account, kind="direct", external_thread_id="t-1"
    )
    conversation_assign(conversation=conversation, to=manager, by=admin)
    conversation_assign(conversation=conversation, to=None, by=admin)  # not an assignment

    body = sent_body(receiver, only(E.CONVERSATION_ASSIGNED))
    assert body["data"]["assignee"]["username"] == manager.username
    assert body["data"]["assigned_by"]["username"] == admin.username
    assert body["data"]["conversation"]["kind"] == "direct"


def test_the_over_budget_alert_emits_campaign_over_budget_once_a_day(
    listening, receiver, brand, marketer
):
    from ads.services.insights import campaign_pacing_alert

    campaign = make_campaign(brand, budget_kind="lifetime", budget_amount=Decimal("800"))
    spend(campaign, "900")
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == ["over_budget"]
    assert campaign_pacing_alert(campaign=campaign, now=at_noon(TODAY)) == []

    body = sent_body(receiver, only(E.CAMPAIGN_OVER_BUDGET))
    assert body["data"]["campaign"]["id"] == str(campaign.pk)
    assert (body["data"]["spent"], body["data"]["budget"]) == ("900.00", "800.00")
    assert body["data"]["currency"] == "EUR" and body["data"]["day"] == TODAY.isoformat()


def test_a_goal_status_change_emits_goal_status_changed(listening, receiver, brand, account):
    from reports.services.goals import goal_record_status

    goal = make_goal(brand, account=account)
    snapshot(account, dt.date(2025, 1, 1), followers=1000)
    snapshot(account, dt.date(2025, 1, 3), followers=1300)
    assert goal_record_status(goal=goal, today=dt.date(2025, 1, 3))
    assert not goal_record_status(goal=goal, today=dt.date(2025, 1, 3))

    body = sent_body(receiver, only(E.GOAL_STATUS_CHANGED))
    goal.refresh_from_db()
    assert body["data"]["goal"]["id"] == str(goal.pk)
    assert (body["data"]["from"], body["data"]["to"]) == (None, goal.last_status)


def test_a_generated_pdf_report_emits_report_ready(
    listening, receiver, brand, manager, django_capture_on_commit_callbacks
):
    from reports.services import exports

    with django_capture_on_commit_callbacks(execute=False):
        export = exports.report_export_request(
            brand=brand, by=manager, start=dt.date(2025, 5, 1), end=dt.date(2025, 5, 31)
        )
    assert not Delivery.objects.filter(event_type=E.REPORT_READY).exists()
    assert exports.report_export_run(export_id=export.pk) == "done"

    body = sent_body(receiver, only(E.REPORT_READY))
    assert body["data"]["report"]["id"] == str(export.pk)
    assert body["data"]["report"]["download_url"].endswith(
        f"/reports/exports/{export.pk}/download/"
    )


def test_nothing_is_queued_while_nobody_listens(brand, account):
    inbound_ingest(account=account, item=comment(1, at=T0), source="poll")
    assert not Delivery.objects.exists()
