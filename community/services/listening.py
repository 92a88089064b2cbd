"""Listening: rules, matching posts into mentions, spike alerts, and mentions into the inbox.

Pollers of the platforms hand what they found to `mentions_from_items`; every active rule of the
brand is matched against each item and a match is stored once per (rule, platform, external id),
so the same post polled twice is one mention. Mentions are inbound data: like inbox messages they
are not audited one by one; rule changes, spikes and conversations made from mentions are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agency.models import Brand, SocialAccount
from agency.services import audit_log, brand_managers, notify
from community.models import (
    Conversation,
    ListeningRule,
    Mention,
    Message,
    Sentiment,
    SpikeAlert,
)

__all__ = [
    "listen_for_brand",
    "listening_rule_create",
    "listening_rule_delete",
    "listening_rule_update",
    "mention_record",
    "mention_to_conversation",
    "mentions_from_items",
    "rule_matches",
    "sentiment_of",
    "spikes_detect",
    "spikes_detect_all",
    "term_in_text",
]

MAX_TERMS = 50
MAX_TERM_CHARS = 100
SPIKE_TRAILING_DAYS = 7


# -- matching ------------------------------------------------------------------------------------


@cache
def _term_pattern(term: str) -> re.Pattern[str]:
    """A whole-word (or whole-phrase) pattern: "cafe" is not in "cafeteria"; a hashtag term
    only matches that exact #tag token, so "#coffee" is in "#Coffee," but not "#coffeeshop"."""
    words = term.split()
    body = r"\s+".join(re.escape(word) for word in words)
    if term.startswith("#"):
        return re.compile(rf"(?<![\w#]){body}(?![\w])", re.IGNORECASE)
    return re.compile(rf"(?<![\w]){body}(?![\w])", re.IGNORECASE)


def term_in_text(term: str, text: str) -> bool:
    term = term.strip()
    if not term or not text:
        return False
    return _term_pattern(term.casefold()).search(text.casefold()) is not None


def _normalise_terms(terms: Iterable[str], *, hashtags: bool = False) -> list[str]:
    seen: dict[str, str] = {}
    for raw in terms:
        term = " ".join(str(raw).split())
        if not term:
            continue
        if hashtags and not term.startswith("#"):
            term = f"#{term}"
        seen.setdefault(term.casefold(), term)
    return list(seen.values())


def rule_matches(rule: ListeningRule, text: str) -> bool:
    """Whether any term of the rule is in the text and no excluded term is."""
    hashtags = rule.kind == ListeningRule.Kind.HASHTAG
    terms = _normalise_terms(rule.terms, hashtags=hashtags)
    if not any(term_in_text(term, text) for term in terms):
        return False
    return not any(term_in_text(term, text) for term in _normalise_terms(rule.excluded_terms))


@cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_of(text: str) -> str:
    """VADER's compound score with its authors' thresholds (+-0.05)."""
    if not text.strip():
        return Sentiment.NEUTRAL
    compound = _analyzer().polarity_scores(text)["compound"]
    if compound >= 0.05:
        return Sentiment.POSITIVE
    if compound <= -0.05:
        return Sentiment.NEGATIVE
    return Sentiment.NEUTRAL


# -- rules ---------------------------------------------------------------------------------------

RULE_FIELDS = [
    "name",
    "kind",
    "terms",
    "excluded_terms",
    "spike_ratio",
    "spike_min_volume",
    "active",
]


def _clean_rule_data(data: dict[str, Any], *, kind: str) -> dict[str, Any]:
    data = dict(data)
    if "name" in data:
        data["name"] = " ".join(str(data["name"]).split())
    hashtags = kind == ListeningRule.Kind.HASHTAG
    if "terms" in data:
        data["terms"] = _normalise_terms(data["terms"], hashtags=hashtags)
    if "excluded_terms" in data:
        data["excluded_terms"] = _normalise_terms(data["excluded_terms"])
    return data


