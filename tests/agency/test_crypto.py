from cryptography.fernet import Fernet
from django.db import connection

from agency.crypto import SecretStr
from agency.models import SocialAccount


def test_credentials_are_encrypted_at_rest(account):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM agency_socialaccount WHERE id = %s",
            [account.pk.hex if connection.vendor == "sqlite" else account.pk],
        )
        stored_access, stored_refresh = cursor.fetchone()
    assert "do-not-leak" not in stored_access
    assert stored_access.startswith("gAAAAA")  # a Fernet token
    assert "do-not-leak" not in stored_refresh
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.access_token.startswith("secret-access-token-")


def test_decrypted_secret_hides_itself_in_repr(account):
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert isinstance(fresh.access_token, SecretStr)
    assert "do-not-leak" not in repr(fresh.access_token)


def test_old_key_still_decrypts_after_rotation(settings, account):
    old_keys = list(settings.FERNET_KEYS)
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *old_keys]
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.access_token.startswith("secret-access-token-")


def test_empty_credentials_stay_empty(brand):
    account = SocialAccount.objects.create(brand=brand, platform="sandbox", handle="@empty")
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.access_token == ""
    assert not fresh.has_credentials
