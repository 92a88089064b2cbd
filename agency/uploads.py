"""Checks of uploaded files, shared by the media library and brand logos.

An upload is judged by its bytes and size, never by its name or the browser's content type:
Pillow decodes images, and the stored name takes the extension of the type found, so a server
that types files by name never serves an upload as HTML or SVG.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_TYPES",
    "ImageFacts",
    "check_upload_size",
    "image_facts",
    "max_logo_bytes",
    "max_upload_bytes",
    "not_readable_error",
]

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_LOGO_BYTES = 5 * 1024 * 1024
# Pillow's format name -> the type it is served as. The types agency.middleware serves inline.
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
IMAGE_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}


def max_upload_bytes() -> int:
    """The largest file the media library accepts (AGENCY_MAX_UPLOAD_BYTES)."""
    return getattr(settings, "AGENCY_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)


def max_logo_bytes() -> int:
    """The largest brand logo accepted (AGENCY_MAX_LOGO_BYTES)."""
    return getattr(settings, "AGENCY_MAX_LOGO_BYTES", DEFAULT_MAX_LOGO_BYTES)


def check_upload_size(upload, *, limit: int, field: str) -> None:
    if upload.size > limit:
        raise ValidationError(
            {
                field: [
                    f"The file is {filesizeformat(upload.size)}; the limit is "
                    f"{filesizeformat(limit)}."
                ]
            }
        )


@dataclass(frozen=True)
class ImageFacts:
    mime_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return IMAGE_EXTENSIONS[self.mime_type]


def image_facts(upload) -> ImageFacts | None:
    """What Pillow reads in the upload, or None when it is not a JPEG, PNG, GIF or WebP."""
    from PIL import Image

    try:
        upload.seek(0)
        with Image.open(upload) as image:
            fmt, (width, height) = image.format, image.size
            image.verify()
    except Exception:
        # Pillow raises many kinds (UnidentifiedImageError, SyntaxError, struct.error,
        # DecompressionBombError...): each means "not an image we can show".
        return None
    finally:
        upload.seek(0)
    if fmt not in IMAGE_TYPES:
        return None
    return ImageFacts(mime_type=IMAGE_TYPES[fmt], width=width, height=height)


def not_readable_error(upload, *, field: str, what: str) -> ValidationError:
    return ValidationError({field: [f"{os.path.basename(upload.name)} is not {what} we can read."]})
