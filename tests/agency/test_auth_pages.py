"""Log in, log out and password pages: Django's auth views with the dashboard's templates."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_has_labelled_fields_and_a_reset_link(client):
    content = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">' in content
    assert '<label for="id_password">' in content
    assert reverse("password_reset") in content


def test_login_with_the_right_password_opens_the_dashboard(client, manager):
    response = client.post(
        reverse("login"), {"username": manager.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_returns_to_the_requested_page(client, manager):
    response = client.post(
        reverse("login"),
        {"username": manager.username, "password": DEFAULT_PASSWORD, "next": "/brands/"},
    )
    assert response.url == "/brands/"


def test_wrong_password_is_refused_in_words(client, manager):
    response = client.post(reverse("login"), {"username": manager.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_shows_the_logged_out_page(login, manager):
    client = login(manager)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"), follow=True)
    assert "_auth_user_id" not in client.session
    assert response.redirect_chain[-1][0] == reverse("login")


def test_logged_out_template_renders(client, settings):
    settings.LOGOUT_REDIRECT_URL = None
    response = client.post(reverse("logout"))
    assert response.status_code == 200
    assert "You are logged out" in response.content.decode()


def test_password_change_needs_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_change_works(login, manager):
    client = login(manager)
    assert (
        '<label for="id_old_password">' in client.get(reverse("password_change")).content.decode()
    )
    response = client.post(
        reverse("password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "a-much-longer-passphrase-42",
            "new_password2": "a-much-longer-passphrase-42",
        },
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    manager.refresh_from_db()
    assert manager.check_password("a-much-longer-passphrase-42")


def test_password_reset_mails_a_link_that_sets_a_new_password(client, manager):
    response = client.post(reverse("password_reset"), {"email": manager.email}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your agency password"
    assert manager.username in message.body
    link = re.search(r"https?://[^/\s]+(/auth/reset/\S+)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-passphrase-77", "new_password2": "brand-new-passphrase-77"},
        follow=True,
    )
    assert "Your password is set" in done.content.decode()
    manager.refresh_from_db()
    assert manager.check_password("brand-new-passphrase-77")


def test_password_reset_with_a_bad_link_says_so(client):
    response = client.get(reverse("password_reset_confirm", args=["MQ", "bad-token"]))
    assert "This link no longer works" in response.content.decode()


def test_unknown_email_gets_the_same_answer_and_no_mail(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []
