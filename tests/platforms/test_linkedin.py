"""LinkedIn publishing against replayed Posts API responses.

Shapes follow LinkedIn's documentation on learn.microsoft.com; each test names the page it follows.
"""

import pytest
import requests
import responses
from django.utils import timezone
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
from agency.platforms.linkedin import LINKEDIN_VERSION, TOKEN_URL, little_text

POSTS = "https://api.linkedin.com/rest/posts"
TOKEN = "LI-TOKEN-q1w2e3"
ORG = "urn:li:organization:5515715"
URN = "urn:li:share:6844785523593134080"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "LinkedIn-Version": LINKEDIN_VERSION,
    "X-Restli-Protocol-Version": "2.0.0",
}


@pytest.fixture
def linkedin_org_account():
    return SocialAccount(
        platform="linkedin",
        handle="acme",
        external_id="5515715",
        access_token=TOKEN,
        refresh_token="LI-REFRESH-r4t5",
    )


@pytest.fixture
def linkedin_http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def post_body(commentary, author=ORG, **extra):
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        **extra,
    }


def created(http, body=None):
    http.post(
        POSTS,
        status=201,
        headers={"x-restli-id": URN},
        match=[matchers.header_matcher(HEADERS)]
        + ([matchers.json_params_matcher(body)] if body else []),
    )


def error(status, message, **extra):
    return {"json": {"message": message, "status": status, **extra}, "status": status}


def publish(account, payload):
    return get_adapter("linkedin").publish(account, payload, idempotency_key="k-1")


def test_publish_text_posts_to_posts_api_as_the_organization(linkedin_http, linkedin_org_account):
    """Text only post.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    """
    created(linkedin_http, post_body("Fresh roast today"))

    result = publish(linkedin_org_account, PostPayload(text="Fresh roast today"))

    assert result.external_id == URN
    assert result.url == f"https://www.linkedin.com/feed/update/{URN}/"


def test_publish_as_member_uses_the_person_urn(linkedin_http, linkedin_org_account):
    """Author.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    """
    linkedin_org_account.external_id = "urn:li:person:C-abc"
    created(linkedin_http, post_body("Hi", author="urn:li:person:C-abc"))

    assert publish(linkedin_org_account, PostPayload(text="Hi")).external_id == URN


def test_publish_link_creates_an_article_post(linkedin_http, linkedin_org_account):
    """Article post.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    """
    link = "https://acme.example/roast"
    created(
        linkedin_http,
        post_body("Read this", content={"article": {"source": link, "title": link}}),
    )

    assert (
        publish(linkedin_org_account, PostPayload(text="Read this", link=link)).external_id == URN
    )


def test_commentary_escapes_reserved_characters_but_keeps_urls_and_hashtags():
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format"""
    text = "New (dark) roast #coffee @home see https://acme.example/a_(b) # 1"

    assert little_text(text) == (
        r"New \(dark\) roast #coffee \@home see https://acme.example/a_(b) \# 1"
    )


def test_publish_image_uploads_it_then_references_its_urn(linkedin_http, linkedin_org_account):
    """InitializeUpload.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("posts/cup.jpg", ContentFile(b"jpegbytes"))
    upload_url = "https://www.linkedin.com/dms-uploads/D4E10AQ/uploaded-image/0?ca=vector_ads"
    image_urn = "urn:li:image:C4E10AQFoyyAjHPMQuQ"
    linkedin_http.post(
        "https://api.linkedin.com/rest/images?action=initializeUpload",
        json={
            "value": {
                "uploadUrlExpiresAt": 1650567510704,
                "uploadUrl": upload_url,
                "image": image_urn,
            }
        },
        match=[matchers.json_params_matcher({"initializeUploadRequest": {"owner": ORG}})],
    )
    linkedin_http.put(upload_url, status=201, match=[matchers.header_matcher(HEADERS)])
    created(
        linkedin_http,
        post_body("A cup", content={"media": {"id": image_urn, "altText": "A cup of coffee"}}),
    )
    image = MediaItem(path=name, mime_type="image/jpeg", alt_text="A cup of coffee")

    result = publish(linkedin_org_account, PostPayload(text="A cup", media=(image,)))

    assert result.external_id == URN
    assert linkedin_http.calls[1].request.body == b"jpegbytes"


