"""Thin Celery tasks of the marketer's side (see each function)."""


# -- insights and pacing (ads.services.insights) ------------------------------------------------

import datetime as _dt
import logging as _logging
import random as _random

from celery import shared_task

_log = _logging.getLogger(__name__)
# The task owns retries. No countdown goes past a few minutes (Redis would redeliver a far-future
# ETA past its visibility timeout); a platform that wants longer gets the next daily sweep.
INSIGHTS_MAX_RETRIES = 5
INSIGHTS_MAX_COUNTDOWN = 300.0


def _insights_backoff(retries: int, retry_after: float | None = None) -> float:
    if retry_after:
        return min(float(retry_after), INSIGHTS_MAX_COUNTDOWN)
    return min(30.0 * 2**retries, INSIGHTS_MAX_COUNTDOWN) * _random.uniform(0.8, 1.2)  # noqa: S311


@shared_task(bind=True, ignore_result=True, acks_late=True, soft_time_limit=300, time_limit=360)
def sync_campaign_insights(self, campaign_id: str, since: str = "", until: str = "") -> int:
    """Idempotent: a sync replaces its days, so a redelivery rewrites the same rows."""
    from django.conf import settings
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from ads.models import Campaign
    from ads.services.insights import TOKEN_ACCOUNT_PLATFORM, campaign_sync_insights
    from agency.models import SocialAccount
    from agency.platforms.errors import AuthExpired, RateLimited, Rejected, TransientError
    from agency.services import social_account_mark_needs_reauth

    campaign = Campaign.objects.select_related("brand__agency").filter(pk=campaign_id).first()
    if campaign is None:
        return 0
    today = timezone.now().astimezone(campaign.brand.zone).date()
    until_day = _dt.date.fromisoformat(until) if until else today
    since_day = (
        _dt.date.fromisoformat(since)
        if since
        else max(
            campaign.start_date, until_day - _dt.timedelta(days=settings.ADS_INSIGHTS_LOOKBACK_DAYS)
        )
    )
    try:
        return campaign_sync_insights(campaign=campaign, since=since_day, until=until_day).rows
    except RateLimited as exc:
        if self.request.retries >= INSIGHTS_MAX_RETRIES:
            _log.warning(
                "insights of campaign %s still throttled; the next sweep retries", campaign_id
            )
            return 0
        raise self.retry(
            countdown=_insights_backoff(self.request.retries, exc.retry_after),
            max_retries=INSIGHTS_MAX_RETRIES,
        ) from None
    except TransientError:
        if self.request.retries >= INSIGHTS_MAX_RETRIES:
            _log.warning(
                "insights of campaign %s failed %s times", campaign_id, self.request.retries
            )
            return 0
        raise self.retry(
            countdown=_insights_backoff(self.request.retries), max_retries=INSIGHTS_MAX_RETRIES
        ) from None
    except AuthExpired as exc:
        account = SocialAccount.objects.filter(
            brand_id=campaign.brand_id,
            platform=TOKEN_ACCOUNT_PLATFORM.get(campaign.platform),
            status=SocialAccount.Status.CONNECTED,
        ).first()
        if account:
            social_account_mark_needs_reauth(account=account, reason=str(exc))
        return 0
    except (Rejected, ValidationError) as exc:
        _log.warning("insights of campaign %s not synced: %s", campaign_id, exc)
        return 0


@shared_task(ignore_result=True, acks_late=True)
def sync_all_insights() -> int:
    """Daily sweep: one sync task per active campaign linked to Meta or LinkedIn."""
    from django.utils import timezone

    from ads.selectors.insights import campaigns_to_sync

    ids = [
        str(pk)
        for pk in campaigns_to_sync(today=timezone.now().date()).values_list("pk", flat=True)
    ]
    for campaign_id in ids:
        sync_campaign_insights.delay(campaign_id)
    return len(ids)


@shared_task(ignore_result=True, acks_late=True)
def check_pacing() -> int:
    """Idempotent: each alert is claimed once per campaign and day with a conditional UPDATE."""
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from ads.selectors.insights import campaigns_to_check_pacing
    from ads.services.insights import campaign_pacing_alert

    now = timezone.now()
    sent = 0
    for campaign in campaigns_to_check_pacing(today=now.date()):
        try:
            sent += len(campaign_pacing_alert(campaign=campaign, now=now))
        except ValidationError as exc:  # a missing currency rate: nothing to compare yet
            _log.warning("pacing of campaign %s not checked: %s", campaign.pk, exc)
    return sent
