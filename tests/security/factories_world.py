"""Factories for every model that has a URL, and `build_world`: one row of each for one brand.

The tenancy matrix (test_tenancy_matrix.py) asks for these rows as people of other brands and
agencies; each row carries the brand's marker in a text field where it has one, so a page that
shows another tenant's data is caught by its content, not only by its status code.
"""

import datetime as dt
import uuid
from decimal import Decimal

import factory
from django.apps import apps
from django.utils import timezone

from agency.models import ApiToken, SandboxPost
from tests.factories import BrandFactory, PostFactory, PostTargetFactory, SocialAccountFactory


class _Model(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True


class ApiTokenFactory(_Model):
    class Meta:
        model = ApiToken

    name = factory.Sequence(lambda n: f"token {n}")
    prefix = factory.Sequence(lambda n: f"pfx{n:05d}")
    key_hash = factory.Sequence(lambda n: f"{n:064x}")


class SandboxPostFactory(_Model):
    class Meta:
        model = SandboxPost

    account = factory.SubFactory(SocialAccountFactory)
    idempotency_key = factory.Sequence(lambda n: f"idem-{n}")
    text = "sandbox text"


class MediaFactory(_Model):
    class Meta:
        model = "calendar_app.Media"

    brand = factory.SubFactory(BrandFactory)
    file = factory.Sequence(lambda n: f"library/2026/01/photo-{n}.png")
    name = factory.Sequence(lambda n: f"photo-{n}.png")
    kind = "image"
    mime_type = "image/png"
    size = 1234
    checksum = factory.Sequence(lambda n: f"{n:064x}")


class HashtagSetFactory(_Model):
    class Meta:
        model = "calendar_app.HashtagSet"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"hashtags {n}")
    hashtags = "#coffee #roastery"


class SnippetFactory(_Model):
    class Meta:
        model = "calendar_app.Snippet"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"snippet {n}")
    text = "Order now."


class QueueSlotFactory(_Model):
    class Meta:
        model = "calendar_app.QueueSlot"

    account = factory.SubFactory(SocialAccountFactory)
    weekday = 1
    time = dt.time(9, 30)


class ImportJobFactory(_Model):
    class Meta:
        model = "calendar_app.ImportJob"

    brand = factory.SubFactory(BrandFactory)
    file = "imports/2026/01/import.csv"
    original_name = "plan.csv"
    status = "done"


class ConversationFactory(_Model):
    class Meta:
        model = "community.Conversation"

    account = factory.SubFactory(SocialAccountFactory)
    brand = factory.SelfAttribute("account.brand")
    kind = "comment"
    external_thread_id = factory.Sequence(lambda n: f"thread-{n}")
    participant_handle = "@fan"
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(_Model):
    class Meta:
        model = "community.Message"

    conversation = factory.SubFactory(ConversationFactory)
    account = factory.SelfAttribute("conversation.account")
    direction = "in"
    author_handle = "@fan"
    text = "Love it"
    platform_message_id = factory.Sequence(lambda n: f"msg-{n}")
    sent_at = factory.LazyFunction(timezone.now)


class SavedReplyFactory(_Model):
    class Meta:
        model = "community.SavedReply"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"saved reply {n}")
    text = "Thanks {first_name}!"


class ListeningRuleFactory(_Model):
    class Meta:
        model = "community.ListeningRule"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"rule {n}")
    kind = "keyword"
    terms = factory.LazyFunction(lambda: ["coffee"])


class MentionFactory(_Model):
    class Meta:
        model = "community.Mention"

    rule = factory.SubFactory(ListeningRuleFactory)
    brand = factory.SelfAttribute("rule.brand")
    platform = "sandbox"
    external_id = factory.Sequence(lambda n: f"mention-{n}")
    text = "coffee is great"
    posted_at = factory.LazyFunction(timezone.now)


class FeedFactory(_Model):
    class Meta:
        model = "community.Feed"

    brand = factory.SubFactory(BrandFactory)
    url = factory.Sequence(lambda n: f"https://news.example.com/feed-{n}.xml")


class SuggestionFactory(_Model):
    class Meta:
        model = "community.Suggestion"

    feed = factory.SubFactory(FeedFactory)
    brand = factory.SelfAttribute("feed.brand")
    title = factory.Sequence(lambda n: f"suggestion {n}")
    link = factory.Sequence(lambda n: f"https://news.example.com/item-{n}")


class GiveawayFactory(_Model):
    class Meta:
        model = "community.Giveaway"

    target = factory.SubFactory(PostTargetFactory)
    brand = factory.SelfAttribute("target.post.brand")
    name = factory.Sequence(lambda n: f"giveaway {n}")


