"""Reads of a brand's library and the composer's live check.

The composer's counter and problems come from the platform adapters only (`count_chars`,
`validate`), here, so the page and the server can never disagree on what fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from agency.models import Brand, Platform, SocialAccount
from agency.permissions import brands_for_user
from agency.platforms import MediaItem, PostPayload, get_adapter
from calendar_app.models import HashtagSet, Media, Post, PostTarget, Snippet
from calendar_app.utm import link_with_utm

__all__ = [
    "AccountCheck",
    "composer_check",
    "hashtag_sets_for_brand",
    "media_for_brand",
    "media_platform_warnings",
    "post_for_composer",
    "snippets_for_brand",
]


def media_for_brand(*, brand: Brand) -> QuerySet[Media]:
    return Media.objects.filter(brand=brand).order_by("-created_at")


def hashtag_sets_for_brand(*, brand: Brand) -> QuerySet[HashtagSet]:
    return HashtagSet.objects.filter(brand=brand).order_by("name")


def snippets_for_brand(*, brand: Brand) -> QuerySet[Snippet]:
    return Snippet.objects.filter(brand=brand).order_by("name")


def post_for_composer(*, user, post_id) -> Post:
    """One post with what the composer shows of it, if the user may see its brand."""
    targets = PostTarget.objects.select_related("account").prefetch_related("media_override")
    return (
        Post.objects.filter(brand__in=brands_for_user(user=user).values("pk"))
        .select_related("brand")
        .prefetch_related("media", Prefetch("targets", queryset=targets))
        .get(pk=post_id)
    )


def _brand_platforms(brand: Brand) -> list[str]:
    platforms = set(
        SocialAccount.objects.filter(brand=brand)
        .exclude(platform=Platform.SANDBOX)
        .values_list("platform", flat=True)
    )
    return [p for p in Platform.values if p in platforms]


def media_platform_warnings(
    *, brand: Brand, media: Iterable[Media]
) -> list[tuple[Media, list[str]]]:
    """Each file with what the brand's platforms would refuse about it, in words."""
    adapters = [get_adapter(p) for p in _brand_platforms(brand)]
    result = []
    for item in media:
        warnings = []
        for adapter in adapters:
            rules, label = adapter.rules, adapter.display_name
            if item.mime_type not in rules.media_types:
                kind = item.mime_type.split("/")[-1].upper()
                warnings.append(f"{label} does not take {kind} files.")
                continue
            is_video = item.mime_type.startswith("video/")
            limit = rules.max_video_bytes if is_video else rules.max_image_bytes
            if item.size > limit:
                warnings.append(f"Too large for {label}: the limit is {limit / 1_048_576:.0f} MB.")
            # Instagram's aspect limits are for feed images; reels take any shape.
            if not is_video and item.width and item.height:
                ratio = item.width / item.height
                low, high = rules.min_aspect_ratio, rules.max_aspect_ratio
                if (low and ratio < low - 0.005) or (high and ratio > high + 0.005):
                    warnings.append(
                        f"Aspect ratio {ratio:.2f}:1 is not allowed on {label} "
                        f"({low or 0:.2f}:1 to {high or 0:.2f}:1)."
                    )
        result.append((item, warnings))
    return result


@dataclass
class AccountCheck:
    """What one account would get: its text, counted and checked by its platform."""

    account: SocialAccount
    platform_name: str
    text: str
    link: str
    count: int
    max_chars: int
    media: list[Media] = field(default_factory=list)
    first_comment: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.count > self.max_chars


def _media_item(media: Media) -> MediaItem:
    return MediaItem(
        path=media.file.name or media.name,
        mime_type=media.mime_type,
        size=media.size,
        width=media.width,
        height=media.height,
        duration=media.duration,
        alt_text=media.alt_text,
    )


def composer_check(
    *,
    brand: Brand,
    accounts: Iterable[SocialAccount],
    text: str,
    link: str = "",
    title: str = "",
    tags: list[str] | None = None,
    media: Iterable[Media] = (),
    variants: dict[str, dict] | None = None,
    post_id: str = "",
) -> list[AccountCheck]:
    """Per account, the payload it would publish (as calendar_app.publishing builds it) with
    its character count and its platform's problems. Nothing is read from or written to the
    database but what the caller passes in."""
    variants = variants or {}
    media = list(media)
    checks = []
    for account in accounts:
        adapter = get_adapter(account.platform)
        variant = variants.get(str(account.pk), {})
        tagged = link_with_utm(
            link=link,
            template=brand.utm_template,
            platform=account.platform,
            account=account.handle,
            campaign=title or (tags[0] if tags else ""),
            post=post_id[:8],
        )
        account_text = variant.get("text") or text
        if link and tagged != link and link in account_text:
            account_text = account_text.replace(link, tagged)
        account_media = list(variant.get("media") or []) or media
        first_comment = variant.get("first_comment") or ""
        payload = PostPayload(
            text=account_text,
            link=tagged or None,
            media=tuple(_media_item(m) for m in account_media),
            first_comment=first_comment or None,
        )
        # The link goes out with the text where the platform counts it (X, Mastodon...).
        counted = account_text
        if tagged and tagged not in account_text and adapter.rules.url_length is not None:
            counted = f"{account_text} {tagged}".strip()
        checks.append(
            AccountCheck(
                account=account,
                platform_name=adapter.display_name,
                text=account_text,
                link=tagged,
                count=adapter.count_chars(counted),
                max_chars=adapter.rules.max_chars,
                media=account_media,
                first_comment=first_comment,
                problems=adapter.validate(payload),
            )
        )
    return checks
