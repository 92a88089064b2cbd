"""Liking the audience's messages as the brand, where the platform's API allows it, against
replayed answers shaped as each platform's documentation shows. Every like must be safe to
repeat: after a lost answer the person clicks again."""

import json

import pytest
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import ADAPTERS, get_adapter
from agency.platforms.bluesky import LIKE_COLLECTION, record_key
from agency.platforms.errors import AuthExpired, Rejected, TransientError
from agency.platforms.facebook import GRAPH_URL

MASTODON = "https://mastodon.example"
PDS = "https://pds.example"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
THEIR_POST = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l6oveex3ii2l"
CID = "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q"
X_API = "https://api.x.com/2"
X_USER = "2244994945"


def account(platform, **fields):
    defaults = {
        "mastodon": {"external_id": "109000000000000001", "instance_url": MASTODON},
        "bluesky": {"external_id": DID, "instance_url": PDS, "handle": "@acme.bsky.social"},
        "x": {"external_id": X_USER},
        "facebook": {"external_id": "104800001"},
        "instagram": {"external_id": "17841400000000001"},
    }[platform]
    return SocialAccount(
        platform=platform, access_token=f"{platform}-token", **{**defaults, **fields}
    )


def test_which_networks_can_like_and_which_say_why_not():
    can = {name for name in ADAPTERS if get_adapter(name).supports_like}
    assert {"mastodon", "bluesky", "x", "facebook"} <= can
    assert "instagram" not in can
    assert "Instagram app" in get_adapter("instagram").like_unsupported_reason
    with pytest.raises(Rejected):
        get_adapter("instagram").set_liked(account("instagram"), "1787", True)


# -- Mastodon ------------------------------------------------------------------------------------


def mastodon_status(status_id, *, favourited):
    """A Status entity, trimmed. https://docs.joinmastodon.org/entities/Status/"""
    return {
        "id": status_id,
        "uri": f"{MASTODON}/users/lena/statuses/{status_id}",
        "content": "<p>Do you have oat milk?</p>",
        "favourited": favourited,
        "favourites_count": 1 if favourited else 0,
    }


@responses.activate
@pytest.mark.parametrize(("liked", "action"), [(True, "favourite"), (False, "unfavourite")])
def test_mastodon_favourites_and_unfavourites_a_status(liked, action):
    """POST /api/v1/statuses/:id/favourite (and /unfavourite) answer the Status.
    https://docs.joinmastodon.org/methods/statuses/#favourite
    https://docs.joinmastodon.org/methods/statuses/#unfavourite"""
    responses.post(
        f"{MASTODON}/api/v1/statuses/5001/{action}",
        json=mastodon_status("5001", favourited=liked),
        match=[matchers.header_matcher({"Authorization": "Bearer mastodon-token"})],
    )
    get_adapter("mastodon").set_liked(account("mastodon"), "5001", liked)
    # Favouriting twice is harmless: Mastodon keeps one favourite and answers the same Status.
    get_adapter("mastodon").set_liked(account("mastodon"), "5001", liked)
    assert len(responses.calls) == 2


@responses.activate
def test_mastodon_favourite_of_a_deleted_status_is_rejected():
    """404 {"error": "Record not found"}. https://docs.joinmastodon.org/methods/statuses/#favourite"""
    responses.post(
        f"{MASTODON}/api/v1/statuses/5001/favourite",
        status=404,
        json={"error": "Record not found"},
    )
    with pytest.raises(Rejected):
        get_adapter("mastodon").set_liked(account("mastodon"), "5001", True)


# -- X -------------------------------------------------------------------------------------------


@responses.activate
def test_x_likes_a_post_as_the_account():
    """POST /2/users/:id/likes {"tweet_id"} -> {"data": {"liked": true}}.
    https://docs.x.com/x-api/posts/likes/quickstart/manage-likes"""
    responses.post(
        f"{X_API}/users/{X_USER}/likes",
        json={"data": {"liked": True}},
        match=[
            matchers.json_params_matcher({"tweet_id": "1896000000000000001"}),
            matchers.header_matcher({"Authorization": "Bearer x-token"}),
        ],
    )
    get_adapter("x").set_liked(account("x"), "1896000000000000001", True)


