"""Profile health has no page of its own: it is a panel on the brand page
(templates/community/health/_panel.html, fed by the `profile_health_for` template tag)."""

urlpatterns: list = []
