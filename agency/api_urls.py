"""The /api/v1/ router: every app registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from ads.api import AdSetViewSet, AdViewSet, AudienceViewSet, CampaignViewSet
from ads.api_insights import InsightViewSet
from ads.api_links import (
    AttributedSaleViewSet,
    CollaborationViewSet,
    DeliverableViewSet,
    InfluencerViewSet,
    TrackedLinkViewSet,
    UtmPresetViewSet,
)
from agency.api import BrandViewSet, MeView, SocialAccountViewSet
from agency.api_audit import AuditEventViewSet
from calendar_app.api import (
    CalendarViewSet,
    MediaViewSet,
    PostTargetViewSet,
    PostViewSet,
    QueueSlotViewSet,
)
from community.api import (
    ConversationViewSet,
    ListeningRuleViewSet,
    MentionViewSet,
    SavedReplyViewSet,
)
from integrations.api import WebhookDeliveryViewSet, WebhookEndpointViewSet
from reports.api import (
    AccountMetricViewSet,
    GoalViewSet,
    PostMetricViewSet,
    ReportExportViewSet,
    ScheduledReportViewSet,
)

# Namespaced: the dashboard already has names like "brand-list" and "brand-detail".
app_name = "api"

router = DefaultRouter()
# Each app registers its resources in its own section, so parallel work never touches another's.
# -- agency
router.register("brands", BrandViewSet, basename="brand")
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
# -- calendar_app
router.register("posts", PostViewSet, basename="post")
router.register("post-targets", PostTargetViewSet, basename="post-target")
router.register("media", MediaViewSet, basename="media")
router.register("queue-slots", QueueSlotViewSet, basename="queue-slot")
router.register("calendar", CalendarViewSet, basename="calendar")
# -- community
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("listening-rules", ListeningRuleViewSet, basename="listening-rule")
router.register("mentions", MentionViewSet, basename="mention")
router.register("saved-replies", SavedReplyViewSet, basename="saved-reply")
# -- ads
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("ad-sets", AdSetViewSet, basename="ad-set")
router.register("ads", AdViewSet, basename="ad")
router.register("audiences", AudienceViewSet, basename="audience")
router.register("influencers", InfluencerViewSet, basename="influencer")
router.register("collaborations", CollaborationViewSet, basename="collaboration")
router.register("deliverables", DeliverableViewSet, basename="deliverable")
router.register("attributed-sales", AttributedSaleViewSet, basename="attributed-sale")
router.register("tracked-links", TrackedLinkViewSet, basename="tracked-link")
router.register("utm-presets", UtmPresetViewSet, basename="utm-preset")
router.register("insights", InsightViewSet, basename="insight")
# -- reports
router.register("account-metrics", AccountMetricViewSet, basename="account-metric")
router.register("post-metrics", PostMetricViewSet, basename="post-metric")
router.register("goals", GoalViewSet, basename="goal")
router.register("reports", ReportExportViewSet, basename="report")
router.register("scheduled-reports", ScheduledReportViewSet, basename="scheduled-report")
# -- integrations
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