@responses.activate
def test_x_unlikes_with_delete():
    """DELETE /2/users/:id/likes/:tweet_id -> {"data": {"liked": false}}.
    https://docs.x.com/x-api/posts/likes/quickstart/manage-likes"""
    responses.delete(
        f"{X_API}/users/{X_USER}/likes/1896000000000000001", json={"data": {"liked": False}}
    )
    get_adapter("x").set_liked(account("x"), "1896000000000000001", False)


@responses.activate
def test_x_like_without_confirmation_is_worth_another_click():
    """https://docs.x.com/x-api/posts/likes/quickstart/manage-likes"""
    responses.post(f"{X_API}/users/{X_USER}/likes", json={"data": {}})
    with pytest.raises(TransientError):
        get_adapter("x").set_liked(account("x"), "1896000000000000001", True)


def test_x_direct_messages_cannot_be_liked():
    with pytest.raises(Rejected, match="direct messages"):
        get_adapter("x").set_liked(account("x"), "dm:954491830116155396", True)


@responses.activate
def test_x_like_with_a_revoked_token_is_auth_expired():
    """401 problem. https://docs.x.com/x-api/fundamentals/response-codes-and-errors"""
    responses.post(
        f"{X_API}/users/{X_USER}/likes",
        status=401,
        json={
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        },
    )
    with pytest.raises(AuthExpired):
        get_adapter("x").set_liked(account("x"), "1896000000000000001", True)


# -- Facebook ------------------------------------------------------------------------------------


@responses.activate
def test_facebook_likes_a_comment_as_the_page():
    """POST /{comment-id}/likes with the Page token -> {"success": true}.
    https://developers.facebook.com/docs/graph-api/reference/object/likes"""
    responses.post(f"{GRAPH_URL}/901_2/likes", json={"success": True})
    get_adapter("facebook").set_liked(account("facebook"), "901_2", True)
    assert "access_token=facebook-token" in responses.calls[0].request.body


@responses.activate
def test_facebook_unlikes_with_delete_and_the_token_in_the_query():
    """DELETE /{comment-id}/likes -> {"success": true}.
    https://developers.facebook.com/docs/graph-api/reference/object/likes"""
    responses.delete(
        f"{GRAPH_URL}/901_2/likes",
        json={"success": True},
        match=[matchers.query_param_matcher({"access_token": "facebook-token"})],
    )
    get_adapter("facebook").set_liked(account("facebook"), "901_2", False)


@responses.activate
def test_facebook_like_without_the_permission_asks_to_reconnect():
    """(#200) permission errors. https://developers.facebook.com/docs/graph-api/guides/error-handling"""
    responses.post(
        f"{GRAPH_URL}/901_2/likes",
        status=403,
        json={
            "error": {
                "message": "(#200) Requires pages_manage_engagement permission",
                "type": "OAuthException",
                "code": 200,
                "fbtrace_id": "AbCdEf",
            }
        },
    )
    with pytest.raises(AuthExpired):
        get_adapter("facebook").set_liked(account("facebook"), "901_2", True)


# -- Bluesky -------------------------------------------------------------------------------------


def bluesky_session():
    """https://docs.bsky.app/docs/api/com-atproto-server-create-session"""
    responses.post(
        f"{PDS}/xrpc/com.atproto.server.createSession",
        json={"accessJwt": "jwt-1", "refreshJwt": "r", "handle": "acme.bsky.social", "did": DID},
    )


def bluesky_post_view(*, our_like=None):
    """app.bsky.feed.getPosts -> {posts: [PostView]}; viewer.like is our like record's uri.
    https://docs.bsky.app/docs/api/app-bsky-feed-get-posts"""
    viewer = {"like": our_like} if our_like else {}
    responses.get(
        f"{PDS}/xrpc/app.bsky.feed.getPosts",
        json={
            "posts": [
                {
                    "uri": THEIR_POST,
                    "cid": CID,
                    "author": {"did": "did:plc:z72i7hdynmk6r22z27h6tvur", "handle": "lena.bsky"},
                    "record": {"$type": "app.bsky.feed.post", "text": "Oat milk?"},
                    "likeCount": 1 if our_like else 0,
                    "indexedAt": "2025-03-03T09:00:00.000Z",
                    "viewer": viewer,
                }
            ]
        },
        match=[matchers.query_param_matcher({"uris": THEIR_POST})],
    )