def test_expired_token_is_auth_expired(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling (401)"""
    linkedin_http.post(POSTS, **error(401, "Invalid access token", serviceErrorCode=65600))

    with pytest.raises(AuthExpired):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_throttle_is_rate_limited_with_retry_after(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits (429)"""
    response = error(429, "Resource level throttle limit for calendar day exceeded")
    linkedin_http.post(POSTS, headers={"Retry-After": "120"}, **response)

    with pytest.raises(RateLimited) as caught:
        publish(linkedin_org_account, PostPayload(text="Hi"))

    assert caught.value.retry_after == 120


def test_duplicate_post_is_rejected_and_names_the_original(linkedin_http, linkedin_org_account):
    """422 DUPLICATE_POST.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    """
    linkedin_http.post(
        POSTS,
        **error(
            422,
            f"ERROR :: /commentary :: Content is a duplicate of {URN}",
            errorDetailType="com.linkedin.common.error.BadRequest",
            errorDetails={
                "inputErrors": [
                    {
                        "description": "Duplicate post is detected",
                        "input": {"inputPath": {"fieldPath": "/commentary"}},
                        "code": "DUPLICATE_POST",
                    }
                ]
            },
        ),
    )

    with pytest.raises(Rejected, match="duplicate") as caught:
        publish(linkedin_org_account, PostPayload(text="Hi"))

    assert caught.value.duplicate_of == URN


def test_sunset_api_version_is_rejected_with_a_clear_message(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/marketing/versioning"""
    linkedin_http.post(
        POSTS, **error(426, "Requested version 20240101 is not active", code="NONEXISTENT_VERSION")
    )

    with pytest.raises(Rejected, match=f"API version {LINKEDIN_VERSION}"):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_bad_request_is_rejected_with_linkedins_words(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling (400)"""
    linkedin_http.post(POSTS, **error(400, "Field Value validation failed in REQUEST_BODY"))

    with pytest.raises(Rejected, match="Field Value validation failed"):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_server_error_after_sending_is_outcome_unknown(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling (5xx)"""
    linkedin_http.post(POSTS, **error(504, "Gateway timeout"))

    with pytest.raises(OutcomeUnknown):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_timeout_after_sending_is_outcome_unknown(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api"""
    linkedin_http.post(POSTS, body=requests.exceptions.ReadTimeout())

    with pytest.raises(OutcomeUnknown):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_refused_connection_is_transient(linkedin_http, linkedin_org_account):
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api"""
    linkedin_http.post(POSTS, body=requests.exceptions.ConnectionError("Connection refused"))

    with pytest.raises(TransientError):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_created_without_post_urn_is_outcome_unknown(linkedin_http, linkedin_org_account):
    """201, x-restli-id.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
    """
    linkedin_http.post(POSTS, status=201, body="")

    with pytest.raises(OutcomeUnknown):
        publish(linkedin_org_account, PostPayload(text="Hi"))


def test_first_comment_is_posted_as_the_author(linkedin_http, linkedin_org_account):
    """Create a Comment.

    https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/comments-api
    """
    created(linkedin_http)
    linkedin_http.post(
        "https://api.linkedin.com/rest/socialActions/urn%3Ali%3Ashare%3A6844785523593134080/comments",
        status=201,
        headers={"x-restli-id": "urn:li:comment:(urn:li:activity:1,2)"},
        match=[
            matchers.json_params_matcher(
                {"actor": ORG, "object": URN, "message": {"text": "Menu: acme.example"}}
            )
        ],
    )

    result = publish(
        linkedin_org_account, PostPayload(text="Hi", first_comment="Menu: acme.example")
    )

    assert result.raw["first_comment_id"] == "urn:li:comment:(urn:li:activity:1,2)"


def test_first_comment_failure_does_not_fail_the_published_post(
    linkedin_http, linkedin_org_account
):
    """https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/comments-api"""
    created(linkedin_http)
    linkedin_http.post(
        "https://api.linkedin.com/rest/socialActions/urn%3Ali%3Ashare%3A6844785523593134080/comments",
        **error(403, "Not enough permissions to access: partnerApiSocialActions.CREATE"),
    )

    result = publish(linkedin_org_account, PostPayload(text="Hi", first_comment="First!"))

    assert result.external_id == URN
    assert "Not enough permissions" in result.raw["first_comment_error"]


def test_refresh_credentials_exchanges_the_refresh_token(
    linkedin_http, linkedin_org_account, settings
):
    """https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens"""
    settings.LINKEDIN_CLIENT_ID = "client-1"
    settings.LINKEDIN_CLIENT_SECRET = "secret-1"
    linkedin_http.post(
        TOKEN_URL,
        json={
            "access_token": "LI-NEW",
            "expires_in": 5184000,
            "refresh_token": "LI-REFRESH-r4t5",
            "refresh_token_expires_in": 525600,
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "LI-REFRESH-r4t5",
                    "client_id": "client-1",
                    "client_secret": "secret-1",
                }
            )
        ],
    )

    fresh = get_adapter("linkedin").refresh_credentials(linkedin_org_account)

    assert fresh["access_token"] == "LI-NEW"
    assert fresh["refresh_token"] == "LI-REFRESH-r4t5"
    assert 59 <= (fresh["expires_at"] - timezone.now()).days <= 60


def test_refresh_with_revoked_refresh_token_is_auth_expired(
    linkedin_http, linkedin_org_account, settings
):
    """https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens"""
    settings.LINKEDIN_CLIENT_ID = "client-1"
    settings.LINKEDIN_CLIENT_SECRET = "secret-1"
    linkedin_http.post(
        TOKEN_URL,
        json={"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        status=400,
    )

    with pytest.raises(AuthExpired, match="expired or revoked"):
        get_adapter("linkedin").refresh_credentials(linkedin_org_account)


def test_refresh_without_refresh_token_returns_nothing(linkedin_org_account):
    linkedin_org_account.refresh_token = ""

    assert get_adapter("linkedin").refresh_credentials(linkedin_org_account) is None


def test_validate_reports_text_over_the_limit():
    problems = get_adapter("linkedin").validate(PostPayload(text="a" * 3001))

    assert problems == ["LinkedIn: the text is 3001 characters long; the limit is 3000."]
