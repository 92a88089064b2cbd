"""The /api/v1/ router: every app registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from agency.api import BrandViewSet, MeView, SocialAccountViewSet
from calendar_app.api import PostViewSet

# Namespaced: the dashboard already has names like "brand-list" and "brand-detail".
app_name = "api"

router = DefaultRouter()
router.register("brands", BrandViewSet, basename="brand")
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("posts", PostViewSet, basename="post")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
