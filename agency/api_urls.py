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
from calendar_app.api import PostViewSet

# Namespaced: the dashboard already has names like "brand-list" and "brand-detail".
app_name = "api"

router = DefaultRouter()
router.register("brands", BrandViewSet, basename="brand")
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("posts", PostViewSet, basename="post")
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

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
