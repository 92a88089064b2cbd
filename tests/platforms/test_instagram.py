"""Instagram container publishing against replayed Graph API responses.

Shapes follow Meta's Instagram Platform documentation; each test names the page it follows.
"""

from datetime import UTC, datetime, timedelta

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
from agency.platforms.facebook import GRAPH_URL

IG_USER = "17841405822304914"
TOKEN = "IG-TOKEN-xyz789"
CONTAINER = "17889615691921648"
MEDIA_ID = "17920238422030506"
PERMALINK = "https://www.instagram.com/p/C0ffee/"
LIMIT_URL = f"{GRAPH_URL}/{IG_USER}/content_publishing_limit"
MEDIA_URL = f"{GRAPH_URL}/{IG_USER}/media"
PUBLISH_URL = f"{GRAPH_URL}/{IG_USER}/media_publish"
IMAGE = MediaItem(
    path="media/cup.jpg",
    mime_type="image/jpeg",
    width=1080,
    height=1350,
    url="https://cdn.acme.example/cup.jpg",
)


@pytest.fixture
def meta_ig_account():
    return SocialAccount(
        platform="instagram", handle="acmecoffee", external_id=IG_USER, access_token=TOKEN
    )


@pytest.fixture
def meta_http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def meta_sleeps():
    return []


@pytest.fixture
def meta_instagram(meta_sleeps):
    return get_adapter("instagram", sleep=meta_sleeps.append, poll_interval=2.0, max_polls=3)


def quota(http, usage=2, total=50):
    """https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit/"""
    http.get(
        LIMIT_URL,
        json={
            "data": [
                {"quota_usage": usage, "config": {"quota_total": total, "quota_duration": 86400}}
            ]
        },
        match=[
            matchers.query_param_matcher({"fields": "config,quota_usage", "access_token": TOKEN})
        ],
    )


def container_status(http, status_code, container=CONTAINER, status=""):
    body = {"status_code": status_code, "id": container}
    if status:
        body["status"] = status
    http.get(
        f"{GRAPH_URL}/{container}",
        json=body,
        match=[
            matchers.query_param_matcher({"fields": "status_code,status", "access_token": TOKEN})
        ],
    )


def graph_error(code, message, subcode=None, status=400):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if subcode:
        error["error_subcode"] = subcode
    return {"json": {"error": error}, "status": status}


def happy_until_publish(http, media_fields=None):
    quota(http)
    http.post(
        MEDIA_URL,
        json={"id": CONTAINER},
        match=[
            matchers.urlencoded_params_matcher(
                media_fields
                or {"image_url": IMAGE.url, "caption": "Fresh roast", "access_token": TOKEN}
            )
        ],
    )
    container_status(http, "FINISHED")


def permalink(http):
    http.get(
        f"{GRAPH_URL}/{MEDIA_ID}",
        json={"permalink": PERMALINK, "id": MEDIA_ID},
        match=[matchers.query_param_matcher({"fields": "permalink", "access_token": TOKEN})],
    )


def test_publish_image_runs_the_container_flow_and_returns_permalink(
    meta_http, meta_ig_account, meta_instagram
):
    """https://developers.facebook.com/docs/instagram-platform/content-publishing (single image)"""
    happy_until_publish(meta_http)
    meta_http.post(
        PUBLISH_URL,
        json={"id": MEDIA_ID},
        match=[
            matchers.urlencoded_params_matcher({"creation_id": CONTAINER, "access_token": TOKEN})
        ],
    )
    permalink(meta_http)

    result = meta_instagram.publish(
        meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
    )

    assert result.external_id == MEDIA_ID
    assert result.url == PERMALINK
    assert result.raw["container_id"] == CONTAINER
    assert [call.request.method for call in meta_http.calls] == [
        "GET",
        "POST",
        "GET",
        "POST",
        "GET",
    ]