def _validate_rule(rule: ListeningRule) -> None:
    errors: dict[str, list[str]] = {}
    if not rule.terms:
        errors["terms"] = ["Give at least one term to listen for."]
    elif len(rule.terms) > MAX_TERMS:
        errors["terms"] = [f"A rule has at most {MAX_TERMS} terms; split it into two rules."]
    elif any(len(term) > MAX_TERM_CHARS for term in rule.terms):
        errors["terms"] = [f"Each term has at most {MAX_TERM_CHARS} characters."]
    if rule.spike_ratio is not None and rule.spike_ratio < 1:
        errors["spike_ratio"] = ["The spike ratio is at least 1 (a day as busy as usual)."]
    if (
        rule.name
        and ListeningRule.objects.filter(brand=rule.brand, name__iexact=rule.name)
        .exclude(pk=rule.pk)
        .exists()
    ):
        errors["name"] = [f"{rule.brand.name} already has a listening rule named “{rule.name}”."]
    if errors:
        raise ValidationError(errors)
    rule.full_clean()


@transaction.atomic
def listening_rule_create(*, brand: Brand, by, **fields: Any) -> ListeningRule:
    data = _clean_rule_data(
        {k: v for k, v in fields.items() if k in RULE_FIELDS}, kind=fields.get("kind", "")
    )
    rule = ListeningRule(brand=brand, **data)
    _validate_rule(rule)
    rule.save()
    audit_log(
        actor=by,
        action="listening_rule.created",
        target=rule,
        agency=brand.agency,
        brand=brand,
        data={"kind": rule.kind, "terms": rule.terms},
    )
    return rule


@transaction.atomic
def listening_rule_update(*, rule: ListeningRule, by, data: dict[str, Any]) -> ListeningRule:
    data = {k: v for k, v in data.items() if k in RULE_FIELDS}
    if "kind" in data and "terms" not in data:
        data["terms"] = rule.terms  # a rule that becomes a hashtag rule gets its # prefixes
    data = _clean_rule_data(data, kind=data.get("kind", rule.kind))
    before = {field: getattr(rule, field) for field in RULE_FIELDS}
    for field, value in data.items():
        setattr(rule, field, value)
    _validate_rule(rule)
    changed = [field for field in data if before[field] != data[field]]
    if changed:
        rule.save(update_fields=[*changed, "updated_at"])
        audit_log(
            actor=by,
            action="listening_rule.updated",
            target=rule,
            agency=rule.brand.agency,
            brand=rule.brand,
            data={"fields": changed},
        )
    return rule


@transaction.atomic
def listening_rule_delete(*, rule: ListeningRule, by) -> None:
    audit_log(
        actor=by,
        action="listening_rule.deleted",
        target=rule,
        agency=rule.brand.agency,
        brand=rule.brand,
        data={"mentions": rule.mentions.count()},
    )
    rule.delete()


# -- mentions ------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return {"repr": repr(value)[:2000]}


@transaction.atomic
def mention_record(
    *,
    rule: ListeningRule,
    platform: str,
    external_id: str,
    author_handle: str,
    text: str,
    url: str,
    posted_at: datetime,
    raw: dict | None = None,
    found_via: SocialAccount | None = None,
) -> tuple[Mention, bool]:
    """Store a post that matched `rule` (callers match with `rule_matches`); the same post
    recorded again returns the stored mention and False."""
    if not external_id:
        raise ValidationError({"external_id": ["A mention needs the platform's id of the post."]})
    if timezone.is_naive(posted_at):
        posted_at = timezone.make_aware(posted_at, timezone.UTC)
    return Mention.objects.get_or_create(
        rule=rule,
        platform=platform,
        external_id=str(external_id)[:300],
        defaults={
            "brand_id": rule.brand_id,
            "found_via": found_via,
            "author_handle": (author_handle or "")[:200],
            "text": text or "",
            "url": (url or "")[:1000] if (url or "").startswith(("http://", "https://")) else "",
            "posted_at": posted_at,
            "sentiment": sentiment_of(text or ""),
            "raw": _json_safe(raw or {}),
        },
    )


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, timezone.UTC)
    if isinstance(value, str):
        parsed = parse_datetime(value.replace("Z", "+00:00"))
        if parsed is not None:
            return (
                parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, timezone.UTC)
            )
    return timezone.now()


