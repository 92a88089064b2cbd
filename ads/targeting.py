"""The targeting document of an ad set: one schema, validated on every write, and its export.

An ad set's `targeting` is a platform-neutral JSON document, in the terms a marketer uses in an
ads manager::

    {
      "age_min": 25, "age_max": 45,
      "genders": ["all"],                      # or ["male"], ["female"], ["male", "female"]
      "locations": [                           # at least one
        {"type": "country", "country": "DE"},
        {"type": "city", "country": "AT", "name": "Vienna", "key": "2469", "radius_km": 20}
      ],
      "languages": ["de", "en"],               # ISO 639-1
      "interests": [{"id": "6003139266461", "name": "Coffee"}],
      "behaviours": [{"id": "6002714895372", "name": "Frequent travellers"}],
      "custom_audiences": ["<audience uuid>"],
      "lookalike_audiences": [{"source_audience": "<uuid>", "country": "DE", "percent": 1}],
      "retargeting": {"kind": "engagers", "days": 30, "accounts": ["<social account uuid>"]},
      "exclusions": {"audiences": ["<uuid>"], "interests": [{"id": "...", "name": "..."}]},
      "placements": {"facebook": ["feed", "story"], "instagram": []},  # [] = every position
      "devices": ["mobile", "desktop"]
    }

The structure, types and ranges are a JSON Schema checked with `jsonschema`; what a schema cannot
say (the minimum age above the maximum, an audience both included and excluded, a city inside a
country already targeted whole) is checked after it. Every refusal is a ValidationError whose keys
are field paths ("locations.1.radius_km") and whose messages are words a marketer can act on.

`validate_targeting` returns the document normalised (defaults filled in, codes in their usual
case, duplicates dropped), so what is stored is always complete and the same input always gives
the same document.
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator, FormatChecker

__all__ = [
    "DEVICES",
    "GENDERS",
    "PLACEMENTS",
    "SCHEMA",
    "to_meta_targeting_spec",
    "validate_targeting",
]

AGE_MIN, AGE_MAX = 13, 65
DEFAULT_AGE_MIN, DEFAULT_AGE_MAX = 18, 65
GENDERS = ["all", "male", "female"]
DEVICES = ["mobile", "desktop"]
LOCATION_TYPES = ["country", "region", "city"]
RETARGETING_KINDS = ["website_visitors", "engagers"]

# Positions per publisher platform, in each platform's own words. Meta's come from its placement
# targeting reference; LinkedIn's and X's from their campaign managers.
PLACEMENTS: dict[str, list[str]] = {
    "facebook": [
        "feed",
        "right_hand_column",
        "marketplace",
        "video_feeds",
        "story",
        "search",
        "instream_video",
        "facebook_reels",
    ],
    "instagram": [
        "stream",
        "story",
        "explore",
        "explore_home",
        "reels",
        "profile_feed",
        "ig_search",
    ],
    "messenger": ["messenger_home", "story", "sponsored_messages"],
    "audience_network": ["classic", "rewarded_video"],
    "linkedin": ["feed", "messaging", "audience_network"],
    "x": ["home_timeline", "profiles", "search_results", "replies"],
}
META_PLATFORMS = ["facebook", "instagram", "messenger", "audience_network"]

_format_checker = FormatChecker(formats=())


@_format_checker.checks("country")
def _is_country(value: object) -> bool:
    return not isinstance(value, str) or (
        len(value) == 2 and pycountry.countries.get(alpha_2=value.upper()) is not None
    )


@_format_checker.checks("language")
def _is_language(value: object) -> bool:
    return not isinstance(value, str) or (
        len(value) == 2 and pycountry.languages.get(alpha_2=value.lower()) is not None
    )


@_format_checker.checks("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_id_name = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer"], "pattern": r"\S", "maxLength": 100},
        "name": {"type": "string", "pattern": r"\S", "maxLength": 200},
    },
    "required": ["id", "name"],
    "additionalProperties": False,
}
_ids = {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 100}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Ad set targeting",
    "type": "object",
    "properties": {
        "age_min": {"type": "integer", "minimum": AGE_MIN, "maximum": AGE_MAX},
        "age_max": {"type": "integer", "minimum": AGE_MIN, "maximum": AGE_MAX},
        "genders": {"type": "array", "items": {"enum": GENDERS}},
        "locations": {
            "type": "array",
            "minItems": 1,
            "maxItems": 200,
            "x-messages": {"minItems": "Add at least one location: a country, region or city."},
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": LOCATION_TYPES},
                    "country": {"type": "string", "format": "country"},
                    "name": {"type": "string", "maxLength": 200},
                    "key": {"type": ["string", "integer"], "maxLength": 100},
                    "radius_km": {"type": "integer", "minimum": 1, "maximum": 80},
                },
                "required": ["type", "country"],
                "additionalProperties": False,
            },
        },
        "languages": {
            "type": "array",
            "items": {"type": "string", "format": "language"},
            "maxItems": 50,
        },
        "interests": {"type": "array", "items": _id_name, "maxItems": 200},
        "behaviours": {"type": "array", "items": _id_name, "maxItems": 200},
        "custom_audiences": _ids,
        "lookalike_audiences": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "properties": {
                    "source_audience": {"type": "string", "format": "uuid"},
                    "country": {"type": "string", "format": "country"},
                    "percent": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                "required": ["source_audience", "country", "percent"],
                "additionalProperties": False,
            },
        },
        "retargeting": {
            "type": ["object", "null"],
            "properties": {
                "kind": {"enum": RETARGETING_KINDS},
                "days": {"type": "integer", "minimum": 1, "maximum": 180},
                "accounts": _ids,
            },
            "required": ["kind", "days"],
            "additionalProperties": False,
        },
        "exclusions": {
            "type": "object",
            "properties": {
                "audiences": _ids,
                "interests": {"type": "array", "items": _id_name, "maxItems": 200},
            },
            "additionalProperties": False,
        },
        "placements": {
            "type": "object",
            "properties": {
                platform: {"type": "array", "items": {"enum": positions}}
                for platform, positions in PLACEMENTS.items()
            },
            "additionalProperties": False,
        },
        "devices": {"type": "array", "items": {"enum": DEVICES}},
    },
    "required": ["locations"],
    "additionalProperties": False,
}
_validator = Draft202012Validator(SCHEMA, format_checker=_format_checker)

# Words for the error messages: a path such as ["locations", 1, "radius_km"] reads
# "Location 2, radius (km)".
_LABELS = {
    "age_min": "minimum age",
    "age_max": "maximum age",
    "genders": "genders",
    "locations": "locations",
    "languages": "languages",
    "interests": "interests",
    "behaviours": "behaviours",
    "custom_audiences": "audiences",
    "lookalike_audiences": "lookalike audiences",
    "retargeting": "retargeting",
    "exclusions": "exclusions",
    "placements": "placements",
    "devices": "devices",
    "type": "type",
    "country": "country",
    "name": "name",
    "key": "location key",
    "radius_km": "radius (km)",
    "id": "id",
    "source_audience": "source audience",
    "percent": "size (%)",
    "kind": "kind",
    "days": "days",
    "accounts": "accounts",
    "audiences": "excluded audiences",
    "facebook": "Facebook placements",
    "instagram": "Instagram placements",
    "messenger": "Messenger placements",
    "audience_network": "Audience Network placements",
    "linkedin": "LinkedIn placements",
    "x": "X placements",
}
_ITEM_LABELS = {
    "locations": "location",
    "languages": "language",
    "interests": "interest",
    "behaviours": "behaviour",
    "custom_audiences": "audience",
    "lookalike_audiences": "lookalike",
    "genders": "gender",
    "devices": "device",
    "accounts": "account",
    "audiences": "excluded audience",
    "facebook": "Facebook position",
    "instagram": "Instagram position",
    "messenger": "Messenger position",
    "audience_network": "Audience Network position",
    "linkedin": "LinkedIn position",
    "x": "X position",
}
_TYPE_WORDS = {
    "integer": "a whole number",
    "string": "text",
    "array": "a list",
    "object": "a set of fields",
    "null": "empty",
}
_FORMAT_WORDS = {
    "country": "is not a country code (ISO 3166, such as DE or US)",
    "language": "is not a language code (ISO 639-1, such as de or en)",
    "uuid": "is not the id of one of our records",
}


def _describe(path: Iterable[Any]) -> str:
    path = list(path)
    words: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            item = _ITEM_LABELS.get(path[i - 1], "item") if i else "item"
            if words:
                words[-1] = f"{item} {part + 1}"
            else:
                words.append(f"{item} {part + 1}")
        else:
            words.append(_LABELS.get(str(part), str(part).replace("_", " ")))
    text = ", ".join(words) or "the targeting"
    return text[0].upper() + text[1:]


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "targeting"


def _schema_error(error) -> tuple[str, str]:
    path = list(error.absolute_path)
    label = _describe(path)
    custom = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    if error.validator in custom:
        return _key(path), custom[error.validator]
    kind = error.validator
    if kind == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        name = missing[0] if missing else "?"
        return _key([*path, name]), f"{_describe([*path, name])} is required."
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = sorted(str(k) for k in error.instance if k not in known)
        return _key(path), f"{label} has no field called {', '.join(extra)}."
    if kind == "type":
        wanted = error.validator_value
        wanted = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        return _key(path), f"{label} must be {words}, not {_show(error.instance)}."
    if kind in ("minimum", "maximum"):
        low, high = error.schema.get("minimum"), error.schema.get("maximum")
        return _key(path), f"{label} must be between {low} and {high}, not {error.instance}."
    if kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return _key(path), f"{label} cannot be {_show(error.instance)}: choose from {choices}."
    if kind == "format":
        words = _FORMAT_WORDS.get(error.validator_value, "is not valid")
        return _key(path), f"{label}: {_show(error.instance)} {words}."
    if kind in ("minLength", "pattern"):
        return _key(path), f"{label} cannot be blank."
    if kind == "maxLength":
        return _key(path), f"{label} can be at most {error.validator_value} characters long."
    if kind == "minItems":
        return _key(path), f"{label} needs at least {error.validator_value} entry."
    if kind == "maxItems":
        return _key(path), f"{label} can have at most {error.validator_value} entries."
    return _key(path), f"{label}: {error.message}"


def _unique(items: Iterable[Any], key=lambda item: item) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def _id_names(items: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return _unique(
        ({"id": str(i["id"]).strip(), "name": i["name"].strip()} for i in items),
        key=lambda i: i["id"],
    )


def _normalise(doc: Mapping[str, Any]) -> dict[str, Any]:
    genders = set(doc.get("genders") or ["all"])
    if "all" in genders or genders >= {"male", "female"}:
        genders = {"all"}
    locations = []
    for loc in doc["locations"]:
        row: dict[str, Any] = {"type": loc["type"], "country": loc["country"].upper()}
        if (loc.get("name") or "").strip():
            row["name"] = loc["name"].strip()
        if str(loc.get("key", "")).strip():
            row["key"] = str(loc["key"]).strip()
        if loc["type"] == "city" and loc.get("radius_km") is not None:
            row["radius_km"] = int(loc["radius_km"])
        locations.append(row)
    retargeting = doc.get("retargeting")
    if retargeting:
        retargeting = {
            "kind": retargeting["kind"],
            "days": int(retargeting["days"]),
            "accounts": _unique(str(a).lower() for a in retargeting.get("accounts") or []),
        }
    exclusions = doc.get("exclusions") or {}
    devices = set(doc.get("devices") or DEVICES)
    placements = doc.get("placements") or {}
    return {
        "age_min": int(doc.get("age_min", DEFAULT_AGE_MIN)),
        "age_max": int(doc.get("age_max", DEFAULT_AGE_MAX)),
        "genders": [g for g in GENDERS if g in genders],
        "locations": _unique(locations, key=lambda r: json.dumps(r, sort_keys=True)),
        "languages": _unique(code.lower() for code in doc.get("languages") or []),
        "interests": _id_names(doc.get("interests") or []),
        "behaviours": _id_names(doc.get("behaviours") or []),
        "custom_audiences": _unique(str(a).lower() for a in doc.get("custom_audiences") or []),
        "lookalike_audiences": _unique(
            (
                {
                    "source_audience": str(item["source_audience"]).lower(),
                    "country": item["country"].upper(),
                    "percent": int(item["percent"]),
                }
                for item in doc.get("lookalike_audiences") or []
            ),
            key=lambda i: (i["source_audience"], i["country"], i["percent"]),
        ),
        "retargeting": retargeting or None,
        "exclusions": {
            "audiences": _unique(str(a).lower() for a in exclusions.get("audiences") or []),
            "interests": _id_names(exclusions.get("interests") or []),
        },
        "placements": {
            platform: [p for p in positions if p in placements[platform]]
            for platform, positions in PLACEMENTS.items()
            if platform in placements
        },
        "devices": [d for d in DEVICES if d in devices],
    }


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", None) or getattr(country, "name", code)


def _combination_errors(
    doc: dict[str, Any],
    raw_genders: list[str],
    audiences: Mapping[str, str] | None,
    accounts: Mapping[str, str] | None,
) -> dict[str, list[str]]:
    """What the schema cannot say: rules across fields, and ids the caller knows about."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if doc["age_min"] > doc["age_max"]:
        add(
            "age_min",
            f"The minimum age ({doc['age_min']}) is above the maximum ({doc['age_max']}).",
        )
    if "all" in raw_genders and len(set(raw_genders)) > 1:
        add("genders", "Choose either all genders or men and/or women, not both.")

    whole_countries = {loc["country"] for loc in doc["locations"] if loc["type"] == "country"}
    for i, loc in enumerate(doc["locations"]):
        label = f"Location {i + 1}"
        if loc["type"] != "city" and loc.get("radius_km") is not None:
            add(f"locations.{i}.radius_km", f"{label}: only a city can have a radius.")
        if loc["type"] != "country" and not (loc.get("name") or "").strip():
            add(f"locations.{i}.name", f"{label}: a {loc['type']} needs its name.")
        elif loc["type"] != "country" and loc["country"].upper() in whole_countries:
            add(
                f"locations.{i}",
                f"{label} ({loc['name'].strip()}) lies in "
                f"{_country_name(loc['country'].upper())}, which is already targeted as a whole.",
            )

    names = {str(k).lower(): v for k, v in (audiences or {}).items()}
    for audience_id in doc["custom_audiences"]:
        if audience_id in doc["exclusions"]["audiences"]:
            name = f"“{names[audience_id]}”" if audience_id in names else audience_id
            add("exclusions.audiences", f"The audience {name} is both included and excluded.")
    excluded_interests = {i["id"]: i["name"] for i in doc["exclusions"]["interests"]}
    for interest in doc["interests"]:
        if interest["id"] in excluded_interests:
            add(
                "exclusions.interests",
                f"The interest “{interest['name']}” is both targeted and excluded.",
            )

    if audiences is not None:
        known = {str(k).lower() for k in audiences}
        for i, audience_id in enumerate(doc["custom_audiences"]):
            if audience_id not in known:
                add(f"custom_audiences.{i}", f"Audience {audience_id} is not one of this brand's.")
        for i, item in enumerate(doc["lookalike_audiences"]):
            if item["source_audience"] not in known:
                add(
                    f"lookalike_audiences.{i}.source_audience",
                    f"Lookalike {i + 1}: its source audience ({item['source_audience']}) is not "
                    "one of this brand's.",
                )
        for i, audience_id in enumerate(doc["exclusions"]["audiences"]):
            if audience_id not in known:
                add(
                    f"exclusions.audiences.{i}",
                    f"Excluded audience {audience_id} is not one of this brand's.",
                )

    retargeting = doc["retargeting"]
    if retargeting:
        if retargeting["kind"] == "engagers" and not retargeting["accounts"]:
            add(
                "retargeting.accounts",
                "Say whose engagers to retarget: choose at least one account.",
            )
        if retargeting["kind"] == "website_visitors" and retargeting["accounts"]:
            add(
                "retargeting.accounts",
                "Website visitors come from the website's pixel: leave the accounts empty.",
            )
        if accounts is not None:
            known_accounts = {str(k).lower() for k in accounts}
            for i, account_id in enumerate(retargeting["accounts"]):
                if account_id not in known_accounts:
                    add(
                        f"retargeting.accounts.{i}",
                        f"Account {account_id} is not one of this brand's.",
                    )

    if "instagram" in doc["placements"] and doc["devices"] == ["desktop"]:
        add(
            "placements.instagram",
            "Instagram shows ads on mobile only: add mobile devices or drop Instagram.",
        )
    return errors


