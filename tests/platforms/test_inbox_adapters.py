"""The adapters' inbox methods: fetch_inbox and reply, against replayed platform answers."""

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
import responses
from django.utils import timezone
from responses import matchers

from agency.models import SandboxPost, SocialAccount
from agency.platforms import get_adapter
from agency.platforms.bluesky import record_key
from agency.platforms.errors import AuthExpired, Rejected
from calendar_app.models import TargetState
from tests.factories import PostTargetFactory

MASTODON = "https://mastodon.example"
PDS = "https://pds.example"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
CID = "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q"


def mastodon_account():
    return SocialAccount(
        platform="mastodon",
        handle="@acme",
        external_id="109000000000000001",
        instance_url=MASTODON,
        access_token="mastodon-token",
    )


def bluesky_account():
    return SocialAccount(
        platform="bluesky",
        handle="@acme.bsky.social",
        external_id=DID,
        instance_url=PDS,
        access_token="abcd-efgh-ijkl-mnop",
    )


def message(**fields):
    fields.setdefault("conversation", SimpleNamespace(kind="comment"))
    fields.setdefault("raw", {})
    fields.setdefault("author_handle", "")
    return SimpleNamespace(**fields)


def mastodon_notification(nid, status_id, *, visibility="public", reply_to=None, to_account=None):
    """A Notification entity of type mention with its Status.
    https://docs.joinmastodon.org/entities/Notification/"""
    return {
        "id": nid,
        "type": "mention",
        "created_at": "2025-03-03T09:00:00.000Z",
        "account": {"id": "2001", "acct": "lena@social.example", "display_name": "Lena"},
        "status": {
            "id": status_id,
            "created_at": "2025-03-03T09:00:00.000Z",
            "in_reply_to_id": reply_to,
            "in_reply_to_account_id": to_account,
            "visibility": visibility,
            "content": '<p><span class="h-card"><a href="https://mastodon.example/@acme" '
            'class="u-url mention">@<span>acme</span></a></span> Is the shop open &amp; busy?</p>',
            "account": {"id": "2001", "acct": "lena@social.example"},
        },
    }


@responses.activate
def test_mastodon_inbox_reads_mentions_since_the_cursor_and_sorts_them_into_kinds():
    """GET /api/v1/notifications with types[]=mention and min_id.
    https://docs.joinmastodon.org/methods/notifications/#get"""
    account = mastodon_account()
    responses.get(
        f"{MASTODON}/api/v1/notifications",
        match=[
            matchers.query_param_matcher({"types[]": "mention", "limit": "40", "min_id": "90"}),
            matchers.header_matcher({"Authorization": "Bearer mastodon-token"}),
        ],
        json=[
            mastodon_notification("102", "5003", reply_to="4000", to_account="109000000000000001"),
            mastodon_notification("101", "5002", visibility="direct"),
            mastodon_notification("100", "5001"),
        ],
    )
    page = get_adapter("mastodon").fetch_inbox(account, "90")
    assert page.next_cursor == "102"
    kinds = {item.message_id: (item.kind, item.thread_id) for item in page.items}
    assert kinds == {
        "5003": ("comment", "4000"),
        "5002": ("direct", "dm:lena@social.example"),
        "5001": ("mention", "5001"),
    }
    first = page.items[0]
    assert first.text == "@acme Is the shop open & busy?"
    assert first.author_handle == "@lena@social.example"
    assert first.post_external_id == "4000"


@responses.activate
def test_mastodon_inbox_with_nothing_new_keeps_the_cursor():
    """https://docs.joinmastodon.org/methods/notifications/#get"""
    responses.get(f"{MASTODON}/api/v1/notifications", json=[])
    page = get_adapter("mastodon").fetch_inbox(mastodon_account(), "102")
    assert page.items == ()
    assert page.next_cursor == "102"


