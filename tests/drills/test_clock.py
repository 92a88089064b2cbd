"""The clock: Berlin's clocks jump at the DST changes (an hour that does not exist in March, one
that happens twice in October), and a server clock can step (NTP) forward or back.

No fake clock is needed: the dispatcher takes `now`, so the drill walks a simulated clock minute
by minute across the change night and records when each post is claimed. The expected instants
are written out from the offsets (CET is UTC+1, CEST UTC+2), not computed with zoneinfo, so the
drill does not check the code against itself. The nights are the next real changes from today,
so the posts are in the future, as the services require.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from calendar_app import publishing
from calendar_app.models import PostTarget, TargetState
from calendar_app.services import post_create
from calendar_app.services.calendar import wall_clock_to_aware

pytestmark = pytest.mark.django_db


def change_days(year_from: date) -> tuple[date, date]:
    """The next spring-forward and fall-back Sundays in the EU (last Sunday of March/October)."""

    def last_sunday(year: int, month: int) -> date:
        day = date(year, month, 31)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    spring = last_sunday(year_from.year, 3)
    if spring <= year_from:
        spring = last_sunday(year_from.year + 1, 3)
    autumn = last_sunday(year_from.year, 10)
    if autumn <= year_from:
        autumn = last_sunday(year_from.year + 1, 10)
    return spring, autumn


def schedule(brand, account, manager, day: date, hhmm: str) -> PostTarget:
    hour, minute = map(int, hhmm.split(":"))
    at = wall_clock_to_aware(
        brand=brand,
        value=datetime(day.year, day.month, day.day, hour, minute),  # noqa: DTZ001 - wall clock
    )
    post = post_create(
        brand=brand, by=manager, accounts=[account], text=f"At {hhmm} on {day}", scheduled_at=at
    )
    return post.targets.get()


def walk_clock(start: datetime, end: datetime, *, step=timedelta(minutes=1), jumps=()):
    """Dispatch at every tick from start to end; `jumps` are extra ticks (a stepped clock).
    Returns {target id: [ticks at which it was claimed]}."""
    claimed: dict = {}
    ticks = []
    tick = start
    while tick <= end:
        ticks.append(tick)
        tick += step
    for extra_at, extra in jumps:
        ticks.insert(ticks.index(extra_at) + 1, extra)
    for tick in ticks:
        for target_id in publishing.dispatch_due(now=tick):
            claimed.setdefault(target_id, []).append(tick)
    return claimed


def test_posts_around_the_spring_change_go_out_once_at_the_right_instant(brand, account, manager):
    assert brand.time_zone == "Europe/Berlin"
    spring, _ = change_days(timezone.now().date())
    night = datetime(spring.year, spring.month, spring.day, tzinfo=UTC)
    # 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    expected = {
        "01:30": night + timedelta(minutes=30),  # CET, UTC+1
        "01:59": night + timedelta(minutes=59),
        "03:00": night + timedelta(hours=1),  # CEST, UTC+2: the same instant as 02:00 CET
        "03:30": night + timedelta(hours=1, minutes=30),
    }
    targets = {hhmm: schedule(brand, account, manager, spring, hhmm) for hhmm in expected}
    # 02:30 does not exist that night: refused in words, not silently moved.
    with pytest.raises(ValidationError, match="does not exist"):
        schedule(brand, account, manager, spring, "02:30")

    claimed = walk_clock(night - timedelta(hours=1), night + timedelta(hours=3))
    for hhmm, at in expected.items():
        target = targets[hhmm]
        assert target.due_at == at, hhmm
        assert claimed[target.pk] == [at], f"{hhmm} was claimed at {claimed.get(target.pk)}"
    assert PostTarget.objects.filter(state=TargetState.QUEUED).count() == len(expected)


def test_posts_in_the_hour_that_happens_twice_go_out_once(brand, account, manager):
    _, autumn = change_days(timezone.now().date())
    night = datetime(autumn.year, autumn.month, autumn.day, tzinfo=UTC)
    # 03:00 CEST becomes 02:00 CET at 01:00 UTC: 02:00-02:59 happens twice; the first is meant.
    expected = {
        "01:30": night - timedelta(minutes=30),  # CEST, UTC+2
        "02:30": night + timedelta(minutes=30),  # the first 02:30, still CEST
        "03:30": night + timedelta(hours=2, minutes=30),  # CET, UTC+1
    }
    targets = {hhmm: schedule(brand, account, manager, autumn, hhmm) for hhmm in expected}
    claimed = walk_clock(night - timedelta(hours=2), night + timedelta(hours=4))
    for hhmm, at in expected.items():
        assert claimed[targets[hhmm].pk] == [at], f"{hhmm} was claimed at {claimed}"


def test_a_server_clock_stepping_forward_then_back_claims_each_post_once(brand, account, manager):
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    local = start.astimezone(brand.zone)
    targets = [
        schedule(
            brand, account, manager, local.date(), f"{(local + d).hour:02d}:{local.minute:02d}"
        )
        for d in (timedelta(hours=1), timedelta(hours=2))
        if (local + d).date() == local.date()
    ] or pytest.skip("too close to midnight in Berlin for this drill")
    # At start+10 min the clock steps 3 h ahead (both posts due at once), then back again.
    jump_from = start + timedelta(minutes=10)
    claimed = walk_clock(
        start,
        start + timedelta(hours=3),
        step=timedelta(minutes=10),
        jumps=[(jump_from, start + timedelta(hours=3, minutes=5))],
    )
    for target in targets:
        assert claimed[target.pk] == [start + timedelta(hours=3, minutes=5)]
