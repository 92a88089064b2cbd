"""Being written."""

urlpatterns: list = []
