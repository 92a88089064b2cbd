"""The manager's day in a real browser: compose, schedule, see it on the calendar, drag it,
get it approved by the agency and the client, and bulk-import a CSV with a worker running."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from agency.models import Brand
from calendar_app.models import ImportJob, Post, TargetState
from tests.factories import DEFAULT_PASSWORD, SocialAccountFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def brand_day(brand, days_ahead: int):
    return timezone.now().astimezone(brand.zone).date() + timedelta(days=days_ahead)


def open_in_new_context(browser, live_server, user):
    """Another person, in their own browser session."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/auth/login/" not in url)
    return context, page


def compose(page, brand, accounts, *, text, variant_for=None, variant_text="", at=None):
    page.goto(f"/brands/{brand.pk}/compose/")
    page.locator("#id_text").fill(text)
    for account in accounts:
        page.locator(f"input[name=accounts][value='{account.pk}']").check()
    if variant_for is not None:
        block = page.locator(f"details[data-variant-for='{variant_for.pk}']")
        block.locator("summary").click()
        block.locator(f"textarea[name='v_{variant_for.pk}_text']").fill(variant_text)
    if at is not None:
        page.locator("input[name=scheduled_at]").fill(at.strftime("%Y-%m-%dT%H:%M"))


def test_compose_for_two_accounts_schedule_see_and_drag_on_the_calendar(
    log_in, page, screenshot, manager, brand, account
):
    linkedin = SocialAccountFactory(brand=brand, platform="linkedin", handle="acme-coffee")
    log_in(manager)
    day = brand_day(brand, 2)
    at = datetime.combine(day, time(10, 0), tzinfo=brand.zone)
    compose(
        page,
        brand,
        [account, linkedin],
        text="Fresh roast is here",
        variant_for=linkedin,
        variant_text="Fresh roast is here. Our roasters explain why on the blog.",
        at=at,
    )
    # The live counter answers from the server with each platform's own rules.
    page.wait_for_selector("text=/ 3000")
    screenshot("composer")
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    targets = {t.account_id: t for t in post.targets.all()}
    assert {t.state for t in targets.values()} == {TargetState.SCHEDULED}
    assert targets[linkedin.pk].text_override.endswith("on the blog.")
    assert targets[account.pk].due_at == at
    screenshot("post-detail")

    page.goto(f"/calendar/?brand={brand.pk}")
    page.get_by_text("Europe/Berlin").first.wait_for()
    if day.month != timezone.now().astimezone(brand.zone).month:
        page.get_by_role("button", name="next").click()
    events = page.locator(".fc-event", has_text="@acmecoffee")
    events.first.wait_for()
    screenshot("calendar")

    new_day = day + timedelta(days=1)
    cell = page.locator(f"td.fc-daygrid-day[data-date='{new_day.isoformat()}']")
    # Centred, so the sticky top bar cannot cover the cell.
    cell.evaluate("el => el.scrollIntoView({block: 'center'})")
    # Measured after scrolling: mouse coordinates are the viewport's.
    source = events.first.bounding_box()
    target = cell.bounding_box()
    page.mouse.move(source["x"] + 10, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=15)
    page.mouse.up()
    # A function, not an expression: Playwright evals an expression string in the page, which
    # the Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function(
        "() => document.getElementById('calendar-status').textContent.trim() !== ''"
    )
    status = page.locator("#calendar-status").inner_text()
    assert "Not moved" not in status, status

    moved = post.targets.get(account=account)
    assert moved.due_at.astimezone(brand.zone).date() == new_day
    assert moved.due_at.astimezone(brand.zone).time() == time(10, 0)
    assert post.targets.get(account=linkedin).due_at == at  # only the dragged one moved

    page.reload()
    page.locator(
        f"td[data-date='{new_day.isoformat()}'] .fc-event", has_text="@acmecoffee"
    ).wait_for()
    assert page.js_errors == []


def test_a_busy_day_shows_five_posts_and_more_which_opens_the_whole_day(
    log_in, page, manager, brand, account
):
    from tests.factories import PostFactory, PostTargetFactory

    day = brand_day(brand, 3)
    for n in range(8):
        at = datetime.combine(day, time(9, 5 * n), tzinfo=brand.zone)
        post = PostFactory(brand=brand, scheduled_at=at, title=f"Roast {n}")
        PostTargetFactory(post=post, account=account, state=TargetState.SCHEDULED, due_at=at)
    log_in(manager)
    page.goto(f"/calendar/?brand={brand.pk}")
    page.get_by_text("Europe/Berlin").first.wait_for()
    if day.month != timezone.now().astimezone(brand.zone).month:
        page.get_by_role("button", name="next").click()
    more = page.locator(".fc-event.cal-more", has_text="+3 more")
    more.wait_for()
    assert page.locator(".fc-event", has_text="Roast").count() == 5
    more.click()
    # That day's view, with every post of the day.
    page.locator(".fc-timeGridDay-view").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.fc-timegrid-event').length === 8")
    titles = page.locator(".fc-timegrid-event").all_text_contents()
    assert sorted(t for t in titles if "Roast" in t) == sorted(titles)
    assert not page.locator(".cal-more").count()


