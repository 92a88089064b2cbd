"""Curation: feeds fetched with conditional GETs (replayed with `responses`), suggestions
upserted by link, drafts made from them, and who may see and change any of it.

Feed bodies follow the RSS 2.0 specification (https://www.rssboard.org/rss-specification) and
RFC 4287 (Atom); conditional requests follow RFC 9110 section 13.1 (If-None-Match,
If-Modified-Since, 304 Not Modified).
"""

import pytest
import requests
import responses
from django.urls import reverse
from responses import matchers

from agency.models import AuditEvent
from calendar_app.models import Post
from community import services
from community.models import Feed, Suggestion
from tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db

RSS_URL = "https://blog.example.com/feed.xml"
ATOM_URL = "https://news.example.org/atom.xml"
ETAG = '"v1-abc"'
MODIFIED = "Sat, 01 Mar 2025 10:00:00 GMT"

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Coffee Blog</title><link>https://blog.example.com/</link><description>Beans</description>
  <item><title>How to roast at home</title><link>https://blog.example.com/roast</link>
    <description>&lt;p&gt;Heat, &lt;b&gt;beans&lt;/b&gt; &amp;amp; patience.&lt;/p&gt;</description>
    <pubDate>Fri, 28 Feb 2025 08:00:00 GMT</pubDate>
    <enclosure url="https://blog.example.com/roast.jpg" length="1000" type="image/jpeg"/></item>
  <item><title>Grinders compared</title><link>https://blog.example.com/grinders</link>
    <pubDate>Thu, 27 Feb 2025 08:00:00 GMT</pubDate></item>
  <item><title>Grinders compared (again)</title><link>https://blog.example.com/grinders</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Coffee News</title><id>urn:news</id><updated>2025-03-01T00:00:00Z</updated>
  <entry><title>Roasting at home, a guide</title><id>urn:1</id>
    <link href="https://blog.example.com/roast"/><updated>2025-03-01T00:00:00Z</updated></entry>
  <entry><title>Prices up</title><id>urn:2</id>
    <link href="https://news.example.org/prices"/><updated>2025-03-01T00:00:00Z</updated></entry>
