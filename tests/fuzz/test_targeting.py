"""Fuzzing the ad set targeting document (ads/targeting.py) through the API and the form.

Any JSON as `targeting` on POST /api/v1/ad-sets/ and PATCH /api/v1/ad-sets/{id}/: a 201/200
with the document stored normalised (normalising it again changes nothing), or a 400 whose
`fields` say what is wrong under `targeting...` keys, never a 500, and nothing written on a 400.
The same for any bytes as the request body, and for any values in the ad set form's fields.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from ads import services
from ads.models import AdSet
from ads.targeting import PLACEMENTS, validate_targeting
from tests.fuzz import fuzz_settings


@pytest.fixture
def setup(brand, marketer, account):
    campaign = services.campaign_create(
        brand=brand,
        by=marketer,
        name="Spring",
        platform="meta",
        objective="sales",
        start_date=date(2026, 3, 1),
        budget_kind="daily",
        budget_amount=Decimal("20"),
    )
    audience = services.audience_create(brand=brand, by=marketer, name="Buyers", kind="custom")
    ad_set = services.ad_set_create(
        campaign=campaign,
        by=marketer,
        name="Coffee lovers",
        targeting={"locations": [{"type": "country", "country": "DE"}]},
    )
    return {
        "campaign": campaign,
        "audience": audience,
        "account": account,
        "ad_set": ad_set,
        "marketer": marketer,
        "brand": brand,
    }


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["DE", "de", "xx", "city", "all", "\x00", "\udcff", "  ", "feed"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def near_valid_documents(draw, setup):
    """A valid document with some of its fields replaced by anything, deleted or misspelt."""
    audience, account = str(setup["audience"].pk), str(setup["account"].pk)
    doc = {
        "age_min": draw(st.integers(13, 65)),
        "age_max": draw(st.integers(13, 65)),
        "genders": draw(st.sampled_from([["all"], ["male"], ["female"], ["male", "female"]])),
        "locations": draw(
            st.lists(
                st.sampled_from(
                    [
                        {"type": "country", "country": "DE"},
                        {"type": "city", "country": "AT", "name": "Vienna", "radius_km": 20},
                        {"type": "region", "country": "fr", "name": "Bretagne", "key": 12},
                    ]
                ),
                min_size=1,
                max_size=3,
            )
        ),
        "languages": ["de", "en"],
        "interests": [{"id": "6003139266461", "name": "Coffee"}],
        "custom_audiences": [audience],
        "lookalike_audiences": [{"source_audience": audience, "country": "DE", "percent": 1}],
        "retargeting": {"kind": "engagers", "days": 30, "accounts": [account]},
        "exclusions": {"audiences": [], "interests": []},
        "placements": {"facebook": ["feed"], "instagram": []},
        "devices": ["mobile"],
    }
    for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["replace", "delete", "nested"]))
        if action == "delete":
            del doc[key]
        elif action == "replace":
            doc[key] = draw(json_values)
        elif isinstance(doc[key], list) and doc[key]:
            doc[key][0] = draw(json_values)
        elif isinstance(doc[key], dict) and doc[key]:
            inner = draw(st.sampled_from(sorted(doc[key])))
            doc[key][inner] = draw(json_values)
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["agemin", "Locations", "", "placements "]))] = 1
    return doc


def targeting_documents(setup):
    return st.one_of(json_values, near_valid_documents(setup), near_valid_documents(setup))


def brand_ids(setup):
    return {
        "audiences": {str(setup["audience"].pk): "Buyers"},
        "accounts": {str(setup["account"].pk): setup["account"].handle},
    }


def expected(setup, doc):
    """The schema's own verdict: the normalised document, or None if it is refused."""
    try:
        return validate_targeting(doc, **brand_ids(setup))
    except ValidationError:
        return None


def assert_refusal_in_words(response) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert body["type"] in ("validation_error", "parse_error")
    if body["type"] == "validation_error":
        assert body["fields"], body
        for key, messages in body["fields"].items():
            assert key == "targeting" or key.startswith("targeting."), key
            assert messages and all(isinstance(m, str) and len(m) > 5 for m in messages)


def _json(doc) -> str:
    # What a client sends: any JSON (a lone surrogate as its \u escape).
    return json.dumps({"targeting": doc})


