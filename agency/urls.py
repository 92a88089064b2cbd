import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ads import link_redirect
from agency import sandbox_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("switch-brand/", views.switch_brand, name="switch-brand"),
    path("brands/", views.brand_list, name="brand-list"),
    path("brands/new/", views.brand_create, name="brand-create"),
    path("brands/<uuid:brand_id>/", views.brand_detail, name="brand-detail"),
    path("brands/<uuid:brand_id>/edit/", views.brand_edit, name="brand-edit"),
    path("brands/<uuid:brand_id>/accounts/new/", views.account_create, name="account-create"),
    path("accounts/<uuid:account_id>/edit/", views.account_edit, name="account-edit"),
    path(
        "accounts/<uuid:account_id>/disconnect/",
        views.account_disconnect,
        name="account-disconnect",
    ),
    path("settings/tokens/", views.token_list, name="token-list"),
    path("settings/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("notifications/", views.notification_list, name="notification-list"),
    path(
        "notifications/mark-all-read/",
        views.notification_mark_all_read,
        name="notification-mark-all-read",
    ),
    path("sandbox/posts/<uuid:post_id>/", sandbox_views.sandbox_post, name="sandbox-post"),
    path("", include("community.urls")),  # before the calendar: it starts with the webhooks
    path("", include("calendar_app.urls")),
    path("", include("ads.urls")),
    path("", include("reports.urls")),
    path("", include("integrations.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("l/<slug:code>", link_redirect.follow, name="tracked-link"),
    path("auth/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("agency.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

# Uploaded files are served by Django in every mode, never by a server that bypasses
# SecurityHeadersMiddleware (nosniff, a sandboxing CSP, an attachment for anything that is not a
# checked image or video). The production image runs gunicorn alone, and before this /media/ was
# served only with DEBUG on. Names are unguessable (checksums) or public (logos), as platforms
# fetch media by URL. See SECURITY.md.
_MEDIA_PREFIX = re.escape(settings.MEDIA_URL.lstrip("/"))
urlpatterns.append(re_path(rf"^{_MEDIA_PREFIX}(?P<path>.*)$", views.media, name="media"))
