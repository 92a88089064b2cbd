"""The targeting document: one schema, refusals in words with field paths, and Meta's spec."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ads.targeting import PLACEMENTS, to_meta_targeting_spec, validate_targeting

DE = {"type": "country", "country": "DE"}


def errors_of(doc, **context):
    with pytest.raises(ValidationError) as caught:
        validate_targeting(doc, **context)
    return caught.value.message_dict


def test_minimal_document_is_completed_with_defaults():
    doc = validate_targeting({"locations": [{"type": "country", "country": "de"}]})
    assert doc["locations"] == [DE]
    assert (doc["age_min"], doc["age_max"]) == (18, 65)
    assert doc["genders"] == ["all"]
    assert doc["devices"] == ["mobile", "desktop"]
    assert doc["placements"] == {}
    assert doc["retargeting"] is None


def test_minimum_age_above_maximum_is_refused_in_words():
    assert errors_of({"age_min": 40, "age_max": 30, "locations": [DE]}) == {
        "age_min": ["The minimum age (40) is above the maximum (30)."]
    }


def test_locations_are_required():
    assert errors_of({"locations": []})["locations"] == [
        "Add at least one location: a country, region or city."
    ]
    assert errors_of({})["locations"] == ["Locations is required."]


def test_errors_name_the_field_path():
    errors = errors_of(
        {
            "age_min": 10,
            "locations": [
                DE,
                {"type": "city", "country": "XX", "name": "Nowhere", "radius_km": 99},
            ],
            "languages": ["german"],
            "lookalike_audiences": [
                {"source_audience": str(uuid.uuid4()), "country": "DE", "percent": 11}
            ],
            "placements": {"facebook": ["billboard"]},
            "devices": ["tv"],
        }
    )
    assert errors["age_min"] == ["Minimum age must be between 13 and 65, not 10."]
    assert "is not a country code" in errors["locations.1.country"][0]
    assert errors["locations.1.radius_km"] == [
        "Location 2, radius (km) must be between 1 and 80, not 99."
    ]
    assert "is not a language code" in errors["languages.0"][0]
    assert errors["lookalike_audiences.0.percent"] == [
        "Lookalike 1, size (%) must be between 1 and 10, not 11."
    ]
    assert "choose from feed" in errors["placements.facebook.0"][0]
    assert "choose from mobile, desktop" in errors["devices.0"][0]


def test_radius_only_on_cities_and_cities_need_a_name():
    errors = errors_of(
        {
            "locations": [
                {"type": "region", "country": "AT", "name": "Tyrol", "radius_km": 10},
                {"type": "city", "country": "AT"},
            ]
        }
    )
    assert errors["locations.0.radius_km"] == ["Location 1: only a city can have a radius."]
    assert errors["locations.1.name"] == ["Location 2: a city needs its name."]


def test_city_inside_a_country_targeted_whole_is_refused():
    errors = errors_of({"locations": [DE, {"type": "city", "country": "DE", "name": "Berlin"}]})
    assert errors["locations.1"] == [
        "Location 2 (Berlin) lies in Germany, which is already targeted as a whole."
    ]


def test_audience_both_included_and_excluded_is_refused():
    buyers = str(uuid.uuid4())
    errors = errors_of(
        {"locations": [DE], "custom_audiences": [buyers], "exclusions": {"audiences": [buyers]}},
        audiences={buyers: "Past buyers"},
    )
    assert errors["exclusions.audiences"] == [
        "The audience “Past buyers” is both included and excluded."
    ]


def test_interest_both_targeted_and_excluded_is_refused():
    coffee = {"id": "6003", "name": "Coffee"}
    errors = errors_of(
        {"locations": [DE], "interests": [coffee], "exclusions": {"interests": [coffee]}}
    )
    assert errors["exclusions.interests"] == [
        "The interest “Coffee” is both targeted and excluded."
    ]


def test_lookalike_of_an_unknown_audience_is_refused_when_audiences_are_known():
    stranger = str(uuid.uuid4())
    doc = {
        "locations": [DE],
        "lookalike_audiences": [{"source_audience": stranger, "country": "DE", "percent": 1}],
    }
    assert validate_targeting(doc)["lookalike_audiences"][0]["source_audience"] == stranger
    errors = errors_of(doc, audiences={str(uuid.uuid4()): "Newsletter"})
    assert "its source audience" in errors["lookalike_audiences.0.source_audience"][0]


def test_retargeting_engagers_need_accounts_and_visitors_take_none():
    errors = errors_of({"locations": [DE], "retargeting": {"kind": "engagers", "days": 30}})
    assert errors["retargeting.accounts"] == [
        "Say whose engagers to retarget: choose at least one account."
    ]
    errors = errors_of(
        {
            "locations": [DE],
            "retargeting": {"kind": "engagers", "days": 200, "accounts": [str(uuid.uuid4())]},
        }
    )
    assert errors["retargeting.days"] == ["Retargeting, days must be between 1 and 180, not 200."]
    errors = errors_of(
        {
            "locations": [DE],
            "retargeting": {
                "kind": "website_visitors",
                "days": 30,
                "accounts": [str(uuid.uuid4())],
            },
        }
    )
    assert "leave the accounts empty" in errors["retargeting.accounts"][0]


def test_all_genders_with_one_gender_is_refused_and_both_mean_all():
    assert "not both" in errors_of({"locations": [DE], "genders": ["all", "male"]})["genders"][0]
    assert validate_targeting({"locations": [DE], "genders": ["female", "male"]})["genders"] == [
        "all"
    ]


def test_instagram_on_desktop_only_is_refused():
    errors = errors_of({"locations": [DE], "placements": {"instagram": []}, "devices": ["desktop"]})
    assert "mobile only" in errors["placements.instagram"][0]


def test_unknown_fields_and_non_objects_are_refused_in_words():
    assert errors_of({"locations": [DE], "colour": "blue"})["targeting"] == [
        "The targeting has no field called colour."
    ]
    with pytest.raises(ValidationError, match="must be a set of fields"):
        validate_targeting(["DE"])


def test_meta_export_follows_the_targeting_spec():
    """Meta's targeting spec, as documented in
    https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting
    (age_min/age_max, genders 1 = men and 2 = women, geo_locations with countries, regions and
    cities with radius and distance_unit, custom_audiences, excluded_custom_audiences,
    flexible_spec, exclusions) and
    https://developers.facebook.com/docs/marketing-api/audiences/reference/placement-targeting
    (publisher_platforms, facebook_positions, instagram_positions, device_platforms)."""
    buyers, churned = str(uuid.uuid4()), str(uuid.uuid4())
    spec = to_meta_targeting_spec(
        {
            "age_min": 25,
            "age_max": 45,
            "genders": ["female"],
            "locations": [
                DE,
                {"type": "region", "country": "AT", "name": "Tyrol", "key": "3847"},
                {"type": "city", "country": "AT", "name": "Vienna", "key": "2469", "radius_km": 20},
            ],
            "languages": ["de"],
            "interests": [{"id": "6003139266461", "name": "Coffee"}],
            "behaviours": [{"id": "6002714895372", "name": "Frequent travellers"}],
            "custom_audiences": [buyers],
            "exclusions": {"audiences": [churned], "interests": [{"id": "1", "name": "Tea"}]},
            "placements": {"facebook": ["feed", "story"], "instagram": []},
            "devices": ["mobile"],
        },
        custom_audience_ids={buyers: "23851234"},
    )
    assert spec == {
        "age_min": 25,
        "age_max": 45,
        "genders": [2],
        "geo_locations": {
            "countries": ["DE"],
            "regions": [{"key": "3847", "name": "Tyrol", "country": "AT"}],
            "cities": [
                {
                    "key": "2469",
                    "name": "Vienna",
                    "country": "AT",
                    "radius": 20,
                    "distance_unit": "kilometer",
                }
            ],
        },
        "device_platforms": ["mobile"],
        "flexible_spec": [
            {
                "interests": [{"id": "6003139266461", "name": "Coffee"}],
                "behaviors": [{"id": "6002714895372", "name": "Frequent travellers"}],
            }
        ],
        "exclusions": {"interests": [{"id": "1", "name": "Tea"}]},
        "custom_audiences": [{"id": "23851234"}],
        "excluded_custom_audiences": [{"id": churned}],
        "publisher_platforms": ["facebook", "instagram"],
        "facebook_positions": ["feed", "story"],
    }


def test_meta_export_of_an_invalid_document_is_refused():
    with pytest.raises(ValidationError):
        to_meta_targeting_spec({"age_min": 50, "age_max": 20, "locations": [DE]})


# Property-based: the schema and the export agree for any document.

countries = st.sampled_from(["DE", "AT", "FR", "US", "GB", "ES", "it", "nl"])
id_names = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.from_regex(r"\A[0-9]{1,12}\Z"),
            "name": st.text(min_size=1, max_size=20).filter(str.strip),
        }
    ),
    max_size=3,
)
locations = st.one_of(
    st.fixed_dictionaries({"type": st.just("country"), "country": countries}),
    st.fixed_dictionaries(
        {
            "type": st.just("region"),
            "country": countries,
            "name": st.sampled_from(["North", "South"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("city"),
            "country": countries,
            "name": st.sampled_from(["Capital", "Port"]),
        },
        optional={"radius_km": st.integers(1, 80)},
    ),
)
documents = st.fixed_dictionaries(
    {"locations": st.lists(locations, min_size=1, max_size=5)},
    optional={
        "age_min": st.integers(13, 65),
        "age_max": st.integers(13, 65),
        "genders": st.sampled_from([["all"], ["male"], ["female"], ["male", "female"], []]),
        "languages": st.lists(st.sampled_from(["de", "en", "fr"]), max_size=3),
        "interests": id_names,
        "behaviours": id_names,
        "custom_audiences": st.lists(st.uuids().map(str), max_size=2),
        "placements": st.lists(
            st.sampled_from(sorted(PLACEMENTS)), unique=True, max_size=2
        ).flatmap(
            lambda platforms: st.fixed_dictionaries(
                {p: st.lists(st.sampled_from(PLACEMENTS[p]), max_size=2) for p in platforms}
            )
        ),
        "devices": st.lists(st.sampled_from(["mobile", "desktop"]), max_size=2),
    },
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(documents)
def test_any_accepted_document_exports_with_the_same_ages_and_countries(raw):
    try:
        doc = validate_targeting(raw)
    except ValidationError:
        return
    spec = to_meta_targeting_spec(doc)
    assert (spec["age_min"], spec["age_max"]) == (doc["age_min"], doc["age_max"])
    whole = [loc["country"] for loc in doc["locations"] if loc["type"] == "country"]
    assert spec["geo_locations"].get("countries", []) == whole
    assert validate_targeting(doc) == doc  # normalising twice changes nothing


@given(documents, st.integers(13, 65), st.integers(13, 65))
def test_minimum_above_maximum_is_always_refused(raw, low, high):
    if low == high:
        return
    doc = {**raw, "age_min": max(low, high), "age_max": min(low, high)}
    with pytest.raises(ValidationError) as caught:
        validate_targeting(doc)
    assert "age_min" in caught.value.message_dict


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
schema_keys = st.sampled_from(
    [
        "age_min",
        "age_max",
        "genders",
        "locations",
        "languages",
        "interests",
        "behaviours",
        "custom_audiences",
        "lookalike_audiences",
        "retargeting",
        "exclusions",
        "placements",
        "devices",
        "other",
    ]
)


@settings(max_examples=300)
@given(st.one_of(json_values, st.dictionaries(schema_keys, json_values, max_size=6)))
def test_any_input_validates_or_is_refused_in_words(raw):
    try:
        validate_targeting(raw)
    except ValidationError as exc:
        assert all(isinstance(m, str) and m for m in exc.messages)
