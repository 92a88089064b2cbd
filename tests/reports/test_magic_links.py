"""Magic links into the client portal: shown once, stored only hashed, e-mailed, expiring,
revocable, and never a way into a staff account."""

import datetime as dt
import hashlib
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agency.models import AuditEvent, ClientAccess
from reports.models import MagicLink
from reports.services.portal import magic_link_create, magic_link_revoke, magic_link_use

WEEK = dt.timedelta(days=7)


@pytest.fixture
def client_with_email(client_user):
    client_user.email = "carl@acme.example"
    client_user.save()
    return client_user


def login_url(token):
    return reverse("reports:portal-login", args=[token])


def test_create_returns_the_token_once_and_stores_only_its_sha256(
    brand, manager, client_with_email
):
    link, token = magic_link_create(brand=brand, user=client_with_email, by=manager, valid_for=WEEK)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # secrets.token_urlsafe(32)
    stored = MagicLink.objects.get()
    assert stored.pk == link.pk
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(MagicLink.objects.values().get())
    assert token not in str(list(AuditEvent.objects.values()))
    assert abs(stored.expires_at - (timezone.now() + WEEK)) < dt.timedelta(minutes=1)
    assert stored.created_by == manager
    assert AuditEvent.objects.filter(action="magic_link.created").count() == 1


def test_create_emails_the_link_to_the_client(brand, manager, client_with_email, settings):
    settings.SITE_URL = "https://portal.example"
    _, token = magic_link_create(brand=brand, user=client_with_email, by=manager, valid_for=WEEK)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carl@acme.example"]
    assert f"https://portal.example{login_url(token)}" in message.body
    assert "Acme Coffee" in message.subject


def test_two_links_never_share_a_token(brand, manager, client_user):
    _, first = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    _, second = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    assert first != second


@pytest.mark.parametrize("who", ["manager", "other_client", "outsider"])
def test_a_link_is_only_for_a_client_user_of_the_brand(brand, admin, personas, who):
    with pytest.raises(ValidationError) as caught:
        magic_link_create(brand=brand, user=personas[who], by=admin, valid_for=WEEK)
    assert "is not a client user of Acme Coffee" in caught.value.message_dict["user"][0]
    assert not MagicLink.objects.exists()


def test_a_staff_member_who_is_also_a_client_gets_no_link(brand, admin, manager):
    ClientAccess.objects.create(user=manager, brand=brand)
    with pytest.raises(ValidationError):
        magic_link_create(brand=brand, user=manager, by=admin, valid_for=WEEK)


@pytest.mark.parametrize("valid_for", [dt.timedelta(minutes=5), dt.timedelta(days=31)])
def test_validity_must_be_between_an_hour_and_thirty_days(brand, manager, client_user, valid_for):
    with pytest.raises(ValidationError) as caught:
        magic_link_create(brand=brand, user=client_user, by=manager, valid_for=valid_for)
    assert "between one hour and 30 days" in caught.value.message_dict["valid_for"][0]


# -- using a link -------------------------------------------------------------------------------


def test_the_link_logs_the_client_into_the_portal_and_counts_the_use(
    client, brand, manager, client_user
):
    link, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    response = client.get(login_url(token))
    assert response.status_code == 302
    assert response.url == reverse("reports:portal-dashboard", args=[brand.pk])
    assert client.session[SESSION_KEY] == str(client_user.pk)
    link.refresh_from_db()
    assert link.use_count == 1
    assert link.last_used_at is not None
    used = AuditEvent.objects.get(action="magic_link.used")
    assert used.actor == client_user
    assert used.brand == brand
    client.get(login_url(token))
    link.refresh_from_db()
    assert link.use_count == 2


def test_a_session_opened_by_a_link_stays_in_the_portal(client, brand, manager, client_user):
    _, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    client.get(login_url(token))
    assert client.get(reverse("reports:portal-dashboard", args=[brand.pk])).status_code == 200
    assert client.get(reverse("brand-list")).status_code == 403
    assert client.get(reverse("calendar:compose", args=[brand.pk])).status_code == 403