class CampaignFactory(_Model):
    class Meta:
        model = "ads.Campaign"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"campaign {n}")
    platform = "meta"
    objective = "traffic"
    start_date = dt.date(2026, 1, 1)
    budget_kind = "daily"
    budget_amount = Decimal("10.00")


class AudienceFactory(_Model):
    class Meta:
        model = "ads.Audience"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"audience {n}")
    kind = "persona"


class AdSetFactory(_Model):
    class Meta:
        model = "ads.AdSet"

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"ad set {n}")
    targeting = factory.LazyFunction(dict)


class AdFactory(_Model):
    class Meta:
        model = "ads.Ad"

    ad_set = factory.SubFactory(AdSetFactory)
    name = factory.Sequence(lambda n: f"ad {n}")


class InsightDailyFactory(_Model):
    class Meta:
        model = "ads.InsightDaily"

    campaign = factory.SubFactory(CampaignFactory)
    brand = factory.SelfAttribute("campaign.brand")
    date = dt.date(2026, 1, 2)
    impressions = 1000
    clicks = 10
    spend = Decimal("5.00")
    currency = "EUR"


class CurrencyRateFactory(_Model):
    class Meta:
        model = "ads.CurrencyRate"

    currency = "USD"
    base = "EUR"
    rate = Decimal("0.9")
    valid_from = dt.date(2026, 1, 1)


class InfluencerFactory(_Model):
    class Meta:
        model = "ads.Influencer"

    name = factory.Sequence(lambda n: f"influencer {n}")
    handles = factory.LazyFunction(lambda: {"instagram": "@creator"})


class TrackedLinkFactory(_Model):
    class Meta:
        model = "ads.TrackedLink"

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"code{n}")
    destination = "https://brand.example.com/?utm_source=x"


class CollaborationFactory(_Model):
    class Meta:
        model = "ads.Collaboration"

    brand = factory.SubFactory(BrandFactory)
    influencer = factory.SubFactory(
        InfluencerFactory, agency=factory.SelfAttribute("..brand.agency")
    )
    name = factory.Sequence(lambda n: f"collaboration {n}")
    start_date = dt.date(2026, 1, 1)


class DeliverableFactory(_Model):
    class Meta:
        model = "ads.Deliverable"

    collaboration = factory.SubFactory(CollaborationFactory)
    description = factory.Sequence(lambda n: f"deliverable {n}")
    due_date = dt.date(2026, 2, 1)


class AttributedSaleFactory(_Model):
    class Meta:
        model = "ads.AttributedSale"

    collaboration = factory.SubFactory(CollaborationFactory)
    date = dt.date(2026, 1, 5)
    order_ref = factory.Sequence(lambda n: f"order-{n}")
    amount = Decimal("20.00")
    currency = "EUR"


class UtmPresetFactory(_Model):
    class Meta:
        model = "ads.UtmPreset"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"preset {n}")
    source = "newsletter"


class GoalFactory(_Model):
    class Meta:
        model = "reports.Goal"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"goal {n}")
    metric = "followers"
    direction = "at_least"
    target = Decimal("1000")
    start_date = dt.date(2026, 1, 1)
    due_date = dt.date(2026, 12, 31)


class MagicLinkFactory(_Model):
    class Meta:
        model = "reports.MagicLink"

    brand = factory.SubFactory(BrandFactory)
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=7))


class ScheduledReportFactory(_Model):
    class Meta:
        model = "reports.ScheduledReport"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"schedule {n}")
    frequency = "monthly"
    recipients = factory.LazyFunction(lambda: ["boss@brand.example.com"])


class ReportExportFactory(_Model):
    class Meta:
        model = "reports.ReportExport"

    brand = factory.SubFactory(BrandFactory)
    period_start = dt.date(2026, 1, 1)
    period_end = dt.date(2026, 1, 31)
    status = "done"
    progress = 100
    file = "reports/2026/01/report.pdf"


class AccountMetricsDailyFactory(_Model):
    class Meta:
        model = "reports.AccountMetricsDaily"

    account = factory.SubFactory(SocialAccountFactory)
    date = dt.date(2026, 1, 3)
    followers = 1200
    impressions = 5000


class PostMetricsDailyFactory(_Model):
    class Meta:
        model = "reports.PostMetricsDaily"

    target = factory.SubFactory(PostTargetFactory)
    date = dt.date(2026, 1, 3)
    impressions = 800


class AuditEventFactory(_Model):
    class Meta:
        model = "agency.AuditEvent"

    action = "post.created"
    target_type = "calendar_app.Post"
    target_id = "0"


