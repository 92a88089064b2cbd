"""Writes of a brand's library (media, hashtag sets, snippets) and the composer's save.

Uploads are judged by their bytes, never by their name or the browser's content type: Pillow
decodes images, and videos must be ISO base media files (MP4/MOV, an `ftyp` box first) whose
duration and size are read from the `moov` box here, so no system library is needed.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from agency.models import Brand, SocialAccount
from agency.services import audit_log
from agency.uploads import (
    IMAGE_EXTENSIONS,
    check_upload_size,
    image_facts,
    max_upload_bytes,
    not_readable_error,
)
from calendar_app.models import HashtagSet, Media, Post, PostTarget, Snippet, TargetState

S = TargetState

__all__ = [
    "COMPOSER_LOCKED_STATES",
    "hashtag_set_create",
    "hashtag_set_delete",
    "hashtag_set_update",
    "max_upload_bytes",
    "media_delete",
    "media_update",
    "media_upload",
    "post_compose",
    "snippet_create",
    "snippet_delete",
    "snippet_update",
]

# The stored name's extension comes from the sniffed type, never from the client's file name: a
# server that types files by name must never serve an upload as HTML or SVG.
STORED_EXTENSIONS = {**IMAGE_EXTENSIONS, "video/mp4": "mp4", "video/quicktime": "mov"}
# Media a pending target still needs: deleting it would break a post about to go out.
_MEDIA_IN_USE_STATES = (S.SCHEDULED, S.QUEUED, S.PUBLISHING)
# A target in one of these was (or may have been) handed to a platform: its post is history.
COMPOSER_LOCKED_STATES = (S.QUEUED, S.PUBLISHING, S.PUBLISHED, S.UNCONFIRMED)


def _audit(obj, *, brand: Brand, by, action: str, data: dict | None = None) -> None:
    audit_log(actor=by, action=action, target=obj, agency=brand.agency, brand=brand, data=data)


# -- media ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    kind: str
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def _probe_image(upload) -> _Probe | None:
    facts = image_facts(upload)
    if facts is None:
        return None
    return _Probe(
        kind=Media.Kind.IMAGE, mime_type=facts.mime_type, width=facts.width, height=facts.height
    )


def _boxes(stream, end: int):
    """(type, payload start, payload end) of each ISO-BMFF box between here and `end`."""
    while stream.tell() + 8 <= end:
        start = stream.tell()
        size, kind = struct.unpack(">I4s", stream.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", stream.read(8))[0]
            header = 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            return
        yield kind, start + header, start + size
        stream.seek(start + size)


def _read_moov(moov: bytes) -> tuple[float | None, int | None, int | None]:
    stream = io.BytesIO(moov)
    duration = width = height = None
    for kind, start, end in _boxes(stream, len(moov)):
        if kind == b"mvhd":
            version = moov[start]
            if version == 1:
                timescale, length = struct.unpack(">IQ", moov[start + 20 : start + 32])
            else:
                timescale, length = struct.unpack(">II", moov[start + 12 : start + 20])
            duration = round(length / timescale, 3) if timescale else None
        elif kind == b"trak" and width is None:
            trak = moov[start:end]
            for sub, _start, s_end in _boxes(io.BytesIO(trak), len(trak)):
                if sub == b"tkhd":
                    # Width and height are its last 8 bytes, 16.16 fixed point; an audio
                    # track has zeros there.
                    w, h = struct.unpack(">II", trak[s_end - 8 : s_end])
                    if w and h:
                        width, height = w >> 16, h >> 16
                    break
    return duration, width, height


def _probe_video(upload, size: int) -> _Probe | None:
    upload.seek(0)
    head = upload.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    mime = "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    duration = width = height = None
    upload.seek(0)
    try:
        for kind, start, end in _boxes(upload, size):
            if kind == b"moov" and end - start <= 64 * 1024 * 1024:
                upload.seek(start)
                duration, width, height = _read_moov(upload.read(end - start))
                break
    except (struct.error, ValueError):
        # A damaged index: the file is still a video by its signature; its facts stay unknown.
        pass
    return _Probe(
        kind=Media.Kind.VIDEO, mime_type=mime, width=width, height=height, duration=duration
    )


def _sha256(upload) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def media_upload(*, brand: Brand, by, upload, alt_text: str = "") -> Media:
    """Add an uploaded image or video to the brand's library.

    The same file uploaded twice gives back the Media already there (with
    `already_in_library = True` on it) rather than an error or a second copy.
    """
    check_upload_size(upload, limit=max_upload_bytes(), field="upload")
    probe = _probe_image(upload) or _probe_video(upload, upload.size)
    if probe is None:
        raise not_readable_error(
            upload, field="upload", what="an image (JPEG, PNG, GIF, WebP) or a video (MP4, MOV)"
        )
    checksum = _sha256(upload)
    existing = Media.objects.filter(brand=brand, checksum=checksum).first()
    if existing is not None:
        existing.already_in_library = True
        return existing
    name = os.path.basename(upload.name)[:200] or "upload"
    upload.name = f"{checksum[:20]}.{STORED_EXTENSIONS[probe.mime_type]}"
    media = Media(
        brand=brand,
        file=upload,
        name=name,
        kind=probe.kind,
        mime_type=probe.mime_type,
        size=upload.size,
        width=probe.width,
        height=probe.height,
        duration=probe.duration,
        alt_text=alt_text.strip(),
        checksum=checksum,
        uploaded_by=by if getattr(by, "is_authenticated", False) else None,
    )
    media.full_clean(exclude=["file", "checksum"])
    try:
        with transaction.atomic():
            media.save()
    except IntegrityError:
        # Someone uploaded the same file at the same moment: theirs is as good as ours.
        media.file.delete(save=False)
        existing = Media.objects.get(brand=brand, checksum=checksum)
        existing.already_in_library = True
        return existing
    media.already_in_library = False
    _audit(media, brand=brand, by=by, action="media.uploaded", data={"size": media.size})
    return media


@transaction.atomic
def media_update(*, media: Media, by, alt_text: str) -> Media:
    media.alt_text = alt_text.strip()
    media.full_clean(exclude=["file"])
    media.save(update_fields=["alt_text", "updated_at"])
    _audit(media, brand=media.brand, by=by, action="media.updated", data={"fields": ["alt_text"]})
    return media


@transaction.atomic
def media_delete(*, media: Media, by) -> None:
    """Delete a file from the library, unless a post waiting to go out uses it."""
    in_use = (
        PostTarget.objects.filter(state__in=_MEDIA_IN_USE_STATES)
        .filter(Q(media_override=media) | Q(post__media=media, media_override__isnull=True))
        .select_related("post", "account")
        .first()
    )
    if in_use is not None:
        raise ValidationError(
            f"{media.name} is used by “{in_use.post}” on {in_use.account}, which is "
            f"{in_use.get_state_display().lower()}. Remove it from that post first."
        )
    _audit(media, brand=media.brand, by=by, action="media.deleted", data={"name": media.name})
    file_name = media.file.name
    storage = media.file.storage
    media.delete()
    # The file goes only once the row is surely gone; a rollback must not leave a dangling row.
    transaction.on_commit(lambda: storage.delete(file_name))


# -- hashtag sets and snippets -------------------------------------------------------------------


def _normalise_hashtags(raw: str) -> str:
    words = [w.strip().lstrip("#") for w in raw.replace(",", " ").split()]
    words = [w for w in words if w]
    if not words:
        raise ValidationError({"hashtags": ["Give at least one hashtag, e.g. #coffee."]})
    bad = [w for w in words if not all(c.isalnum() or c == "_" for c in w)]
    if bad:
        raise ValidationError(
            {"hashtags": [f"#{bad[0]} is not a hashtag: use letters, digits and _ only."]}
        )
    return " ".join(f"#{w}" for w in words)


def _check_unique_name(model, *, brand: Brand, name: str, exclude_pk=None) -> None:
    clash = model.objects.filter(brand=brand, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        what = model._meta.verbose_name
        raise ValidationError(
            {"name": [f"{brand} already has a {what} called “{name}”; choose another name."]}
        )


def _save_named(obj, *, brand: Brand, by, action: str) -> Any:
    obj.name = obj.name.strip()
    exclude_pk = None if obj._state.adding else obj.pk
    _check_unique_name(type(obj), brand=brand, name=obj.name, exclude_pk=exclude_pk)
    obj.full_clean()
    obj.save()
    _audit(obj, brand=brand, by=by, action=action)
    return obj


@transaction.atomic
def hashtag_set_create(*, brand: Brand, by, name: str, hashtags: str) -> HashtagSet:
    obj = HashtagSet(brand=brand, name=name, hashtags=_normalise_hashtags(hashtags))
    return _save_named(obj, brand=brand, by=by, action="hashtag_set.created")


@transaction.atomic
def hashtag_set_update(*, hashtag_set: HashtagSet, by, name: str, hashtags: str) -> HashtagSet:
    hashtag_set.name = name
    hashtag_set.hashtags = _normalise_hashtags(hashtags)
    return _save_named(hashtag_set, brand=hashtag_set.brand, by=by, action="hashtag_set.updated")


@transaction.atomic
def hashtag_set_delete(*, hashtag_set: HashtagSet, by) -> None:
    _audit(hashtag_set, brand=hashtag_set.brand, by=by, action="hashtag_set.deleted")
    hashtag_set.delete()


@transaction.atomic
def snippet_create(*, brand: Brand, by, name: str, text: str) -> Snippet:
    obj = Snippet(brand=brand, name=name, text=text.strip())
    return _save_named(obj, brand=brand, by=by, action="snippet.created")


@transaction.atomic
def snippet_update(*, snippet: Snippet, by, name: str, text: str) -> Snippet:
    snippet.name = name
    snippet.text = text.strip()
    return _save_named(snippet, brand=snippet.brand, by=by, action="snippet.updated")


@transaction.atomic
def snippet_delete(*, snippet: Snippet, by) -> None:
    _audit(snippet, brand=snippet.brand, by=by, action="snippet.deleted")
    snippet.delete()


# -- the composer --------------------------------------------------------------------------------


def _check_media(brand: Brand, media: Iterable[Media], field: str) -> list[Media]:
    media = list(media)
    if any(m.brand_id != brand.pk for m in media):
        raise ValidationError({field: ["Media must come from this brand's library."]})
    return media


def _sync_targets(*, post: Post, accounts: list[SocialAccount], variants: dict[str, dict]) -> None:
    """Make the post's targets match the chosen accounts and their variants."""
    chosen = {a.pk for a in accounts}
    existing = {t.account_id: t for t in post.targets.select_related("account")}
    for account_id, target in existing.items():
        if account_id in chosen:
            continue
        if target.attempts_log.exists():
            raise ValidationError(
                {"accounts": [f"{target.account} was already tried; cancel the post instead."]}
            )
        target.delete()
    for account in accounts:
        variant = variants.get(str(account.pk), {})
        target = existing.get(account.pk) or PostTarget(post=post, account=account)
        target.text_override = variant.get("text", "") or ""
        target.first_comment = variant.get("first_comment", "") or ""
        target.full_clean(exclude=["post"])
        target.save()


