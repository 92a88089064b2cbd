from django.urls import path

from calendar_app import views

app_name = "calendar"

urlpatterns = [
    path("posts/", views.post_list, name="post-list"),
    path("brands/<uuid:brand_id>/posts/new/", views.post_create, name="post-create"),
    path("posts/<uuid:post_id>/", views.post_detail, name="post-detail"),
    path("posts/<uuid:post_id>/cancel/", views.post_cancel, name="post-cancel"),
    path("targets/<uuid:target_id>/retry/", views.target_retry, name="target-retry"),
    path(
        "targets/<uuid:target_id>/mark-published/",
        views.target_mark_published,
        name="target-mark-published",
    ),
]
