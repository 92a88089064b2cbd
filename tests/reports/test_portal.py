"""The client portal: isolation between brands, a client kept out of every staff page, read-only
pages, the calendar of approved posts (never drafts, never internal titles), the brand's theme,
and a dashboard whose query count does not grow with the number of posts."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agency.models import Brand, ClientAccess
from calendar_app.models import Post, TargetState
from reports.models import AccountMetricsDaily, Goal, PostMetricsDaily
from tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory

PORTAL_PAGES = ["portal-dashboard", "portal-calendar", "portal-goals", "portal-theme"]


def portal_url(name, brand):
    return reverse(f"reports:{name}", args=[brand.pk])


def planned(
    brand,
    account,
    *,
    at,
    title="Internal: launch plan",
    text="Our autumn blend is here",
    approval="approved",
    state=TargetState.SCHEDULED,
):
    post = PostFactory(
        brand=brand, title=title, text=text, approval_state=approval, scheduled_at=at
    )
    PostTargetFactory(
        post=post,
        account=account,
        state=state,
        due_at=at if state in (TargetState.SCHEDULED, TargetState.QUEUED) else None,
        external_id="ext-1" if state == TargetState.PUBLISHED else "",
    )
    return post


def soon(days=2, hour=14):
    base = timezone.now().astimezone(dt.UTC) + dt.timedelta(days=days)
    return base.replace(hour=hour, minute=0, second=0, microsecond=0)


# -- isolation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_client_gets_404_on_every_portal_page_of_another_brand(
    login, client_user, other_client, brand, sibling_brand, other_brand, name
):
    client = login(client_user)
    assert client.get(portal_url(name, sibling_brand)).status_code == 404
    assert client.get(portal_url(name, other_brand)).status_code == 404
    assert login(other_client).get(portal_url(name, brand)).status_code == 404


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_outsider_gets_404_on_the_portal_of_a_brand_of_another_agency(login, outsider, brand, name):
    assert login(outsider).get(portal_url(name, brand)).status_code == 404


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_anonymous_is_sent_to_log_in(client, brand, name):
    response = client.get(portal_url(name, brand))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_portal_home_takes_a_client_with_one_brand_to_its_dashboard(login, client_user, brand):
    response = login(client_user).get(reverse("reports:portal-home"))
    assert response.status_code == 302
    assert response.url == portal_url("portal-dashboard", brand)


def test_portal_home_lets_a_client_of_several_brands_choose(
    login, client_user, brand, sibling_brand, other_brand
):
    ClientAccess.objects.create(user=client_user, brand=sibling_brand)
    content = login(client_user).get(reverse("reports:portal-home")).content.decode()
    assert portal_url("portal-dashboard", brand) in content
    assert portal_url("portal-dashboard", sibling_brand) in content
    assert other_brand.name not in content


# -- a client can do nothing else --------------------------------------------------------------


def staff_urls(brand, account, post):
    return [
        reverse("brand-list"),
        reverse("brand-detail", args=[brand.pk]),
        reverse("brand-edit", args=[brand.pk]),
        reverse("calendar:calendar"),
        reverse("calendar:post-list"),
        reverse("calendar:post-detail", args=[post.pk]),
        reverse("calendar:compose", args=[brand.pk]),
        reverse("calendar:approvals"),
        reverse("calendar:account-queue", args=[account.pk]),
        reverse("community:inbox"),
        reverse("community:listening-feed", args=[brand.pk]),
        reverse("ads:ads-home"),
        reverse("ads:campaign-list", args=[brand.pk]),
        reverse("ads:brand-roi", args=[brand.pk]),
        reverse("reports:dashboard", args=[brand.pk]),
        reverse("reports:goal-list", args=[brand.pk]),
        reverse("reports:magic-links", args=[brand.pk]),
        "/admin/",
    ]


def test_client_gets_403_or_404_on_every_staff_page(login, client_user, brand, account):
    post = planned(brand, account, at=soon())
    client = login(client_user)
    for url in staff_urls(brand, account, post):
        assert client.get(url).status_code in (403, 404), url


@pytest.mark.parametrize(
    "name", ["brand-list", "brand-detail", "calendar", "post-list", "post-detail", "reports"]
)
def test_staff_pages_a_client_could_once_read_now_point_to_the_portal(
    login, client_user, brand, account, name
):
    post = planned(brand, account, at=soon(), text="Planned text")
    url = {
        "brand-list": reverse("brand-list"),
        "brand-detail": reverse("brand-detail", args=[brand.pk]),
        "calendar": reverse("calendar:calendar"),
        "post-list": reverse("calendar:post-list"),
        "post-detail": reverse("calendar:post-detail", args=[post.pk]),
        "reports": reverse("reports:dashboard", args=[brand.pk]),
    }[name]
    response = login(client_user).get(url)
    assert response.status_code == 403
    content = response.content.decode()
    assert "client portal at /portal/" in content
    assert "Planned text" not in content


def test_client_landing_on_the_dashboard_is_sent_to_the_portal(login, client_user, brand):
    response = login(client_user).get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url == reverse("reports:portal-home")


def test_client_writes_nothing_through_staff_pages_or_the_api(login, client_user, brand, account):
    post = planned(brand, account, at=soon(), text="Keep me")
    client = login(client_user)
    writes = [
        (reverse("brand-edit", args=[brand.pk]), {"name": "Hacked"}),
        (reverse("calendar:post-cancel", args=[post.pk]), {}),
        (reverse("calendar:post-approve", args=[post.pk]), {}),
        (reverse("calendar:compose", args=[brand.pk]), {"text": "Spam"}),
        (reverse("reports:goal-create", args=[brand.pk]), {"name": "x"}),
        (reverse("switch-brand"), {"brand_id": str(brand.pk)}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    api_writes = [
        (
            "post",
            reverse("api:post-list"),
            {"brand": str(brand.pk), "text": "Spam", "targets": [{"account": str(account.pk)}]},
        ),
        ("patch", reverse("api:brand-detail", args=[brand.pk]), {"name": "Hacked"}),
        ("post", reverse("api:post-cancel", args=[post.pk]), {}),
        ("delete", reverse("api:post-detail", args=[post.pk]), None),
    ]
    for method, url, data in api_writes:
        response = getattr(client, method)(url, data, content_type="application/json")
        assert response.status_code in (403, 404), (url, response.status_code)
    brand.refresh_from_db()
    post.refresh_from_db()
    assert brand.name == "Acme Coffee"
    assert post.text == "Keep me"
    assert post.targets.get().state == TargetState.SCHEDULED
    assert Post.objects.count() == 1
    assert not Goal.objects.exists()


def test_approving_in_the_existing_portal_page_is_the_one_write_a_client_makes(
    login, client_user, brand, account
):
    Brand.objects.filter(pk=brand.pk).update(approval_workflow="internal_client")
    post = planned(brand, account, at=soon(), approval="client_review", state=TargetState.DRAFT)
    client = login(client_user)
    dashboard = client.get(portal_url("portal-dashboard", brand)).content.decode()
    assert reverse("calendar:portal-approvals") in dashboard
    assert "1 post waits for your approval" in dashboard
    response = client.post(reverse("calendar:portal-approve", args=[post.pk]))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.CLIENT_APPROVED


@pytest.mark.parametrize("name", ["portal-dashboard", "portal-calendar", "portal-goals"])
def test_portal_pages_only_read(login, client_user, brand, name):
    assert login(client_user).post(portal_url(name, brand)).status_code == 405


def test_staff_previews_the_portal_read_only(login, manager, brand):
    response = login(manager).get(portal_url("portal-dashboard", brand))
    assert response.status_code == 200
    assert "Preview: this is what the client sees" in response.content.decode()
    assert login(manager).get(reverse("brand-list")).status_code == 200  # staff pages unchanged


# -- the calendar -------------------------------------------------------------------------------


def test_calendar_shows_approved_scheduled_posts_without_their_internal_title(
    login, client_user, brand, account, sibling_brand
):
    planned(brand, account, at=soon(2), title="SECRET plan A", text="Visible scheduled text")
    planned(
        brand,
        account,
        at=soon(3),
        title="SECRET draft",
        text="Draft text",
        approval="draft",
        state=TargetState.DRAFT,
    )
    planned(
        brand,
        account,
        at=soon(4),
        title="SECRET cancelled",
        text="Cancelled text",
        state=TargetState.CANCELLED,
    )
    planned(
        brand,
        account,
        at=soon(-1),
        title="SECRET past",
        text="Past text",
        state=TargetState.PUBLISHED,
    )
    sibling_account = SocialAccountFactory(brand=sibling_brand, handle="@blue")
    planned(sibling_brand, sibling_account, at=soon(2), text="Sibling text")
    content = login(client_user).get(portal_url("portal-calendar", brand)).content.decode()
    assert "Visible scheduled text" in content
    assert "SECRET" not in content
    for hidden in ("Draft text", "Cancelled text", "Past text", "Sibling text"):
        assert hidden not in content


def test_calendar_with_client_approval_hides_posts_the_client_has_not_approved(
    login, client_user, brand, account
):
    Brand.objects.filter(pk=brand.pk).update(approval_workflow="internal_client")
    planned(brand, account, at=soon(2), text="Approved by the client", approval="client_approved")
    planned(brand, account, at=soon(3), text="Only approved inside", approval="approved")
    content = login(client_user).get(portal_url("portal-calendar", brand)).content.decode()
    assert "Approved by the client" in content
    assert "Only approved inside" not in content


def test_calendar_groups_by_day_in_the_brands_time_zone(login, client_user, brand, account):
    Brand.objects.filter(pk=brand.pk).update(time_zone="America/New_York")
    brand.refresh_from_db()
    at = soon(5, hour=3)  # 03:00 UTC is the evening before in New York
    planned(brand, account, at=at, text="Late evening post")
    content = login(client_user).get(portal_url("portal-calendar", brand)).content.decode()
    local = at.astimezone(brand.zone)
    assert local.date() == at.date() - dt.timedelta(days=1)
    assert f"{local:%A} {local.day} {local:%B %Y}" in content
    assert f"{local:%H:%M}" in content
    assert "America/New_York" in content


# -- goals --------------------------------------------------------------------------------------


def test_portal_goals_show_progress(login, client_user, brand, account):
    today = timezone.localdate()
    Goal.objects.create(
        brand=brand,
        name="Reach 2,000 followers",
        metric=Goal.Metric.FOLLOWERS,
        direction=Goal.Direction.AT_LEAST,
        target=Decimal(2000),
        baseline=Decimal(1000),
        start_date=today - dt.timedelta(days=10),
        due_date=today + dt.timedelta(days=10),
    )
    AccountMetricsDaily.objects.create(account=account, date=today, followers=1500)
    content = login(client_user).get(portal_url("portal-goals", brand)).content.decode()
    assert "Reach 2,000 followers" in content
    assert 'value="50"' in content  # the progress bar: half way from 1000 to 2000
    assert "On track" in content


# -- white label, without inline styles or scripts ---------------------------------------------


def test_theme_is_css_with_the_brands_colours(login, client_user, brand):
    Brand.objects.filter(pk=brand.pk).update(primary_color="#123456", secondary_color="#abcdef")
    response = login(client_user).get(portal_url("portal-theme", brand))
    assert response["Content-Type"] == "text/css; charset=utf-8"
    css = response.content.decode()
    assert "--brand-primary: #123456;" in css
    assert "--brand-secondary: #abcdef;" in css


def test_a_colour_that_is_not_hex_never_reaches_the_stylesheet(login, client_user, brand):
    # Saved around validation (e.g. by a data migration): the stylesheet falls back.
    Brand.objects.filter(pk=brand.pk).update(primary_color="red;}*{")
    css = login(client_user).get(portal_url("portal-theme", brand)).content.decode()
    assert "red;}" not in css
    assert "--brand-primary: #1d4ed8;" in css


@pytest.mark.parametrize(
    "name",
    ["portal-dashboard", "portal-calendar", "portal-goals"],
)
def test_portal_pages_have_no_inline_styles_or_scripts(login, client_user, brand, account, name):
    planned(brand, account, at=soon())
    html = login(client_user).get(portal_url(name, brand)).content.decode()
    assert portal_url("portal-theme", brand) in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"<style", html)
    assert not re.search(r"\son[a-z]+=", html)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_portal_shows_the_brands_logo_and_name(login, client_user, brand):
    gif = (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
        b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )
    brand.logo = SimpleUploadedFile("acme.gif", gif, content_type="image/gif")
    brand.save()
    content = login(client_user).get(portal_url("portal-goals", brand)).content.decode()
    assert brand.logo.url in content
    assert "Acme Coffee" in content


# -- the dashboard's queries ---------------------------------------------------------------------


def _published(brand, account, n):
    yesterday = timezone.localdate(timezone=brand.zone) - dt.timedelta(days=1)
    for i in range(n):
        at = dt.datetime.combine(yesterday, dt.time(9, i), tzinfo=brand.zone)
        post = PostFactory(brand=brand, scheduled_at=at)
        target = PostTargetFactory(
            post=post,
            account=account,
            state=TargetState.PUBLISHED,
            external_id=f"ext-{i}",
            published_at=at,
        )
        PostMetricsDaily.objects.create(
            target=target, date=yesterday, reach=100 + i, engagements=10 + i, impressions=200
        )
    AccountMetricsDaily.objects.update_or_create(
        account=account, date=yesterday, defaults={"followers": 1000, "reach": 500}
    )


def test_dashboard_query_count_does_not_grow_with_the_number_of_posts(
    login, client_user, brand, account
):
    client = login(client_user)
    url = portal_url("portal-dashboard", brand)
    _published(brand, account, 1)
    client.get(url)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as one:
        first = client.get(url)
    assert first.status_code == 200
    PostMetricsDaily.objects.all().delete()
    Post.objects.all().delete()
    _published(brand, account, 6)
    with CaptureQueriesContext(connection) as six:
        response = client.get(url)
    assert response.status_code == 200
    assert len(six) == len(one)
