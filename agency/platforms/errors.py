"""Typed outcomes of a platform call, so the publishing engine decides retries in one place.

- RateLimited and TransientError: nothing was published; safe to try again later.
- AuthExpired: the account's token is expired or revoked; hold its posts until reconnected.
- Rejected: the platform refused the content; retrying the same request cannot help.
- OutcomeUnknown: the request may have reached the platform (timeout or 5xx after sending);
  never retried blindly, a reconciler settles it.
"""

from contextlib import contextmanager


class PlatformError(Exception):
    """`hints` is platform state the engine keeps and hands back to `find_published` (such as
    Instagram's container id), so an unknown outcome can be settled later."""

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        excerpt: str = "",
        hints: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.excerpt = excerpt[:500]
        self.hints = dict(hints or {})

    def __str__(self) -> str:
        return self.message or self.__class__.__name__


class RateLimited(PlatformError):
    def __init__(self, retry_after: float | None = None, message: str = "", **kwargs):
        super().__init__(message or "The platform asked us to slow down.", **kwargs)
        self.retry_after = retry_after


class TransientError(PlatformError):
    pass


class AuthExpired(PlatformError):
    pass


class Rejected(PlatformError):
    """`duplicate`: the platform refused because it already has this exact post (and
    `duplicate_of` names it when the platform says which). After an earlier attempt whose
    outcome was unknown, that means the earlier attempt did publish."""

    duplicate = False
    duplicate_of = ""

    def __init__(self, message: str = "", *, duplicate: bool = False, duplicate_of: str = "", **kw):
        super().__init__(message, **kw)
        if duplicate or duplicate_of:
            self.duplicate = True
        if duplicate_of:
            self.duplicate_of = duplicate_of


class OutcomeUnknown(PlatformError):
    pass


@contextmanager
def secrets_scrubbed(account):
    """Around a platform call: an error it raises loses every copy of the account's tokens.

    Platforms echo requests back in their error answers (Graph API's "Cannot parse access token:
    ..."), and these errors become attempt rows, post pages, API answers and notifications.
    """
    try:
        yield
    except PlatformError as exc:
        for secret in (account.access_token, account.refresh_token):
            if secret and len(secret) >= 8:
                exc.message = exc.message.replace(secret, "[token]")
                exc.excerpt = exc.excerpt.replace(secret, "[token]")
                exc.args = tuple(
                    a.replace(secret, "[token]") if isinstance(a, str) else a for a in exc.args
                )
        raise