class WebhookEndpointFactory(_Model):
    class Meta:
        model = "integrations.WebhookEndpoint"

    url = "https://hooks.brand.example.com/agency"
    secret = factory.Sequence(lambda n: f"whsec-{n:040d}")
    event_types = factory.LazyFunction(lambda: ["post.published"])


class WebhookDeliveryFactory(_Model):
    class Meta:
        model = "integrations.Delivery"

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event_type = "post.published"
    event_id = factory.LazyFunction(uuid.uuid4)
    payload = factory.LazyFunction(dict)


def build_world(*, brand, staff, client) -> dict:
    """One row of every model with a URL, all of `brand` (or its agency), each named with the
    marker `ZZ<brand slug>` so a response that shows it can be recognised."""
    m = f"ZZ{brand.slug}"
    agency = brand.agency
    account = SocialAccountFactory(brand=brand, handle=f"@{m}-account", display_name=m)
    post = PostFactory(brand=brand, title=f"{m} post", text=f"{m} post text", author=staff)
    target = PostTargetFactory(post=post, account=account)
    conversation = ConversationFactory(account=account, participant_handle=f"@{m}-fan")
    campaign = CampaignFactory(brand=brand, name=f"{m} campaign")
    ad_set = AdSetFactory(campaign=campaign, name=f"{m} ad set")
    influencer = InfluencerFactory(agency=agency, name=f"{m} influencer")
    collaboration = CollaborationFactory(
        brand=brand, influencer=influencer, name=f"{m} collaboration"
    )
    rule = ListeningRuleFactory(brand=brand, name=f"{m} rule")
    feed = FeedFactory(brand=brand, title=f"{m} feed")
    schedule = ScheduledReportFactory(brand=brand, name=f"{m} schedule")
    world = {
        "marker": m,
        "agency": agency,
        "brand": brand,
        "account": account,
        "token": ApiTokenFactory(user=staff, name=f"{m} token"),
        "sandbox_post": SandboxPostFactory(account=account, text=f"{m} sandbox"),
        "post": post,
        "target": target,
        "media": MediaFactory(brand=brand, name=f"{m}.png", alt_text=m),
        "hashtag_set": HashtagSetFactory(brand=brand, name=f"{m} hashtags"),
        "snippet": SnippetFactory(brand=brand, name=f"{m} snippet", text=m),
        "slot": QueueSlotFactory(account=account),
        "import_job": ImportJobFactory(brand=brand, original_name=f"{m}.csv", created_by=staff),
        "conversation": conversation,
        "message": MessageFactory(conversation=conversation, text=f"{m} message"),
        "saved_reply": SavedReplyFactory(brand=brand, name=f"{m} saved reply", text=m),
        "rule": rule,
        "mention": MentionFactory(rule=rule, text=f"{m} mention"),
        "feed": feed,
        "suggestion": SuggestionFactory(feed=feed, title=f"{m} suggestion"),
        "giveaway": GiveawayFactory(target=target, name=f"{m} giveaway"),
        "campaign": campaign,
        "audience": AudienceFactory(brand=brand, name=f"{m} audience"),
        "ad_set": ad_set,
        "ad": AdFactory(ad_set=ad_set, name=f"{m} ad"),
        "insight": InsightDailyFactory(campaign=campaign),
        "currency_rate": CurrencyRateFactory(agency=agency),
        "influencer": influencer,
        "collaboration": collaboration,
        "deliverable": DeliverableFactory(collaboration=collaboration, description=f"{m} deliv"),
        "sale": AttributedSaleFactory(collaboration=collaboration, order_ref=f"{m}-order"),
        "utm_preset": UtmPresetFactory(brand=brand, name=f"{m} preset"),
        "tracked_link": TrackedLinkFactory(brand=brand, name=f"{m} link"),
        "goal": GoalFactory(brand=brand, name=f"{m} goal", account=account),
        "magic_link": MagicLinkFactory(brand=brand, user=client, created_by=staff),
        "schedule": schedule,
        "export": ReportExportFactory(brand=brand, requested_by=staff),
        "account_metric": AccountMetricsDailyFactory(account=account),
        "post_metric": PostMetricsDailyFactory(target=target),
        "audit_event": AuditEventFactory(
            agency=agency,
            brand=brand,
            actor=staff,
            target_repr=f"{m} audit",
            target_id=str(post.pk),
        ),
    }
    if apps.is_installed("integrations"):
        endpoint = WebhookEndpointFactory(
            agency=agency, brand=brand, description=f"{m} endpoint", created_by=staff
        )
        world["webhook_endpoint"] = endpoint
        world["webhook_delivery"] = WebhookDeliveryFactory(
            endpoint=endpoint, brand=brand, payload={"marker": m}
        )
    return world
