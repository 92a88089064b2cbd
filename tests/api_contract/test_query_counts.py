"""The SQL a list request costs must not grow with its page: the benchmark (bench/bench_api.py)
measures the post list at 50 a page, and a query per row would make that a different endpoint.

Each request goes the whole way a client's does: `Authorization: Token`, middleware, the
viewset, pagination, serialization.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agency.services import api_token_create
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory


@pytest.fixture
def token_client(client, manager):
    _, key = api_token_create(user=manager, name="query counts")
    # The token's first use stamps last_used_at (then at most once a minute): not per page.
    client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")

    def get(path):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 200, response.content
        return response.json(), [q["sql"] for q in queries.captured_queries]

    return get


@pytest.fixture
def sixty_posts(brand):
    accounts = [SocialAccountFactory(brand=brand) for _ in range(3)]
    for n in range(60):
        post = PostFactory(brand=brand, tags=["coffee", f"n{n}"])
        # Two targets on different accounts: the prefetch of targets and accounts is exercised.
        PostTargetFactory(post=post, account=accounts[n % 3])
        PostTargetFactory(post=post, account=accounts[(n + 1) % 3])


def test_post_list_costs_the_same_queries_for_5_or_50_posts_a_page(token_client, sixty_posts):
    small, small_sql = token_client("/api/v1/posts/?page_size=5")
    large, large_sql = token_client("/api/v1/posts/?page_size=50")
    assert len(small["results"]) == 5
    assert len(large["results"]) == 50
    assert all(len(post["targets"]) == 2 for post in large["results"])
    assert len(large_sql) == len(small_sql), "\n".join(large_sql)


def test_post_list_pages_read_the_same_queries_as_the_first(token_client, sixty_posts):
    _, first_sql = token_client("/api/v1/posts/?page_size=50")
    second, second_sql = token_client("/api/v1/posts/?page_size=50&page=2")
    assert len(second["results"]) == 10
    assert len(second_sql) == len(first_sql)
