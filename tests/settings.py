"""Settings for the test run: agency.settings with test-only secrets and fast hashing.

DATABASE_URL and REDIS_URL come from the environment (make test sets them to the throwaway
PostgreSQL and Redis); without them the suite runs on SQLite, which is quick for a developer but
is not what CI proves.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("FERNET_KEYS", "u_E62HB-l8OYUnS1scse2pyBZrGyLTuBwXt03L4nVm0=")
os.environ.setdefault(
    "AGENCY_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from agency.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
CELERY_TASK_ALWAYS_EAGER = False
REDIS_URL = os.environ.get("REDIS_URL", "")
# No API rate limits in the suite (benchmarks and loops would trip them); the throttling tests
# set their own rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),  # noqa: F405
}
# WhiteNoise warns on every request when the collected-static folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
