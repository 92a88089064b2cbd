"""/api/v1/media/: multipart upload judged by the library service (type by content, size
limit), the same file twice, alt text, delete (refused while a pending post uses it)."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from calendar_app.models import Media
from calendar_app.services import media_upload, post_create

URL = "/api/v1/media/"


def png(width=40, height=30, color="red", name="beans.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def media(brand, manager):
    return media_upload(brand=brand, by=manager, upload=png(color="blue"), alt_text="Blue")


@pytest.fixture
def other_media(other_brand, outsider):
    return media_upload(brand=other_brand, by=outsider, upload=png(color="green"))


def upload(api_client, brand, file, **extra):
    return api_client.post(
        URL, {"brand": str(brand.pk), "upload": file, **extra}, format="multipart"
    )


def test_manager_uploads_a_png_and_reads_it_back(api_client, manager, brand):
    api_client.force_authenticate(manager)
    response = upload(api_client, brand, png(width=64, height=48), alt_text="Fresh beans")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "image"
    assert data["mime_type"] == "image/png"
    assert (data["width"], data["height"]) == (64, 48)
    assert data["already_in_library"] is False
    assert data["uploaded_by"] == manager.username
    media = Media.objects.get(pk=data["id"])
    assert media.alt_text == "Fresh beans"
    assert api_client.get(f"{URL}{media.pk}/").json()["name"] == "beans.png"


def test_the_same_file_again_gives_back_the_one_in_the_library(api_client, manager, brand):
    api_client.force_authenticate(manager)
    first = upload(api_client, brand, png(color="red"))
    again = upload(api_client, brand, png(color="red", name="copy.png"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["already_in_library"] is True
    assert Media.objects.count() == 1


def test_a_text_file_named_png_is_a_400_on_the_upload_field(api_client, manager, brand):
    api_client.force_authenticate(manager)
    fake = SimpleUploadedFile("notes.png", b"just some notes\n" * 10, content_type="image/png")
    response = upload(api_client, brand, fake)
    assert response.status_code == 400
    assert "not an image" in response.json()["fields"]["upload"][0]
    assert not Media.objects.exists()


def test_a_file_over_the_limit_is_a_400(api_client, manager, brand, settings):
    settings.AGENCY_MAX_UPLOAD_BYTES = 100
    api_client.force_authenticate(manager)
    response = upload(api_client, brand, png(width=200, height=200))
    assert response.status_code == 400
    assert "the limit is" in response.json()["fields"]["upload"][0]
    assert not Media.objects.exists()


def test_upload_without_a_file_or_brand_names_the_fields(api_client, manager):
    api_client.force_authenticate(manager)
    response = api_client.post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert {"brand", "upload"} <= set(response.json()["fields"])


def test_alt_text_is_edited_and_nothing_else(api_client, manager, media):
    api_client.force_authenticate(manager)
    response = api_client.patch(
        f"{URL}{media.pk}/", {"alt_text": "  Dark roast  ", "name": "x"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["alt_text"] == "Dark roast"
    media.refresh_from_db()
    assert (media.alt_text, media.name) == ("Dark roast", "beans.png")


def test_delete_unused_media_but_not_media_of_a_scheduled_post(
    api_client, manager, brand, account, media
):
    api_client.force_authenticate(manager)
    used = media_upload(brand=brand, by=manager, upload=png(color="yellow"))
    post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="With a picture",
        media=[used],
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    refused = api_client.delete(f"{URL}{used.pk}/")
    assert refused.status_code == 400
    assert "Remove it from that post first" in refused.json()["detail"]
    assert Media.objects.filter(pk=used.pk).exists()
    assert api_client.delete(f"{URL}{media.pk}/").status_code == 204
    assert not Media.objects.filter(pk=media.pk).exists()


def test_list_is_filtered_by_brand_and_kind(api_client, manager, brand, sibling_brand, media):
    media_upload(brand=sibling_brand, by=manager, upload=png(color="white"))
    api_client.force_authenticate(manager)
    assert api_client.get(URL).json()["count"] == 2
    mine = api_client.get(URL, {"brand": str(brand.pk)}).json()
    assert [m["id"] for m in mine["results"]] == [str(media.pk)]
    assert api_client.get(URL, {"kind": "video"}).json()["count"] == 0
    assert api_client.get(URL, {"kind": "sound"}).status_code == 400


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_another_brands_user_gets_404_and_an_empty_list(api_client, request, persona, media):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(f"{URL}{media.pk}/").status_code == 404
    assert api_client.patch(f"{URL}{media.pk}/", {"alt_text": "x"}).status_code == 404
    assert api_client.delete(f"{URL}{media.pk}/").status_code == 404
    ids = [m["id"] for m in api_client.get(URL).json()["results"]]
    assert str(media.pk) not in ids
    media.refresh_from_db()
    assert media.alt_text == "Blue"


def test_uploading_to_another_agencys_brand_is_refused(api_client, manager, other_brand):
    api_client.force_authenticate(manager)
    response = upload(api_client, other_brand, png())
    assert response.status_code == 400
    assert "brand" in response.json()["fields"]
    assert not Media.objects.exists()


@pytest.mark.parametrize("persona", ["marketer", "client_user"])
def test_read_only_roles_read_the_library_but_cannot_change_it(
    api_client, request, persona, brand, media
):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(f"{URL}{media.pk}/").status_code == 200
    assert upload(api_client, brand, png(color="black")).status_code == 403
    assert api_client.patch(f"{URL}{media.pk}/", {"alt_text": "x"}).status_code == 403
    assert api_client.delete(f"{URL}{media.pk}/").status_code == 403
    assert Media.objects.count() == 1
    media.refresh_from_db()
    assert media.alt_text == "Blue"


def test_a_post_is_created_with_files_of_its_brands_library(
    api_client, manager, brand, account, media, other_media, sibling_brand
):
    api_client.force_authenticate(manager)
    body = {
        "brand": str(brand.pk),
        "text": "With a photo",
        "targets": [{"account": str(account.pk)}],
    }
    response = api_client.post("/api/v1/posts/", {**body, "media": [str(media.pk)]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["media"] == [str(media.pk)]
    foreign = api_client.post(
        "/api/v1/posts/", {**body, "media": [str(other_media.pk)]}, format="json"
    )
    assert foreign.status_code == 400
    assert "media" in foreign.json()["fields"]
    sibling = media_upload(brand=sibling_brand, by=manager, upload=png(color="pink"))
    wrong_brand = api_client.post(
        "/api/v1/posts/", {**body, "media": [str(sibling.pk)]}, format="json"
    )
    assert wrong_brand.status_code == 400
    assert "media" in wrong_brand.json()["fields"]
    from calendar_app.models import Post

    assert Post.objects.count() == 1
