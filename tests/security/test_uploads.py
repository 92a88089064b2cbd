"""Uploaded media: judged by its bytes and size, stored under a name of its real type, and served
with headers that keep a browser from running it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from agency.middleware import MEDIA_CSP
from calendar_app.models import Media

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.media_urls")]


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="GIF")
    return buffer.getvalue()


def _library(brand) -> str:
    return f"/brands/{brand.pk}/media/"


def _upload(client, brand, name, data, content_type):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(_library(brand), {"upload": upload})


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
HTML = b"<!doctype html><script>alert(document.domain)</script>"


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("logo.svg", SVG, "image/svg+xml"),
        ("logo.png", SVG, "image/png"),
        ("page.html", HTML, "text/html"),
        ("photo.jpg", HTML, "image/jpeg"),
    ],
)
def test_script_bearing_files_are_refused_whatever_they_claim(
    login, manager, brand, name, data, content_type
):
    response = _upload(login(manager), brand, name, data, content_type)
    assert response.status_code == 400
    assert not Media.objects.exists()


def test_a_gif_that_is_also_html_is_stored_and_typed_as_a_gif(login, manager, brand):
    """A polyglot named .html with a text/html content type: what counts is what Pillow reads,
    and the stored file gets the extension of that type."""
    polyglot = _gif() + b"<script>alert(1)</script>"
    response = _upload(login(manager), brand, "cute.html", polyglot, "text/html")
    assert response.status_code in (200, 302)
    media = Media.objects.get()
    assert media.mime_type == "image/gif"
    assert media.file.name.endswith(".gif")
    assert media.name == "cute.html"  # shown to people as they named it


def test_an_upload_over_the_size_limit_is_refused_in_words(login, manager, brand, settings):
    settings.AGENCY_MAX_UPLOAD_BYTES = 100
    response = _upload(login(manager), brand, "big.gif", _gif() + b"\0" * 200, "image/gif")
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
    assert not Media.objects.exists()


def test_an_uploaded_image_is_served_inline_but_sandboxed(login, manager, brand, client):
    _upload(login(manager), brand, "pic.gif", _gif(), "image/gif")
    media = Media.objects.get()
    response = client.get(media.file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert "sandbox" in response["Content-Security-Policy"]
    assert response.get("Content-Disposition", "inline").startswith("inline")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("old/evil.html", HTML),
        ("old/evil.svg", SVG),
        ("old/report.pdf", b"%PDF-1.4"),
        ("x.txt", b"hi"),
    ],
)
def test_any_other_file_under_media_downloads_as_bytes(client, settings, name, data):
    """Files no upload path writes today (an old upload, a future feature): never a document."""
    path = settings.MEDIA_ROOT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    response = client.get(f"/media/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == "attachment"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == MEDIA_CSP


def test_pages_keep_the_site_policy_not_the_media_one(client):
    response = client.get("/auth/login/")
    assert response["Content-Security-Policy"] != MEDIA_CSP
    assert "script-src 'self'" in response["Content-Security-Policy"]
