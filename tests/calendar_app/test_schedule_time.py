"""A post at 09:00 in the brand's zone goes out at 09:00 there, across DST changes."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from calendar_app import publishing
from calendar_app.forms import PostForm
from calendar_app.services import post_create, post_schedule

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def next_transitions(zone, count=2):
    """The next days on which `zone` changes its UTC offset, found from today's date, so the
    test always schedules in the future without faking the clock."""
    day = timezone.now().astimezone(zone).date() + timedelta(days=1)
    found = []
    while len(found) < count:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        next_noon = noon + timedelta(days=1)
        if noon.utcoffset() != next_noon.replace(tzinfo=zone).utcoffset():
            found.append(day + timedelta(days=1))
        day += timedelta(days=1)
    return found


@pytest.mark.parametrize("which", [0, 1], ids=["next change", "the change after"])
def test_nine_oclock_berlin_the_day_after_a_dst_change_goes_out_at_the_right_utc(
    brand, account, manager, which, django_capture_on_commit_callbacks
):
    assert brand.time_zone == "Europe/Berlin"
    day_after = next_transitions(BERLIN)[which]
    form = PostForm(
        data={
            "text": "Guten Morgen",
            "accounts": [account.pk],
            "scheduled_at": f"{day_after.isoformat()}T09:00",
        },
        brand=brand,
    )
    assert form.is_valid(), form.errors
    post = post_create(
        brand=brand,
        by=manager,
        accounts=[account],
        text="Guten Morgen",
        scheduled_at=form.cleaned_data["scheduled_at"],
    )
    target = post.targets.get()
    # CEST is UTC+2 and CET UTC+1: 09:00 in Berlin is 07:00 or 08:00 UTC on that day.
    offset_hours = 2 if day_after.month in (3, 4) else 1
    expected = datetime(
        day_after.year, day_after.month, day_after.day, 9 - offset_hours, tzinfo=UTC
    )
    assert target.due_at == expected
    assert target.due_at.astimezone(BERLIN).hour == 9

    with django_capture_on_commit_callbacks(execute=False):
        assert publishing.dispatch_due(now=expected - timedelta(seconds=1)) == []
        assert publishing.dispatch_due(now=expected) == [target.pk]


def test_scheduling_in_the_past_is_refused_in_words(brand, account, manager):
    post = post_create(brand=brand, by=manager, accounts=[account], text="Too late")
    with pytest.raises(ValidationError, match="in the past"):
        post_schedule(post=post, at=timezone.now() - timedelta(hours=1), by=manager)
    assert post.targets.get().state == "draft"


def test_naive_time_is_refused(brand, account, manager):
    post = post_create(brand=brand, by=manager, accounts=[account], text="Which zone?")
    with pytest.raises(ValidationError, match="time zone"):
        post_schedule(post=post, at=datetime(2030, 1, 1, 9, 0), by=manager)  # noqa: DTZ001


def test_text_over_the_platform_limit_is_refused_before_scheduling(brand, manager):
    from tests.factories import SocialAccountFactory

    x_account = SocialAccountFactory(brand=brand, platform="linkedin", handle="acme")
    post = post_create(brand=brand, by=manager, accounts=[x_account], text="a" * 3001)
    with pytest.raises(ValidationError) as excinfo:
        post_schedule(post=post, at=timezone.now() + timedelta(hours=1), by=manager)
    assert "3000" in str(excinfo.value)
    assert post.targets.get().state == "draft"