@fuzz_settings(max_examples=60)
@given(data=st.data())
@example(data=None)
def test_any_targeting_json_through_the_api_is_saved_normalised_or_refused_by_field(
    api_client, setup, data
):
    doc = {"locations": [{"type": "city", "country": "DE", "name": "\x00"}]}
    if data is not None:
        doc = data.draw(targeting_documents(setup))
    api_client.force_authenticate(setup["marketer"])
    before = AdSet.objects.count()
    body = json.loads(_json(doc))
    body.update(campaign=str(setup["campaign"].pk), name="Fuzzed")
    response = api_client.post(
        "/api/v1/ad-sets/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500
    normalised = expected(setup, body["targeting"])
    if response.status_code == 201 and normalised is not None:
        stored = AdSet.objects.get(pk=response.json()["id"]).targeting
        assert stored == normalised
        assert validate_targeting(stored, **brand_ids(setup)) == stored  # idempotent
        assert AdSet.objects.count() == before + 1
        return
    assert_refusal_in_words(response)
    assert AdSet.objects.count() == before
    # Refused exactly where the schema refuses (NUL and unpaired surrogates included: no
    # database text can hold them).
    assert normalised is None, response.json()


@fuzz_settings(max_examples=30)
@given(data=st.data())
def test_any_targeting_json_in_a_patch_leaves_the_stored_document_alone_when_refused(
    api_client, setup, data
):
    doc = data.draw(targeting_documents(setup))
    ad_set = setup["ad_set"]
    ad_set.refresh_from_db()
    stored_before = ad_set.targeting
    api_client.force_authenticate(setup["marketer"])
    response = api_client.patch(
        f"/api/v1/ad-sets/{ad_set.pk}/", _json(doc), content_type="application/json"
    )
    assert response.status_code < 500
    ad_set.refresh_from_db()
    if response.status_code == 200:
        assert ad_set.targeting == expected(setup, json.loads(_json(doc))["targeting"])
    else:
        assert_refusal_in_words(response)
        assert ad_set.targeting == stored_before


@fuzz_settings(max_examples=25)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"[" * 100_000,
                b'{"targeting": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
                b'{"targeting": NaN}',
                b'{"targeting": {"age_min": 1e999}}',
                b'{"targeting": {"age_min": ' + b"9" * 5_000 + b"}}",
                b"\xef\xbb\xbf{}",
                b'{"targeting": "\\ud800"}',
            ]
        ),
    )
)
def test_any_bytes_as_the_api_body_are_a_400_not_a_500(api_client, setup, body):
    api_client.force_authenticate(setup["marketer"])
    before = AdSet.objects.count()
    response = api_client.post("/api/v1/ad-sets/", body, content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response.json()["detail"]
    assert AdSet.objects.count() == before


# -- the form ------------------------------------------------------------------------------------

form_text = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["", "0", "-1", "999999999999999999999", "1e5", "DE", "\x00", "x" * 300]),
)


@st.composite
def ad_set_form_posts(draw, setup):
    audience, account = str(setup["audience"].pk), str(setup["account"].pk)
    placement = draw(
        st.sampled_from([f"{p}:{pos}" for p, positions in PLACEMENTS.items() for pos in positions])
    )
    post = {
        "name": "Fuzzed",
        "status": "draft",
        "age_min": "18",
        "age_max": "65",
        "genders": "all",
        "languages": "de, en",
        "interests": "Coffee (6003139266461)",
        "audiences": [audience],
        "lookalike_source": audience,
        "lookalike_country": "DE",
        "lookalike_percent": "1",
        "retargeting_kind": "engagers",
        "retargeting_days": "30",
        "retargeting_accounts": [account],
        "placements": [placement],
        "devices": ["mobile"],
        "locations-TOTAL_FORMS": "2",
        "locations-INITIAL_FORMS": "0",
        "locations-0-type": "country",
        "locations-0-country": "DE",
        "locations-1-type": "city",
        "locations-1-country": "AT",
        "locations-1-name": "Vienna",
        "locations-1-radius_km": "20",
    }
    for key in draw(st.lists(st.sampled_from(sorted(post)), max_size=4, unique=True)):
        if draw(st.booleans()):
            del post[key]
        else:
            post[key] = draw(st.one_of(form_text, st.lists(form_text, max_size=2)))
    return post


@fuzz_settings(max_examples=40)
@given(data=st.data())
def test_any_values_in_the_ad_set_form_are_saved_or_shown_again_with_errors(login, setup, data):
    post = data.draw(ad_set_form_posts(setup))
    before = AdSet.objects.count()
    response = login(setup["marketer"]).post(
        reverse("ads:ad-set-create", args=[setup["campaign"].pk]), post
    )
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        assert AdSet.objects.count() == before + 1
        created = AdSet.objects.latest("created_at")
        assert validate_targeting(created.targeting, **brand_ids(setup)) == created.targeting
    else:
        assert AdSet.objects.count() == before
        assert b"errorlist" in response.content or b"error" in response.content