def _storable(text: str) -> bool:
    # PostgreSQL's jsonb holds neither NUL nor an unpaired surrogate (which UTF-8 cannot encode).
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unstorable_paths(doc: Any) -> list[tuple[Any, ...]]:
    """Paths of the strings (or of the objects whose keys) the database cannot store. Walked
    with a stack, not recursion: a parsed body may be nested as deep as the parser allowed."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not _storable(value):
                found.append(path)
        elif isinstance(value, Mapping):
            if not all(_storable(str(key)) for key in value):
                found.append(path)
            stack.extend(((*path, key), item) for key, item in value.items() if _storable(key))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return sorted(found, key=lambda path: [str(part) for part in path])


def validate_targeting(
    doc: Any,
    *,
    audiences: Mapping[str, str] | None = None,
    accounts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The document, normalised, or a ValidationError keyed by field path.

    `audiences` (id -> name) and `accounts` (id -> name), when given, are the brand's: ids the
    document names must be among them.
    """
    if not isinstance(doc, Mapping):
        raise ValidationError(
            "The targeting must be a set of fields (a JSON object), with at least its locations."
        )
    errors: dict[str, list[str]] = {}
    for path in _unstorable_paths(doc):
        errors.setdefault(_key(path), []).append(
            f"{_describe(path)} contains a character that cannot be saved (a NUL character or "
            "an unpaired surrogate); remove it."
        )
    for error in _validator.iter_errors(doc):
        key, message = _schema_error(error)
        if message not in errors.get(key, []):
            errors.setdefault(key, []).append(message)
    if errors:
        # Said even alongside other mistakes, so the form shows every problem at once.
        low, high = doc.get("age_min"), doc.get("age_max", DEFAULT_AGE_MAX)
        if type(low) is int and type(high) is int and low > high and "age_min" not in errors:
            errors["age_min"] = [f"The minimum age ({low}) is above the maximum ({high})."]
        raise ValidationError(errors)
    normalised = _normalise(doc)
    # The raw doc is needed for the checks normalising would hide (radius on a region,
    # "all" with "male"); both are schema-valid here.
    raw = {
        **normalised,
        "locations": [{**loc, "country": loc["country"].upper()} for loc in doc["locations"]],
    }
    errors = _combination_errors(raw, list(doc.get("genders") or []), audiences, accounts)
    if errors:
        raise ValidationError(errors)
    return normalised