def test_refused_drop_snaps_back_with_the_reason(log_in, page, manager, brand, account):
    log_in(manager)
    day = brand_day(brand, 1)
    if day.day < 2 or day.month != brand_day(brand, 0).month:
        pytest.skip("needs a past day in the same month view to drop on")
    compose(
        page,
        brand,
        [account],
        text="Cannot go back in time",
        at=datetime.combine(day, time(9, 0), tzinfo=brand.zone),
    )
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url("**/posts/*/")
    page.goto(f"/calendar/?brand={brand.pk}")
    event = page.locator(".fc-event", has_text="@acmecoffee")
    event.wait_for()
    past = brand_day(brand, -1)
    cell = page.locator(f"td.fc-daygrid-day[data-date='{past.isoformat()}']")
    # Centred, so the sticky top bar cannot cover the cell.
    cell.evaluate("el => el.scrollIntoView({block: 'center'})")
    source = event.bounding_box()
    target = cell.bounding_box()
    page.mouse.move(source["x"] + 10, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=15)
    page.mouse.up()
    page.locator("#calendar-status").filter(has_text="Not moved").wait_for()
    assert "past" in page.locator("#calendar-status").inner_text()
    target_row = Post.objects.get().targets.get()
    assert target_row.due_at.astimezone(brand.zone).date() == day


def test_submit_approve_as_admin_then_as_client_in_the_portal(
    browser, live_server, log_in, page, screenshot, manager, admin, client_user, brand, account
):
    Brand.objects.filter(pk=brand.pk).update(approval_workflow="internal_client")
    log_in(manager)
    at = datetime.combine(brand_day(brand, 3), time(9, 30), tzinfo=brand.zone)
    compose(page, brand, [account], text="Please approve me", at=at)
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_url("**/posts/*/")
    post = Post.objects.get()
    assert post.approval_state == Post.Approval.IN_REVIEW
    assert post.targets.get().state == TargetState.DRAFT

    admin_context, admin_page = open_in_new_context(browser, live_server, admin)
    admin_page.goto("/approvals/")
    admin_page.screenshot(
        path=str(screenshot("approvals").parent / "approvals.png"), full_page=True
    )
    admin_page.get_by_role("button", name="Approve").first.click()
    admin_page.wait_for_load_state()
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.CLIENT_REVIEW
    admin_context.close()

    client_context, client_page = open_in_new_context(browser, live_server, client_user)
    client_page.goto("/portal/approvals/")
    assert client_page.get_by_text("Please approve me").first.is_visible()
    client_page.screenshot(
        path=str(screenshot("approvals").parent / "portal-approvals.png"), full_page=True
    )
    client_page.get_by_role("button", name="Approve").first.click()
    client_page.wait_for_load_state()
    post.refresh_from_db()
    assert post.approval_state == Post.Approval.CLIENT_APPROVED
    target = post.targets.get()
    assert target.state == TargetState.SCHEDULED
    assert target.due_at == at
    # A client can do nothing else: the staff calendar is refused.
    assert client_page.goto(f"/brands/{brand.pk}/compose/").status == 403
    client_context.close()


def test_outsider_cannot_open_another_brands_calendar(log_in, page, outsider, brand, account):
    log_in(outsider)
    assert page.goto(f"/calendar/?brand={brand.pk}").status == 404
    assert page.goto(f"/brands/{brand.pk}/compose/").status == 404


@pytest.mark.live
def test_csv_with_a_bad_row_shows_the_errors_then_the_fixed_file_imports_with_progress(
    log_in, page, screenshot, tmp_path, settings, manager, brand, account, celery_worker_process
):
    # The worker reads the uploaded file from the same media folder as the web server.
    worker = celery_worker_process(
        queues=["celery"],
        pool="threads",
        concurrency=2,
        env={"DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT)},
    )
    log_in(manager)
    day = brand_day(brand, 5).isoformat()
    good = "account,text,time\n" + "".join(
        f"{account.handle},Imported post {n},{day} {9 + n:02d}:00\n" for n in range(3)
    )
    bad = good + f"@nobody,A post for an unknown account,{day} 15:00\n"
    bad_file = tmp_path / "plan-with-error.csv"
    bad_file.write_text(bad)
    good_file = tmp_path / "plan.csv"
    good_file.write_text(good)

    page.goto(f"/brands/{brand.pk}/import/")
    page.locator("input[type=file]").set_input_files(str(bad_file))
    page.get_by_role("button", name="Check and import").click()
    errors = page.locator("table", has_text="@nobody")
    errors.wait_for()
    assert "5" in errors.inner_text()  # the spreadsheet row number of the bad line
    screenshot("import-errors")
    assert not Post.objects.exists()

    page.goto(f"/brands/{brand.pk}/import/")
    page.locator("input[type=file]").set_input_files(str(good_file))
    page.get_by_role("button", name="Check and import").click()
    try:
        # The progress partial polls until the worker is done, then shows the summary.
        page.get_by_role("heading", name="Imported").wait_for(timeout=60_000)
    except Exception:
        job = ImportJob.objects.order_by("-created_at").first()
        state = f"{job.status} {job.errors}" if job else "no job"
        pytest.fail(f"import not done: {state}\n{worker.log_tail()}")
    screenshot("import-done")
    assert page.locator("#import-progress").get_by_text("Posts created").is_visible()
    assert Post.objects.filter(brand=brand).count() == 3
    assert page.js_errors == []
