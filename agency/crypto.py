"""Encryption at rest for platform credentials and webhook secrets.

Keys come from settings.FERNET_KEYS: the first encrypts, every key decrypts, so a new key can be
put first and old rows re-encrypted with `manage.py rotate_secrets` before the old key is dropped.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


class SecretStr(str):
    """A decrypted secret whose repr never shows the value (tracebacks, debug pages, logs)."""

    def __repr__(self) -> str:
        return "SecretStr('********')" if self else "SecretStr('')"


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees the plaintext as a SecretStr.

    An empty value is stored as an empty string (nothing to hide, and no ciphertext to decrypt).
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return SecretStr("")
        try:
            return SecretStr(decrypt(value))
        except InvalidToken as exc:
            raise InvalidToken(
                f"{self.model.__name__}.{self.name} cannot be decrypted with FERNET_KEYS"
            ) from exc

    def to_python(self, value):
        if value is None or isinstance(value, SecretStr):
            return value
        return SecretStr(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(str(value))
