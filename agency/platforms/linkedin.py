"""LinkedIn organization pages (and members) through the versioned Posts API.

`POST https://api.linkedin.com/rest/posts` creates a post; LinkedIn answers 201 with the new
post's URN in the `x-restli-id` header. Images are uploaded first through the Images API and
referenced by URN. The account's `external_id` is the organization id, or a full author URN
(`urn:li:person:...`) for a member.

Docs: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api,
https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api,
https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format,
https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling,
https://learn.microsoft.com/en-us/linkedin/marketing/versioning
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from agency.platforms.base import (
    MediaItem,
    PlatformAdapter,
    PlatformRules,
    PostPayload,
    PublishResult,
)
from agency.platforms.errors import (
    AuthExpired,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    Rejected,
    TransientError,
)
from agency.platforms.text import URL_RE

if TYPE_CHECKING:
    import requests

    from agency.models import SocialAccount

API_URL = "https://api.linkedin.com/rest"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"  # noqa: S105 - an address
# LinkedIn supports each monthly version for at least a year; bump it before it is sunset
# (LinkedIn then answers 426 and every post fails).
LINKEDIN_VERSION = "202610"
DEFAULT_RETRY_AFTER = 600.0
# Characters the "little" text format reserves; unescaped, LinkedIn cuts the post short.
_RESERVED = re.compile(r"[\\|{}@\[\]()<>*_~]")
_DUPLICATE_OF = re.compile(r"urn:li:(?:share|ugcPost):\d+")


class LinkedInAdapter(PlatformAdapter):
    """Publishes to a LinkedIn page or member feed.

    Duplicates: LinkedIn refuses a post identical to a recent one with 422 DUPLICATE_POST, which
    becomes Rejected (with `duplicate_of` set when LinkedIn names the original). When that
    follows an unknown outcome for the same post, the publishing engine may take it as "the first
    attempt went through" rather than as a failure.
    """

    name = "linkedin"
    display_name = "LinkedIn"
    rules = PlatformRules(
        max_chars=3000,
        url_length=None,
        max_media=20,
        media_types=("image/jpeg", "image/png", "image/gif"),
        max_image_bytes=5 * 1024 * 1024,
        supports_first_comment=True,
    )

    # -- publishing ----------------------------------------------------------------------------
    def publish(
        self, account: SocialAccount, payload: PostPayload, *, idempotency_key: str
    ) -> PublishResult:
        token = account.access_token
        if not token or not account.external_id:
            raise AuthExpired("LinkedIn: the account is not connected (no id or token).")
        for item in payload.media:
            if item.mime_type not in self.rules.media_types:
                raise Rejected(f"LinkedIn: {item.mime_type} is not supported by this adapter yet.")
        author = author_urn(account)
        body: dict = {
            "author": author,
            "commentary": little_text(payload.text or ""),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if payload.media:
            images = [
                {"id": self._upload_image(token, author, item), "altText": item.alt_text}
                for item in payload.media
            ]
            if len(images) == 1:
                body["content"] = {"media": images[0]}
            else:
                body["content"] = {"multiImage": {"images": images}}
            if payload.link and payload.link not in (payload.text or ""):
                body["commentary"] = f"{body['commentary']}\n\n{payload.link}".strip()
        elif payload.link:
            # The API does not scrape the page, so the card shows what we give it.
            body["content"] = {"article": {"source": payload.link, "title": payload.link}}

        response = self._call("POST", f"{API_URL}/posts", token, write=True, json=body)
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if response.status_code != 201 or not urn:
            raise OutcomeUnknown(
                f"LinkedIn answered {response.status_code} without a post URN; it may exist.",
                status=response.status_code,
                excerpt=response.text,
            )
        result = PublishResult(
            external_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/", raw={}
        )
        if payload.first_comment:
            self._first_comment(token, author, result, payload.first_comment)
        return result

    def _upload_image(self, token: str, author: str, item: MediaItem) -> str:
        # An uploaded image shows nowhere until a post uses it, so these calls are safe to repeat.
        response = self._call(
            "POST",
            f"{API_URL}/images?action=initializeUpload",
            token,
            write=False,
            json={"initializeUploadRequest": {"owner": author}},
        )
        value = _json(response).get("value") or {}
        upload_url, image_urn = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image_urn:
            raise TransientError("LinkedIn did not return an upload address for an image.")
        self._call("PUT", upload_url, token, write=False, data=_media_bytes(item))
        return image_urn

    def _first_comment(self, token: str, author: str, result: PublishResult, text: str) -> None:
        """Comment on the new post; a failure here never undoes a published post."""
        urn = result.external_id
        try:
            response = self._call(
                "POST",
                f"{API_URL}/socialActions/{quote(urn, safe='')}/comments",
                token,
                write=True,
                json={"actor": author, "object": urn, "message": {"text": text}},
            )
        except PlatformError as exc:
            result.raw["first_comment_error"] = str(exc)
        else:
            result.raw["first_comment_id"] = response.headers.get("x-restli-id", "")

    def _call(self, method: str, url: str, token: str, *, write: bool, **kwargs):
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        response = self._request(method, url, sent_is_unknown=write, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise linkedin_error(response, write=write)
        return response

    # -- credentials ---------------------------------------------------------------------------
    def refresh_credentials(self, account: SocialAccount) -> dict | None:
        """Mint a new access token from the refresh token (programmatic refresh tokens).

        https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens
        """
        if not account.refresh_token:
            return None
        client_id = getattr(settings, "LINKEDIN_CLIENT_ID", "")
        client_secret = getattr(settings, "LINKEDIN_CLIENT_SECRET", "")
        if not client_id or not client_secret:
            raise ImproperlyConfigured("LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET are needed.")
        # Refreshing twice is harmless: the refresh token keeps its original lifetime.
        response = self._request(
            "POST",
            TOKEN_URL,
            sent_is_unknown=False,
            data={
                "grant_type": "refresh_token",
                "refresh_token": account.refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        body = _json(response, allow_error=True)
        if response.status_code in (400, 401) or body.get("error"):
            raise AuthExpired(
                "LinkedIn: the refresh token is expired or revoked; reconnect the account "
                f"({body.get('error_description') or body.get('error') or response.status_code}).",
                status=response.status_code,
            )
        if response.status_code >= 400 or not body.get("access_token"):
            raise TransientError(
                f"LinkedIn could not refresh the token (HTTP {response.status_code}).",
                status=response.status_code,
            )
        from django.utils import timezone

        expires_in = int(body.get("expires_in") or 0)
        return {
            "access_token": body["access_token"],
            "refresh_token": body.get("refresh_token") or account.refresh_token,
            "expires_at": timezone.now() + timedelta(seconds=expires_in) if expires_in else None,
        }


def author_urn(account: SocialAccount) -> str:
    external_id = account.external_id
    return external_id if external_id.startswith("urn:") else f"urn:li:organization:{external_id}"


def little_text(text: str) -> str:
    """Escape text for the "little" format, keeping URLs and #hashtags as they are."""
    out, last = [], 0
    for match in URL_RE.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(chunk: str) -> str:
    chunk = _RESERVED.sub(lambda m: "\\" + m.group(0), chunk)
    # A # starting a word is a hashtag element; any other # is plain text.
    return re.sub(r"#(?!\w)", r"\\#", chunk)


