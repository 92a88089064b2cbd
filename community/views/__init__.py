"""Pages of the community app, one module per concern; each has its `urlpatterns`, joined in
community/urls.py."""