@responses.activate
def test_mastodon_inbox_with_a_revoked_token_is_auth_expired():
    """401 {"error": "The access token is invalid"}.
    https://docs.joinmastodon.org/methods/notifications/#get"""
    responses.get(
        f"{MASTODON}/api/v1/notifications",
        status=401,
        json={"error": "The access token is invalid"},
    )
    with pytest.raises(AuthExpired):
        get_adapter("mastodon").fetch_inbox(mastodon_account(), "")


@responses.activate
def test_mastodon_reply_answers_the_status_with_the_handle_and_the_key():
    """POST /api/v1/statuses with in_reply_to_id and an Idempotency-Key header.
    https://docs.joinmastodon.org/methods/statuses/#create"""
    adapter = get_adapter("mastodon")
    answering = message(platform_message_id="5003", author_handle="@lena@social.example")
    text = adapter.compose_reply(answering, "Open till six!")
    assert text == "@lena@social.example Open till six!"
    responses.post(
        f"{MASTODON}/api/v1/statuses",
        match=[
            matchers.json_params_matcher(
                {"status": text, "in_reply_to_id": "5003", "visibility": "public"}
            ),
            matchers.header_matcher({"Idempotency-Key": "key-1"}),
        ],
        json={"id": "5004", "url": f"{MASTODON}/@acme/5004"},
    )
    result = adapter.reply(mastodon_account(), answering, text, idempotency_key="key-1")
    assert result.external_id == "5004"


@responses.activate
def test_mastodon_reply_to_a_direct_message_stays_direct():
    """https://docs.joinmastodon.org/methods/statuses/#create"""
    responses.post(
        f"{MASTODON}/api/v1/statuses",
        match=[matchers.json_params_matcher({"visibility": "direct"}, strict_match=False)],
        json={"id": "6001"},
    )
    answering = message(platform_message_id="5002", conversation=SimpleNamespace(kind="direct"))
    result = get_adapter("mastodon").reply(mastodon_account(), answering, "Hi", idempotency_key="k")
    assert result.external_id == "6001"


def bluesky_session():
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session"""
    responses.post(
        f"{PDS}/xrpc/com.atproto.server.createSession",
        json={"accessJwt": "jwt-1", "refreshJwt": "r", "handle": "acme.bsky.social", "did": DID},
    )


def bluesky_notification(uri, indexed_at, reason="reply", root=None):
    """https://docs.bsky.app/docs/api/app-bsky-notification-list-notifications"""
    record = {"$type": "app.bsky.feed.post", "text": "Love the new blend!", "createdAt": indexed_at}
    if root:
        record["reply"] = {"root": {"uri": root, "cid": CID}, "parent": {"uri": root, "cid": CID}}
    return {
        "uri": uri,
        "cid": CID,
        "author": {"did": "did:plc:lena", "handle": "lena.bsky.social", "displayName": "Lena"},
        "reason": reason,
        "record": record,
        "isRead": False,
        "indexedAt": indexed_at,
        "labels": [],
    }


@responses.activate
def test_bluesky_inbox_reads_back_to_the_last_known_notification():
    """listNotifications pages towards older ones with its cursor; likes are not the inbox.
    https://docs.bsky.app/docs/api/app-bsky-notification-list-notifications"""
    bluesky_session()
    ours = f"at://{DID}/app.bsky.feed.post/3kroot"
    url = f"{PDS}/xrpc/app.bsky.notification.listNotifications"
    responses.get(
        url,
        match=[matchers.query_param_matcher({"limit": "50"})],
        json={
            "cursor": "page-2",
            "notifications": [
                bluesky_notification(
                    "at://did:plc:lena/app.bsky.feed.post/3k3",
                    "2025-03-03T10:00:00.000Z",
                    root=ours,
                ),
                bluesky_notification(
                    "at://did:plc:lena/app.bsky.feed.like/3k2",
                    "2025-03-03T09:30:00.000Z",
                    reason="like",
                ),
            ],
        },
    )
    responses.get(
        url,
        match=[matchers.query_param_matcher({"limit": "50", "cursor": "page-2"})],
        json={
            "cursor": "page-3",
            "notifications": [
                bluesky_notification(
                    "at://did:plc:lena/app.bsky.feed.post/3k1",
                    "2025-03-03T09:00:00.000Z",
                    reason="mention",
                ),
                bluesky_notification(
                    "at://did:plc:lena/app.bsky.feed.post/3k0",
                    "2025-03-02T09:00:00.000Z",
                    reason="mention",
                ),
            ],
        },
    )
    page = get_adapter("bluesky").fetch_inbox(bluesky_account(), "2025-03-02T12:00:00+00:00")
    assert [item.kind for item in page.items] == ["comment", "mention"]
    reply = page.items[0]
    assert reply.thread_id == ours
    assert reply.post_external_id == ours
    assert reply.author_handle == "@lena.bsky.social"
    assert page.next_cursor == "2025-03-03T10:00:00+00:00"