def listen_for_brand(
    *,
    brand: Brand,
    candidates: Iterable[Mapping[str, Any]],
    found_via: SocialAccount | None = None,
) -> list[Mention]:
    """Match candidate posts against the brand's active rules and record each match.

    A candidate has platform, external_id, author_handle, text, url, posted_at and raw. Returns
    the mentions that are new (one candidate may match several rules).
    """
    rules = list(ListeningRule.objects.filter(brand=brand, active=True).select_related("brand"))
    created: list[Mention] = []
    if not rules:
        return created
    for candidate in candidates:
        text = candidate.get("text") or ""
        for rule in rules:
            if not rule_matches(rule, text):
                continue
            mention, is_new = mention_record(
                rule=rule,
                platform=candidate["platform"],
                external_id=candidate["external_id"],
                author_handle=candidate.get("author_handle") or "",
                text=text,
                url=candidate.get("url") or "",
                posted_at=_as_datetime(candidate.get("posted_at")),
                raw=candidate.get("raw") or {},
                found_via=found_via,
            )
            if is_new:
                created.append(mention)
    return created


def mentions_from_items(
    *, brand: Brand, account: SocialAccount, items: Iterable[Any]
) -> list[Mention]:
    """What a poller found through `account` (items with text, author, id, url, sent_at, as
    dicts or objects) into the brand's listening feed. Safe to call again with the same items.
    Returns the mentions that are new."""
    candidates = []
    for item in items:
        # Pollers may hand plain dicts (id, author) or agency.platforms.inbox.InboundItem
        # (message_id, author_handle): both shapes are read.
        external_id = _field(item, "id") or _field(item, "message_id")
        if not external_id:
            continue
        author = _field(item, "author", "") or _field(item, "author_handle", "") or ""
        if not isinstance(author, str):
            author = _field(author, "handle", "") or _field(author, "username", "") or ""
        candidates.append(
            {
                "platform": account.platform,
                "external_id": str(external_id),
                "author_handle": author,
                "text": _field(item, "text", "") or "",
                "url": _field(item, "url", "") or "",
                "posted_at": _field(item, "sent_at"),
                "raw": _field(item, "raw", None) or (item if isinstance(item, Mapping) else {}),
            }
        )
    return listen_for_brand(brand=brand, candidates=candidates, found_via=account)


# -- spikes --------------------------------------------------------------------------------------


def _local_day_bounds(brand: Brand, first: date, last: date) -> tuple[datetime, datetime]:
    zone = brand.zone
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


