from calendar_app.publishing import payload_for
from calendar_app.services import post_create
from calendar_app.utm import link_with_utm

TEMPLATE = "utm_source={platform}&utm_medium=social&utm_campaign={campaign}"


def test_template_fills_platform_and_campaign():
    assert link_with_utm(
        link="https://acme.example/beans?ref=1",
        template=TEMPLATE,
        platform="linkedin",
        campaign="Spring Launch",
    ) == (
        "https://acme.example/beans?ref=1&utm_source=linkedin&utm_medium=social"
        "&utm_campaign=spring-launch"
    )


def test_parameters_already_in_the_link_win():
    link = "https://acme.example/?utm_campaign=manual"
    result = link_with_utm(link=link, template=TEMPLATE, platform="x", campaign="auto")
    assert "utm_campaign=manual" in result
    assert "utm_campaign=auto" not in result
    assert "utm_source=x" in result


def test_no_template_or_no_link_changes_nothing():
    assert link_with_utm(link="https://a.example/", template="", platform="x") == (
        "https://a.example/"
    )
    assert link_with_utm(link="", template=TEMPLATE, platform="x") == ""


def test_each_account_gets_its_own_source_at_publish_time(brand, manager):
    from tests.factories import SocialAccountFactory

    brand.utm_template = TEMPLATE
    brand.save()
    li = SocialAccountFactory(brand=brand, platform="linkedin", handle="acme")
    mastodon = SocialAccountFactory(brand=brand, platform="mastodon", handle="@acme")
    post = post_create(
        brand=brand,
        by=manager,
        accounts=[li, mastodon],
        title="Spring launch",
        text="New beans: https://acme.example/beans",
        link="https://acme.example/beans",
    )
    payloads = {t.account.platform: payload_for(t) for t in post.targets.all()}
    assert "utm_source=linkedin" in payloads["linkedin"].link
    assert "utm_source=mastodon" in payloads["mastodon"].link
    assert "utm_campaign=spring-launch" in payloads["mastodon"].text
    assert post.link == "https://acme.example/beans"  # stored once, tagged per account