def test_container_in_progress_is_polled_until_finished(
    meta_http, meta_ig_account, meta_instagram, meta_sleeps
):
    """Status_code.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
    """
    quota(meta_http)
    meta_http.post(MEDIA_URL, json={"id": CONTAINER})
    container_status(meta_http, "IN_PROGRESS")
    container_status(meta_http, "IN_PROGRESS")
    container_status(meta_http, "FINISHED")
    meta_http.post(PUBLISH_URL, json={"id": MEDIA_ID})
    permalink(meta_http)

    result = meta_instagram.publish(
        meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
    )

    assert result.external_id == MEDIA_ID
    assert meta_sleeps == [2.0, 2.0]


def test_container_that_never_finishes_is_transient_and_never_published(
    meta_http, meta_ig_account, meta_instagram
):
    """IN_PROGRESS.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
    """
    quota(meta_http)
    meta_http.post(MEDIA_URL, json={"id": CONTAINER})
    for _ in range(3):
        container_status(meta_http, "IN_PROGRESS")

    with pytest.raises(TransientError, match=CONTAINER):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )

    assert not any(call.request.url.startswith(PUBLISH_URL) for call in meta_http.calls)


@pytest.mark.parametrize("status_code", ["ERROR", "EXPIRED"])
def test_container_error_is_rejected_and_never_published(
    meta_http, meta_ig_account, meta_instagram, status_code
):
    """ERROR, EXPIRED.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
    """
    quota(meta_http)
    meta_http.post(MEDIA_URL, json={"id": CONTAINER})
    container_status(meta_http, status_code, status=f"{status_code}: 2207026")

    with pytest.raises(Rejected, match=status_code):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )

    assert not any(call.request.url.startswith(PUBLISH_URL) for call in meta_http.calls)


def test_exhausted_daily_quota_is_rate_limited_before_any_container(
    meta_http, meta_ig_account, meta_instagram
):
    """https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit/"""
    quota(meta_http, usage=50, total=50)

    with pytest.raises(RateLimited) as caught:
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )

    assert caught.value.retry_after == 3600
    assert len(meta_http.calls) == 1


def test_single_video_is_published_as_a_reel(meta_http, meta_ig_account, meta_instagram):
    """Media_type=REELS.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
    """
    video = MediaItem(
        path="clip.mp4", mime_type="video/mp4", url="https://cdn.acme.example/clip.mp4"
    )
    happy_until_publish(
        meta_http,
        {"media_type": "REELS", "video_url": video.url, "caption": "Pour", "access_token": TOKEN},
    )
    meta_http.post(PUBLISH_URL, json={"id": MEDIA_ID})
    permalink(meta_http)

    result = meta_instagram.publish(
        meta_ig_account, PostPayload(text="Pour", media=(video,)), idempotency_key="k"
    )

    assert result.external_id == MEDIA_ID


def test_several_images_are_published_as_one_carousel(meta_http, meta_ig_account, meta_instagram):
    """Carousel posts.

    https://developers.facebook.com/docs/instagram-platform/content-publishing
    """
    quota(meta_http)
    second = MediaItem(path="b.jpg", mime_type="image/jpeg", url="https://cdn.acme.example/b.jpg")
    for item, child in ((IMAGE, "c1"), (second, "c2")):
        meta_http.post(
            MEDIA_URL,
            json={"id": child},
            match=[
                matchers.urlencoded_params_matcher(
                    {"image_url": item.url, "is_carousel_item": "true", "access_token": TOKEN}
                )
            ],
        )
    meta_http.post(
        MEDIA_URL,
        json={"id": CONTAINER},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "media_type": "CAROUSEL",
                    "children": "c1,c2",
                    "caption": "Two",
                    "access_token": TOKEN,
                }
            )
        ],
    )
    container_status(meta_http, "FINISHED")
    meta_http.post(PUBLISH_URL, json={"id": MEDIA_ID})
    permalink(meta_http)

    result = meta_instagram.publish(
        meta_ig_account, PostPayload(text="Two", media=(IMAGE, second)), idempotency_key="k"
    )

    assert result.external_id == MEDIA_ID


