"""A brand's library: media uploads, per-platform warnings, hashtag sets and snippets."""

import io
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from agency.models import AuditEvent, Platform
from calendar_app import services
from calendar_app.models import HashtagSet, Media, PostTarget, Snippet, TargetState
from tests.factories import SocialAccountFactory


def png(width=40, height=30, color="red", name="beans.png", fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(seconds=12, width=1080, height=1920):
    """The smallest MP4 the probe reads: ftyp, then moov with mvhd and one video tkhd."""
    mvhd = box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 1000, seconds * 1000) + bytes(80))
    tkhd = box(b"tkhd", bytes(4) + bytes(72) + struct.pack(">II", width << 16, height << 16))
    moov = box(b"moov", mvhd + box(b"trak", tkhd))
    data = box(b"ftyp", b"isom" + bytes(4) + b"isommp41") + box(b"mdat", bytes(64)) + moov
    return SimpleUploadedFile("clip.mp4", data, content_type="video/mp4")


def library_url(brand):
    return reverse("calendar:media-library", args=[brand.pk])


# -- uploads -------------------------------------------------------------------------------------


def test_manager_uploads_a_png_with_alt_text(login, manager, brand):
    response = login(manager).post(
        library_url(brand), {"upload": png(), "alt_text": "A red square of beans"}
    )
    assert response.status_code == 302
    media = Media.objects.get()
    assert media.brand == brand
    assert (media.kind, media.mime_type, media.width, media.height) == (
        "image",
        "image/png",
        40,
        30,
    )
    assert media.alt_text == "A red square of beans"
    assert len(media.checksum) == 64
    assert media.uploaded_by == manager
    assert AuditEvent.objects.filter(action="media.uploaded", target_id=str(media.pk)).exists()
    page = login(manager).get(library_url(brand)).content.decode()
    assert media.file.url in page
    assert "A red square of beans" in page


def test_a_text_file_named_png_is_refused_in_words(login, manager, brand):
    fake = SimpleUploadedFile("notes.png", b"just some notes\n" * 10, content_type="image/png")
    response = login(manager).post(library_url(brand), {"upload": fake})
    assert response.status_code == 400
    assert "notes.png is not an image" in response.content.decode()
    assert not Media.objects.exists()


def test_the_same_file_twice_gives_back_the_same_media(brand, manager):
    first = services.media_upload(brand=brand, by=manager, upload=png(), alt_text="")
    second = services.media_upload(
        brand=brand, by=manager, upload=png(name="copy.png"), alt_text="again"
    )
    assert second.pk == first.pk
    assert second.already_in_library
    assert Media.objects.count() == 1


def test_the_same_file_in_another_brand_is_a_separate_media(brand, other_brand, manager):
    services.media_upload(brand=brand, by=manager, upload=png(), alt_text="")
    services.media_upload(brand=other_brand, by=None, upload=png(), alt_text="")
    assert Media.objects.count() == 2


def test_a_file_over_the_limit_is_refused(login, manager, brand, settings):
    settings.AGENCY_MAX_UPLOAD_BYTES = 20
    response = login(manager).post(library_url(brand), {"upload": png()})
    assert response.status_code == 400
    assert "the limit is 20\xa0bytes." in response.content.decode()
    assert not Media.objects.exists()


def test_an_mp4_is_accepted_with_its_duration_and_size(brand, manager):
    media = services.media_upload(brand=brand, by=manager, upload=mp4(), alt_text="")
    assert (media.kind, media.mime_type) == ("video", "video/mp4")
    assert media.duration == 12
    assert (media.width, media.height) == (1080, 1920)


def test_alt_text_can_be_edited(login, manager, brand):
    media = services.media_upload(brand=brand, by=manager, upload=png(), alt_text="")
    response = login(manager).post(
        reverse("calendar:media-update", args=[brand.pk, media.pk]), {"alt_text": "Green beans"}
    )
    assert response.status_code == 302
    media.refresh_from_db()
    assert media.alt_text == "Green beans"


def test_unused_media_is_deleted(login, manager, brand):
    media = services.media_upload(brand=brand, by=manager, upload=png(), alt_text="")
    response = login(manager).post(reverse("calendar:media-delete", args=[brand.pk, media.pk]))
    assert response.status_code == 302
    assert not Media.objects.exists()


