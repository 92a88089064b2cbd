"""Facebook Page publishing against replayed Graph API responses.

Shapes follow Meta's documentation; each test names the page it follows.
"""

import json

import pytest
import requests
import responses
from responses import matchers

from agency.models import SocialAccount
from agency.platforms import MediaItem, PostPayload, get_adapter
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TransientError,
)
from agency.platforms.facebook import DEFAULT_RETRY_AFTER, GRAPH_URL, FacebookAdapter

PAGE_ID = "546349135390552"
TOKEN = "PAGE-TOKEN-abc123"
FEED = f"{GRAPH_URL}/{PAGE_ID}/feed"
PHOTOS = f"{GRAPH_URL}/{PAGE_ID}/photos"
POST_ID = "546349135390552_1116689038356556"


@pytest.fixture
def meta_page_account():
    return SocialAccount(
        platform="facebook", handle="acmecoffee", external_id=PAGE_ID, access_token=TOKEN
    )


@pytest.fixture
def meta_http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def graph_error(code, message="Error", subcode=None, status=400, headers=None):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "EJplc"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"json": {"error": error}, "status": status, "headers": headers or {}}


def publish(account, payload):
    return get_adapter("facebook").publish(account, payload, idempotency_key="k-1")


def test_adapter_is_registered_with_real_limits():
    adapter = get_adapter("facebook")
    assert isinstance(adapter, FacebookAdapter)
    assert adapter.rules.max_chars == 63206
    assert adapter.rules.supports_first_comment is True


def test_publish_text_and_link_posts_to_page_feed_with_page_token(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/pages/publishing (Links)"""
    meta_http.post(
        FEED,
        json={"id": POST_ID},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "message": "For all Math geniuses :)",
                    "link": "https://projecteuler.net",
                    "access_token": TOKEN,
                }
            )
        ],
    )

    result = publish(
        meta_page_account,
        PostPayload(text="For all Math geniuses :)", link="https://projecteuler.net"),
    )

    assert result.external_id == POST_ID
    assert result.url == f"https://www.facebook.com/{POST_ID}"
    assert TOKEN not in meta_http.calls[0].request.url


def test_publish_one_image_posts_photo_with_caption_and_returns_story_id(
    meta_http, meta_page_account
):
    """https://developers.facebook.com/docs/graph-api/photo-uploads (single photo: id, post_id)"""
    meta_http.post(
        PHOTOS,
        json={"id": "1116693858356009", "post_id": POST_ID},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "caption": "New roast\n\nhttps://acme.example/roast",
                    "url": "https://cdn.acme.example/roast.jpg",
                    "access_token": TOKEN,
                }
            )
        ],
    )
    image = MediaItem(
        path="media/roast.jpg", mime_type="image/jpeg", url="https://cdn.acme.example/roast.jpg"
    )

    result = publish(
        meta_page_account,
        PostPayload(text="New roast", link="https://acme.example/roast", media=(image,)),
    )

    assert result.external_id == POST_ID


def test_publish_several_images_attaches_unpublished_photos_to_one_feed_post(
    meta_http, meta_page_account
):
    """https://developers.facebook.com/docs/graph-api/photo-uploads (multi-photo posts)"""
    for number, photo_id in ((1, "111"), (2, "222")):
        meta_http.post(
            PHOTOS,
            json={"id": photo_id},
            match=[
                matchers.urlencoded_params_matcher(
                    {
                        "published": "false",
                        "url": f"https://cdn.acme.example/{number}.jpg",
                        "access_token": TOKEN,
                    }
                )
            ],
        )
    meta_http.post(
        FEED,
        json={"id": POST_ID},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "message": "Two cups",
                    "attached_media[0]": '{"media_fbid": "111"}',
                    "attached_media[1]": '{"media_fbid": "222"}',
                    "access_token": TOKEN,
                }
            )
        ],
    )
    media = tuple(
        MediaItem(path=f"{n}.jpg", mime_type="image/jpeg", url=f"https://cdn.acme.example/{n}.jpg")
        for n in (1, 2)
    )

    result = publish(meta_page_account, PostPayload(text="Two cups", media=media))

    assert result.external_id == POST_ID