@responses.activate
def test_bluesky_like_is_a_like_record_under_a_key_from_the_post():
    """createRecord app.bsky.feed.like {subject: {uri, cid}, createdAt}.
    https://docs.bsky.app/docs/tutorials/like-repost
    https://docs.bsky.app/docs/api/com-atproto-repo-create-record"""
    bluesky_session()
    bluesky_post_view()
    rkey = record_key(f"like:{THEIR_POST}")
    sent = []

    def created(request):
        body = json.loads(request.body)
        sent.append(body)
        return (
            200,
            {},
            json.dumps({"uri": f"at://{DID}/{LIKE_COLLECTION}/{rkey}", "cid": "bafyreilike"}),
        )

    responses.add_callback(
        responses.POST, f"{PDS}/xrpc/com.atproto.repo.createRecord", callback=created
    )
    get_adapter("bluesky").set_liked(account("bluesky"), THEIR_POST, True)
    (body,) = sent
    assert body["repo"] == DID
    assert body["collection"] == LIKE_COLLECTION
    assert body["rkey"] == rkey
    assert body["record"]["subject"] == {"uri": THEIR_POST, "cid": CID}
    assert body["record"]["$type"] == LIKE_COLLECTION


@responses.activate
def test_bluesky_like_repeated_after_a_lost_answer_creates_no_second_record():
    """The key is taken by the first attempt: createRecord refuses, getRecord shows ours.
    https://docs.bsky.app/docs/api/com-atproto-repo-create-record
    https://docs.bsky.app/docs/api/com-atproto-repo-get-record"""
    bluesky_session()
    bluesky_post_view()  # the AppView has not indexed our first like yet
    rkey = record_key(f"like:{THEIR_POST}")
    responses.post(
        f"{PDS}/xrpc/com.atproto.repo.createRecord",
        status=400,
        json={"error": "InvalidRequest", "message": "Record already exists"},
    )
    responses.get(
        f"{PDS}/xrpc/com.atproto.repo.getRecord",
        json={"uri": f"at://{DID}/{LIKE_COLLECTION}/{rkey}", "cid": "bafyreilike", "value": {}},
        match=[
            matchers.query_param_matcher({"repo": DID, "collection": LIKE_COLLECTION, "rkey": rkey})
        ],
    )
    get_adapter("bluesky").set_liked(account("bluesky"), THEIR_POST, True)


@responses.activate
def test_bluesky_like_of_a_post_we_already_like_sends_nothing():
    """https://docs.bsky.app/docs/api/app-bsky-feed-get-posts"""
    bluesky_session()
    bluesky_post_view(our_like=f"at://{DID}/{LIKE_COLLECTION}/3kabcdefghij2")
    get_adapter("bluesky").set_liked(account("bluesky"), THEIR_POST, True)
    assert [c.request.url.split("/xrpc/")[1].split("?")[0] for c in responses.calls] == [
        "com.atproto.server.createSession",
        "app.bsky.feed.getPosts",
    ]


@responses.activate
def test_bluesky_unlike_deletes_our_record_and_one_made_in_the_app():
    """deleteRecord {repo, collection, rkey}; unliking means deleting the like record.
    https://docs.bsky.app/docs/tutorials/like-repost
    https://docs.bsky.app/docs/api/com-atproto-repo-delete-record"""
    bluesky_session()
    bluesky_post_view(our_like=f"at://{DID}/{LIKE_COLLECTION}/3kabcdefghij2")
    deleted = []

    def delete(request):
        deleted.append(json.loads(request.body)["rkey"])
        return 200, {}, json.dumps({})

    responses.add_callback(
        responses.POST, f"{PDS}/xrpc/com.atproto.repo.deleteRecord", callback=delete
    )
    get_adapter("bluesky").set_liked(account("bluesky"), THEIR_POST, False)
    assert deleted == [record_key(f"like:{THEIR_POST}"), "3kabcdefghij2"]


@responses.activate
def test_bluesky_like_of_a_deleted_post_is_rejected():
    """getPosts leaves out posts it cannot show. https://docs.bsky.app/docs/api/app-bsky-feed-get-posts"""
    bluesky_session()
    responses.get(f"{PDS}/xrpc/app.bsky.feed.getPosts", json={"posts": []})
    with pytest.raises(Rejected, match="deleted"):
        get_adapter("bluesky").set_liked(account("bluesky"), THEIR_POST, True)
