from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from integrations.events import forget_listeners
        from integrations.models import WebhookEndpoint

        # A cache invalidation, not business logic: every way of saving an endpoint must reach it.
        for signal in (post_save, post_delete):
            signal.connect(
                forget_listeners, sender=WebhookEndpoint, dispatch_uid="integrations.listeners"
            )
