"""A loopback Mastodon (and a Meta insights edge) that misbehaves on request, over real HTTP, so
the real adapters, `PlatformAdapter._request` and the engines meet real sockets and real
timeouts. It extends bench/fake_platform.py: same answers, plus a record of every status created
(which `find_published` lists back) and a script of faults.

    fake.script("post", "throttle", "ok")   # the next two POST /api/v1/statuses
    fake.posts_per_key()                    # {key: POST requests seen}
    fake.created_per_key()                  # {key: statuses actually created}

Faults of POST /api/v1/statuses (each consumes one entry; "ok" once the script is empty):
- ok            200 with the status after `delay` seconds, as https://docs.joinmastodon.org/methods/statuses/#create
- throttle      429 with Retry-After (seconds in `retry_after`); nothing created
- error500      500; nothing created
- slow          the status is created, the answer comes after `slow_seconds` (past the timeout)
- malformed     the status is created, the answer is 200 with a body that is not JSON
- close         the status is created, then the connection is closed without an answer
- hang_after    the status is created, then no answer for `hang_seconds` (a worker gets killed)
- hang_before   no answer for `hang_seconds` and nothing created (killed before it was handled)
- reject        422 "Validation failed"; nothing created
Faults of GET /api/v1/accounts/:id/statuses ("list"): ok, error500.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from html import escape

from bench.fake_platform import STATUSES_PATH, FakePlatform, _Handler, _Server


class _FaultyServer(_Server):
    def __init__(self, address, delay: float):
        super().__init__(address, delay)
        self.lock = threading.Lock()
        self.scripts: dict[str, list[str]] = {"post": [], "list": []}
        self.posts: Counter[str] = Counter()
        self.statuses: list[dict] = []
        self.insight_pages: list[dict] = []
        self.retry_after = 3
        self.slow_seconds = 3.0
        self.hang_seconds = 60.0

    def next_fault(self, kind: str) -> str:
        with self.lock:
            script = self.scripts[kind]
            return script.pop(0) if script else "ok"


class _FaultyHandler(_Handler):
    server: _FaultyServer

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
            if self.server.next_fault("list") == "error500":
                self._send_json(500, {"error": "Internal server error"})
                return
            # Each account has its own token: list only the statuses posted with it.
            token = self.headers.get("Authorization", "")
            with self.server.lock:
                mine = [s for s in reversed(self.server.statuses) if s["_token"] == token]
            self._send_json(200, mine[:40])  # type: ignore[arg-type]
        elif path.endswith("/insights"):
            # A Meta insights edge: one page, the rows the test put there.
            with self.server.lock:
                rows = list(self.server.insight_pages)
            self._send_json(200, {"data": rows, "paging": {}})
        else:
            super().do_GET()

    def do_POST(self):
        if self.path != STATUSES_PATH:
            super().do_POST()
            return
        body = self._read_body()
        key = self.headers.get("Idempotency-Key", "")
        fault = self.server.next_fault("post")
        with self.server.lock:
            self.server.posts[key] += 1
        if fault == "throttle":
            self._send_raw(
                429,
                b'{"error":"Too many requests"}',
                {"Retry-After": str(self.server.retry_after)},
            )
            return
        if fault == "error500":
            self._send_json(500, {"error": "Internal server error"})
            return
        if fault == "reject":
            self._send_json(422, {"error": "Validation failed: Text can't be blank"})
            return
        if fault == "hang_before":
            time.sleep(self.server.hang_seconds)
            self.close_connection = True
            return
        status = self._create(key, json.loads(body or b"{}"))
        if self.server.delay:
            time.sleep(self.server.delay)
        if fault in ("slow", "hang_after"):
            time.sleep(self.server.slow_seconds if fault == "slow" else self.server.hang_seconds)
        if fault == "close":
            # The request was read and acted on; the client gets no answer at all.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "malformed":
            self._send_raw(200, b'{"id": "' + status["id"].encode() + b'", "url": ', {})
            return
        with contextlib.suppress(OSError):  # the client gave up (a timeout, a killed worker)
            self._send_json(200, status)

    def _create(self, key: str, body: dict) -> dict:
        host = self.headers.get("Host", "127.0.0.1")
        status_id = str(self.server.stats.begin(key))
        self.server.stats.end()
        status = {
            "id": status_id,
            "uri": f"http://{host}/users/drill/statuses/{status_id}",
            "url": f"http://{host}/@drill/{status_id}",
            "created_at": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
            "content": f"<p>{escape(str(body.get('status', '')))}</p>",
            "visibility": body.get("visibility", "public"),
            "in_reply_to_id": body.get("in_reply_to_id"),
            "reblog": None,
            "_key": key,
            "_token": self.headers.get("Authorization", ""),
        }
        with self.server.lock:
            self.server.statuses.append(status)
        return status

    def _send_raw(self, status: int, data: bytes, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FaultyPlatform(FakePlatform):
    """`with FaultyPlatform() as fake:` a misbehaving Mastodon on a thread of this process."""

    def __init__(self, *, delay: float = 0.0, port: int = 0):
        self.server = _FaultyServer(("127.0.0.1", port), delay)
        self.server.RequestHandlerClass = _FaultyHandler
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, kind: str, *faults: str) -> None:
        with self.server.lock:
            self.server.scripts[kind].extend(faults)

    def posts_per_key(self) -> dict[str, int]:
        with self.server.lock:
            return dict(self.server.posts)

    def created_per_key(self) -> dict[str, int]:
        with self.server.lock:
            return dict(Counter(s["_key"] for s in self.server.statuses))

    def created(self) -> list[dict]:
        with self.server.lock:
            return list(self.server.statuses)