def test_publish_timeout_is_outcome_unknown_and_names_the_container(
    meta_http, meta_ig_account, meta_instagram
):
    """https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media_publish"""
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(OutcomeUnknown) as caught:
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )

    assert caught.value.hints["container_id"] == CONTAINER


def test_publish_server_error_is_outcome_unknown(meta_http, meta_ig_account, meta_instagram):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (2 API Service)"""
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, **graph_error(2, "Service temporarily unavailable", status=503))

    with pytest.raises(OutcomeUnknown):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )


def test_publish_malformed_success_body_is_outcome_unknown(
    meta_http, meta_ig_account, meta_instagram
):
    """Returns {"id": ...}.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media_publish
    """
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, body="not json", status=200)

    with pytest.raises(OutcomeUnknown):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )


def test_refused_connection_is_transient_and_keeps_the_token_out_of_the_message(
    meta_http, meta_ig_account, meta_instagram
):
    """https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit/"""
    meta_http.get(
        LIMIT_URL,
        body=requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='graph.facebook.com', port=443): Max retries exceeded with "
            f"url: /v24.0/{IG_USER}/content_publishing_limit?access_token={TOKEN} "
            "(Caused by NewConnectionError: [Errno 111] Connection refused)"
        ),
    )

    with pytest.raises(TransientError) as caught:
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )

    assert TOKEN not in str(caught.value)
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(("code", "subcode"), [(4, None), (9, 2207042)])
def test_throttled_publish_is_rate_limited(
    meta_http, meta_ig_account, meta_instagram, code, subcode
):
    """https://developers.facebook.com/docs/graph-api/overview/rate-limiting/"""
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, **graph_error(code, "Limit reached", subcode))

    with pytest.raises(RateLimited):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )


def test_expired_token_is_auth_expired(meta_http, meta_ig_account, meta_instagram):
    """https://developers.facebook.com/docs/graph-api/guides/error-handling (190)"""
    meta_http.get(LIMIT_URL, **graph_error(190, "Error validating access token", 463))

    with pytest.raises(AuthExpired):
        meta_instagram.publish(
            meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
        )


def test_first_comment_failure_does_not_fail_the_published_post(
    meta_http, meta_ig_account, meta_instagram
):
    """https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments"""
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, json={"id": MEDIA_ID})
    permalink(meta_http)
    meta_http.post(
        f"{GRAPH_URL}/{MEDIA_ID}/comments",
        **graph_error(100, "Comments are turned off"),
        match=[matchers.urlencoded_params_matcher({"message": "#coffee", "access_token": TOKEN})],
    )

    result = meta_instagram.publish(
        meta_ig_account,
        PostPayload(text="Fresh roast", media=(IMAGE,), first_comment="#coffee"),
        idempotency_key="k",
    )

    assert result.external_id == MEDIA_ID
    assert "Comments are turned off" in result.raw["first_comment_error"]


def test_missing_permalink_does_not_fail_the_published_post(
    meta_http, meta_ig_account, meta_instagram
):
    """Permalink.

    https://developers.facebook.com/docs/instagram-platform/reference/instagram-media
    """
    happy_until_publish(meta_http)
    meta_http.post(PUBLISH_URL, json={"id": MEDIA_ID})
    meta_http.get(f"{GRAPH_URL}/{MEDIA_ID}", body=requests.exceptions.ReadTimeout())

    result = meta_instagram.publish(
        meta_ig_account, PostPayload(text="Fresh roast", media=(IMAGE,)), idempotency_key="k"
    )

    assert result.external_id == MEDIA_ID
    assert result.url == ""
    assert "permalink_error" in result.raw


def recent_media(http, *items):
    http.get(
        MEDIA_URL,
        json={"data": list(items), "paging": {"cursors": {"before": "a", "after": "b"}}},
        match=[
            matchers.query_param_matcher(
                {"fields": "id,caption,permalink,timestamp", "limit": "50", "access_token": TOKEN}
            )
        ],
    )


def stamp(hours_ago):
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S+0000")


