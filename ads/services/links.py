"""UTM-tagged links, the brands' UTM presets, and tracked short links served at /l/<code>.

    url = utm_build(destination="https://shop.example/?ref=1", source="instagram", medium="social")
    link = tracked_link_create(brand=brand, by=user, destination=url)       # random code
    link = tracked_link_create(brand=brand, by=user, destination=url, code="spring-sale")
    link_click_record(link=link)                                             # one click, today UTC

A destination is an absolute http(s) URL, checked here, and the redirect only ever uses the
stored destination, so a short link can never be turned into an open redirect. Clicks are
counted per link and UTC day with an UPDATE ... SET clicks = clicks + 1, so concurrent clicks
never overwrite each other. Nothing about the visitor is stored.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date
from urllib.parse import urlencode, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_slug
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ads.models import Campaign, LinkClickDaily, TrackedLink, UtmPreset
from agency.common import model_update
from agency.models import Brand
from agency.services import audit_log
from calendar_app.utm import link_with_utm

__all__ = [
    "CODE_BYTES",
    "UTM_FIELDS",
    "link_click_record",
    "new_link_code",
    "tracked_link_create",
    "utm_build",
    "utm_preset_create",
    "utm_preset_delete",
    "utm_preset_update",
    "validate_destination",
]

# secrets.token_urlsafe(6) is 8 characters of [A-Za-z0-9_-]: 2^48 codes, so a collision is rare
# and a retry with a fresh code settles it.
CODE_BYTES = 6
_CODE_ATTEMPTS = 5
_CUSTOM_CODE_MIN = 3
_CODE_MAX = 32
UTM_FIELDS = ("source", "medium", "campaign", "content", "term")
_http_url = URLValidator(schemes=["http", "https"])


def validate_destination(url: str, *, field: str = "destination") -> str:
    """The URL, stripped, if it is an absolute http(s) URL; javascript:, data:, relative and
    scheme-relative URLs are refused in words."""
    url = (url or "").strip()
    message = (
        "Give a full web address starting with https:// or http:// "
        "(for example https://shop.example.com/spring)."
    )
    if not url:
        raise ValidationError({field: ["Give the web address the link leads to."]})
    if len(url) > 2000:
        raise ValidationError({field: ["A web address has at most 2,000 characters."]})
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValidationError({field: [message]})
    try:
        _http_url(url)
    except ValidationError as exc:
        raise ValidationError({field: [message]}) from exc
    return url


def utm_build(
    *,
    destination: str,
    source: str = "",
    medium: str = "",
    campaign: str = "",
    content: str = "",
    term: str = "",
) -> str:
    """The destination with utm_* parameters added; parameters it already has are kept as they
    are (an explicit utm_source in the URL wins over the one given here)."""
    destination = validate_destination(destination)
    values = {
        "source": source,
        "medium": medium,
        "campaign": campaign,
        "content": content,
        "term": term,
    }
    values = {k: " ".join(str(v or "").split()) for k, v in values.items()}
    if not values["source"]:
        raise ValidationError({"source": ["Say where the traffic comes from (utm_source)."]})
    # link_with_utm fills {placeholders} in a brand template; braces here are literal text.
    template = urlencode(
        [(f"utm_{k}", v.replace("{", "{{").replace("}", "}}")) for k, v in values.items() if v]
    )
    built = link_with_utm(link=destination, template=template, platform="")
    if len(built) > 2000:
        raise ValidationError({"destination": ["With its parameters the link is too long."]})
    return built


# -- presets -------------------------------------------------------------------------------------


def _preset_fields(fields: dict) -> dict:
    return {k: " ".join(str(v or "").split()) for k, v in fields.items()}


def _check_preset_name(brand: Brand, name: str, exclude=None) -> None:
    taken = UtmPreset.objects.filter(brand=brand, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError({"name": [f"{brand.name} already has a preset called “{name}”."]})


@transaction.atomic
def utm_preset_create(
    *,
    brand: Brand,
    by,
    name: str,
    source: str = "",
    medium: str = "",
    campaign: str = "",
    content: str = "",
    term: str = "",
) -> UtmPreset:
    fields = _preset_fields(
        {
            "name": name,
            "source": source,
            "medium": medium,
            "campaign": campaign,
            "content": content,
            "term": term,
        }
    )
    if not any(fields[k] for k in UTM_FIELDS):
        raise ValidationError("A preset needs at least one UTM value.")
    _check_preset_name(brand, fields["name"])
    preset = UtmPreset(brand=brand, **fields)
    preset.full_clean()
    preset.save()
    audit_log(
        actor=by, action="utm_preset.created", target=preset, agency=brand.agency, brand=brand
    )
    return preset


@transaction.atomic
def utm_preset_update(*, preset: UtmPreset, by, data: dict) -> UtmPreset:
    fields = ["name", *UTM_FIELDS]
    data = _preset_fields({k: v for k, v in data.items() if k in fields})
    if "name" in data:
        _check_preset_name(preset.brand, data["name"], exclude=preset)
    if not any(data.get(k, getattr(preset, k)) for k in UTM_FIELDS):
        raise ValidationError("A preset needs at least one UTM value.")
    preset, changed = model_update(instance=preset, fields=fields, data=data)
    if changed:
        audit_log(
            actor=by,
            action="utm_preset.updated",
            target=preset,
            agency=preset.brand.agency,
            brand=preset.brand,
            data={"fields": changed},
        )
    return preset


@transaction.atomic
def utm_preset_delete(*, preset: UtmPreset, by) -> None:
    brand = preset.brand
    audit_log(
        actor=by, action="utm_preset.deleted", target=preset, agency=brand.agency, brand=brand
    )
    preset.delete()


# -- tracked links -------------------------------------------------------------------------------


def new_link_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def _clean_custom_code(code: str) -> str:
    code = code.strip()
    try:
        validate_slug(code)
    except ValidationError as exc:
        raise ValidationError(
            {"code": ["A custom code uses only letters, digits, hyphens and underscores."]}
        ) from exc
    if not _CUSTOM_CODE_MIN <= len(code) <= _CODE_MAX:
        raise ValidationError(
            {"code": [f"A custom code has {_CUSTOM_CODE_MIN} to {_CODE_MAX} characters."]}
        )
    if TrackedLink.objects.filter(code__iexact=code).exists():
        raise ValidationError({"code": [f"The code “{code}” is taken; choose another one."]})
    return code


@transaction.atomic
def tracked_link_create(
    *,
    brand: Brand,
    by,
    destination: str,
    name: str = "",
    code: str = "",
    campaign: Campaign | None = None,
) -> TrackedLink:
    """A short link of the brand. Without `code`, a random one (retried on a collision); a
    custom code that is taken is refused in words."""
    destination = validate_destination(destination)
    if campaign is not None and campaign.brand_id != brand.pk:
        raise ValidationError({"campaign": [f"This campaign is not one of {brand.name}'s."]})
    custom = bool(code and code.strip())
    if custom:
        code = _clean_custom_code(code)
    link = TrackedLink(
        brand=brand,
        destination=destination,
        name=" ".join(name.split()),
        campaign=campaign,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    for _attempt in range(1 if custom else _CODE_ATTEMPTS):
        link.code = code if custom else new_link_code()
        link.full_clean(exclude=["code"])
        try:
            # A savepoint: a duplicate code (a race, or a random collision) leaves the outer
            # transaction usable for the next try.
            with transaction.atomic():
                link.save(force_insert=True)
        except IntegrityError:
            if custom:
                raise ValidationError(
                    {"code": [f"The code “{code}” is taken; choose another one."]}
                ) from None
            continue
        break
    else:
        raise ValidationError("Could not find a free code; please try again.")
    audit_log(
        actor=by,
        action="tracked_link.created",
        target=link,
        agency=brand.agency,
        brand=brand,
        data={"code": link.code, "destination": destination},
    )
    return link


def link_click_record(*, link: TrackedLink, unique: bool = False, day: date | None = None) -> None:
    """Count one click of the link on `day` (today in UTC). The row is made under its unique
    (link, date) constraint and then incremented in the database, so two clicks at the same
    moment count two."""
    day = day or timezone.now().astimezone(UTC).date()
    with transaction.atomic():
        row, _created = LinkClickDaily.objects.get_or_create(link=link, date=day)
        LinkClickDaily.objects.filter(pk=row.pk).update(
            clicks=F("clicks") + 1,
            unique_visitors=F("unique_visitors") + (1 if unique else 0),
        )
