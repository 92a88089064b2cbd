"""Response times and SLA breaches, in the business cases a manager asks about."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from community.models import Conversation, InboxSettings, Message
from community.selectors import (
    conversations_with_response_times,
    response_time_overall,
    response_time_stats,
    sla_breaches,
)
from tests.factories import SocialAccountFactory

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 4, 1, tzinfo=UTC)
H = timedelta(hours=1)
_threads = count()


def conv(account, *, inbound, response=None, resolved=None, assignee=None, status="open"):
    return Conversation.objects.create(
        brand=account.brand,
        account=account,
        kind=Conversation.Kind.COMMENT,
        external_thread_id=f"t{next(_threads)}",
        first_inbound_at=inbound,
        first_response_at=response,
        resolved_at=resolved,
        assignee=assignee,
        status=Conversation.Status.CLOSED if resolved else status,
    )


def reply_by(conversation, user):
    Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Message.Direction.OUTBOUND,
        send_state=Message.SendState.SENT,
        author_user=user,
        text="Thanks!",
    )


def test_no_conversations_gives_none_not_zero(brand):
    stats = response_time_stats(brand=brand, start=START, end=END)
    assert stats["overall"] == {
        "conversations": 0,
        "responded": 0,
        "resolved": 0,
        "median_first_response": None,
        "median_resolution": None,
    }
    assert stats["by_brand"] == {}
    assert stats["by_teammate"] == {}


def test_one_conversation_gives_its_own_times(account):
    t = START + 2 * H
    conv(account, inbound=t, response=t + 2 * H, resolved=t + 5 * H)
    stats = response_time_stats(brand=account.brand, start=START, end=END)
    assert stats["overall"]["median_first_response"] == 2 * H
    assert stats["overall"]["median_resolution"] == 5 * H
    assert stats["by_brand"][account.brand_id]["name"] == "Acme Coffee"


def test_even_count_median_is_the_mean_of_the_middle_two(account):
    for hours in (1, 3, 10, 2):
        t = START + 24 * H
        conv(account, inbound=t, response=t + hours * H)
    stats = response_time_stats(brand=account.brand, start=START, end=END)
    assert stats["overall"]["median_first_response"] == timedelta(hours=2.5)
    assert stats["overall"]["responded"] == 4


def test_conversations_that_started_before_the_period_do_not_count(account):
    before = START - 3 * H
    conv(account, inbound=before, response=START + H)  # answered inside, asked before
    conv(account, inbound=END + H, response=END + 2 * H)  # after the period
    conv(account, inbound=START + H, response=START + 4 * H)
    stats = response_time_stats(brand=account.brand, start=START, end=END)
    assert stats["overall"]["conversations"] == 1
    assert stats["overall"]["median_first_response"] == 3 * H


def test_a_conversation_closed_without_reply_counts_for_resolution_only(account):
    t = START + H
    conv(account, inbound=t, resolved=t + 6 * H)
    stats = response_time_stats(brand=account.brand, start=START, end=END)
    assert stats["overall"]["median_first_response"] is None
    assert stats["overall"]["median_resolution"] == 6 * H
    assert stats["overall"]["responded"] == 0
    assert stats["overall"]["resolved"] == 1


def test_teammates_are_the_assignee_and_whoever_replied(account, manager, admin):
    t = START + H
    assigned = conv(account, inbound=t, response=t + H, assignee=manager)
    helped = conv(account, inbound=t, response=t + 3 * H, assignee=manager)
    reply_by(helped, admin)
    conv(account, inbound=t, response=t + 9 * H)  # nobody's
    stats = response_time_stats(brand=account.brand, start=START, end=END)
    assert stats["by_teammate"][manager.pk]["median_first_response"] == 2 * H
    assert stats["by_teammate"][manager.pk]["conversations"] == 2
    assert stats["by_teammate"][admin.pk]["median_first_response"] == 3 * H
    assert stats["by_teammate"][admin.pk]["name"] == admin.username
    assert stats["overall"]["median_first_response"] == 3 * H
    assert assigned.pk != helped.pk


def test_per_brand_and_only_the_brands_the_user_may_see(
    account, other_account, manager, outsider, django_assert_num_queries
):
    conv(account, inbound=START + H, response=START + 2 * H)
    conv(other_account, inbound=START + H, response=START + 5 * H)
    SocialAccountFactory(brand=account.brand)
    with django_assert_num_queries(2):
        mine = response_time_stats(user=manager, start=START, end=END)
    assert set(mine["by_brand"]) == {account.brand_id}
    assert mine["overall"]["median_first_response"] == H
    theirs = response_time_stats(user=outsider, start=START, end=END)
    assert set(theirs["by_brand"]) == {other_account.brand_id}


def test_the_reports_overall_numbers_in_one_query_are_the_full_stats_overall(
    account, other_account, manager, outsider, django_assert_num_queries
):
    """The reports read the overall numbers alone, aggregated in SQL (PERCENTILE_CONT): the
    same counts and medians as the full statistics, even count and nothing-answered alike."""
    assert (
        response_time_overall(brand=account.brand, start=START, end=END)
        == (response_time_stats(brand=account.brand, start=START, end=END)["overall"])
    )
    t = START + 24 * H
    for hours in (1, 3, 10, 2):
        conv(account, inbound=t, response=t + hours * H, resolved=t + 2 * hours * H)
    conv(account, inbound=t)  # not answered yet
    conv(account, inbound=START - H, response=START + H)  # asked before the period
    conv(other_account, inbound=t, response=t + 50 * H)  # another agency's brand
    with django_assert_num_queries(1):
        overall = response_time_overall(brand=account.brand, start=START, end=END)
    assert overall == response_time_stats(brand=account.brand, start=START, end=END)["overall"]
    assert overall["median_first_response"] == timedelta(hours=2.5)
    assert (overall["conversations"], overall["responded"], overall["resolved"]) == (5, 4, 4)
    for user in (manager, outsider):
        assert (
            response_time_overall(user=user, start=START, end=END)
            == (response_time_stats(user=user, start=START, end=END)["overall"])
        )
    assert response_time_overall(user=outsider, start=START, end=END)["conversations"] == 1


def test_per_conversation_times_are_annotated(account):
    t = START + H
    conv(account, inbound=t, response=t + 2 * H, resolved=t + 4 * H)
    conv(account, inbound=t)
    rows = sorted(
        conversations_with_response_times(brand=account.brand),
        key=lambda c: c.first_response_time is None,
    )
    assert rows[0].first_response_time == 2 * H
    assert rows[0].resolution_time == 4 * H
    assert rows[1].first_response_time is None
    assert rows[1].resolution_time is None


@pytest.fixture
def now():
    return datetime(2025, 3, 10, 12, tzinfo=UTC)


def test_sla_breaches_are_open_unanswered_conversations_older_than_24_hours(account, now):
    late = conv(account, inbound=now - 25 * H)
    conv(account, inbound=now - 23 * H)  # still in time
    conv(account, inbound=now - 30 * H, response=now - 2 * H)  # answered
    conv(account, inbound=now - 30 * H, resolved=now - H)  # closed without reply
    waiting = conv(account, inbound=now - 48 * H, status=Conversation.Status.PENDING)
    assert list(sla_breaches(brand=account.brand, now=now)) == [waiting, late]


def test_sla_target_comes_from_the_brands_inbox_settings(account, now):
    InboxSettings.objects.create(brand=account.brand, first_response_target_minutes=60)
    late = conv(account, inbound=now - 2 * H)
    conv(account, inbound=now - timedelta(minutes=30))
    assert list(sla_breaches(brand=account.brand, now=now)) == [late]
