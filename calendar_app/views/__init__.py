"""Pages of the manager's calendar, one module per concern; each module has its `urlpatterns`,
joined in calendar_app/urls.py."""
