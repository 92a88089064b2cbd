"""Pages of reports and the client portal; each module has its `urlpatterns`, joined in
reports/urls.py."""
