"""Django admin of the shared kernel.

The admin is for platform operators. A staff user who is not a superuser sees only the rows of
the agencies they administer (`tenant_path`), so granting admin access never crosses tenants.
Brands and social accounts are saved through the services so the admin leaves the same audit
trail as the dashboard; credentials are never shown and audit events are never edited.
"""

from django.contrib import admin, messages
from django.db import models
from django.db.models import Q

from agency import services
from agency.models import (
    Agency,
    ApiToken,
    AuditEvent,
    Brand,
    ClientAccess,
    Heartbeat,
    Membership,
    Notification,
    SandboxPost,
    SandboxScript,
    SocialAccount,
)
from agency.permissions import admin_agencies


class TenantScopedAdmin(admin.ModelAdmin):
    """Limits rows and foreign-key choices of non-superusers to their administered agencies."""

    tenant_path: str = ""
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def _agency_ids(self, request):
        return admin_agencies(request.user).values("pk")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.tenant_path}__in": self._agency_ids(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.related_model is Agency:
                kwargs["queryset"] = Agency.objects.filter(pk__in=self._agency_ids(request))
            elif db_field.related_model is Brand:
                kwargs["queryset"] = Brand.objects.filter(agency__in=self._agency_ids(request))
            elif db_field.related_model is SocialAccount:
                kwargs["queryset"] = SocialAccount.objects.filter(
                    brand__agency__in=self._agency_ids(request)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Agency)
class AgencyAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"


class SocialAccountInline(admin.TabularInline):
    model = SocialAccount
    fields = ["platform", "handle", "display_name", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Brand)
class BrandAdmin(TenantScopedAdmin):
    tenant_path = "agency"
    list_display = ["name", "agency", "slug", "time_zone", "created_at"]
    list_filter = ["agency", "time_zone"]
    search_fields = ["name", "slug", "website", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["agency"]
    inlines = [SocialAccountInline]

    def get_readonly_fields(self, request, obj=None):
        # Moving a brand between agencies would move its data between tenants.
        return ["agency"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            changed = {f: getattr(obj, f) for f in form.changed_data if f in services.BRAND_FIELDS}
            # The service compares against the stored row, not the form-modified instance.
            services.brand_update(brand=Brand.objects.get(pk=obj.pk), by=request.user, data=changed)
        else:
            fields = {f: getattr(obj, f) for f in services.BRAND_FIELDS}
            obj.pk = services.brand_create(agency=obj.agency, by=request.user, **fields).pk
            obj._state.adding = False


@admin.register(SocialAccount)
class SocialAccountAdmin(TenantScopedAdmin):
    tenant_path = "brand__agency"
    list_display = ["handle", "platform", "brand", "status", "credentials", "updated_at"]
    list_filter = ["platform", "status", "brand__agency"]
    search_fields = ["handle", "display_name", "external_id", "brand__name"]
    list_select_related = ["brand"]
    # Credentials are never displayed or edited here; the dashboard takes new ones write-only.
    exclude = ["access_token", "refresh_token"]
    readonly_fields = ["status", "status_reason", "credentials", "token_expires_at"]
    actions = ["disconnect"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "brand"] if obj is not None else self.readonly_fields

    @admin.display(description="credentials")
    def credentials(self, obj):
        # Only the emptiness of the column is checked; the value never leaves this method.
        return "stored (encrypted)" if obj.has_credentials else "none"

    def save_model(self, request, obj, form, change):
        if change:
            changed = {
                f: getattr(obj, f) for f in form.changed_data if f in services.ACCOUNT_FIELDS
            }
            services.social_account_update(
                account=SocialAccount.objects.get(pk=obj.pk), by=request.user, data=changed
            )
        else:
            fields = {f: getattr(obj, f) for f in services.ACCOUNT_FIELDS if f in form.cleaned_data}
            account = services.social_account_create(brand=obj.brand, by=request.user, **fields)
            obj.pk = account.pk
            obj._state.adding = False

    @admin.action(description="Disconnect the selected accounts (erases their credentials)")
    def disconnect(self, request, queryset):
        accounts = list(queryset.select_related("brand__agency"))
        for account in accounts:
            services.social_account_disconnect(account=account, by=request.user)
        self.message_user(request, f"{len(accounts)} account(s) disconnected.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    tenant_path = "agency"
    list_display = ["user", "agency", "role", "created_at"]
    list_filter = ["role", "agency"]
    search_fields = ["user__username", "user__email", "agency__name"]
    list_select_related = ["user", "agency"]
    autocomplete_fields = ["user"]


@admin.register(ClientAccess)
class ClientAccessAdmin(TenantScopedAdmin):
    tenant_path = "brand__agency"
    list_display = ["user", "brand", "created_at"]
    list_filter = ["brand__agency"]
    search_fields = ["user__username", "user__email", "brand__name"]
    list_select_related = ["user", "brand"]
    autocomplete_fields = ["user"]


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    tenant_path = "agency"
    list_display = ["created_at", "actor", "action", "target_repr", "brand", "agency"]
    list_filter = ["action", "target_type", "agency"]
    search_fields = ["action", "target_repr", "target_id", "actor__username"]
    list_select_related = ["actor", "brand", "agency"]
    date_hierarchy = "created_at"


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    tenant_path = "user__memberships__agency"
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    # The hash is not a secret, but nobody needs it on screen either.
    fields = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).distinct()

    def has_add_permission(self, request):
        # A key is only ever shown to its owner, on the settings page that creates it.
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        tokens = list(queryset.select_related("user"))
        for token in tokens:
            services.api_token_revoke(token=token, by=request.user)
        self.message_user(request, f"{len(tokens)} token(s) revoked.", messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    tenant_path = "brand__agency"
    list_display = ["title", "user", "brand", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "user__username"]
    list_select_related = ["user", "brand"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        qs = super(TenantScopedAdmin, self).get_queryset(request)
        if request.user.is_superuser:
            return qs
        # Notifications without a brand belong to nobody's tenant but the user's own.
        return qs.filter(Q(brand__agency__in=self._agency_ids(request)) | Q(user=request.user))


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_seen"]

    def has_module_permission(self, request):
        return request.user.is_superuser


@admin.register(SandboxPost)
class SandboxPostAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    tenant_path = "account__brand__agency"
    list_display = ["created_at", "account", "idempotency_key", "text"]
    list_filter = ["account__brand__agency"]
    search_fields = ["text", "idempotency_key", "account__handle"]
    list_select_related = ["account"]


@admin.register(SandboxScript)
class SandboxScriptAdmin(TenantScopedAdmin):
    tenant_path = "account__brand__agency"
    list_display = ["account", "outcomes", "delay_ms", "updated_at"]
    search_fields = ["account__handle"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
