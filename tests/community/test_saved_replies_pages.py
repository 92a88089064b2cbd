"""The saved-replies pages of a brand: list and add, edit, delete, the placeholders explained,
who may see and change them, and the way in from the inbox."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agency.models import AuditEvent
from community.models import SavedReply
from tests.community.test_workflow import make_conversation, make_message


def url(name, *args):
    return reverse(f"community:{name}", args=args)


@pytest.fixture
def shipping(brand):
    return SavedReply.objects.create(
        brand=brand, name="Shipping", text="Hi {first_name}, {brand} ships on Mondays."
    )


def rows():
    return sorted(SavedReply.objects.values_list("brand__name", "name", "text"))


# -- what the team sees and does ---------------------------------------------------------------


def test_the_list_shows_the_brands_saved_replies_and_explains_the_placeholders(
    login, manager, brand, sibling_brand, shipping
):
    SavedReply.objects.create(brand=sibling_brand, name="Bikes", text="Bikes ship Friday.")
    response = login(manager).get(url("saved-replies", brand.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Shipping" in page
    assert "Hi {first_name}, {brand} ships on Mondays." in page
    assert "Bikes ship Friday." not in page  # another brand's
    for placeholder in ("{first_name}", "{brand}", "{handle}"):
        assert f"<code>{placeholder}</code>" in page
    assert "The brand&#x27;s name: Acme Coffee." in page
    assert url("saved-reply-edit", brand.pk, shipping.pk) in page
    assert url("saved-reply-delete", brand.pk, shipping.pk) in page


def test_the_list_reads_the_saved_replies_in_a_fixed_number_of_queries(
    login, manager, brand, django_assert_num_queries
):
    client = login(manager)
    SavedReply.objects.create(brand=brand, name="One", text="One.")
    client.get(url("saved-replies", brand.pk))  # warm the session and the user
    with CaptureQueriesContext(connection) as few:
        client.get(url("saved-replies", brand.pk))
    for n in range(10):
        SavedReply.objects.create(brand=brand, name=f"Reply {n}", text=f"Text {n}.")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url("saved-replies", brand.pk))
    assert response.content.decode().count('id="saved-reply-') == 11


def test_a_manager_adds_a_saved_reply_with_placeholders(login, manager, brand):
    response = login(manager).post(
        url("saved-replies", brand.pk),
        {"name": "Thanks", "text": "Thanks {first_name}! {handle} made {brand}'s day."},
    )

    assert response.status_code == 302
    assert response.url == url("saved-replies", brand.pk)
    assert rows() == [
        ("Acme Coffee", "Thanks", "Thanks {first_name}! {handle} made {brand}'s day.")
    ]
    assert AuditEvent.objects.filter(action="saved_reply.created", actor=manager).count() == 1


def test_an_unknown_placeholder_is_refused_next_to_the_text_and_nothing_is_saved(
    login, manager, brand
):
    response = login(manager).post(
        url("saved-replies", brand.pk), {"name": "Coupon", "text": "Your code: {coupon}"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown placeholder {coupon}" in page
    assert "Your code: {coupon}" in page  # what was written stays in the box
    assert not SavedReply.objects.exists()


def test_a_duplicate_name_is_refused_in_words(login, manager, brand, shipping):
    response = login(manager).post(
        url("saved-replies", brand.pk), {"name": "shipping", "text": "Other."}
    )

    assert response.status_code == 400
    assert "already has a saved reply named" in response.content.decode()
    assert SavedReply.objects.count() == 1


def test_a_manager_edits_a_saved_reply(login, manager, brand, shipping):
    client = login(manager)
    page = client.get(url("saved-reply-edit", brand.pk, shipping.pk))
    assert page.status_code == 200
    assert "Hi {first_name}, {brand} ships on Mondays." in page.content.decode()

    response = client.post(
        url("saved-reply-edit", brand.pk, shipping.pk),
        {"name": "Shipping days", "text": "Hi {first_name}, we ship on Tuesdays."},
    )

    assert response.status_code == 302
    assert rows() == [("Acme Coffee", "Shipping days", "Hi {first_name}, we ship on Tuesdays.")]
    assert AuditEvent.objects.filter(action="saved_reply.updated").count() == 1


def test_an_edit_with_an_unknown_placeholder_leaves_the_saved_reply_as_it_was(
    login, manager, brand, shipping
):
    response = login(manager).post(
        url("saved-reply-edit", brand.pk, shipping.pk), {"name": "Shipping", "text": "{oops}"}
    )

    assert response.status_code == 400
    assert "Unknown placeholder {oops}" in response.content.decode()
    assert rows() == [("Acme Coffee", "Shipping", "Hi {first_name}, {brand} ships on Mondays.")]


def test_a_manager_deletes_a_saved_reply(login, manager, brand, shipping):
    response = login(manager).post(url("saved-reply-delete", brand.pk, shipping.pk))

    assert response.status_code == 302
    assert not SavedReply.objects.exists()
    assert AuditEvent.objects.filter(action="saved_reply.deleted").count() == 1


def test_deleting_is_a_post_only(login, manager, brand, shipping):
    assert login(manager).get(url("saved-reply-delete", brand.pk, shipping.pk)).status_code == 405
    assert SavedReply.objects.count() == 1


def test_a_saved_reply_of_another_brand_cannot_be_reached_through_this_brand(
    login, manager, brand, sibling_brand
):
    bikes = SavedReply.objects.create(brand=sibling_brand, name="Bikes", text="Friday.")
    client = login(manager)

    assert client.get(url("saved-reply-edit", brand.pk, bikes.pk)).status_code == 404
    assert client.post(url("saved-reply-delete", brand.pk, bikes.pk)).status_code == 404
    assert rows() == [("Blue Bikes", "Bikes", "Friday.")]


# -- who may -------------------------------------------------------------------------------------


def assert_refused_and_nothing_changes(client, brand, saved, status):
    before = rows()
    edit = url("saved-reply-edit", brand.pk, saved.pk)

    assert client.get(url("saved-replies", brand.pk)).status_code in status
    assert client.get(edit).status_code in status
    created = client.post(url("saved-replies", brand.pk), {"name": "X", "text": "Y"})
    assert created.status_code in status
    assert client.post(edit, {"name": "X", "text": "Y"}).status_code in status
    assert client.post(url("saved-reply-delete", brand.pk, saved.pk)).status_code in status
    assert rows() == before
    assert not AuditEvent.objects.filter(action__startswith="saved_reply.").exists()


def test_saved_replies_of_another_agencys_brand_are_a_404(login, outsider, brand, shipping):
    assert_refused_and_nothing_changes(login(outsider), brand, shipping, status=(404,))


@pytest.mark.parametrize("who", ["other_client", "client_user"])
def test_clients_never_reach_saved_replies(personas, login, brand, shipping, who):
    # 404 from the view (no staff role on the brand), or 403 first from the portal-only rule.
    assert_refused_and_nothing_changes(login(personas[who]), brand, shipping, status=(403, 404))


def test_a_marketer_reads_the_saved_replies_but_cannot_change_them(
    login, marketer, brand, shipping
):
    client = login(marketer)
    before = rows()

    page = client.get(url("saved-replies", brand.pk))
    assert page.status_code == 200
    assert "Shipping" in page.content.decode()
    assert "New saved reply" not in page.content.decode()
    assert url("saved-reply-delete", brand.pk, shipping.pk) not in page.content.decode()

    assert (
        client.post(url("saved-replies", brand.pk), {"name": "X", "text": "Y"}).status_code == 403
    )
    assert client.get(url("saved-reply-edit", brand.pk, shipping.pk)).status_code == 403
    assert (
        client.post(
            url("saved-reply-edit", brand.pk, shipping.pk), {"name": "X", "text": "Y"}
        ).status_code
        == 403
    )
    assert client.post(url("saved-reply-delete", brand.pk, shipping.pk)).status_code == 403
    assert rows() == before
    assert not AuditEvent.objects.filter(action__startswith="saved_reply.").exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client, brand, shipping):
    response = client.get(url("saved-replies", brand.pk))

    assert response.status_code == 302
    assert "/auth/login/" in response.url


# -- from the inbox ------------------------------------------------------------------------------


def test_the_conversation_panel_links_to_the_brands_saved_replies(login, manager, account):
    conversation = make_conversation(account, participant_name="Jane Doe")
    make_message(conversation, text="Hello?")
    link = url("saved-replies", account.brand_id)

    page = login(manager).get(url("conversation", conversation.pk)).content.decode()
    assert f'href="{link}"' in page
    assert "has no saved replies yet" in page

    SavedReply.objects.create(brand=account.brand, name="Hi", text="Hi {first_name}")
    page = login(manager).get(url("conversation", conversation.pk)).content.decode()
    assert f'href="{link}"' in page
    assert "Manage saved replies" in page


def test_the_inbox_filtered_by_a_brand_links_to_its_saved_replies(login, manager, brand):
    page = login(manager).get(url("inbox") + f"?brand={brand.pk}").content.decode()
    assert f'href="{url("saved-replies", brand.pk)}"' in page
    assert "Saved replies of Acme Coffee" in page
