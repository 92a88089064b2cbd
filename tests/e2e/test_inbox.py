"""The manager's inbox in a real browser, with a real worker: a comment on a published sandbox
post arrives by a signed Meta webhook, shows up in the open inbox without a reload, is assigned,
answered with a saved reply, and the reply goes out through the sandbox exactly once."""

import hashlib
import hmac
import json
import urllib.request
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from agency.models import Platform, SandboxPost
from calendar_app import publishing
from calendar_app.models import TargetState
from community.models import Conversation, Message, SavedReply
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.live.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-meta-app-secret"
PAGE_ID = "1067280970047460"
# Longer than the list's and the thread's 10 s polls, with room for a slow worker start.
ARRIVAL_MS = 45_000


def published_sandbox_post(account, text: str) -> str:
    """A post published on the sandbox the way the engine does it; its external id."""
    target = PostTargetFactory(
        post=PostFactory(brand=account.brand, text=text),
        account=account,
        state=TargetState.QUEUED,
        due_at=timezone.now(),
    )
    assert publishing.publish_target(target_id=target.pk) == TargetState.PUBLISHED
    target.refresh_from_db()
    return target.external_id


def page_comment(post_id: str, comment_id: str, who: str, text: str, at) -> dict:
    """One Page feed comment change, as Meta documents it.
    https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""
    return {
        "field": "feed",
        "value": {
            "from": {"id": f"9{abs(hash(who)) % 10**9}", "name": who},
            "message": text,
            "post_id": post_id,
            "comment_id": comment_id,
            "created_time": int(at.timestamp()),
            "item": "comment",
            "parent_id": post_id,
            "verb": "add",
        },
    }


def post_signed_webhook(live_server, changes: list[dict]) -> int:
    """POST to the live server as Meta does: X-Hub-Signature-256 over the raw body.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#event-notifications"""
    body = json.dumps(
        {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": int(timezone.now().timestamp()), "changes": changes}],
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        live_server.url + reverse("community:webhook-meta"),
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256="
            + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status


def panel_id(page) -> str:
    return page.locator("#conversation-panel").get_attribute("data-conversation-id") or ""


def test_a_webhook_comment_appears_live_is_assigned_and_answered_once_with_a_saved_reply(
    browser, live_server, log_in, page, screenshot, settings, manager, brand, celery_worker_process
):
    settings.META_APP_SECRET = SECRET
    # The sandbox stands in for the Facebook Page: same id, so the real webhook road leads here.
    account = SocialAccountFactory(
        brand=brand, platform=Platform.SANDBOX, external_id=PAGE_ID, handle="@acmecoffee"
    )
    decaf_post = published_sandbox_post(account, "Our new decaf is in.")
    beans_post = published_sandbox_post(account, "Fresh beans every Monday.")
    SavedReply.objects.create(
        brand=brand, name="Decaf", text="Hi {first_name}, yes! {brand} has decaf all day."
    )
    worker = celery_worker_process(queues=["celery", "publish"], pool="threads", concurrency=4)

    log_in(manager)
    page.goto("/inbox/")
    page.get_by_text("No conversation matches these filters.").wait_for()
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    now = timezone.now()
    assert (
        post_signed_webhook(
            live_server,
            [
                page_comment(
                    beans_post,
                    f"{PAGE_ID}_201",
                    "Tom Kruger",
                    "Monday only?",
                    now - timedelta(minutes=6),
                ),
                page_comment(
                    decaf_post,
                    f"{PAGE_ID}_118",
                    "Lena Weber",
                    "Do you have decaf in the afternoon?",
                    now - timedelta(minutes=5),
                ),
            ],
        )
        == 200
    )

    # The list polls: the comment shows up in the page that is already open.
    lena_row = page.locator("#inbox-list a[data-conversation-id]", has_text="Lena Weber")
    try:
        lena_row.wait_for(timeout=ARRIVAL_MS)
    except Exception:
        pytest.fail(f"the comment never showed in the inbox:\n{worker.log_tail()}")
    assert page.evaluate("window.__sameDocument") is True
    lena = Conversation.objects.get(account=account, external_thread_id=decaf_post)
    tom = Conversation.objects.get(account=account, external_thread_id=beans_post)
    assert lena.post_target.external_id == decaf_post  # tied to our published post
    assert page.locator("#inbox-list a[data-conversation-id]").count() == 2
    assert "Do you have decaf in the afternoon?" in lena_row.inner_text()
    screenshot("inbox")

    lena_row.click()
    page.locator(f"#conversation-panel[data-conversation-id='{lena.pk}']").wait_for()
    page.locator("#assign-me").click()
    page.locator("#conversation-panel", has_text="Assigned to").wait_for()
    page.locator("#assign-me:disabled").wait_for()
    lena.refresh_from_db()
    assert lena.assignee == manager

    # j and k move through the list (Lena's is the newer, so the first row); ? shows the help.
    page.locator("body").press("j")
    page.locator(f"#conversation-panel[data-conversation-id='{tom.pk}']").wait_for()
    page.wait_for_url(f"**/inbox/{tom.pk}/**")
    page.locator("body").press("k")
    page.locator(f"#conversation-panel[data-conversation-id='{lena.pk}']").wait_for()
    assert panel_id(page) == str(lena.pk)
    page.locator("body").press("?")
    page.locator("#inbox-help[open]").wait_for()
    assert page.get_by_role("dialog").get_by_text("Write a reply").is_visible()
    page.keyboard.press("Escape")
    page.locator("#inbox-help[open]").wait_for(state="detached")
    page.locator("body").press("r")
    assert page.evaluate("document.activeElement.id") == "reply-box"

    page.get_by_role("group", name="Saved replies").get_by_role("link", name="Decaf").click()
    page.get_by_text("from the saved reply “Decaf”").wait_for()
    rendered = "Hi Lena, yes! Acme Coffee has decaf all day."
    assert page.locator("#reply-box").input_value() == rendered

    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Reply queued").wait_for()
    reply = Message.objects.get(conversation=lena, direction=Message.Direction.OUTBOUND)
    assert reply.text == rendered
    assert reply.author_user == manager

    # The thread polls too: the worker's "sent" shows up without a click.
    sent = page.locator(f"#message-{reply.pk} .send-state--sent")
    try:
        sent.wait_for(timeout=ARRIVAL_MS)
    except Exception:
        reply.refresh_from_db()
        pytest.fail(f"reply {reply.send_state}: {reply.last_error}\n{worker.log_tail()}")
    assert wait_for(
        lambda: SandboxPost.objects.filter(idempotency_key=str(reply.idempotency_key)).exists(),
        timeout=5,
        processes=[worker],
    )
    assert SandboxPost.objects.filter(idempotency_key=str(reply.idempotency_key)).count() == 1
    assert SandboxPost.objects.get(idempotency_key=str(reply.idempotency_key)).text == rendered

    lena.refresh_from_db()
    assert lena.first_response_at is not None
    delay = timesince(lena.first_inbound_at, lena.first_response_at)
    assert "minute" in delay  # about five minutes after the comment
    assert page.evaluate("window.__sameDocument") is True
    # Answered, it is pending ("waiting for them") and leaves the open list; its page says how
    # long the first response took.
    page.goto(f"/inbox/{lena.pk}/")
    assert f"first response after {delay}" in page.locator("#conversation-sla").inner_text()
    assert "Answered in time" in page.locator("#conversation-sla").inner_text()
    screenshot("inbox-conversation")

    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
    assert page.js_errors == []
