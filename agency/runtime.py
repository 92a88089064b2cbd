"""Process start-up for long-running servers (gunicorn workers, Celery workers)."""

import gc


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (modules, the URL conf, models' metadata: about
    150,000) out of the garbage collector's reach. Each full collection otherwise walks all of
    them again, about 35 ms, and a request that happened to trigger one paid for it: at 100,000
    posts that was the slowest twentieth of the API's answers. They live as long as the process
    anyway."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imported now, so frozen with the rest
    gc.collect()
    gc.freeze()