def _problems_error(problems: dict[str, list[str]]) -> ValidationError:
    return ValidationError({account_id: messages for account_id, messages in problems.items()})


@transaction.atomic
def post_compose(
    *,
    brand: Brand,
    by,
    post: Post | None = None,
    action: str = "draft",
    accounts: Iterable[SocialAccount],
    text: str = "",
    title: str = "",
    link: str = "",
    tags: list[str] | None = None,
    media: Iterable[Media] = (),
    variants: dict[Any, dict] | None = None,
    at: datetime | None = None,
) -> Post:
    """Save what the composer holds, then do its action, all or nothing.

    `variants` maps an account id to {"text", "first_comment", "media"}. Actions: "draft"
    (save only), "schedule" (at `at`), "queue" (each account's next free slot), "submit"
    (for approval). Every action but "draft" refuses a post with problems on any account: the
    ValidationError is keyed by account id, and nothing is saved.
    """
    from calendar_app import services

    variants = {str(k): v for k, v in (variants or {}).items()}
    media = _check_media(brand, media, "media")
    for account_id, variant in variants.items():
        variant["media"] = _check_media(brand, variant.get("media") or (), f"v_{account_id}_media")
    accounts = list(accounts)
    if any(a.brand_id != brand.pk for a in accounts):
        raise ValidationError({"accounts": ["Accounts must belong to this brand."]})
    fields = {"text": text, "title": title, "link": link, "tags": list(tags or [])}
    if post is None:
        post = services.post_create(
            brand=brand,
            by=by,
            accounts=accounts,
            variants={
                k: {"text": v.get("text", ""), "first_comment": v.get("first_comment", "")}
                for k, v in variants.items()
            },
            media=media,
            **fields,
        )
    else:
        if post.brand_id != brand.pk:
            raise ValidationError("This post belongs to another brand.")
        locked = post.targets.filter(state__in=COMPOSER_LOCKED_STATES).first()
        if locked is not None:
            raise ValidationError(
                f"The post is {locked.get_state_display().lower()} on {locked.account}; "
                "it can no longer be edited."
            )
        if not accounts:
            raise ValidationError({"accounts": ["Choose at least one social account."]})
        approved_content = services.post_content_fingerprint(post=post)
        _sync_targets(post=post, accounts=accounts, variants=variants)
        post.media.set(media)
        for target in post.targets.all():
            target.media_override.set(variants.get(str(target.account_id), {}).get("media") or [])
        services.post_update(post=post, by=by, data=fields)
        if services.post_content_fingerprint(post=post) != approved_content:
            # A variant, media or account changed: the approval no longer covers it.
            services.post_reopen_review(post=post, by=by)
        post.refresh_from_db()
        _audit(
            post,
            brand=brand,
            by=by,
            action="post.composed",
            data={"accounts": [str(a.pk) for a in accounts]},
        )
    for target in post.targets.all():
        target.media_override.set(variants.get(str(target.account_id), {}).get("media") or [])

    if action == "draft":
        return post
    problems = services.post_problems(post=post)
    if problems:
        raise _problems_error(problems)
    if action == "schedule":
        if at is None:
            raise ValidationError({"scheduled_at": ["Give the time to publish at."]})
        services.post_schedule(post=post, at=at, by=by)
    elif action == "queue":
        services.post_add_to_queue(post=post, by=by)
    elif action == "submit":
        if at is not None:
            # Keep the planned time: the final approval schedules the post for it.
            services.post_schedule(post=post, at=at, by=by)
        services.post_submit_for_approval(post=post, by=by)
    else:
        raise ValidationError(f"Unknown action {action!r}.")
    post.refresh_from_db()
    return post
