"""Writes of the paid hierarchy: campaigns, ad sets (with their targeting), ads, audiences, and
"boost this post".

Callers check access first (agency.permissions: Area.ADS); these functions validate, write and
leave an audit event. Every refusal is a ValidationError in words, keyed by field where there is
one. An ad set's `audiences` are the audiences its targeting document names, kept in step here,
so "which ad sets use this audience" is one query and a used audience cannot be deleted.
"""

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ads.models import Ad, AdPlatform, AdSet, Audience, BudgetKind, Campaign, Objective
from ads.targeting import validate_targeting
from agency.models import Brand, Platform
from agency.services import audit_log
from calendar_app.models import Media, Post, PostTarget, TargetState

__all__ = [
    "AD_FIELDS",
    "AD_SET_FIELDS",
    "AUDIENCE_FIELDS",
    "CAMPAIGN_FIELDS",
    "ad_create",
    "ad_set_create",
    "ad_set_update",
    "ad_update",
    "audience_create",
    "audience_delete",
    "audience_update",
    "boost_platform",
    "brand_default_country",
    "campaign_create",
    "campaign_update",
    "post_boost",
]

CAMPAIGN_FIELDS = [
    "name",
    "platform",
    "objective",
    "status",
    "start_date",
    "end_date",
    "budget_kind",
    "budget_amount",
    "currency",
    "external_id",
    "ad_account_id",
    "agency_fee",
    "other_costs",
    "revenue_override",
]
AD_SET_FIELDS = [
    "name",
    "status",
    "budget_kind",
    "budget_amount",
    "start_date",
    "end_date",
    "targeting",
    "external_id",
]
AD_FIELDS = ["name", "creative_text", "link", "call_to_action", "status", "external_id"]
AUDIENCE_FIELDS = ["name", "kind", "description", "spec", "external_id"]

# Which ads platform sells reach on a social network.
BOOST_PLATFORMS = {
    Platform.FACEBOOK: AdPlatform.META,
    Platform.INSTAGRAM: AdPlatform.META,
    Platform.LINKEDIN: AdPlatform.LINKEDIN,
    Platform.X: AdPlatform.X,
}
BOOST_DAYS_MAX = 90


