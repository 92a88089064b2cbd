"""The project's URLs plus /media/ served by Django (as `DEBUG` does in agency/urls.py), so the
headers uploaded files get can be checked with DEBUG off."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from agency.urls import urlpatterns as project_urlpatterns


def media(request, path):
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [*project_urlpatterns, re_path(r"^media/(?P<path>.*)$", media)]
