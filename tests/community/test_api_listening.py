"""/api/v1/listening-rules/ and /api/v1/mentions/: rules written through the listening
service (terms normalised, names unique per brand), the mention feed, and a mention turned into
an inbox conversation once. Staff only; marketers read."""

import pytest
from django.utils import timezone

from community.models import Conversation, ListeningRule, Mention, Message
from community.services import listening_rule_create, mention_record
from tests.factories import SocialAccountFactory

RULES = "/api/v1/listening-rules/"
MENTIONS = "/api/v1/mentions/"


@pytest.fixture
def rule(brand, manager):
    return listening_rule_create(
        brand=brand, by=manager, name="Our name", kind="brand", terms=["Acme Coffee"]
    )


@pytest.fixture
def mention(rule, account):
    mention, _ = mention_record(
        rule=rule,
        platform=account.platform,
        external_id="post-77",
        author_handle="@fan",
        text="I love Acme Coffee in the morning",
        url="https://social.example/post-77",
        posted_at=timezone.now(),
        found_via=account,
    )
    return mention


# -- rules ---------------------------------------------------------------------------------------


def test_manager_creates_a_hashtag_rule_with_normalised_terms(api_client, manager, brand):
    api_client.force_authenticate(manager)
    body = {
        "brand": str(brand.pk),
        "name": "  Roast   tags ",
        "kind": "hashtag",
        "terms": ["coffee", "#Roast", "coffee"],
        "excluded_terms": ["decaf"],
    }
    response = api_client.post(RULES, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["name"] == "Roast tags"
    assert data["terms"] == ["#coffee", "#Roast"]
    assert data["mention_count"] == 0
    assert ListeningRule.objects.get(pk=data["id"]).excluded_terms == ["decaf"]


def test_rule_validation_names_the_fields(api_client, manager, brand, rule):
    api_client.force_authenticate(manager)
    body = {"brand": str(brand.pk), "name": "our NAME", "kind": "keyword", "terms": []}
    response = api_client.post(RULES, body, format="json")
    assert response.status_code == 400
    assert {"name", "terms"} <= set(response.json()["fields"])
    bad_kind = {**body, "name": "New", "terms": ["x"], "kind": "rumour"}
    assert "kind" in api_client.post(RULES, bad_kind, format="json").json()["fields"]
    assert ListeningRule.objects.count() == 1


def test_update_and_delete_a_rule(api_client, manager, rule, mention):
    api_client.force_authenticate(manager)
    response = api_client.patch(
        f"{RULES}{rule.pk}/", {"active": False, "spike_ratio": 5}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["mention_count"] == 1
    rule.refresh_from_db()
    assert (rule.active, rule.spike_ratio) == (False, 5)
    too_low = api_client.patch(f"{RULES}{rule.pk}/", {"spike_ratio": 0.5}, format="json")
    assert too_low.status_code == 400
    assert "spike_ratio" in too_low.json()["fields"]
    assert api_client.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not ListeningRule.objects.exists()
    assert not Mention.objects.exists()


def test_rules_list_filters_by_brand_and_kind(api_client, manager, brand, sibling_brand, rule):
    listening_rule_create(
        brand=sibling_brand, by=manager, name="Bikes", kind="keyword", terms=["x"]
    )
    api_client.force_authenticate(manager)
    assert api_client.get(RULES).json()["count"] == 2
    mine = api_client.get(RULES, {"brand": str(brand.pk)}).json()["results"]
    assert [r["id"] for r in mine] == [str(rule.pk)]
    assert api_client.get(RULES, {"kind": "keyword"}).json()["count"] == 1


# -- mentions ------------------------------------------------------------------------------------


def test_mentions_list_and_detail(api_client, manager, rule, mention):
    api_client.force_authenticate(manager)
    data = api_client.get(MENTIONS, {"rule": str(rule.pk)}).json()
    assert [m["id"] for m in data["results"]] == [str(mention.pk)]
    assert data["results"][0]["rule_name"] == "Our name"
    assert data["results"][0]["conversation"] is None
    assert api_client.get(MENTIONS, {"in_inbox": "true"}).json()["count"] == 0
    assert api_client.get(MENTIONS, {"sentiment": "bad"}).status_code == 400
    detail = api_client.get(f"{MENTIONS}{mention.pk}/").json()
    assert detail["text"] == "I love Acme Coffee in the morning"


def test_a_mention_becomes_one_conversation(api_client, manager, mention):
    api_client.force_authenticate(manager)
    url = f"{MENTIONS}{mention.pk}/to-conversation/"
    first = api_client.post(url)
    assert first.status_code == 200, first.json()
    assert first.json()["kind"] == "mention"
    again = api_client.post(url)
    assert again.json()["id"] == first.json()["id"]
    conversation = Conversation.objects.get()
    assert str(conversation.pk) == first.json()["id"]
    assert Message.objects.get(conversation=conversation).text == mention.text
    mention.refresh_from_db()
    assert mention.conversation == conversation
    assert api_client.get(MENTIONS, {"in_inbox": "true"}).json()["count"] == 1


def test_a_mention_without_an_account_to_answer_from_is_a_400(api_client, manager, brand, rule):
    mention, _ = mention_record(
        rule=rule,
        platform="mastodon",
        external_id="toot-1",
        author_handle="@fan@example.social",
        text="Acme Coffee!",
        url="",
        posted_at=timezone.now(),
    )
    SocialAccountFactory(brand=brand)  # a sandbox account: not the mention's network
    api_client.force_authenticate(manager)
    response = api_client.post(f"{MENTIONS}{mention.pk}/to-conversation/")
    assert response.status_code == 400
    assert "account to answer" in response.json()["detail"]
    assert not Conversation.objects.exists()


def test_mentions_are_not_created_over_the_api(api_client, manager, brand, rule):
    api_client.force_authenticate(manager)
    assert api_client.post(MENTIONS, {"brand": str(brand.pk)}).status_code == 405


# -- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["outsider", "other_client", "client_user"])
def test_strangers_and_the_brands_clients_get_404_and_empty_lists(
    api_client, request, persona, brand, rule, mention
):
    api_client.force_authenticate(request.getfixturevalue(persona))
    assert api_client.get(RULES).json()["results"] == []
    assert api_client.get(MENTIONS).json()["results"] == []
    assert api_client.get(f"{RULES}{rule.pk}/").status_code == 404
    assert api_client.get(f"{MENTIONS}{mention.pk}/").status_code == 404
    assert api_client.patch(f"{RULES}{rule.pk}/", {"active": False}).status_code == 404
    assert api_client.delete(f"{RULES}{rule.pk}/").status_code == 404
    assert api_client.post(f"{MENTIONS}{mention.pk}/to-conversation/").status_code == 404
    body = {"brand": str(brand.pk), "name": "Spy", "kind": "keyword", "terms": ["x"]}
    created = api_client.post(RULES, body, format="json")
    # A stranger cannot name the brand (400 on the field); its client may see the brand, but
    # listening is staff-only: the outsider's 404.
    assert created.status_code == (404 if persona == "client_user" else 400)
    rule.refresh_from_db()
    assert rule.active is True
    assert ListeningRule.objects.count() == 1
    assert not Conversation.objects.exists()


def test_marketer_reads_listening_but_cannot_change_it(api_client, marketer, brand, rule, mention):
    api_client.force_authenticate(marketer)
    assert api_client.get(f"{RULES}{rule.pk}/").status_code == 200
    assert api_client.get(f"{MENTIONS}{mention.pk}/").status_code == 200
    body = {"brand": str(brand.pk), "name": "New", "kind": "keyword", "terms": ["x"]}
    assert api_client.post(RULES, body, format="json").status_code == 403
    assert api_client.patch(f"{RULES}{rule.pk}/", {"active": False}).status_code == 403
    assert api_client.delete(f"{RULES}{rule.pk}/").status_code == 403
    assert api_client.post(f"{MENTIONS}{mention.pk}/to-conversation/").status_code == 403
    rule.refresh_from_db()
    assert rule.active is True
    assert ListeningRule.objects.count() == 1
    assert not Conversation.objects.exists()