</feed>"""


@pytest.fixture
def feed(brand):
    return Feed.objects.create(brand=brand, url=RSS_URL)


def _ok(url=RSS_URL, body=RSS, **headers):
    responses.add(
        responses.GET,
        url,
        body=body,
        status=200,
        headers={"Content-Type": "application/rss+xml", **headers},
    )


@responses.activate
def test_a_fetch_stores_suggestions_and_the_feeds_caching_headers(feed):
    _ok(ETag=ETAG, **{"Last-Modified": MODIFIED})
    result = services.feed_fetch(feed=feed)
    assert (result.status, result.created) == ("new", 2)
    feed.refresh_from_db()
    assert (feed.etag, feed.modified, feed.title, feed.last_error) == (
        ETAG,
        MODIFIED,
        "Coffee Blog",
        "",
    )
    roast = Suggestion.objects.get(link="https://blog.example.com/roast")
    assert roast.title == "How to roast at home"
    assert roast.summary == "Heat, beans & patience."
    assert roast.image_url == "https://blog.example.com/roast.jpg"
    assert roast.published_at.isoformat() == "2025-02-28T08:00:00+00:00"
    assert roast.feed == feed and roast.status == "new"


@responses.activate
def test_a_second_fetch_is_conditional_and_a_304_changes_nothing(feed):
    _ok(ETag=ETAG, **{"Last-Modified": MODIFIED})
    services.feed_fetch(feed=feed)
    feed.refresh_from_db()
    before = (feed.etag, feed.modified, feed.title, feed.last_error)
    suggestions = list(Suggestion.objects.values_list("pk", "title", "status", "updated_at"))
    responses.replace(
        responses.GET,
        RSS_URL,
        status=304,
        match=[matchers.header_matcher({"If-None-Match": ETAG, "If-Modified-Since": MODIFIED})],
    )

    result = services.feed_fetch(feed=feed)

    assert result.status == "not_modified"
    assert responses.calls[-1].request.headers["If-None-Match"] == ETAG
    feed.refresh_from_db()
    assert (feed.etag, feed.modified, feed.title, feed.last_error) == before
    assert list(Suggestion.objects.values_list("pk", "title", "status", "updated_at")) == (
        suggestions
    )


@responses.activate
def test_the_same_link_from_two_feeds_and_two_fetches_is_one_suggestion(brand, feed):
    atom = Feed.objects.create(brand=brand, url=ATOM_URL)
    _ok()
    _ok(url=ATOM_URL, body=ATOM)
    services.feed_fetch(feed=feed)
    Suggestion.objects.filter(link="https://blog.example.com/roast").update(status="dismissed")
    result = services.feed_fetch(feed=atom)
    services.feed_fetch(feed=feed)

    assert result.created == 1
    assert Suggestion.objects.filter(brand=brand).count() == 3
    roast = Suggestion.objects.get(link="https://blog.example.com/roast")
    assert roast.feed == feed and roast.status == "dismissed"  # a fetch never resets a choice


@responses.activate
def test_a_malformed_feed_is_reported_in_words_and_nothing_else_changes(feed):
    feed.etag, feed.modified = ETAG, MODIFIED
    feed.save()
    _ok(
        body=b"<html><body><p>Welcome to our shop</p></body></html>",
        **{"Content-Type": "text/html"},
    )
    result = services.feed_fetch(feed=feed)
    feed.refresh_from_db()
    assert result.status == "error"
    assert "not" in feed.last_error and "feed" in feed.last_error
    assert (feed.etag, feed.modified, feed.last_fetched_at) == (ETAG, MODIFIED, None)
    assert not Suggestion.objects.exists()


@responses.activate
def test_a_broken_xml_feed_is_reported_in_words(feed):
    _ok(body=b"<?xml version='1.0'?><rss><channel><item><title>Half")
    assert services.feed_fetch(feed=feed).status == "error"
    feed.refresh_from_db()
    assert feed.last_error.startswith("This is not a readable RSS or Atom feed")
    assert not Suggestion.objects.exists()


@responses.activate
def test_timeouts_http_errors_and_oversized_feeds_are_errors_in_words(feed, settings):
    responses.add(responses.GET, RSS_URL, body=requests.ConnectTimeout())
    assert "did not answer within" in services.feed_fetch(feed=feed).error
    responses.replace(responses.GET, RSS_URL, status=404)
    assert "answered 404" in services.feed_fetch(feed=feed).error
    settings.CURATION_FEED_MAX_BYTES = 100
    responses.replace(responses.GET, RSS_URL, body=RSS, status=200)
    assert "larger than" in services.feed_fetch(feed=feed).error
    feed.refresh_from_db()
    assert feed.last_fetched_at is None and not Suggestion.objects.exists()


@responses.activate
def test_the_fetch_task_reads_every_feed(feed, monkeypatch):
    from community import tasks

    _ok()
    monkeypatch.setattr(tasks.fetch_feed, "delay", lambda feed_id: tasks.fetch_feed(feed_id))
    assert tasks.fetch_feeds() == 1
    assert Suggestion.objects.count() == 2


# -- drafts --------------------------------------------------------------------------------------


def _suggestion(brand, feed=None, link="https://blog.example.com/roast"):
    return Suggestion.objects.create(brand=brand, feed=feed, title="How to roast", link=link)


def test_a_suggestion_becomes_a_draft_post_once(brand, account, manager):
    suggestion = _suggestion(brand)
    post = services.suggestion_to_draft(suggestion=suggestion, by=manager, accounts=[account])
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.post) == ("used", post)
    assert post.text == "How to roast\n\nhttps://blog.example.com/roast"
    assert post.link == "https://blog.example.com/roast" and post.brand == brand
    assert list(post.targets.values_list("account", flat=True)) == [account.pk]
    with pytest.raises(Exception, match="already a post"):
        services.suggestion_to_draft(suggestion=suggestion, by=manager, accounts=[account])
    assert Post.objects.count() == 1
    assert AuditEvent.objects.filter(action="suggestion.drafted").count() == 1


def test_a_draft_only_goes_to_the_brands_own_accounts(brand, other_account, manager):
    suggestion = _suggestion(brand)
    with pytest.raises(Exception, match="does not belong"):
        services.suggestion_to_draft(suggestion=suggestion, by=manager, accounts=[other_account])
    suggestion.refresh_from_db()
    assert suggestion.status == "new" and not Post.objects.exists()


# -- pages ---------------------------------------------------------------------------------------


def _page_urls(brand, feed, suggestion):
    return {
        "feeds": reverse("community:curation-feeds", args=[brand.pk]),
        "library": reverse("community:curation-library", args=[brand.pk]),
        "edit": reverse("community:curation-feed-edit", args=[brand.pk, feed.pk]),
        "delete": reverse("community:curation-feed-delete", args=[brand.pk, feed.pk]),
        "fetch": reverse("community:curation-feed-fetch", args=[brand.pk, feed.pk]),
        "draft": reverse("community:curation-suggestion-draft", args=[brand.pk, suggestion.pk]),
        "dismiss": reverse("community:curation-suggestion-dismiss", args=[brand.pk, suggestion.pk]),
    }


@pytest.mark.parametrize("who", ["outsider", "other_client", "client_user"])
def test_curation_pages_are_hidden_from_outsiders_and_clients(
    personas, login, brand, feed, account, who
):
    suggestion = _suggestion(brand, feed)
    urls = _page_urls(brand, feed, suggestion)
    client = login(personas[who])
    for name in ("feeds", "library", "edit"):
        assert client.get(urls[name]).status_code == 404, name
    assert client.post(urls["feeds"], {"url": ATOM_URL}).status_code == 404
    for name in ("delete", "fetch", "dismiss"):
        assert client.post(urls[name]).status_code == 404, name
    assert client.post(urls["draft"], {"accounts": [account.pk]}).status_code == 404
    assert Feed.objects.count() == 1 and Suggestion.objects.get().status == "new"


def test_marketers_read_curation_but_cannot_change_it(marketer, login, brand, feed, account):
    suggestion = _suggestion(brand, feed)
    urls = _page_urls(brand, feed, suggestion)
    client = login(marketer)
    assert client.get(urls["feeds"]).status_code == 200
    library = client.get(urls["library"])
    assert library.status_code == 200 and "How to roast" in library.content.decode()
    assert "Make a draft" not in library.content.decode()
    refused = [
        client.post(urls["feeds"], {"url": ATOM_URL}),
        client.get(urls["edit"]),
        client.post(urls["delete"]),
        client.post(urls["fetch"]),
        client.post(urls["dismiss"]),
        client.post(urls["draft"], {"accounts": [account.pk]}),
    ]
    assert [r.status_code for r in refused] == [403] * 6
    assert Feed.objects.count() == 1 and Suggestion.objects.get().status == "new"
    assert not Post.objects.exists()


def test_a_manager_follows_a_feed_once(manager, login, brand):
    client = login(manager)
    url = reverse("community:curation-feeds", args=[brand.pk])
    assert client.post(url, {"url": RSS_URL}).status_code == 302
    again = client.post(url, {"url": RSS_URL})
    assert again.status_code == 400 and "already follows this feed" in again.content.decode()
    assert Feed.objects.filter(brand=brand).count() == 1


def test_the_library_filters_by_status_and_drafts_and_dismisses(manager, login, brand, account):
    new = _suggestion(brand, link="https://a.example.com/new")
    other = _suggestion(brand, link="https://a.example.com/other")
    Suggestion.objects.filter(pk=other.pk).update(title="Old news", status="dismissed")
    client = login(manager)
    url = reverse("community:curation-library", args=[brand.pk])
    assert "Old news" not in client.get(url).content.decode()
    assert "Old news" in client.get(url, {"status": "dismissed"}).content.decode()

    draft = client.post(
        reverse("community:curation-suggestion-draft", args=[brand.pk, new.pk]),
        {"accounts": [account.pk]},
    )
    post = Post.objects.get()
    assert draft.status_code == 302 and draft["Location"].endswith(f"/posts/{post.pk}/")
    assert "How to roast" in client.get(url, {"status": "used"}).content.decode()

    third = _suggestion(brand, link="https://a.example.com/third")
    client.post(reverse("community:curation-suggestion-dismiss", args=[brand.pk, third.pk]))
    third.refresh_from_db()
    assert third.status == "dismissed"


def test_the_library_costs_the_same_with_more_suggestions(
    manager, login, brand, account, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    SocialAccountFactory(brand=brand, handle="@second")
    client = login(manager)
    url = reverse("community:curation-library", args=[brand.pk])
    _suggestion(brand, link="https://a.example.com/0")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(1, 10):
        _suggestion(brand, link=f"https://a.example.com/{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
