"""Uploaded media: judged by its bytes and size, stored under a name of its real type, and served
with headers that keep a browser from running it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from agency.middleware import MEDIA_CSP
from calendar_app.models import Media

# The project's own URLs, with DEBUG off as in production: /media/ is served (and hardened) there.
pytestmark = pytest.mark.django_db


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


def test_production_serves_media_through_django_with_its_headers(client, settings, brand):
    """DEBUG is off here, as in the production image (gunicorn, no other server for /media/):
    an uploaded file is still found, and with the middleware's headers."""
    assert not settings.DEBUG
    path = settings.MEDIA_ROOT / "brands" / "logos" / "logo.gif"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_gif())
    response = client.get("/media/brands/logos/logo.gif")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    outside = settings.MEDIA_ROOT.parent / "secret.txt"
    outside.write_text("not for the web")
    escaped = client.get("/media/../secret.txt")
    assert escaped.status_code in (400, 404)
    assert b"not for the web" not in escaped.content
    assert client.post("/media/brands/logos/logo.gif").status_code == 405


def test_pages_keep_the_site_policy_not_the_media_one(client):
    response = client.get("/auth/login/")
    assert response["Content-Security-Policy"] != MEDIA_CSP
    assert "script-src 'self'" in response["Content-Security-Policy"]


# -- brand logos: the same checks as the media library -------------------------------------------


def _png(size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="BMP")
    return buffer.getvalue()


def _brand_form(brand, logo):
    return {
        "name": brand.name,
        "slug": brand.slug,
        "time_zone": brand.time_zone,
        "primary_color": "#112233",
        "secondary_color": "#445566",
        "logo": logo,
    }


def _api_logo(api_client, user, brand, name, data, content_type="image/png"):
    api_client.force_authenticate(user)
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return api_client.patch(f"/api/v1/brands/{brand.pk}/", {"logo": upload}, format="multipart")


def test_a_logo_over_the_limit_is_refused_in_words_on_the_form(login, admin, brand, settings):
    settings.AGENCY_MAX_LOGO_BYTES = 50
    logo = SimpleUploadedFile("logo.png", _png(), content_type="image/png")
    assert logo.size > 50
    response = login(admin).post(f"/brands/{brand.pk}/edit/", _brand_form(brand, logo))
    assert response.status_code == 200
    assert "the limit is 50" in response.content.decode()
    brand.refresh_from_db()
    assert not brand.logo
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


def test_a_logo_of_another_image_type_is_refused_on_the_form(login, admin, brand):
    logo = SimpleUploadedFile("logo.bmp", _bmp(), content_type="image/bmp")
    response = login(admin).post(f"/brands/{brand.pk}/edit/", _brand_form(brand, logo))
    assert response.status_code == 200
    assert "logo.bmp is not an image (JPEG, PNG, GIF, WebP) we can read" in (
        response.content.decode()
    )
    brand.refresh_from_db()
    assert not brand.logo


def test_a_logo_over_the_limit_is_a_400_in_the_api(api_client, admin, brand, settings):
    settings.AGENCY_MAX_LOGO_BYTES = 50
    response = _api_logo(api_client, admin, brand, "logo.png", _png())
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert "the limit is 50" in body["fields"]["logo"][0]
    brand.refresh_from_db()
    assert not brand.logo
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("logo.svg", SVG, "image/svg+xml"),
        ("logo.png", HTML, "image/png"),
        ("logo.bmp", _bmp(), "image/bmp"),
    ],
)
def test_a_logo_that_is_not_a_web_image_is_a_400_in_the_api(
    api_client, admin, brand, name, data, content_type
):
    response = _api_logo(api_client, admin, brand, name, data, content_type)
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["logo"]
    brand.refresh_from_db()
    assert not brand.logo


def test_a_logo_is_stored_under_the_name_of_its_real_type(api_client, admin, brand, client):
    # Named and typed as a GIF by the client; Pillow reads a PNG.
    response = _api_logo(api_client, admin, brand, "cute.gif", _png(), "image/gif")
    assert response.status_code == 200, response.content
    brand.refresh_from_db()
    assert brand.logo.name.startswith("brands/logos/logo") and brand.logo.name.endswith(".png")
    assert response.json()["logo"].endswith(brand.logo.name.rsplit("/", 1)[-1])
    served = client.get(brand.logo.url)
    assert served["Content-Type"] == "image/png"
    assert served["Content-Security-Policy"] == MEDIA_CSP


def test_only_those_who_may_change_the_brand_upload_its_logo(
    api_client, manager, client_user, outsider, brand
):
    assert _api_logo(api_client, outsider, brand, "logo.png", _png()).status_code == 404
    assert _api_logo(api_client, client_user, brand, "logo.png", _png()).status_code == 403
    assert _api_logo(api_client, manager, brand, "logo.png", _png()).status_code == 403
    brand.refresh_from_db()
    assert not brand.logo