def to_meta_targeting_spec(
    doc: Mapping[str, Any], *, custom_audience_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The document as Meta's Marketing API targeting spec (an ad set's `targeting`).

    `custom_audience_ids` maps our audience ids to Meta's (Audience.external_id); an audience
    without one keeps our id, so the export shows what is missing. Not exported, because Meta
    has no field for them in the spec itself: languages (Meta's `locales` are its own numeric
    ids, found with Targeting Search), lookalike and retargeting audiences (on Meta those are
    custom audiences created first; their ids then arrive through `custom_audiences`).
    Regions and cities carry Meta's location `key` when the document has it.
    """
    doc = validate_targeting(doc)
    ids = {str(k).lower(): str(v) for k, v in (custom_audience_ids or {}).items() if v}

    def audience_refs(values: list[str]) -> list[dict[str, str]]:
        return [{"id": ids.get(value, value)} for value in values]

    geo: dict[str, Any] = {}
    countries = [loc["country"] for loc in doc["locations"] if loc["type"] == "country"]
    if countries:
        geo["countries"] = countries
    regions = [
        {k: loc[k] for k in ("key", "name", "country") if k in loc}
        for loc in doc["locations"]
        if loc["type"] == "region"
    ]
    if regions:
        geo["regions"] = regions
    cities = []
    for loc in doc["locations"]:
        if loc["type"] != "city":
            continue
        city = {k: loc[k] for k in ("key", "name", "country") if k in loc}
        if "radius_km" in loc:
            city.update(radius=loc["radius_km"], distance_unit="kilometer")
        cities.append(city)
    if cities:
        geo["cities"] = cities

    genders = {"all": [1, 2], "male": [1], "female": [2]}
    spec: dict[str, Any] = {
        "age_min": doc["age_min"],
        "age_max": doc["age_max"],
        "genders": sorted({g for name in doc["genders"] for g in genders[name]}),
        "geo_locations": geo,
        "device_platforms": doc["devices"],
    }
    flexible = {}
    if doc["interests"]:
        flexible["interests"] = doc["interests"]
    if doc["behaviours"]:
        flexible["behaviors"] = doc["behaviours"]
    if flexible:
        spec["flexible_spec"] = [flexible]
    if doc["exclusions"]["interests"]:
        spec["exclusions"] = {"interests": doc["exclusions"]["interests"]}
    if doc["custom_audiences"]:
        spec["custom_audiences"] = audience_refs(doc["custom_audiences"])
    if doc["exclusions"]["audiences"]:
        spec["excluded_custom_audiences"] = audience_refs(doc["exclusions"]["audiences"])
    meta_placements = {p: v for p, v in doc["placements"].items() if p in META_PLATFORMS}
    if meta_placements:
        spec["publisher_platforms"] = list(meta_placements)
        for platform, positions in meta_placements.items():
            if positions:
                spec[f"{platform}_positions"] = positions
    return spec
