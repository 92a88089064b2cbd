"""A real HTTP receiver on loopback, and endpoints that point at it.

The receiver is a ThreadingHTTPServer in a thread: every webhook in these tests crosses a real
socket, and the receiver counts what it got. Its answers are scripted: a list of (status, delay
seconds) consumed one per request, then 200.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations import services
from integrations.models import EventType

# The live tests' real Celery processes, for test_live_worker.py.
from tests.live.conftest import (  # noqa: F401
    _celery_processes,
    celery_env,
    celery_worker_process,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *answers: tuple[int, float] | int) -> None:
        """The next answers, in order: a status, or (status, seconds to wait before it)."""
        with self.lock:
            self.script.extend(a if isinstance(a, tuple) else (a, 0.0) for a in answers)

    def _next(self) -> tuple[int, float]:
        with self.lock:
            return self.script.pop(0) if self.script else (200, 0.0)

    def delivery_ids(self) -> list[str]:
        return [r.headers["X-Agency-Delivery"] for r in self.requests]


@pytest.fixture
def receiver():
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recv: Receiver = state["receiver"]
            status, delay = recv._next()
            with recv.lock:
                recv.requests.append(Received(self.path, dict(self.headers), body, time.time()))
            if delay:
                time.sleep(delay)
            answer = f"answer {status} to request {len(recv.requests)}".encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # The receiver is on loopback; production refuses private addresses (tested on its own).
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0


@dataclass
class Enqueued:
    now: list[str] = field(default_factory=list)
    later: list[tuple[str, float]] = field(default_factory=list)


@pytest.fixture
def enqueued(monkeypatch):
    """What would have been put on the broker (the Celery round trip itself runs in the live
    test): `now` has delivery ids in order, `later` the countdown ones with their countdowns."""
    queue = Enqueued()
    monkeypatch.setattr(services, "_enqueue", lambda ids: queue.now.extend(str(i) for i in ids))
    monkeypatch.setattr(
        services, "_enqueue_later", lambda i, countdown: queue.later.append((str(i), countdown))
    )
    return queue


@pytest.fixture
def make_endpoint(home_agency, admin):
    def _make(url, *, events=None, brand=None, **fields):
        endpoint, secret = services.endpoint_create(
            agency=fields.pop("agency", home_agency),
            url=url,
            event_types=events or [e.value for e in EventType if e != EventType.PING],
            brand=brand,
            by=fields.pop("by", admin),
            **fields,
        )
        return endpoint, secret

    return _make