def test_publish_image_without_public_url_uploads_the_file_as_source(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/photo-uploads (upload with `source`)"""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("posts/cup.jpg", ContentFile(b"\xff\xd8jpegbytes"))
    meta_http.post(PHOTOS, json={"id": "333", "post_id": POST_ID})

    publish(
        meta_page_account,
        PostPayload(text="Cup", media=(MediaItem(path=name, mime_type="image/jpeg"),)),
    )

    body = meta_http.calls[0].request.body
    assert b'name="source"; filename="cup.jpg"' in body
    assert b"\xff\xd8jpegbytes" in body


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttle_codes_become_rate_limited(meta_http, meta_page_account, code):
    """https://developers.facebook.com/docs/graph-api/overview/rate-limiting/"""
    meta_http.post(FEED, **graph_error(code, f"(#{code}) Application request limit reached"))

    with pytest.raises(RateLimited) as caught:
        publish(meta_page_account, PostPayload(text="Hello"))

    assert caught.value.retry_after == DEFAULT_RETRY_AFTER


def test_throttle_waits_as_long_as_the_business_use_case_header_says(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/overview/rate-limiting/ (BUC headers)"""
    usage = {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 12}]}
    meta_http.post(
        FEED,
        **graph_error(
            80001,
            "There have been too many calls to this Page account.",
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        ),
    )

    with pytest.raises(RateLimited) as caught:
        publish(meta_page_account, PostPayload(text="Hello"))

    assert caught.value.retry_after == 12 * 60


def test_throttle_honours_retry_after_header(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/overview/rate-limiting/"""
    meta_http.post(
        FEED, **graph_error(4, "Application request limit reached", headers={"Retry-After": "90"})
    )

    with pytest.raises(RateLimited) as caught:
        publish(meta_page_account, PostPayload(text="Hello"))

    assert caught.value.retry_after == 90


@pytest.mark.parametrize(("code", "subcode"), [(190, 463), (190, None), (102, None), (200, None)])
def test_expired_token_or_lost_permission_becomes_auth_expired(
    meta_http, meta_page_account, code, subcode
):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (190, 102, 200-299)"""
    meta_http.post(FEED, **graph_error(code, "Error validating access token", subcode))

    with pytest.raises(AuthExpired):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_duplicate_post_is_rejected_as_duplicate(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (506 Duplicate Post)"""
    meta_http.post(FEED, **graph_error(506, "Duplicate status message"))

    with pytest.raises(Rejected, match="duplicate"):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_temporary_api_error_is_transient(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (1 API Unknown)"""
    meta_http.post(FEED, **graph_error(1, "An unknown error occurred"))

    with pytest.raises(TransientError):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_invalid_parameter_is_rejected_with_platforms_words(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (error_user_msg)"""
    error = graph_error(100, "(#100) Invalid parameter")
    error["json"]["error"]["error_user_msg"] = "The link could not be read."
    meta_http.post(FEED, **error)

    with pytest.raises(Rejected, match=r"The link could not be read\."):
        publish(meta_page_account, PostPayload(text="Hello", link="https://broken.example"))


def test_server_error_after_sending_is_outcome_unknown(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (2 API Service)"""
    meta_http.post(FEED, **graph_error(2, "Service temporarily unavailable", status=500))

    with pytest.raises(OutcomeUnknown):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_timeout_after_sending_is_outcome_unknown(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/pages/publishing"""
    meta_http.post(FEED, body=requests.exceptions.ReadTimeout())

    with pytest.raises(OutcomeUnknown):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_refused_connection_is_transient(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/pages/publishing"""
    meta_http.post(FEED, body=requests.exceptions.ConnectionError("Connection refused"))

    with pytest.raises(TransientError):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_malformed_success_body_is_outcome_unknown(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/pages/publishing (success returns {"id": ...})"""
    meta_http.post(FEED, body="<html>oops", status=200)

    with pytest.raises(OutcomeUnknown):
        publish(meta_page_account, PostPayload(text="Hello"))


def test_first_comment_is_posted_on_the_new_post(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/reference/object/comments (Publishing)"""
    meta_http.post(FEED, json={"id": POST_ID})
    meta_http.post(
        f"{GRAPH_URL}/{POST_ID}/comments",
        json={"id": "1116689038356556_99"},
        match=[
            matchers.urlencoded_params_matcher(
                {"message": "Menu: acme.example", "access_token": TOKEN}
            )
        ],
    )

    result = publish(
        meta_page_account, PostPayload(text="Hello", first_comment="Menu: acme.example")
    )

    assert result.raw["first_comment_id"] == "1116689038356556_99"


def test_first_comment_failure_does_not_fail_the_published_post(meta_http, meta_page_account):
    """https://developers.facebook.com/docs/graph-api/reference/object/comments (Publishing)"""
    meta_http.post(FEED, json={"id": POST_ID})
    meta_http.post(f"{GRAPH_URL}/{POST_ID}/comments", **graph_error(100, "Comments are disabled"))

    result = publish(meta_page_account, PostPayload(text="Hello", first_comment="First!"))

    assert result.external_id == POST_ID
    assert "Comments are disabled" in result.raw["first_comment_error"]


def test_validate_reports_text_over_the_limit():
    problems = get_adapter("facebook").validate(PostPayload(text="a" * 63207))

    assert problems == ["Facebook: the text is 63207 characters long; the limit is 63206."]


def test_validate_reports_unsupported_media_type():
    video = MediaItem(path="clip.mp4", mime_type="video/mp4")

    problems = get_adapter("facebook").validate(PostPayload(text="Hi", media=(video,)))

    assert problems == ["Facebook: clip.mp4 is video/mp4; allowed are JPEG, PNG, GIF."]


def test_page_tokens_are_not_refreshed(meta_page_account):
    assert get_adapter("facebook").refresh_credentials(meta_page_account) is None