def test_find_published_matches_exact_caption_from_the_last_day(
    meta_http, meta_ig_account, meta_instagram
):
    """Reading.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
    """
    recent_media(
        meta_http,
        {
            "id": "1",
            "caption": "Other post",
            "permalink": "https://www.instagram.com/p/1/",
            "timestamp": stamp(1),
        },
        {"id": MEDIA_ID, "caption": "Fresh roast", "permalink": PERMALINK, "timestamp": stamp(2)},
    )

    found = meta_instagram.find_published(
        meta_ig_account,
        idempotency_key="k",
        payload=PostPayload(text="Fresh roast", media=(IMAGE,)),
    )

    assert found.external_id == MEDIA_ID
    assert found.url == PERMALINK


def test_find_published_ignores_same_caption_older_than_a_day(
    meta_http, meta_ig_account, meta_instagram
):
    """Reading.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
    """
    recent_media(
        meta_http,
        {"id": MEDIA_ID, "caption": "Fresh roast", "permalink": PERMALINK, "timestamp": stamp(30)},
    )

    found = meta_instagram.find_published(
        meta_ig_account,
        idempotency_key="k",
        payload=PostPayload(text="Fresh roast", media=(IMAGE,)),
    )

    assert found is None


def test_find_published_trusts_an_unpublished_container(meta_http, meta_ig_account, meta_instagram):
    """PUBLISHED.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
    """
    container_status(meta_http, "FINISHED")

    found = meta_instagram.find_published(
        meta_ig_account, idempotency_key="k", container_id=CONTAINER
    )

    assert found is None


def test_find_published_container_published_finds_its_media(
    meta_http, meta_ig_account, meta_instagram
):
    """PUBLISHED.

    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
    """
    container_status(meta_http, "PUBLISHED")
    recent_media(
        meta_http,
        {"id": MEDIA_ID, "caption": "Fresh roast", "permalink": PERMALINK, "timestamp": stamp(0)},
    )

    found = meta_instagram.find_published(
        meta_ig_account,
        idempotency_key="k",
        payload=PostPayload(text="Fresh roast", media=(IMAGE,)),
        container_id=CONTAINER,
    )

    assert found.external_id == MEDIA_ID


def test_find_published_without_caption_or_container_cannot_tell(meta_ig_account, meta_instagram):
    with pytest.raises(OutcomeUnknown):
        meta_instagram.find_published(meta_ig_account, idempotency_key="k")


def test_validate_requires_media():
    problems = get_adapter("instagram").validate(PostPayload(text="Words only"))

    assert problems == ["Instagram: a post needs at least one image or video."]


def test_validate_reports_image_outside_allowed_aspect_ratio():
    tall = MediaItem(path="story.jpg", mime_type="image/jpeg", width=1080, height=1920)

    problems = get_adapter("instagram").validate(PostPayload(text="Hi", media=(tall,)))

    assert problems == ["Instagram: story.jpg is 0.56:1; the narrowest allowed is 0.80:1."]


def test_validate_accepts_vertical_reel():
    reel = MediaItem(path="reel.mp4", mime_type="video/mp4", width=1080, height=1920)

    assert get_adapter("instagram").validate(PostPayload(text="Hi", media=(reel,))) == []


def test_validate_reports_caption_too_long_and_too_many_hashtags():
    tags = " ".join(f"#tag{n}" for n in range(31))

    problems = get_adapter("instagram").validate(
        PostPayload(text=tags + " " + "a" * 2000, media=(IMAGE,))
    )

    assert problems == [
        f"Instagram: the text is {len(tags) + 2001} characters long; the limit is 2200.",
        "Instagram: the caption has 31 hashtags; at most 30.",
    ]


def test_validate_rejects_png_which_instagram_does_not_publish():
    png = MediaItem(path="logo.png", mime_type="image/png")

    problems = get_adapter("instagram").validate(PostPayload(text="Hi", media=(png,)))

    assert problems == ["Instagram: logo.png is image/png; allowed are JPEG, MP4, QUICKTIME."]
