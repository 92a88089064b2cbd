"""Demo posts for `make run`: some go out within a minute of starting, so the sandbox platform
visibly publishes; others fill the coming days; one is a draft and one fails on purpose."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from agency.models import Brand, SocialAccount
from calendar_app.models import Post
from calendar_app.services import post_create


def _at_local(brand: Brand, days: int, hour: int) -> datetime:
    day = timezone.now().astimezone(brand.zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, 0), tzinfo=brand.zone)


def _demo_specs(brand: Brand, first: bool) -> list[dict]:
    soon = timezone.now() + timedelta(seconds=45)
    specs = [
        {
            "title": "Welcome to the demo",
            "text": f"Hello from {brand.name}! This post was published by agency's worker "
            "to the built-in sandbox platform.",
            "at": soon,
        },
        {
            "title": "Weekly tip",
            "text": f"Tip of the week from {brand.name}: save this post for later.",
            "link": brand.website or "",
            "at": _at_local(brand, 1, 9),
        },
        {
            "title": "Launch teaser",
            "text": "Something new is coming on Friday. Stay tuned! #comingsoon",
            "at": _at_local(brand, 3, 13),
        },
        {
            "title": "Holiday campaign (draft)",
            "text": "Ideas for the holiday season...",
            "at": None,
        },
    ]
    if first:
        specs.append(
            {
                "title": "A post the platform refuses",
                "text": "This one shows what a failure looks like. [sandbox:reject]",
                "at": soon + timedelta(seconds=15),
            }
        )
    return specs


def demo_posts_load(*, brands: list[Brand], by) -> int:
    """Create the demo posts that are missing (looked up by brand and title). Returns how many."""
    created = 0
    for index, brand in enumerate(brands):
        accounts = list(brand.social_accounts.filter(status=SocialAccount.Status.CONNECTED))
        if not accounts:
            continue
        for spec in _demo_specs(brand, first=index == 0):
            if Post.objects.filter(brand=brand, title=spec["title"]).exists():
                continue
            post_create(
                brand=brand,
                by=by,
                accounts=accounts,
                title=spec["title"],
                text=spec["text"],
                link=spec.get("link", ""),
                tags=["demo"],
                scheduled_at=spec["at"],
            )
            created += 1
    return created