@transaction.atomic
def spikes_detect(*, brand: Brand, day: date) -> list[SpikeAlert]:
    """Alert once per rule and day when the day's volume (in the brand's time zone) is at least
    the rule's minimum and `spike_ratio` times the average of the 7 days before it."""
    rules = {r.pk: r for r in ListeningRule.objects.filter(brand=brand, active=True)}
    if not rules:
        return []
    first = day - timedelta(days=SPIKE_TRAILING_DAYS)
    start, end = _local_day_bounds(brand, first, day)
    counts: dict[tuple[Any, date], int] = {
        (row["rule_id"], row["day"]): row["n"]
        for row in Mention.objects.filter(
            rule_id__in=rules, posted_at__gte=start, posted_at__lt=end
        )
        .annotate(day=TruncDate("posted_at", tzinfo=brand.zone))
        .values("rule_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    }
    alerts = []
    for rule in rules.values():
        volume = counts.get((rule.pk, day), 0)
        baseline = (
            sum(counts.get((rule.pk, first + timedelta(days=i)), 0) for i in range(7))
            / SPIKE_TRAILING_DAYS
        )
        if volume < rule.spike_min_volume or volume < rule.spike_ratio * baseline:
            continue
        alert, created = SpikeAlert.objects.get_or_create(
            rule=rule, day=day, defaults={"volume": volume, "baseline": baseline}
        )
        if not created:
            continue
        alerts.append(alert)
        audit_log(
            actor=None,
            action="listening.spike",
            target=alert,
            agency=brand.agency,
            brand=brand,
            data={"volume": volume, "baseline": round(baseline, 2), "day": day.isoformat()},
        )
        transaction.on_commit(lambda alert=alert: _notify_spike(brand=brand, alert=alert))
    return alerts


def _notify_spike(*, brand: Brand, alert: SpikeAlert) -> None:
    notify(
        users=brand_managers(brand=brand),
        brand=brand,
        title=f"Mentions spike: {alert.rule.name} ({brand.name})",
        body=f"{alert.volume} mentions on {alert.day:%d %b %Y}, against {alert.baseline:.1f} a "
        f"day over the week before.",
        url=f"{reverse('community:listening-feed', args=[brand.pk])}?rule={alert.rule_id}",
    )


def spikes_detect_all(*, now: datetime | None = None) -> int:
    """Run spike detection for today and yesterday (late mentions) of every listening brand."""
    now = now or timezone.now()
    found = 0
    brands = Brand.objects.filter(listening_rules__active=True).distinct()
    for brand in brands:
        today = now.astimezone(brand.zone).date()
        for day in (today - timedelta(days=1), today):
            found += len(spikes_detect(brand=brand, day=day))
    return found


# -- into the inbox ------------------------------------------------------------------------------


@transaction.atomic
def mention_to_conversation(*, mention: Mention, by) -> Conversation:
    """An inbox conversation (kind mention) whose first inbound message is the mention.
    Asking again returns the same conversation."""
    mention = Mention.objects.select_for_update().select_related("brand__agency").get(pk=mention.pk)
    if mention.conversation_id:
        return mention.conversation
    account = mention.found_via
    if account is None or account.brand_id != mention.brand_id:
        account = (
            SocialAccount.objects.filter(brand_id=mention.brand_id, platform=mention.platform)
            .order_by("handle")
            .first()
        )
    if account is None:
        raise ValidationError(
            f"{mention.brand.name} has no {mention.get_platform_display()} account to answer "
            "this mention from; add one first."
        )
    conversation, _ = Conversation.objects.get_or_create(
        account=account,
        kind=Conversation.Kind.MENTION,
        external_thread_id=mention.external_id,
        defaults={
            "brand_id": mention.brand_id,
            "participant_handle": mention.author_handle,
            "sentiment": mention.sentiment,
            "preview": mention.text[:300],
            "last_message_at": mention.posted_at,
            "first_inbound_at": mention.posted_at,
        },
    )
    message, _ = Message.objects.get_or_create(
        account=account,
        platform_message_id=mention.external_id,
        defaults={
            "conversation": conversation,
            "direction": Message.Direction.INBOUND,
            "author_handle": mention.author_handle,
            "text": mention.text,
            "sent_at": mention.posted_at,
            "sentiment": mention.sentiment,
            "raw": mention.raw,
        },
    )
    # The inbox may have stored this post already (a comment that is also a mention): follow it.
    conversation = message.conversation
    mention.conversation = conversation
    mention.save(update_fields=["conversation", "updated_at"])
    audit_log(
        actor=by,
        action="mention.to_conversation",
        target=mention,
        agency=mention.brand.agency,
        brand=mention.brand,
        data={"conversation": str(conversation.pk)},
    )
    return conversation
