from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # Connects the login hook that marks a client's session for the portal middleware.
        from reports import middleware  # noqa: F401