def linkedin_error(response: requests.Response, *, write: bool) -> PlatformError:
    status = response.status_code
    body = _json(response, allow_error=True)
    words = body.get("message") or f"HTTP {status}"
    info = {"status": status, "excerpt": response.text[:500]}
    if status == 401:
        return AuthExpired(f"LinkedIn: the access token is expired or revoked ({words}).", **info)
    if status == 403:
        return AuthExpired(
            f"LinkedIn: the account lacks a permission for this; reconnect it ({words}).", **info
        )
    if status == 429:
        header = (response.headers.get("Retry-After") or "").strip()
        retry_after = float(header) if header.isdigit() else DEFAULT_RETRY_AFTER
        return RateLimited(
            retry_after=retry_after, message=f"LinkedIn is throttling: {words}", **info
        )
    if status == 426 or "VERSION" in str(body.get("code", "")):
        return Rejected(
            f"LinkedIn no longer accepts API version {LINKEDIN_VERSION}; update "
            f"LINKEDIN_VERSION in agency/platforms/linkedin.py ({words}).",
            **info,
        )
    if status == 422 and "DUPLICATE_POST" in response.text:
        original = _DUPLICATE_OF.search(response.text)
        return Rejected(
            f"LinkedIn: duplicate post, the same content was just published ({words}).",
            duplicate=True,
            duplicate_of=original.group(0) if original else "",
            **info,
        )
    if status >= 500:
        if write:
            return OutcomeUnknown(f"LinkedIn failed after receiving the request ({words}).", **info)
        return TransientError(f"LinkedIn is temporarily unavailable ({words}).", **info)
    return Rejected(f"LinkedIn refused the request: {words}", **info)


def _json(response: requests.Response, *, allow_error: bool = False) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if allow_error:
        return {}
    raise TransientError(
        f"LinkedIn answered {response.status_code} with a body that is not JSON.",
        status=response.status_code,
        excerpt=response.text,
    )


def _media_bytes(item: MediaItem) -> bytes:
    from django.core.files.storage import default_storage

    with default_storage.open(item.path, "rb") as handle:
        return handle.read()