def test_media_of_a_scheduled_post_cannot_be_deleted(login, manager, brand, account):
    media = services.media_upload(brand=brand, by=manager, upload=png(), alt_text="")
    post = services.post_create(
        brand=brand, by=manager, accounts=[account], text="Beans", media=[media]
    )
    PostTarget.objects.filter(post=post).update(
        state=TargetState.SCHEDULED, due_at=timezone.now() + timezone.timedelta(days=1)
    )
    response = login(manager).post(
        reverse("calendar:media-delete", args=[brand.pk, media.pk]), follow=True
    )
    assert "Remove it from that post first." in response.content.decode()
    assert Media.objects.filter(pk=media.pk).exists()


def test_library_warns_per_platform(login, manager, brand):
    SocialAccountFactory(brand=brand, platform=Platform.INSTAGRAM, handle="@acme_ig")
    SocialAccountFactory(brand=brand, platform=Platform.X, handle="@acme_x")
    services.media_upload(
        brand=brand, by=manager, upload=png(300, 100, name="wide.jpg", fmt="JPEG"), alt_text=""
    )
    services.media_upload(brand=brand, by=manager, upload=png(100, 100), alt_text="")
    page = login(manager).get(library_url(brand)).content.decode()
    assert "Aspect ratio 3.00:1 is not allowed on Instagram (0.80:1 to 1.91:1)." in page
    assert "Instagram does not take PNG files." in page
    assert "on X" not in page


def test_library_warns_when_a_file_is_too_large_for_x(brand, manager):
    from calendar_app import selectors

    SocialAccountFactory(brand=brand, platform=Platform.X, handle="@acme_x")
    media = Media(brand=brand, name="huge.png", mime_type="image/png", size=6 * 1024 * 1024)
    [(_, warnings)] = selectors.media_platform_warnings(brand=brand, media=[media])
    assert warnings == ["Too large for X: the limit is 5 MB."]


# -- hashtag sets and snippets -------------------------------------------------------------------


def test_hashtag_set_create_edit_delete(login, manager, brand):
    client = login(manager)
    url = reverse("calendar:hashtag-list", args=[brand.pk])
    response = client.post(url, {"name": "Coffee", "hashtags": "coffee, #roastery"})
    assert response.status_code == 302
    hashtag_set = HashtagSet.objects.get()
    assert hashtag_set.hashtags == "#coffee #roastery"
    edit = reverse("calendar:hashtag-edit", args=[brand.pk, hashtag_set.pk])
    assert client.get(edit).status_code == 200
    client.post(edit, {"name": "Coffee", "hashtags": "#espresso"})
    hashtag_set.refresh_from_db()
    assert hashtag_set.hashtags == "#espresso"
    client.post(reverse("calendar:hashtag-delete", args=[brand.pk, hashtag_set.pk]))
    assert not HashtagSet.objects.exists()


def test_hashtag_set_names_are_unique_per_brand(login, manager, brand, other_brand):
    HashtagSet.objects.create(brand=other_brand, name="Coffee", hashtags="#tea")
    client = login(manager)
    url = reverse("calendar:hashtag-list", args=[brand.pk])
    client.post(url, {"name": "Coffee", "hashtags": "#coffee"})
    response = client.post(url, {"name": "coffee", "hashtags": "#beans"})
    assert response.status_code == 400
    assert "already has a hashtag set called “coffee”" in response.content.decode()
    assert HashtagSet.objects.filter(brand=brand).count() == 1


def test_a_hashtag_with_spaces_or_punctuation_is_refused(login, manager, brand):
    url = reverse("calendar:hashtag-list", args=[brand.pk])
    response = login(manager).post(url, {"name": "Bad", "hashtags": "#ok #not-ok"})
    assert "#not-ok is not a hashtag" in response.content.decode()
    assert not HashtagSet.objects.exists()


def test_snippet_create_edit_delete_and_unique_name(login, manager, brand):
    client = login(manager)
    url = reverse("calendar:snippet-list", args=[brand.pk])
    client.post(url, {"name": "Signature", "text": "— the Acme team"})
    snippet = Snippet.objects.get()
    response = client.post(url, {"name": "Signature", "text": "Other"})
    assert "already has a snippet called “Signature”" in response.content.decode()
    edit = reverse("calendar:snippet-edit", args=[brand.pk, snippet.pk])
    client.post(edit, {"name": "Sign-off", "text": "Cheers, Acme"})
    snippet.refresh_from_db()
    assert (snippet.name, snippet.text) == ("Sign-off", "Cheers, Acme")
    client.post(reverse("calendar:snippet-delete", args=[brand.pk, snippet.pk]))
    assert not Snippet.objects.exists()


