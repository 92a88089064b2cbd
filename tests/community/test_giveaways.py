"""Giveaways: who enters, a draw that its seed reproduces and anyone can verify, one draw only,
CSV exports that read back as stored, and who may see and change any of it."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from agency.models import AuditEvent
from community import services
from community.models import Conversation, Giveaway, Message
from tests.factories import PostFactory, PostTargetFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def target(brand, account):
    post = PostFactory(brand=brand, title="Win a bag of beans")
    return PostTargetFactory(
        post=post, account=account, state="published", external_id="post-1", published_at=T0
    )


@pytest.fixture
def thread(brand, target):
    return Conversation.objects.create(
        brand=brand,
        account=target.account,
        kind=Conversation.Kind.COMMENT,
        external_thread_id=target.external_id,
        post_target=target,
    )


_counter = iter(range(10_000))


def comment(thread, handle, text, *, minutes=0, direction="in", hidden=False):
    n = next(_counter)
    return Message.objects.create(
        conversation=thread,
        account=thread.account,
        direction=direction,
        send_state="received" if direction == "in" else "sent",
        author_handle=handle,
        text=text,
        platform_message_id=f"c{n}",
        sent_at=T0 + timedelta(minutes=minutes or n),
        hidden=hidden,
    )


def make_giveaway(brand, target, **kw):
    fields = {"name": "Spring beans", "winners_count": 2, **kw}
    return Giveaway.objects.create(brand=brand, target=target, **fields)


# -- creating ------------------------------------------------------------------------------------


def test_a_giveaway_needs_a_published_post_of_the_brand(brand, account, manager, other_account):
    draft = PostTargetFactory(post=PostFactory(brand=brand), account=account)
    with pytest.raises(Exception, match="published post; this one is draft"):
        services.giveaway_create(brand=brand, by=manager, target=draft, name="Too early")
    foreign = PostTargetFactory(
        post=PostFactory(brand=other_account.brand),
        account=other_account,
        state="published",
        external_id="x",
    )
    with pytest.raises(Exception, match="does not belong to Acme Coffee"):
        services.giveaway_create(brand=brand, by=manager, target=foreign, name="Not ours")
    assert not Giveaway.objects.exists()


def test_creating_tidies_excluded_handles_and_is_audited(brand, target, manager):
    giveaway = services.giveaway_create(
        brand=brand,
        by=manager,
        target=target,
        name=" Spring  beans ",
        excluded_handles="@Ann, bob\n@ann",
    )
    assert giveaway.name == "Spring beans" and giveaway.excluded_handles == ["ann", "bob"]
    assert AuditEvent.objects.filter(action="giveaway.created").count() == 1


# -- who enters ----------------------------------------------------------------------------------


def test_entrants_follow_the_rules_and_are_sorted_by_handle_then_message(
    brand, target, thread, account, other_brand
):
    comment(thread, "@zed", "I want to #WIN, please")
    first_amy = comment(thread, "@Amy", "#win!")
    comment(thread, "@amy", "#win again")  # second entry of the same person
    comment(thread, "@bob", "#winner takes all")  # another hashtag
    comment(thread, "@cat", "no tag at all")
    comment(thread, account.handle, "#win (the brand itself)")
    comment(thread, "@dan", "#win", hidden=True)
    comment(thread, "@eve", "#win")  # excluded by hand
    comment(thread, "@acmecoffee", "#win", direction="out")
    other_post = PostTargetFactory(
        post=PostFactory(brand=brand), account=account, state="published", external_id="post-2"
    )
    elsewhere = Conversation.objects.create(
        brand=brand,
        account=account,
        kind="comment",
        external_thread_id="post-2",
        post_target=other_post,
    )
    comment(elsewhere, "@fay", "#win")
    giveaway = make_giveaway(brand, target, must_contain="#win", excluded_handles=["eve"])

    entrants = services.giveaway_eligible_entrants(giveaway=giveaway)

    assert [e["handle"] for e in entrants] == ["amy", "zed"]
    assert entrants[0]["message_id"] == str(first_amy.pk)

    giveaway.one_entry_per_person = False
    giveaway.exclude_staff = False
    both = services.giveaway_eligible_entrants(giveaway=giveaway)
    handles = [e["handle"] for e in both]
    assert handles == ["acmecoffee", "amy", "amy", "zed"]
    amy_ids = [e["message_id"] for e in both if e["handle"] == "amy"]
    assert amy_ids == sorted(amy_ids)


def test_must_contain_a_word_is_a_whole_word_in_any_case(brand, target, thread):
    comment(thread, "@a", "Beans BEANS beans")
    comment(thread, "@b", "beanstalk")
    giveaway = make_giveaway(brand, target, must_contain="beans")
    assert [e["handle"] for e in services.giveaway_eligible_entrants(giveaway=giveaway)] == ["a"]


# -- drawing -------------------------------------------------------------------------------------


@pytest.fixture
def crowd(thread):
    return [comment(thread, f"@fan{i:02d}", "#win") for i in range(12)]


def test_the_draw_stores_every_entrant_and_the_seed_and_reproduces(brand, target, crowd, manager):
    giveaway = make_giveaway(brand, target, winners_count=3)
    drawn = services.giveaway_draw(giveaway=giveaway, by=manager, seed="public-seed-1")

    assert drawn.seed == "public-seed-1" and drawn.drawn_by == manager
    assert len(drawn.entrants) == 12 and len(drawn.winners) == 3
    assert drawn.winners == services.draw_winners(
        entrants=drawn.entrants, seed="public-seed-1", count=3
    )
    assert services.giveaway_verify(giveaway=drawn) is True
    # The same comments and seed, drawn afresh, give the same winners.
    twin = services.giveaway_draw(
        giveaway=make_giveaway(brand, target, winners_count=3), by=manager, seed="public-seed-1"
    )
    assert twin.winners == drawn.winners
    other = services.giveaway_draw(
        giveaway=make_giveaway(brand, target, winners_count=3), by=manager, seed="another"
    )
    assert other.entrants == drawn.entrants
    assert AuditEvent.objects.filter(action="giveaway.drawn").count() == 3


def test_verification_fails_when_the_stored_result_is_tampered_with(brand, target, crowd, manager):
    giveaway = services.giveaway_draw(giveaway=make_giveaway(brand, target), by=manager)
    assert re.fullmatch(r"[0-9a-f]{32}", giveaway.seed)
    assert services.giveaway_verify(giveaway=giveaway) is True

    swapped = [e for e in giveaway.entrants if e not in giveaway.winners][:1] + giveaway.winners[1:]
    giveaway.winners = swapped
    assert services.giveaway_verify(giveaway=giveaway) is False
    giveaway.refresh_from_db()
    giveaway.entrants = giveaway.entrants[1:]
    assert services.giveaway_verify(giveaway=giveaway) is False
    giveaway.refresh_from_db()
    giveaway.seed = "guess"
    assert services.giveaway_verify(giveaway=giveaway) is False
    assert services.giveaway_verify(giveaway=make_giveaway(brand, target)) is False


def test_fewer_entrants_than_winners_all_win(brand, target, thread, manager):
    comment(thread, "@a", "#win")
    comment(thread, "@b", "#win")
    giveaway = services.giveaway_draw(
        giveaway=make_giveaway(brand, target, winners_count=5), by=manager
    )
    assert sorted(w["handle"] for w in giveaway.winners) == ["a", "b"]
    assert services.giveaway_verify(giveaway=giveaway) is True


def test_a_giveaway_is_drawn_once(brand, target, crowd, manager):
    giveaway = services.giveaway_draw(giveaway=make_giveaway(brand, target), by=manager)
    winners, seed = giveaway.winners, giveaway.seed
    with pytest.raises(Exception, match="is drawn once"):
        services.giveaway_draw(giveaway=giveaway, by=manager, seed="retry")
    giveaway.refresh_from_db()
    assert (giveaway.winners, giveaway.seed) == (winners, seed)


def test_nobody_eligible_draws_nothing(brand, target, thread, manager):
    comment(thread, "@a", "no tag")
    giveaway = make_giveaway(brand, target, must_contain="#win")
    with pytest.raises(Exception, match="Nobody is eligible"):
        services.giveaway_draw(giveaway=giveaway, by=manager)
    giveaway.refresh_from_db()
    assert giveaway.drawn_at is None and giveaway.seed == "" and giveaway.entrants == []


# -- CSV -----------------------------------------------------------------------------------------


def _rows(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_winners_and_entrants_csv_read_back_as_stored(brand, target, thread, crowd, manager, login):
    comment(thread, "@zz", '#win, with a comma, and "quotes"\nand a new line')
    giveaway = services.giveaway_draw(
        giveaway=make_giveaway(brand, target, winners_count=4), by=manager
    )
    client = login(manager)

    winners = _rows(client.get(reverse("community:giveaway-winners-csv", args=[giveaway.pk])))
    entrants = _rows(client.get(reverse("community:giveaway-entrants-csv", args=[giveaway.pk])))

    assert [int(r.pop("rank")) for r in winners] == [1, 2, 3, 4]
    assert winners == giveaway.winners
    assert entrants == giveaway.entrants
    assert services.draw_winners(entrants=entrants, seed=giveaway.seed, count=4) == winners


def test_csv_cells_that_spreadsheets_would_run_are_defused(brand, target, thread, manager, login):
    comment(thread, "@mallory", '=HYPERLINK("https://evil.example","#win")')
    giveaway = services.giveaway_draw(
        giveaway=make_giveaway(brand, target, must_contain="#win"), by=manager
    )
    rows = _rows(login(manager).get(reverse("community:giveaway-entrants-csv", args=[giveaway.pk])))
    assert rows[0]["text"].startswith("'=HYPERLINK")


# -- pages ---------------------------------------------------------------------------------------


def _urls(brand, giveaway):
    return {
        "list": reverse("community:giveaway-list", args=[brand.pk]),
        "detail": reverse("community:giveaway-detail", args=[giveaway.pk]),
        "draw": reverse("community:giveaway-draw", args=[giveaway.pk]),
        "winners": reverse("community:giveaway-winners-csv", args=[giveaway.pk]),
        "entrants": reverse("community:giveaway-entrants-csv", args=[giveaway.pk]),
    }


def _create_post(target, name="From the page"):
    return {
        "name": name,
        "target": str(target.pk),
        "winners_count": "1",
        "must_contain": "#win",
        "one_entry_per_person": "on",
        "exclude_staff": "on",
        "excluded_handles": "",
    }


@pytest.mark.parametrize("who", ["outsider", "other_client", "client_user"])
def test_giveaway_pages_are_hidden_from_outsiders_and_clients(
    personas, login, brand, target, crowd, who
):
    giveaway = make_giveaway(brand, target)
    urls = _urls(brand, giveaway)
    client = login(personas[who])
    for name in ("list", "detail", "winners", "entrants"):
        assert client.get(urls[name]).status_code == 404, name
    assert client.post(urls["list"], _create_post(target)).status_code == 404
    assert client.post(urls["draw"]).status_code == 404
    assert Giveaway.objects.count() == 1
    giveaway.refresh_from_db()
    assert giveaway.drawn_at is None


def test_marketers_read_giveaways_but_cannot_create_or_draw(marketer, login, brand, target, crowd):
    giveaway = make_giveaway(brand, target)
    urls = _urls(brand, giveaway)
    client = login(marketer)
    for name in ("list", "detail", "winners", "entrants"):
        assert client.get(urls[name]).status_code == 200, name
    assert client.post(urls["list"], _create_post(target)).status_code == 403
    assert client.post(urls["draw"]).status_code == 403
    assert Giveaway.objects.count() == 1
    giveaway.refresh_from_db()
    assert giveaway.drawn_at is None


def test_a_manager_creates_and_draws_from_the_pages(manager, login, brand, target, account, crowd):
    client = login(manager)
    urls = _urls(brand, make_giveaway(brand, target))
    draft = PostTargetFactory(post=PostFactory(brand=brand), account=account)
    refused = client.post(urls["list"], _create_post(draft, "Too early"))
    assert refused.status_code == 400 and "Publish it first" in refused.content.decode()

    created = client.post(urls["list"], _create_post(target))
    giveaway = Giveaway.objects.get(name="From the page")
    assert created.status_code == 302 and created["Location"].endswith(f"/giveaways/{giveaway.pk}/")

    drawn = client.post(reverse("community:giveaway-draw", args=[giveaway.pk]), follow=True)
    giveaway.refresh_from_db()
    body = drawn.content.decode()
    assert giveaway.drawn_at is not None and len(giveaway.winners) == 1
    assert f"@{giveaway.winners[0]['handle']}" in body and "Verified" in body
    again = client.post(reverse("community:giveaway-draw", args=[giveaway.pk]), follow=True)
    assert "is drawn once" in again.content.decode()


def test_the_page_says_when_every_entrant_won(manager, login, brand, target, thread):
    comment(thread, "@only", "#win")
    giveaway = make_giveaway(brand, target, winners_count=3)
    page = login(manager).post(reverse("community:giveaway-draw", args=[giveaway.pk]), follow=True)
    body = page.content.decode()
    assert "Only 1 eligible entrant(s) for 3 prizes" in body
    assert "fewer eligible entrants than prizes" in body
