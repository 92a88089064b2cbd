"""The benchmark's fake Mastodon counts exactly: a duplicate publish must show as a number.

The endpoint's shape follows https://docs.joinmastodon.org/methods/statuses/#create.
"""

import threading

import pytest
import requests

from bench.fake_platform import FakePlatform


def post_status(url, key=None, text="Hello"):
    headers = {} if key is None else {"Idempotency-Key": key}
    response = requests.post(
        f"{url}/api/v1/statuses", json={"status": text}, headers=headers, timeout=10
    )
    return response.status_code, response.json()


def get_stats(url):
    return requests.get(f"{url}/_stats", timeout=10).json()


@pytest.fixture
def fake():
    with FakePlatform(delay=0.05) as server:
        yield server


def test_status_answer_has_the_mastodon_shape(fake):
    status, body = post_status(fake.url, key="k-1", text="Launch day")
    assert status == 200
    assert set(body) >= {"id", "url", "created_at", "content"}
    assert body["content"] == "<p>Launch day</p>"
    assert body["url"].endswith(body["id"])


def test_concurrent_requests_are_counted_once_per_key_and_duplicates_exactly(fake):
    keys = [f"key-{n}" for n in range(40)] + ["key-0", "key-0", "key-7"]
    threads = [threading.Thread(target=post_status, args=(fake.url, key)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    stats = get_stats(fake.url)
    assert stats["requests"] == 43
    assert stats["keys"] == 40
    assert stats["duplicates"] == 3
    assert stats["without_key"] == 0
    assert stats["in_flight"] == 0
    # The delay held them open together, so they really overlapped.
    assert stats["max_in_flight"] > 1


def test_request_without_key_is_counted_apart_and_reset_forgets_all(fake):
    post_status(fake.url)
    post_status(fake.url, key="a")
    assert get_stats(fake.url) == {
        "requests": 2,
        "keys": 1,
        "duplicates": 0,
        "without_key": 1,
        "in_flight": 0,
        "max_in_flight": 1,
    }
    requests.post(f"{fake.url}/_reset", timeout=10).raise_for_status()
    assert get_stats(fake.url)["requests"] == 0
