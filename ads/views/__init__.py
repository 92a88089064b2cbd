"""Pages of the marketer's side; each module has its `urlpatterns`, joined in ads/urls.py."""
