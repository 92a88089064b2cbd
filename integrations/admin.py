from django.contrib import admin

from integrations.models import Delivery, DeliveryAttempt, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "agency", "brand", "is_active", "created_at"]
    list_filter = ["is_active", "agency"]
    search_fields = ["url", "description"]
    # The secret is never shown or edited here: the dashboard makes and rotates it.
    exclude = ["secret"]
    readonly_fields = ["created_by"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in DeliveryAttempt._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "state", "attempts", "created_at"]
    list_filter = ["state", "event_type"]
    search_fields = ["event_id", "id"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