def _expire(link):
    MagicLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))


def test_an_expired_link_says_so_and_logs_nobody_in(client, brand, manager, client_user):
    link, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    _expire(link)
    response = client.get(login_url(token))
    assert response.status_code == 410
    assert "This link expired on" in response.content.decode()
    assert SESSION_KEY not in client.session
    link.refresh_from_db()
    assert link.use_count == 0
    assert not AuditEvent.objects.filter(action="magic_link.used").exists()


def test_a_revoked_link_says_so_and_logs_nobody_in(client, brand, manager, client_user):
    link, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    magic_link_revoke(link=link, by=manager)
    response = client.get(login_url(token))
    assert response.status_code == 410
    assert "withdrawn by the agency" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.filter(action="magic_link.revoked").count() == 1


def test_an_unknown_token_is_404_and_logs_nobody_in(client, db):
    response = client.get(login_url("not-a-real-token"))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_link_stops_working_when_the_client_loses_access(brand, manager, client_user):
    _, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    ClientAccess.objects.filter(user=client_user).delete()
    with pytest.raises(ValidationError) as caught:
        magic_link_use(token=token)
    assert "no access to the brand any more" in caught.value.messages[0]


def test_a_link_does_not_log_in_as_a_user_who_became_staff(brand, manager, client_user):
    from agency.models import Membership, Role

    _, token = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    Membership.objects.create(user=client_user, agency=brand.agency, role=Role.ADMIN)
    with pytest.raises(ValidationError):
        magic_link_use(token=token)


# -- the staff's page ---------------------------------------------------------------------------


def test_staff_make_a_link_see_it_once_and_withdraw_it(login, manager, brand, client_with_email):
    client = login(manager)
    url = reverse("reports:magic-links", args=[brand.pk])
    response = client.post(url, {"user": client_with_email.pk, "valid_for_days": 3})
    assert response.status_code == 200
    token = re.search(r"/portal/login/([A-Za-z0-9_-]{43})/", mail.outbox[0].body).group(1)
    assert login_url(token) in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    again = client.get(url).content.decode()
    assert token not in again
    assert "carl_client" in again
    link = MagicLink.objects.get()
    assert dt.timedelta(days=2, hours=23) < link.expires_at - timezone.now() <= dt.timedelta(days=3)

    client.post(reverse("reports:magic-link-revoke", args=[brand.pk, link.pk]))
    link.refresh_from_db()
    assert link.revoked_at is not None
    with pytest.raises(ValidationError):
        magic_link_use(token=token)


def test_the_client_cannot_make_or_withdraw_links(login, manager, client_user, brand):
    link, _ = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    client = login(client_user)
    url = reverse("reports:magic-links", args=[brand.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"user": client_user.pk, "valid_for_days": 30}).status_code == 403
    revoke = reverse("reports:magic-link-revoke", args=[brand.pk, link.pk])
    assert client.post(revoke).status_code == 403
    assert MagicLink.objects.get().revoked_at is None
    assert MagicLink.objects.count() == 1


def test_outsider_gets_404_and_a_link_of_another_brand_is_404(
    login, manager, outsider, client_user, other_client, brand, sibling_brand
):
    link, _ = magic_link_create(brand=brand, user=client_user, by=manager, valid_for=WEEK)
    assert login(outsider).get(reverse("reports:magic-links", args=[brand.pk])).status_code == 404
    revoke = reverse("reports:magic-link-revoke", args=[brand.pk, link.pk])
    assert login(outsider).post(revoke).status_code == 404
    wrong_brand = reverse("reports:magic-link-revoke", args=[sibling_brand.pk, link.pk])
    assert login(manager).post(wrong_brand).status_code == 404
    assert MagicLink.objects.get().revoked_at is None
