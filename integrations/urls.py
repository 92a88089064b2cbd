from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="endpoint-list"),
    path("settings/webhooks/new/", views.endpoint_create, name="endpoint-create"),
    path("settings/webhooks/<uuid:endpoint_id>/", views.endpoint_detail, name="endpoint-detail"),
    path(
        "settings/webhooks/<uuid:endpoint_id>/deliveries/",
        views.endpoint_deliveries,
        name="endpoint-deliveries",
    ),
    path("settings/webhooks/<uuid:endpoint_id>/edit/", views.endpoint_edit, name="endpoint-edit"),
    path(
        "settings/webhooks/<uuid:endpoint_id>/toggle/",
        views.endpoint_toggle,
        name="endpoint-toggle",
    ),
    path(
        "settings/webhooks/<uuid:endpoint_id>/rotate-secret/",
        views.endpoint_rotate_secret,
        name="endpoint-rotate-secret",
    ),
    path("settings/webhooks/<uuid:endpoint_id>/test/", views.endpoint_test, name="endpoint-test"),
    path(
        "settings/webhooks/deliveries/<uuid:delivery_id>/",
        views.delivery_detail,
        name="delivery-detail",
    ),
    path(
        "settings/webhooks/deliveries/<uuid:delivery_id>/status/",
        views.delivery_status,
        name="delivery-status",
    ),
    path(
        "settings/webhooks/deliveries/<uuid:delivery_id>/replay/",
        views.delivery_replay,
        name="delivery-replay",
    ),
]
