"""Listening: rule matching, idempotent mentions, sentiment, spikes, the feed and its volume
chart, "turn into a conversation", and who may see and change any of it."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from agency.models import AuditEvent, Notification
from agency.platforms.inbox import InboundItem
from community import selectors, services
from community.models import Conversation, ListeningRule, Mention, Message, SpikeAlert
from tests.factories import BrandFactory

pytestmark = pytest.mark.django_db


def make_rule(brand, *, name="Brand", kind=ListeningRule.Kind.KEYWORD, terms=("acme",), **kw):
    return ListeningRule.objects.create(brand=brand, name=name, kind=kind, terms=list(terms), **kw)


def make_mention(rule, *, external_id, posted_at, text="acme is fine", sentiment="neutral"):
    return Mention.objects.create(
        brand=rule.brand,
        rule=rule,
        platform="sandbox",
        external_id=external_id,
        author_handle="@someone",
        text=text,
        posted_at=posted_at,
        sentiment=sentiment,
    )


# -- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "terms", "excluded", "text", "expected"),
    [
        ("keyword", ["cafe"], [], "Lunch at the cafeteria again", False),
        ("keyword", ["cafe"], [], "Best CAFE in town!", True),
        ("keyword", ["cafe"], [], "cafe.", True),
        ("keyword", ["acme coffee"], [], "I love Acme   Coffee, really", True),
        ("keyword", ["acme coffee"], [], "acme coffees are cheap", False),
        ("brand", ["Acme"], [], "@acme answered fast", True),
        ("hashtag", ["#coffee"], [], "Morning #Coffee, then work", True),
        ("hashtag", ["coffee"], [], "Morning #Coffee, then work", True),
        ("hashtag", ["#coffee"], [], "Best #coffeeshop ever", False),
        ("hashtag", ["#coffee"], [], "I drink coffee", False),
        ("hashtag", ["#coffee"], [], "tea##coffee", False),
        ("keyword", ["acme"], ["jobs", "#hiring"], "Acme jobs: apply now", False),
        ("keyword", ["acme"], ["jobs", "#hiring"], "Acme is #Hiring!", False),
        ("keyword", ["acme"], ["jobs"], "Acme does a job well", True),
        ("competitor", ["Rival Tea"], [], "rival tea tastes of nothing", True),
    ],
)
def test_rule_matches_whole_words_hashtags_and_exclusions(
    brand, kind, terms, excluded, text, expected
):
    rule = ListeningRule(brand=brand, name="r", kind=kind, terms=terms, excluded_terms=excluded)
    assert services.rule_matches(rule, text) is expected


def test_sentiment_is_positive_negative_or_neutral():
    assert services.sentiment_of("I love this coffee, it is great!") == "positive"
    assert services.sentiment_of("Terrible service, awful coffee, never again.") == "negative"
    assert services.sentiment_of("The shop opens at nine.") == "neutral"


# -- recording -----------------------------------------------------------------------------------


def test_recording_the_same_post_twice_stores_one_mention(brand):
    rule = make_rule(brand)
    when = datetime(2025, 3, 1, 12, tzinfo=UTC)
    args = dict(
        rule=rule,
        platform="sandbox",
        external_id="p1",
        author_handle="@a",
        text="acme is lovely",
        url="https://example.com/p1",
        posted_at=when,
        raw={"id": "p1"},
    )
    first, created = services.mention_record(**args)
    again, created_again = services.mention_record(**args)
    assert created and not created_again
    assert first.pk == again.pk
    assert Mention.objects.count() == 1
    assert first.sentiment == "positive"


def test_mentions_from_items_matches_active_rules_of_the_brand_only(brand, account, other_brand):
    brand_rule = make_rule(brand, name="Brand", terms=["acme"])
    tag_rule = make_rule(brand, name="Tag", kind="hashtag", terms=["#roast"])
    make_rule(brand, name="Paused", terms=["acme"], active=False)
    foreign = make_rule(other_brand, name="Brand", terms=["acme"])
    items = [
        {
            "id": "1",
            "author": "@ann",
            "text": "Acme has the best #roast",
            "url": "https://x.test/1",
            "sent_at": "2025-03-01T10:00:00Z",
        },
        {"id": "2", "author": "@bob", "text": "acmeville is far", "url": "", "sent_at": None},
        InboundItem(
            kind="mention",
            thread_id="3",
            message_id="3",
            author_handle="@cy",
            text="hello ACME",
            sent_at=datetime(2025, 3, 2, tzinfo=UTC),
        ),
    ]

    created = services.mentions_from_items(brand=brand, account=account, items=items)
    again = services.mentions_from_items(brand=brand, account=account, items=items)

    assert len(created) == 3 and again == []
    assert set(Mention.objects.values_list("rule__name", "external_id")) == {
        ("Brand", "1"),
        ("Tag", "1"),
        ("Brand", "3"),
    }
    one = Mention.objects.get(rule=brand_rule, external_id="1")
    assert one.found_via == account and one.platform == account.platform
    assert one.author_handle == "@ann" and one.posted_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert tag_rule.mentions.count() == 1
    assert not foreign.mentions.exists()


# -- spikes --------------------------------------------------------------------------------------


def test_spike_alerts_once_per_rule_and_day_and_tells_the_managers(
    brand, manager, admin, marketer, django_capture_on_commit_callbacks
):
    rule = make_rule(brand, spike_ratio=3.0, spike_min_volume=5)
    quiet = make_rule(brand, name="Quiet", terms=["quiet"], spike_min_volume=5)
    day = date(2025, 3, 10)
    for i in range(1, 8):  # one a day for the week before: a baseline of 1
        make_mention(rule, external_id=f"b{i}", posted_at=datetime(2025, 3, 10 - i, 12, tzinfo=UTC))
    for i in range(5):
        make_mention(rule, external_id=f"s{i}", posted_at=datetime(2025, 3, 10, 9, tzinfo=UTC))
    for i in range(4):  # under the minimum volume
        make_mention(quiet, external_id=f"q{i}", posted_at=datetime(2025, 3, 10, 9, tzinfo=UTC))

    with django_capture_on_commit_callbacks(execute=True):
        alerts = services.spikes_detect(brand=brand, day=day)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.spikes_detect(brand=brand, day=day) == []

    assert [(a.rule, a.volume, a.baseline) for a in alerts] == [(rule, 5, 1.0)]
    assert SpikeAlert.objects.count() == 1
    told = set(Notification.objects.values_list("user__username", flat=True))
    assert told == {manager.username, admin.username}
    assert AuditEvent.objects.filter(action="listening.spike").count() == 1


def test_no_spike_below_the_ratio_of_the_trailing_average(brand):
    rule = make_rule(brand, spike_ratio=3.0, spike_min_volume=2)
    for i in range(1, 8):
        for j in range(2):  # two a day: a baseline of 2, so 6 are needed
            make_mention(
                rule, external_id=f"b{i}{j}", posted_at=datetime(2025, 3, 10 - i, 12, tzinfo=UTC)
            )
    for i in range(5):
        make_mention(rule, external_id=f"s{i}", posted_at=datetime(2025, 3, 10, 12, tzinfo=UTC))
    assert services.spikes_detect(brand=brand, day=date(2025, 3, 10)) == []
    make_mention(rule, external_id="s5", posted_at=datetime(2025, 3, 10, 13, tzinfo=UTC))
    assert len(services.spikes_detect(brand=brand, day=date(2025, 3, 10))) == 1


def test_spike_days_are_the_brands_days(brand):
    # Europe/Berlin: 23:30 UTC on the 9th is already the 10th there.
    rule = make_rule(brand, spike_ratio=1.0, spike_min_volume=3)
    for i in range(3):
        make_mention(rule, external_id=f"n{i}", posted_at=datetime(2025, 3, 9, 23, 30, tzinfo=UTC))
    assert services.spikes_detect(brand=brand, day=date(2025, 3, 9)) == []
    assert len(services.spikes_detect(brand=brand, day=date(2025, 3, 10))) == 1


def test_the_spike_task_checks_every_listening_brand(brand):
    from community.tasks import detect_listening_spikes

    rule = make_rule(brand, spike_ratio=1.0, spike_min_volume=1)
    make_mention(rule, external_id="now", posted_at=datetime.now(tz=UTC))
    assert detect_listening_spikes() == 1
    assert detect_listening_spikes() == 0


# -- volume --------------------------------------------------------------------------------------


def test_volume_counts_each_rule_per_local_day_in_one_aggregate(brand, django_assert_num_queries):
    rule = make_rule(brand)
    other = make_rule(brand, name="Other", terms=["other"])
    today = date(2025, 3, 30)
    make_mention(rule, external_id="1", posted_at=datetime(2025, 3, 29, 23, 30, tzinfo=UTC))
    make_mention(rule, external_id="2", posted_at=datetime(2025, 3, 30, 8, tzinfo=UTC))
    make_mention(rule, external_id="3", posted_at=datetime(2025, 2, 28, 8, tzinfo=UTC))  # too old
    make_mention(other, external_id="4", posted_at=datetime(2025, 3, 1, 8, tzinfo=UTC))

    with django_assert_num_queries(2):
        volumes = selectors.mention_volume(brand=brand, today=today)

    by_rule = {v.rule.name: v for v in volumes}
    assert len(by_rule["Brand"].days) == 30
    assert by_rule["Brand"].days[-1].day == today and by_rule["Brand"].days[-1].count == 2
    assert by_rule["Brand"].total == 2
    assert by_rule["Other"].days[0].day == date(2025, 3, 1) and by_rule["Other"].total == 1


# -- into the inbox ------------------------------------------------------------------------------


def test_turning_a_mention_into_a_conversation_twice_makes_one(brand, account, manager):
    rule = make_rule(brand)
    mention, _ = services.mention_record(
        rule=rule,
        platform=account.platform,
        external_id="m1",
        author_handle="@fan",
        text="acme rocks",
        url="",
        posted_at=datetime(2025, 3, 1, tzinfo=UTC),
        raw={},
        found_via=account,
    )

    conversation = services.mention_to_conversation(mention=mention, by=manager)
    again = services.mention_to_conversation(mention=mention, by=manager)

    assert again.pk == conversation.pk
    assert conversation.kind == Conversation.Kind.MENTION
    assert conversation.external_thread_id == "m1" and conversation.brand == brand
    message = Message.objects.get()
    assert message.conversation == conversation and message.direction == "in"
    assert message.text == "acme rocks" and message.author_handle == "@fan"
    mention.refresh_from_db()
    assert mention.conversation == conversation


def test_a_mention_without_an_account_on_its_platform_is_refused_in_words(brand, manager):
    rule = make_rule(brand)
    mention = make_mention(rule, external_id="m1", posted_at=datetime(2025, 3, 1, tzinfo=UTC))
    with pytest.raises(Exception, match="has no Sandbox account"):
        services.mention_to_conversation(mention=mention, by=manager)
    assert not Conversation.objects.exists()


# -- rules ---------------------------------------------------------------------------------------


def test_rule_terms_are_tidied_and_names_unique_per_brand(brand, manager):
    rule = services.listening_rule_create(
        brand=brand, by=manager, name="Tags", kind="hashtag", terms=["coffee", " #Roast ", "COFFEE"]
    )
    assert rule.terms == ["#coffee", "#Roast"]
    with pytest.raises(Exception, match="already has a listening rule"):
        services.listening_rule_create(
            brand=brand, by=manager, name="tags", kind="keyword", terms=["x"]
        )
    with pytest.raises(Exception, match="at least one term"):
        services.listening_rule_create(
            brand=brand, by=manager, name="Empty", kind="keyword", terms=[" "]
        )


# -- pages ---------------------------------------------------------------------------------------


def _rule_post(name="Our name"):
    return {
        "name": name,
        "kind": "brand",
        "terms": "Acme, Acme Coffee",
        "excluded_terms": "jobs",
        "spike_ratio": "3",
        "spike_min_volume": "10",
        "active": "on",
    }


@pytest.mark.parametrize("who", ["outsider", "other_client", "client_user"])
def test_listening_pages_are_hidden_from_outsiders_and_clients(personas, login, brand, who):
    rule = make_rule(brand)
    mention = make_mention(rule, external_id="m", posted_at=datetime(2025, 3, 1, tzinfo=UTC))
    client = login(personas[who])
    pages = [
        reverse("community:listening-rules", args=[brand.pk]),
        reverse("community:listening-feed", args=[brand.pk]),
        reverse("community:listening-rule-edit", args=[brand.pk, rule.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 404, url
    assert client.post(pages[0], _rule_post()).status_code == 404
    assert (
        client.post(
            reverse("community:listening-rule-delete", args=[brand.pk, rule.pk])
        ).status_code
        == 404
    )
    conv_url = reverse("community:listening-mention-conversation", args=[brand.pk, mention.pk])
    assert client.post(conv_url).status_code == 404
    assert ListeningRule.objects.count() == 1 and not Conversation.objects.exists()


def test_marketers_read_listening_but_cannot_change_it(marketer, login, brand, account):
    rule = make_rule(brand)
    mention = make_mention(rule, external_id="m", posted_at=datetime(2025, 3, 1, tzinfo=UTC))
    client = login(marketer)
    assert client.get(reverse("community:listening-rules", args=[brand.pk])).status_code == 200
    assert client.get(reverse("community:listening-feed", args=[brand.pk])).status_code == 200
    refused = [
        client.post(reverse("community:listening-rules", args=[brand.pk]), _rule_post()),
        client.get(reverse("community:listening-rule-edit", args=[brand.pk, rule.pk])),
        client.post(
            reverse("community:listening-rule-edit", args=[brand.pk, rule.pk]),
            _rule_post("Renamed"),
        ),
        client.post(reverse("community:listening-rule-delete", args=[brand.pk, rule.pk])),
        client.post(
            reverse("community:listening-mention-conversation", args=[brand.pk, mention.pk])
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert list(ListeningRule.objects.values_list("name", flat=True)) == ["Brand"]
    assert not Conversation.objects.exists()


def test_a_manager_creates_edits_and_deletes_a_rule(manager, login, brand):
    client = login(manager)
    url = reverse("community:listening-rules", args=[brand.pk])
    assert client.post(url, _rule_post()).status_code == 302
    rule = ListeningRule.objects.get()
    assert rule.terms == ["Acme", "Acme Coffee"] and rule.excluded_terms == ["jobs"]
    edit = reverse("community:listening-rule-edit", args=[brand.pk, rule.pk])
    assert client.get(edit).status_code == 200
    assert client.post(edit, {**_rule_post("Renamed"), "terms": "acme"}).status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed" and rule.terms == ["acme"]
    bad = client.post(url, {**_rule_post("Renamed")})
    assert bad.status_code == 400 and "already has a listening rule" in bad.content.decode()
    client.post(reverse("community:listening-rule-delete", args=[brand.pk, rule.pk]))
    assert not ListeningRule.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="listening_rule.").count() == 3


def test_the_feed_filters_by_rule_sentiment_and_local_date(manager, login, brand):
    rule = make_rule(brand)
    other = make_rule(brand, name="Other", terms=["other"])
    make_mention(
        rule,
        external_id="a",
        text="alpha text",
        sentiment="positive",
        posted_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
    )
    make_mention(
        rule,
        external_id="b",
        text="bravo text",
        sentiment="negative",
        posted_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC),
    )  # the 2nd in Berlin
    make_mention(
        other,
        external_id="c",
        text="charlie text",
        sentiment="positive",
        posted_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
    )
    client = login(manager)
    url = reverse("community:listening-feed", args=[brand.pk])

    def shown(**params):
        body = client.get(url, params).content.decode()
        return {w for w in ("alpha", "bravo", "charlie") if f"{w} text" in body}

    assert shown() == {"alpha", "bravo", "charlie"}
    assert shown(rule=rule.pk) == {"alpha", "bravo"}
    assert shown(sentiment="positive") == {"alpha", "charlie"}
    assert shown(start="2025-03-02") == {"bravo"}
    assert shown(end="2025-03-01", rule=rule.pk) == {"alpha"}


def test_the_feed_shows_the_volume_chart_and_costs_the_same_with_more_mentions(
    manager, login, brand, django_assert_max_num_queries
):
    rule = make_rule(brand)
    client = login(manager)
    url = reverse("community:listening-feed", args=[brand.pk])
    now = datetime.now(tz=UTC)
    make_mention(rule, external_id="first", posted_at=now)
    client.get(url)  # warm the session and caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        page = client.get(url)
    for i in range(15):
        make_mention(rule, external_id=f"m{i}", posted_at=now - timedelta(days=i % 5))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    body = page.content.decode()
    assert '<svg role="img"' in body and "Daily mentions of Brand" in body
    assert "<script" not in body.split("</head>", 1)[1]


def test_turn_into_conversation_from_the_feed(manager, login, brand, account):
    rule = make_rule(brand)
    mention = make_mention(rule, external_id="m1", posted_at=datetime(2025, 3, 1, tzinfo=UTC))
    client = login(manager)
    url = reverse("community:listening-mention-conversation", args=[brand.pk, mention.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    assert Conversation.objects.filter(kind="mention", external_thread_id="m1").count() == 1


def test_another_brands_mention_is_not_found_through_this_brand(manager, login, brand):
    sibling = BrandFactory(agency=brand.agency)
    rule = make_rule(sibling)
    mention = make_mention(rule, external_id="m1", posted_at=datetime(2025, 3, 1, tzinfo=UTC))
    url = reverse("community:listening-mention-conversation", args=[brand.pk, mention.pk])
    assert login(manager).post(url).status_code == 404


@pytest.mark.parametrize(
    ("who", "shown"), [("manager", True), ("marketer", True), ("client_user", False)]
)
def test_the_listening_link_shows_for_staff_of_the_current_brand(
    personas, login, brand, who, shown
):
    client = login(personas[who])
    session = client.session
    session["current_brand_id"] = str(brand.pk)
    session.save()
    body = client.get(reverse("dashboard")).content.decode()
    link = reverse("community:listening-feed", args=[brand.pk])
    assert (f'href="{link}"' in body) is shown


def test_inbox_polling_feeds_the_listening_rules(brand, account):
    """A poll of the inbox hands what it found to listening: comments the sandbox audience
    writes on a published post become mentions of a matching rule, once however often it polls."""
    from datetime import timedelta

    from django.utils import timezone

    from agency.models import SandboxPost
    from community.models import ListeningRule, Mention
    from community.services.inbox import poll_account_inbox
    from tests.factories import PostFactory

    published = SandboxPost.objects.create(account=account, idempotency_key="k", text="Hello")
    SandboxPost.objects.filter(pk=published.pk).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    PostFactory(brand=brand).targets.create(
        account=account, state="published", external_id=str(published.pk)
    )
    # Words from every kind of comment the sandbox audience writes.
    words = ["oat", "post", "Austria", "order", "amazing", "Sundays", "table", "service", "thanks"]
    ListeningRule.objects.create(brand=brand, name="Anything", kind="keyword", terms=words)

    assert poll_account_inbox(account=account) > 0
    found = Mention.objects.count()
    assert found > 0
    assert Mention.objects.filter(found_via=account, rule__name="Anything").count() == found
    poll_account_inbox(account=account)
    assert Mention.objects.count() == found