def test_composer_offers_hashtag_sets_and_snippets_to_insert(login, manager, brand):
    HashtagSet.objects.create(brand=brand, name="Coffee", hashtags="#coffee #roastery")
    Snippet.objects.create(brand=brand, name="Signature", text="— the Acme team")
    page = login(manager).get(reverse("calendar:compose", args=[brand.pk])).content.decode()
    assert 'data-text="#coffee #roastery"' in page
    assert 'data-text="— the Acme team"' in page


# -- tenancy and roles ---------------------------------------------------------------------------


@pytest.fixture
def library(brand, manager):
    media = services.media_upload(brand=brand, by=manager, upload=png(), alt_text="Beans")
    hashtag_set = HashtagSet.objects.create(brand=brand, name="Coffee", hashtags="#coffee")
    snippet = Snippet.objects.create(brand=brand, name="Signature", text="Acme")
    return media, hashtag_set, snippet


def _urls(brand, media, hashtag_set, snippet):
    return {
        "reads": [
            reverse("calendar:media-library", args=[brand.pk]),
            reverse("calendar:hashtag-list", args=[brand.pk]),
            reverse("calendar:snippet-list", args=[brand.pk]),
        ],
        "writes": [
            (reverse("calendar:media-library", args=[brand.pk]), {"upload": png(color="blue")}),
            (reverse("calendar:media-update", args=[brand.pk, media.pk]), {"alt_text": "x"}),
            (reverse("calendar:media-delete", args=[brand.pk, media.pk]), {}),
            (reverse("calendar:hashtag-list", args=[brand.pk]), {"name": "N", "hashtags": "#n"}),
            (
                reverse("calendar:hashtag-edit", args=[brand.pk, hashtag_set.pk]),
                {"name": "Hacked", "hashtags": "#hacked"},
            ),
            (reverse("calendar:hashtag-delete", args=[brand.pk, hashtag_set.pk]), {}),
            (reverse("calendar:snippet-list", args=[brand.pk]), {"name": "N", "text": "n"}),
            (
                reverse("calendar:snippet-edit", args=[brand.pk, snippet.pk]),
                {"name": "Hacked", "text": "hacked"},
            ),
            (reverse("calendar:snippet-delete", args=[brand.pk, snippet.pk]), {}),
        ],
    }


def _unchanged(media, hashtag_set, snippet):
    media.refresh_from_db()
    hashtag_set.refresh_from_db()
    snippet.refresh_from_db()
    assert media.alt_text == "Beans"
    assert hashtag_set.name == "Coffee"
    assert snippet.name == "Signature"
    assert Media.objects.count() == HashtagSet.objects.count() == Snippet.objects.count() == 1


@pytest.mark.parametrize("persona", ["outsider", "other_client"])
def test_strangers_get_404_on_every_library_page(login, personas, brand, library, persona):
    urls = _urls(brand, *library)
    client = login(personas[persona])
    for url in urls["reads"]:
        assert client.get(url).status_code == 404, url
    for url, data in urls["writes"]:
        assert client.post(url, data).status_code == 404, url
    assert (
        client.get(reverse("calendar:hashtag-edit", args=[brand.pk, library[1].pk])).status_code
        == 404
    )
    _unchanged(*library)


@pytest.mark.parametrize("persona", ["marketer"])  # clients: in the portal (reports.middleware)
def test_read_only_roles_read_the_library_but_get_403_on_writes(
    login, personas, brand, library, persona
):
    urls = _urls(brand, *library)
    client = login(personas[persona])
    for url in urls["reads"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Delete" not in response.content.decode()
    for url, data in urls["writes"]:
        assert client.post(url, data).status_code == 403, url
    assert (
        client.get(reverse("calendar:snippet-edit", args=[brand.pk, library[2].pk])).status_code
        == 403
    )
    _unchanged(*library)


def test_media_of_another_brand_is_404_under_this_brand(login, manager, brand, other_brand):
    foreign = services.media_upload(brand=other_brand, by=None, upload=png(), alt_text="Tea")
    client = login(manager)
    assert (
        client.post(reverse("calendar:media-delete", args=[brand.pk, foreign.pk])).status_code
        == 404
    )
    assert Media.objects.filter(pk=foreign.pk).exists()
