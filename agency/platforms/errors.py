"""Typed outcomes of a platform call, so the publishing engine decides retries in one place.

- RateLimited and TransientError: nothing was published; safe to try again later.
- AuthExpired: the account's token is expired or revoked; hold its posts until reconnected.
- Rejected: the platform refused the content; retrying the same request cannot help.
- OutcomeUnknown: the request may have reached the platform (timeout or 5xx after sending);
  never retried blindly, a reconciler settles it.
"""


class PlatformError(Exception):
    def __init__(self, message: str = "", *, status: int | None = None, excerpt: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.excerpt = excerpt[:500]

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
    pass


class OutcomeUnknown(PlatformError):
    pass