def _d(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _check_dates(start: date | None, end: date | None, errors: dict[str, list[str]]) -> None:
    if start and end and end < start:
        errors.setdefault("end_date", []).append(
            f"The end date ({_d(end)}) is before the start date ({_d(start)})."
        )


def _check_currency(code: str, errors: dict[str, list[str]]) -> None:
    if not (isinstance(code, str) and len(code) == 3 and pycountry.currencies.get(alpha_3=code)):
        errors.setdefault("currency", []).append(
            f"{code or 'An empty code'} is not a currency code (ISO 4217, such as EUR or USD)."
        )


def _check_campaign(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    _check_dates(campaign.start_date, campaign.end_date, errors)
    amount = campaign.budget_amount
    if amount is None or Decimal(amount) <= 0:
        errors["budget_amount"] = ["The budget must be more than zero."]
    _check_currency(campaign.currency, errors)
    for name, choices, words in (
        ("platform", AdPlatform, "platform"),
        ("objective", Objective, "objective"),
        ("budget_kind", BudgetKind, "budget kind"),
        ("status", Campaign.Status, "status"),
    ):
        value = getattr(campaign, name)
        if value not in choices.values:
            errors[name] = [
                f"{value or 'Nothing'} is not a {words}: choose from "
                f"{', '.join(str(label) for label in choices.labels)}."
            ]
    _raise(errors)
    campaign.full_clean()


def _changes(instance, fields: list[str], data: Mapping[str, Any]) -> list[str]:
    changed = []
    for field in fields:
        if field in data and getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    return changed


def _check_or_restore(instance, changed: list[str], check) -> None:
    """Run the checks; on a refusal put the refused values back, so the caller's object is
    still what is stored."""
    try:
        check(instance)
    except ValidationError:
        instance.refresh_from_db(fields=changed)
        raise


@transaction.atomic
def campaign_create(
    *,
    brand: Brand,
    by,
    name: str,
    platform: str,
    objective: str,
    start_date: date,
    budget_kind: str,
    budget_amount: Decimal,
    currency: str = "EUR",
    boosted_post: Post | None = None,
    **fields: Any,
) -> Campaign:
    campaign = Campaign(
        brand=brand,
        name=name,
        platform=platform,
        objective=objective,
        start_date=start_date,
        budget_kind=budget_kind,
        budget_amount=budget_amount,
        currency=currency,
        boosted_post=boosted_post,
        **{k: v for k, v in fields.items() if k in CAMPAIGN_FIELDS},
    )
    _check_campaign(campaign)
    campaign.save()
    audit_log(
        actor=by,
        action="campaign.created",
        target=campaign,
        agency=brand.agency,
        brand=brand,
        data={"platform": platform, "budget": f"{campaign.budget_amount} {currency}"},
    )
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, by, data: Mapping[str, Any]) -> Campaign:
    changed = _changes(campaign, CAMPAIGN_FIELDS, data)
    if changed:
        _check_or_restore(campaign, changed, _check_campaign)
        campaign.save(update_fields=[*changed, "updated_at"])
        audit_log(
            actor=by,
            action="campaign.updated",
            target=campaign,
            agency=campaign.brand.agency,
            brand=campaign.brand,
            data={"fields": changed},
        )
    return campaign


def _brand_audiences(brand: Brand) -> dict[str, str]:
    return {
        str(pk): name for pk, name in Audience.objects.filter(brand=brand).values_list("pk", "name")
    }


def _brand_accounts(brand: Brand) -> dict[str, str]:
    return {str(pk): handle for pk, handle in brand.social_accounts.values_list("pk", "handle")}


def _targeting(brand: Brand, doc: Any, *, prefix: str = "targeting") -> dict[str, Any]:
    """The validated document, with errors keyed under `prefix` ("targeting.age_min")."""
    try:
        return validate_targeting(
            doc, audiences=_brand_audiences(brand), accounts=_brand_accounts(brand)
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise ValidationError({prefix: exc.messages}) from exc
        raise ValidationError(
            {
                prefix if key == "targeting" else f"{prefix}.{key}": [
                    message for error in errors for message in error.messages
                ]
                for key, errors in exc.error_dict.items()
            }
        ) from exc


def _referenced_audiences(doc: Mapping[str, Any]) -> set[str]:
    return {
        *doc["custom_audiences"],
        *(item["source_audience"] for item in doc["lookalike_audiences"]),
        *doc["exclusions"]["audiences"],
    }


def _check_ad_set(ad_set: AdSet) -> None:
    errors: dict[str, list[str]] = {}
    _check_dates(ad_set.start_date, ad_set.end_date, errors)
    if ad_set.budget_amount is not None:
        if ad_set.budget_amount <= 0:
            errors["budget_amount"] = ["The budget must be more than zero."]
        if not ad_set.budget_kind:
            errors["budget_kind"] = ["Say whether the ad set's budget is daily or lifetime."]
    elif ad_set.budget_kind:
        errors["budget_amount"] = ["Give the budget's amount, or leave its kind empty."]
    campaign = ad_set.campaign
    if ad_set.start_date and ad_set.start_date < campaign.start_date:
        errors.setdefault("start_date", []).append(
            f"The ad set cannot start ({_d(ad_set.start_date)}) before its campaign "
            f"({_d(campaign.start_date)})."
        )
    if ad_set.end_date and campaign.end_date and ad_set.end_date > campaign.end_date:
        errors.setdefault("end_date", []).append(
            f"The ad set cannot end ({_d(ad_set.end_date)}) after its campaign "
            f"({_d(campaign.end_date)})."
        )
    _raise(errors)
    ad_set.full_clean()


@transaction.atomic
def ad_set_create(
    *, campaign: Campaign, by, name: str, targeting: Mapping[str, Any], **fields: Any
) -> AdSet:
    brand = campaign.brand
    doc = _targeting(brand, targeting)
    ad_set = AdSet(
        campaign=campaign,
        name=name,
        targeting=doc,
        **{k: v for k, v in fields.items() if k in AD_SET_FIELDS and k != "targeting"},
    )
    _check_ad_set(ad_set)
    ad_set.save()
    ad_set.audiences.set(_referenced_audiences(doc))
    audit_log(
        actor=by,
        action="ad_set.created",
        target=ad_set,
        agency=brand.agency,
        brand=brand,
        data={"campaign": str(campaign.pk)},
    )
    return ad_set


@transaction.atomic
def ad_set_update(*, ad_set: AdSet, by, data: Mapping[str, Any]) -> AdSet:
    brand = ad_set.campaign.brand
    data = dict(data)
    if "targeting" in data:
        data["targeting"] = _targeting(brand, data["targeting"])
    changed = _changes(ad_set, AD_SET_FIELDS, data)
    if changed:
        _check_or_restore(ad_set, changed, _check_ad_set)
        ad_set.save(update_fields=[*changed, "updated_at"])
        if "targeting" in changed:
            ad_set.audiences.set(_referenced_audiences(ad_set.targeting))
        audit_log(
            actor=by,
            action="ad_set.updated",
            target=ad_set,
            agency=brand.agency,
            brand=brand,
            data={"fields": changed},
        )
    return ad_set


def _media_of_brand(brand: Brand, media: Iterable[Media]) -> list[Media]:
    media = list(media)
    foreign = [m for m in media if m.brand_id != brand.pk]
    if foreign:
        raise ValidationError(
            {"media": [f"“{m.name}” is in another brand's library." for m in foreign]}
        )
    return media


@transaction.atomic
def ad_create(
    *,
    ad_set: AdSet,
    by,
    name: str,
    media: Iterable[Media] = (),
    boosted_post: Post | None = None,
    **fields: Any,
) -> Ad:
    brand = ad_set.campaign.brand
    media = _media_of_brand(brand, media)
    ad = Ad(
        ad_set=ad_set,
        name=name,
        boosted_post=boosted_post,
        **{k: v for k, v in fields.items() if k in AD_FIELDS},
    )
    ad.full_clean()
    ad.save()
    ad.media.set(media)
    audit_log(
        actor=by,
        action="ad.created",
        target=ad,
        agency=brand.agency,
        brand=brand,
        data={"ad_set": str(ad_set.pk)},
    )
    return ad


@transaction.atomic
def ad_update(*, ad: Ad, by, data: Mapping[str, Any]) -> Ad:
    brand = ad.ad_set.campaign.brand
    changed = _changes(ad, AD_FIELDS, data)
    if changed:
        _check_or_restore(ad, changed, Ad.full_clean)
        ad.save(update_fields=[*changed, "updated_at"])
    if "media" in data:
        media = _media_of_brand(brand, data["media"])
        if {m.pk for m in media} != set(ad.media.values_list("pk", flat=True)):
            ad.media.set(media)
            changed.append("media")
    if changed:
        audit_log(
            actor=by,
            action="ad.updated",
            target=ad,
            agency=brand.agency,
            brand=brand,
            data={"fields": changed},
        )
    return ad


# Saved targeting and personas describe who to reach, so their spec is a targeting document;
# the other kinds describe where the audience comes from (a customer list, a pixel), free-form.
_SPEC_IS_TARGETING = {Audience.Kind.SAVED, Audience.Kind.PERSONA}


def _check_audience(audience: Audience) -> None:
    if audience.kind in _SPEC_IS_TARGETING and (
        audience.spec or audience.kind == Audience.Kind.SAVED
    ):
        audience.spec = _targeting(audience.brand, audience.spec, prefix="spec")
    elif not isinstance(audience.spec, dict):
        raise ValidationError({"spec": ["The source must be a set of fields (a JSON object)."]})
    # The name is unique per brand: say so in words rather than with the constraint's name.
    clash = Audience.objects.filter(brand=audience.brand, name=audience.name).exclude(
        pk=audience.pk
    )
    if clash.exists():
        raise ValidationError(
            {"name": [f"{audience.brand} already has an audience “{audience.name}”."]}
        )
    audience.full_clean()


@transaction.atomic
def audience_create(
    *,
    brand: Brand,
    by,
    name: str,
    kind: str,
    description: str = "",
    spec: Any = None,
    external_id: str = "",
) -> Audience:
    audience = Audience(
        brand=brand,
        name=name,
        kind=kind,
        description=description,
        spec={} if spec is None else spec,
        external_id=external_id,
    )
    _check_audience(audience)
    audience.save()
    audit_log(
        actor=by,
        action="audience.created",
        target=audience,
        agency=brand.agency,
        brand=brand,
        data={"kind": kind},
    )
    return audience


@transaction.atomic
def audience_update(*, audience: Audience, by, data: Mapping[str, Any]) -> Audience:
    changed = _changes(audience, AUDIENCE_FIELDS, data)
    if changed:
        _check_or_restore(audience, changed, _check_audience)
        audience.save(update_fields=[*changed, "updated_at"])
        audit_log(
            actor=by,
            action="audience.updated",
            target=audience,
            agency=audience.brand.agency,
            brand=audience.brand,
            data={"fields": changed},
        )
    return audience


@transaction.atomic
def audience_delete(*, audience: Audience, by) -> None:
    users = list(audience.ad_sets.order_by("name").values_list("name", flat=True)[:4])
    if users:
        shown = ", ".join(users[:3]) + (" and more" if len(users) > 3 else "")
        raise ValidationError(
            f"“{audience.name}” is used by the ad set(s) {shown}; take it out of their "
            "targeting first."
        )
    audit_log(
        actor=by,
        action="audience.deleted",
        target=audience,
        agency=audience.brand.agency,
        brand=audience.brand,
        data={"kind": audience.kind},
    )
    audience.delete()


@cache
def _zone_countries() -> dict[str, str]:
    """IANA time zone -> ISO country code, from the tz database's own zone.tab."""
    table = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    rows = (line.split("\t") for line in table.splitlines() if line and not line.startswith("#"))
    return {row[2]: row[0] for row in rows if len(row) >= 3}


def brand_default_country(brand: Brand) -> str | None:
    """Where a brand's boosts go unless told otherwise: the country of its time zone.

    A stand-in until brands have a country of their own; None for zones of no country (UTC).
    """
    return _zone_countries().get(brand.time_zone)


def boost_platform(platform: str) -> str | None:
    """The ads platform that boosts a post on `platform`, or None if it has no ads."""
    return BOOST_PLATFORMS.get(platform)


@transaction.atomic
def post_boost(
    *,
    post_target: PostTarget,
    by,
    budget_amount: Decimal,
    currency: str,
    days: int,
    targeting: Mapping[str, Any] | None = None,
) -> Campaign:
    """ "Boost this post": a draft campaign with one ad set and one ad that promote a published
    organic post, pre-filled from it. The budget is a lifetime budget over `days` from today
    (in the brand's time zone)."""
    post = post_target.post
    account = post_target.account
    brand = post.brand
    if post_target.state != TargetState.PUBLISHED:
        raise ValidationError(
            f"Only a published post can be boosted; on {account} this one is "
            f"{post_target.get_state_display().lower()}."
        )
    platform = boost_platform(account.platform)
    if platform is None:
        raise ValidationError(
            f"Posts on {account.get_platform_display()} cannot be boosted: it sells no ads."
        )
    errors: dict[str, list[str]] = {}
    if not isinstance(days, int) or not 1 <= days <= BOOST_DAYS_MAX:
        errors["days"] = [f"Boost for 1 to {BOOST_DAYS_MAX} days."]
    if targeting is None:
        country = brand_default_country(brand)
        if country is None:
            errors["targeting"] = [
                f"Say where to show the boost: {brand}'s time zone ({brand.time_zone}) names no "
                "country."
            ]
        else:
            targeting = {"locations": [{"type": "country", "country": country}]}
    _raise(errors)
    start = timezone.now().astimezone(brand.zone).date()
    name = f"Boost: {post}"[:200]
    campaign = campaign_create(
        brand=brand,
        by=by,
        name=name,
        platform=platform,
        objective=Objective.ENGAGEMENT,
        start_date=start,
        end_date=start + timedelta(days=days - 1),
        budget_kind=BudgetKind.LIFETIME,
        budget_amount=budget_amount,
        currency=currency,
        boosted_post=post,
    )
    ad_set = ad_set_create(
        campaign=campaign, by=by, name=f"{account} audience"[:200], targeting=targeting
    )
    media = list(post_target.media_override.all()) or list(post.media.all())
    ad_create(
        ad_set=ad_set,
        by=by,
        name=f"Boosted post on {account}"[:200],
        creative_text=post_target.effective_text,
        link=post.link,
        media=media,
        boosted_post=post,
    )
    audit_log(
        actor=by,
        action="post.boosted",
        target=campaign,
        agency=brand.agency,
        brand=brand,
        data={"post": str(post.pk), "target": str(post_target.pk), "days": days},
    )
    return campaign
