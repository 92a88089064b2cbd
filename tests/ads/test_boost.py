""" "Boost this post": a published organic post becomes a draft campaign, ad set and ad."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ads import services
from ads.models import Ad, AdSet, Campaign
from calendar_app.models import Media, PostTarget
from tests.factories import PostFactory, SocialAccountFactory


def published_target(brand, platform="instagram", state="published"):
    post = PostFactory(brand=brand, text="Our new roast is out", link="https://acme.example/roast")
    media = Media.objects.create(
        brand=brand,
        file="roast.jpg",
        name="roast.jpg",
        kind="image",
        mime_type="image/jpeg",
        size=10,
        checksum="b" * 64,
    )
    post.media.add(media)
    account = SocialAccountFactory(brand=brand, platform=platform)
    return PostTarget.objects.create(
        post=post,
        account=account,
        state=state,
        external_id="1789" if state == "published" else "",
        external_url="https://instagram.example/p/1789" if state == "published" else "",
    )


def boost(target, by, **extra):
    return services.post_boost(
        post_target=target, by=by, budget_amount=Decimal("150.00"), currency="EUR", days=7, **extra
    )


@pytest.mark.parametrize(
    ("network", "ads_platform"),
    [("facebook", "meta"), ("instagram", "meta"), ("linkedin", "linkedin"), ("x", "x")],
)
def test_boost_creates_campaign_ad_set_and_ad_from_the_post(brand, marketer, network, ads_platform):
    target = published_target(brand, network)
    campaign = boost(target, marketer)
    assert campaign.platform == ads_platform
    assert campaign.boosted_post == target.post
    assert (campaign.budget_kind, campaign.budget_amount) == ("lifetime", Decimal("150.00"))
    assert (campaign.end_date - campaign.start_date).days == 6
    ad_set = campaign.ad_sets.get()
    # The brand's zone is Europe/Berlin, so the default country is Germany.
    assert ad_set.targeting["locations"] == [{"type": "country", "country": "DE"}]
    ad = ad_set.ads.get()
    assert ad.creative_text == "Our new roast is out"
    assert ad.link == "https://acme.example/roast"
    assert ad.boosted_post == target.post
    assert [m.name for m in ad.media.all()] == ["roast.jpg"]


def test_boost_takes_given_targeting(brand, marketer):
    campaign = boost(
        published_target(brand),
        marketer,
        targeting={"locations": [{"type": "country", "country": "AT"}], "age_min": 25},
    )
    targeting = campaign.ad_sets.get().targeting
    assert targeting["locations"] == [{"type": "country", "country": "AT"}]
    assert targeting["age_min"] == 25


def test_unpublished_post_cannot_be_boosted(brand, marketer):
    with pytest.raises(ValidationError, match="Only a published post can be boosted"):
        boost(published_target(brand, state="failed"), marketer)
    assert not Campaign.objects.exists()


def test_post_on_a_network_without_ads_cannot_be_boosted(brand, marketer):
    with pytest.raises(ValidationError, match="Mastodon cannot be boosted"):
        boost(published_target(brand, "mastodon"), marketer)
    assert not Campaign.objects.exists()


def test_bad_boost_leaves_nothing_behind(brand, marketer):
    with pytest.raises(ValidationError):
        boost(published_target(brand), marketer, targeting={"age_min": 70, "locations": []})
    assert not (Campaign.objects.exists() or AdSet.objects.exists() or Ad.objects.exists())


def test_brand_in_utc_must_name_its_countries(brand, marketer):
    brand.time_zone = "UTC"
    brand.save()
    with pytest.raises(ValidationError, match="names no country"):
        boost(published_target(brand), marketer)


def test_post_page_shows_boost_to_marketers_only(login, marketer, manager, brand):
    target = published_target(brand)
    PostTarget.objects.create(post=target.post, account=SocialAccountFactory(brand=brand))
    url = reverse("calendar:post-detail", args=[target.post.pk])
    boost_url = reverse("ads:post-boost", args=[target.pk])
    page = login(marketer).get(url).content.decode()
    assert page.count("/boost/") == 1
    assert boost_url in page
    assert boost_url not in login(manager).get(url).content.decode()


def test_marketer_boosts_from_the_form(login, marketer, brand):
    target = published_target(brand)
    client = login(marketer)
    url = reverse("ads:post-boost", args=[target.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"budget_amount": "0", "currency": "EUR", "days": "7"})
    assert response.status_code == 400
    assert "The budget must be more than zero." in response.content.decode()
    response = client.post(
        url, {"budget_amount": "80", "currency": "eur", "days": "5", "countries": "AT, CH"}
    )
    campaign = Campaign.objects.get()
    assert response.url == reverse("ads:campaign-detail", args=[campaign.pk])
    assert [loc["country"] for loc in campaign.ad_sets.get().targeting["locations"]] == ["AT", "CH"]


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("outsider", {404}),
        ("other_client", {403, 404}),
        ("client_user", {403, 404}),
        ("manager", {403}),
    ],
)
def test_only_ads_writers_can_boost(request, login, brand, persona, allowed):
    target = published_target(brand)
    client = login(request.getfixturevalue(persona))
    url = reverse("ads:post-boost", args=[target.pk])
    assert client.get(url).status_code in allowed
    response = client.post(url, {"budget_amount": "80", "currency": "EUR", "days": "5"})
    assert response.status_code in allowed
    assert not Campaign.objects.exists()