@responses.activate
def test_bluesky_reply_names_root_and_parent_under_the_keys_record_key():
    """createRecord of an app.bsky.feed.post with reply {root, parent} strong refs.
    https://docs.bsky.app/docs/advanced-guides/posts#replies"""
    bluesky_session()
    root = {"uri": f"at://{DID}/app.bsky.feed.post/3kroot", "cid": CID}
    parent_uri = "at://did:plc:lena/app.bsky.feed.post/3k3"
    answering = message(
        platform_message_id=parent_uri,
        raw={"cid": CID, "record": {"reply": {"root": root, "parent": root}}},
    )
    rkey = record_key("reply-key")

    def check(request):
        body = json.loads(request.body)
        assert body["rkey"] == rkey
        assert body["record"]["reply"] == {"root": root, "parent": {"uri": parent_uri, "cid": CID}}
        assert body["record"]["text"] == "Thank you!"
        return 200, {}, json.dumps({"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": CID})

    responses.add_callback(
        responses.POST, f"{PDS}/xrpc/com.atproto.repo.createRecord", callback=check
    )
    result = get_adapter("bluesky").reply(
        bluesky_account(), answering, "Thank you!", idempotency_key="reply-key"
    )
    assert result.external_id.endswith(rkey)


def test_bluesky_reply_without_the_messages_cid_is_refused():
    with pytest.raises(Rejected, match="cid"):
        get_adapter("bluesky").reply(
            bluesky_account(), message(platform_message_id="at://x"), "Hi", idempotency_key="k"
        )


def test_networks_without_inbox_support_say_so_in_words():
    adapter = get_adapter("linkedin")
    assert adapter.supports_inbox_polling is False
    with pytest.raises(Rejected, match="does not support"):
        adapter.fetch_inbox(SocialAccount(platform="linkedin"), "")
    with pytest.raises(Rejected, match="does not support"):
        adapter.reply(SocialAccount(platform="linkedin"), message(), "Hi", idempotency_key="k")


def test_sandbox_audience_arrives_one_bucket_at_a_time_with_stable_ids(account):
    post = SandboxPost.objects.create(account=account, idempotency_key="k", text="Hello")
    PostTargetFactory(
        post__brand=account.brand,
        account=account,
        state=TargetState.PUBLISHED,
        external_id=str(post.pk),
    )
    adapter = get_adapter("sandbox")
    bucket = adapter.inbox_bucket
    early = adapter.fetch_inbox(account, "", now=post.created_at + bucket)
    assert [item.message_id for item in early.items] == [f"sbx-{post.pk}-0"]
    later = adapter.fetch_inbox(account, early.next_cursor, now=post.created_at + 10 * bucket)
    assert [item.message_id for item in later.items] == [f"sbx-{post.pk}-{n}" for n in (1, 2)][
        : len(later.items)
    ]
    assert later.items
    again = adapter.fetch_inbox(account, "", now=post.created_at + 10 * bucket)
    assert [i.message_id for i in again.items] == [i.message_id for i in early.items + later.items]
    assert {i.kind for i in again.items} <= {"comment", "direct"}
    assert timezone.now() - post.created_at < timedelta(minutes=1)
