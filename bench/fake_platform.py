"""A loopback Mastodon for the benchmarks: `POST /api/v1/statuses` answers like the real one
after a fixed delay, and every request is counted per Idempotency-Key, so a duplicate publish
shows as a number instead of hiding in a log.

    GET  /_stats   {"requests": n, "keys": n, "duplicates": n, "max_in_flight": n, ...}
    POST /_reset   forget the counts (between phases)

Run it in the bench's process (`FakePlatform(delay=0.2).start()`) or on its own, so its threads
do not share a GIL with anything measured: `python -m bench.fake_platform --port 0` prints
`listening on http://127.0.0.1:PORT` and serves until killed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUSES_PATH = "/api/v1/statuses"


class Stats:
    """Counts shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(110_000_000_000_000_000)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.per_key: Counter[str] = Counter()
            self.without_key = 0
            self.in_flight = 0
            self.max_in_flight = 0

    def begin(self, key: str) -> int:
        with self._lock:
            if key:
                self.per_key[key] += 1
            else:
                self.without_key += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return next(self._ids)

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def snapshot(self) -> dict:
        with self._lock:
            requests = sum(self.per_key.values()) + self.without_key
            return {
                "requests": requests,
                "keys": len(self.per_key),
                # Every request past the first with the same key would be a second post.
                "duplicates": sum(n - 1 for n in self.per_key.values() if n > 1),
                "without_key": self.without_key,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes. With Nagle on, the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request: a cost
    # of this server, not of the engine, that real platforms (nginx) do not have.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def _send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/_stats":
            self._send_json(200, self.server.stats.snapshot())
        else:
            self._send_json(404, {"error": "Record not found"})

    def do_POST(self):
        body = self._read_body()
        if self.path == "/_reset":
            self.server.stats.reset()
            self._send_json(200, {"ok": True})
            return
        if self.path != STATUSES_PATH:
            self._send_json(404, {"error": "Record not found"})
            return
        status_id = self.server.stats.begin(self.headers.get("Idempotency-Key", ""))
        try:
            try:
                text = str(json.loads(body or b"{}").get("status", ""))
            except (ValueError, AttributeError):
                self._send_json(422, {"error": "Validation failed: Text can't be blank"})
                return
            if self.server.delay:
                time.sleep(self.server.delay)
            host = self.headers.get("Host", "127.0.0.1")
            # The shape of https://docs.joinmastodon.org/methods/statuses/#create (trimmed).
            self._send_json(
                200,
                {
                    "id": str(status_id),
                    "uri": f"http://{host}/users/bench/statuses/{status_id}",
                    "url": f"http://{host}/@bench/{status_id}",
                    "created_at": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
                    "content": f"<p>{text}</p>",
                    "visibility": "public",
                },
            )
        finally:
            self.server.stats.end()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib's backlog of 5 drops SYNs when a hundred workers connect at once; each drop
    # costs the client a one-second retransmit, which would be measured as platform latency.
    request_queue_size = 4096

    def __init__(self, address, delay: float):
        super().__init__(address, _Handler)
        self.delay = delay
        self.stats = Stats()


class FakePlatform:
    """The server on a thread of this process: `with FakePlatform(delay=0.2) as fake: ...`."""

    def __init__(self, *, delay: float = 0.2, port: int = 0):
        self.server = _Server(("127.0.0.1", port), delay)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def stats(self) -> Stats:
        return self.server.stats

    def start(self) -> FakePlatform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=200.0)
    args = parser.parse_args(argv)
    server = _Server(("127.0.0.1", args.port), args.delay_ms / 1000)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
