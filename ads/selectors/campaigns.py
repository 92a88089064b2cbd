"""Reads of the paid hierarchy: campaigns, ad sets, ads and audiences of the brands a user works
on as staff. Ads are the agency's working tools, so client users never read them here (they see
paid results through reports)."""

from django.db.models import Count, Prefetch, QuerySet

from ads.models import Ad, AdSet, Audience, Campaign
from agency.models import Brand, Role
from agency.permissions import brands_for_user
from calendar_app.models import PostTarget

__all__ = [
    "ad_for_user",
    "ad_set_for_user",
    "ads_brands_for_user",
    "audience_for_user",
    "audiences_for_brand",
    "campaign_for_user",
    "campaign_with_ad_sets",
    "campaigns_for_brand",
    "post_target_for_boost",
]


def ads_brands_for_user(*, user) -> QuerySet[Brand]:
    """The brands whose ads the user may read: those they are staff of, never as a client."""
    return brands_for_user(user=user).exclude(user_role=Role.CLIENT)


def _visible(queryset: QuerySet, lookup: str, user) -> QuerySet:
    return queryset.filter(**{f"{lookup}__in": ads_brands_for_user(user=user).values("pk")})


def campaigns_for_brand(*, brand: Brand) -> QuerySet[Campaign]:
    """The brand's campaigns with how many ad sets and ads each has: two aggregates, no N+1."""
    return (
        Campaign.objects.filter(brand=brand)
        .select_related("boosted_post")
        .annotate(
            ad_set_count=Count("ad_sets", distinct=True),
            ad_count=Count("ad_sets__ads", distinct=True),
        )
        .order_by("-start_date", "name")
    )


def campaign_for_user(*, user, campaign_id) -> Campaign:
    """Raises Campaign.DoesNotExist for a campaign the user may not read."""
    return _visible(Campaign.objects.select_related("brand__agency"), "brand", user).get(
        pk=campaign_id
    )


def campaign_with_ad_sets(*, campaign: Campaign) -> Campaign:
    """The campaign with its ad sets, their audiences, and their ads with media prefetched."""
    ad_sets = AdSet.objects.prefetch_related(
        "audiences",
        Prefetch(
            "ads", queryset=Ad.objects.prefetch_related("media").select_related("boosted_post")
        ),
    )
    return (
        Campaign.objects.select_related("brand__agency", "boosted_post")
        .prefetch_related(Prefetch("ad_sets", queryset=ad_sets))
        .get(pk=campaign.pk)
    )


def ad_set_for_user(*, user, ad_set_id) -> AdSet:
    return _visible(
        AdSet.objects.select_related("campaign__brand__agency").prefetch_related("audiences"),
        "campaign__brand",
        user,
    ).get(pk=ad_set_id)


def ad_for_user(*, user, ad_id) -> Ad:
    return _visible(
        Ad.objects.select_related("ad_set__campaign__brand__agency").prefetch_related("media"),
        "ad_set__campaign__brand",
        user,
    ).get(pk=ad_id)


def audiences_for_brand(*, brand: Brand) -> QuerySet[Audience]:
    return (
        Audience.objects.filter(brand=brand)
        .annotate(ad_set_count=Count("ad_sets"))
        .order_by("name")
    )


def audience_for_user(*, user, audience_id) -> Audience:
    return _visible(Audience.objects.select_related("brand__agency"), "brand", user).get(
        pk=audience_id
    )


def post_target_for_boost(*, user, target_id) -> PostTarget:
    return _visible(
        PostTarget.objects.select_related("post__brand__agency", "account"),
        "post__brand",
        user,
    ).get(pk=target_id)
