"""Retry timing shared by everything that talks to a platform (posts, replies, syncs)."""

import random


def jittered_backoff(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before try `attempt + 1`: exponential, with jitter so that many failures
    at once do not come back at once, and never sooner than the platform asked."""
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    delay = random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security
    return max(delay, retry_after or 0.0)
