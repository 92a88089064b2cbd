"""Two requests at once on real PostgreSQL, made to overlap for certain.

The test holds a row lock that both requests need, waits until PostgreSQL shows both of them
waiting for a lock, and only then lets go: so they really are in flight together, and the
outcome is what the code guarantees, not what the thread scheduler happened to do.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction


def waiting_lock_count() -> int:
    # pg_locks is live (unlike pg_stat_activity, which is a snapshot per transaction).
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def _closing(call: Callable):
    def run():
        try:
            return call()
        finally:
            connection.close()  # each thread has its own connection; the test DB is dropped later

    return run


def race(lock_row: Callable[[], None], *calls: Callable, timeout: float = 20.0) -> list:
    """Run `calls` in threads while `lock_row()`'s lock is held; release it once every call waits.

    Returns the calls' results in order.
    """
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        with transaction.atomic():
            lock_row()
            futures = [pool.submit(_closing(call)) for call in calls]
            deadline = time.monotonic() + timeout
            while waiting_lock_count() < len(calls):
                if time.monotonic() > deadline:
                    raise AssertionError("the requests never both waited for the lock")
                time.sleep(0.02)
        return [future.result(timeout=timeout) for future in futures]
