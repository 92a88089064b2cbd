import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings")
application = get_wsgi_application()

from agency.runtime import freeze_startup_objects  # noqa: E402 - needs the settings set up

freeze_startup_objects()
