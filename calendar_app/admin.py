"""Admin of posts and publishing, for operators. State changes go through the services: the
admin cannot move a target between states by editing a field."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from agency.admin import ReadOnlyAdmin, TenantScopedAdmin
from calendar_app import services
from calendar_app.models import Media, Post, PostTarget, PublishAttempt, TargetState


class PostTargetInline(admin.TabularInline):
    model = PostTarget
    fields = ["account", "state", "due_at", "attempts", "external_url", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Post)
class PostAdmin(TenantScopedAdmin):
    tenant_path = "brand__agency"
    list_display = ["__str__", "brand", "approval_state", "scheduled_at", "author", "created_at"]
    list_filter = ["approval_state", "brand"]
    search_fields = ["title", "text"]
    readonly_fields = ["approval_state", "scheduled_at", "author"]
    inlines = [PostTargetInline]
    date_hierarchy = "scheduled_at"


@admin.register(PostTarget)
class PostTargetAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    tenant_path = "post__brand__agency"
    list_display = ["__str__", "state", "due_at", "attempts", "published_at", "needs_attention"]
    list_filter = ["state", "needs_attention", "account__platform"]
    search_fields = ["post__title", "post__text", "external_id", "account__handle"]
    list_select_related = ["post", "account"]
    actions = ["retry"]

    @admin.action(description="Retry the selected failed or unconfirmed targets")
    def retry(self, request, queryset):
        done = 0
        for target in queryset.filter(state__in=[TargetState.FAILED, TargetState.UNCONFIRMED]):
            try:
                services.target_retry(target=target, by=request.user)
                done += 1
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        self.message_user(request, f"{done} target(s) will be retried.", messages.SUCCESS)


@admin.register(PublishAttempt)
class PublishAttemptAdmin(ReadOnlyAdmin):
    list_display = ["target", "started_at", "result", "http_status", "error_class"]
    list_filter = ["result"]
    list_select_related = ["target__post", "target__account"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        from agency.permissions import admin_agencies

        return qs.filter(target__post__brand__agency__in=admin_agencies(request.user).values("pk"))


@admin.register(Media)
class MediaAdmin(TenantScopedAdmin):
    tenant_path = "brand__agency"
    list_display = ["name", "brand", "kind", "mime_type", "size", "created_at"]
    list_filter = ["kind", "brand"]
    search_fields = ["name", "alt_text"]
    readonly_fields = ["checksum", "size", "mime_type", "width", "height", "duration"]
