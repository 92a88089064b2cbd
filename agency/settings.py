"""Settings for agency: one module, every knob from the environment.

The defaults are the embedded mode (SQLite and a file-system Celery broker under var/), so a fresh
clone runs with no server. Production sets DATABASE_URL, CELERY_BROKER_URL, DJANGO_SECRET_KEY and
FERNET_KEYS; DEBUG stays off unless DJANGO_DEBUG turns it on.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("AGENCY_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _dev_secret(name: str, make) -> str:
    """A secret kept in var/ for the embedded dev mode; production must set it explicitly."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _random_key() -> str:
    import secrets

    return secrets.token_urlsafe(50)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


ALLOW_DEV_SECRETS = DEBUG or env.bool("AGENCY_ALLOW_DEV_SECRETS", default=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default=None)
if not SECRET_KEY:
    if not ALLOW_DEV_SECRETS:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _dev_secret("secret_key", _random_key)

# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation with MultiFernet).
FERNET_KEYS = env.list("FERNET_KEYS", default=[])
if not FERNET_KEYS:
    if not ALLOW_DEV_SECRETS:
        raise ImproperlyConfigured("FERNET_KEYS must be set when DEBUG is off.")
    FERNET_KEYS = [_dev_secret("fernet.key", _fernet_key)]

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("AGENCY_SITE_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "agency",
    "calendar_app",
    "community",
    "ads",
    "reports",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "agency.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "reports.middleware.ClientPortalOnlyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "agency.urls"
WSGI_APPLICATION = "agency.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "agency.context_processors.dashboard",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'agency.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web server, worker and beat share one file without
    # "database is locked" errors.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): AXES_FAILURE_LIMIT failed log-ins for one username from one
# address lock that pair out for AXES_COOLOFF_TIME; a successful log-in resets the count.
AUTHENTICATION_BACKENDS = [
    "agency.auth_backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AGENCY_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AGENCY_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "agency.auth_backends.client_ip"
# Proxies in front of the app that append to X-Forwarded-For (a load balancer: 1). 0 trusts none.
AGENCY_TRUSTED_PROXY_COUNT = env.int("AGENCY_TRUSTED_PROXY_COUNT", default=0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# How long after a sandbox post its simulated audience comments, one message per interval.
SANDBOX_AUDIENCE_EVERY_SECONDS = env.float(
    "SANDBOX_AUDIENCE_EVERY_SECONDS", default=30.0 if DEBUG else 600.0
)

# The media library refuses larger uploads; Django's own memory limits still apply per request.
AGENCY_MAX_UPLOAD_BYTES = env.int("AGENCY_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
# A brand logo is a small image shown on every page of the brand and its portal.
AGENCY_MAX_LOGO_BYTES = env.int("AGENCY_MAX_LOGO_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Tracked links (/l/<code>): count unique visitors per link and day with a first-party cookie
# that holds only the date. Off by default: then only clicks are counted.
AGENCY_LINK_UNIQUE_COOKIE = env.bool("AGENCY_LINK_UNIQUE_COOKIE", default=False)

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="agency <noreply@localhost>")

# Security: safe by default, strict unless DEBUG.
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = True  # scripts read the token from the page, never from the cookie
# Content-Security-Policy (django-csp): no inline script anywhere; inline <style> only with the
# request's nonce (FullCalendar reads it from <meta name="csp-nonce">). See SECURITY.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "https:", "data:"],
        "font-src": [SELF, "data:"],  # FullCalendar's arrow icons are an inline data: font
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Load balancers and compose probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agency.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "agency.permissions.TokenScopePermission",
    ],
    # One budget per API token (by its kind) and one per signed-in user; a 429 says Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["agency.throttling.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token_personal": env("API_RATE_PERSONAL_TOKEN", default="600/minute"),
        "token_integration": env("API_RATE_INTEGRATION_TOKEN", default="1200/minute"),
        "session": env("API_RATE_SESSION", default="1200/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "agency.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "agency.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "agency.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "agency API",
    "DESCRIPTION": "Brands, social accounts, publishing, inbox, ads and reports of a social "
    "media agency. Authenticate with `Authorization: Token <key>` (create keys on the settings "
    "page) or a browser session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI and Redoc are served from the sidecar package: nothing loads from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Role shows as `role` and `your_role`; one enum name for it keeps the schema warning-free.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "agency.models.Role",
        "PlatformEnum": "agency.models.Platform",
        "AdPlatformEnum": "ads.models.AdPlatform",
        "CampaignStatusEnum": "ads.serializers.CampaignStatus",
    },
}

# Celery: the embedded default is kombu's file-system transport, which needs no server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than any countdown we use; far-future ETAs are never used (see STYLE.md).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Keep a worker thread's database connection across tasks (Celery closes it after every task
# otherwise): a new PostgreSQL connection costs more than a whole publish.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
HEARTBEAT_SECONDS = env.float("AGENCY_HEARTBEAT_SECONDS", default=30.0)

LOG_LEVEL = env("AGENCY_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "agency.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes says INFO on every log-in; its lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# The beat schedule lives in code; django-celery-beat's DatabaseScheduler syncs it into the DB,
# where an admin can pause an entry without a deploy.
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "agency.tasks.heartbeat", "schedule": HEARTBEAT_SECONDS},
    "dispatch-due-posts": {
        "task": "calendar_app.tasks.dispatch_due_posts",
        "schedule": env.float("PUBLISH_DISPATCH_EVERY_SECONDS", default=5.0),
    },
    "refresh-expiring-tokens": {
        "task": "agency.tasks.refresh_expiring_tokens",
        "schedule": env.float("TOKEN_REFRESH_EVERY_SECONDS", default=600.0),
    },
    "sweep-stranded-imports": {
        "task": "calendar_app.import_tasks.sweep_stranded_imports",
        "schedule": 300.0,
    },
    "sweep-publishing": {
        "task": "calendar_app.tasks.sweep_publishing",
        "schedule": env.float("PUBLISH_SWEEP_EVERY_SECONDS", default=60.0),
    },
    "listening-spikes": {
        "task": "community.tasks.detect_listening_spikes",
        "schedule": env.float("LISTENING_SPIKES_EVERY_SECONDS", default=900.0),
    },
    "curation-fetch-feeds": {
        "task": "community.tasks.fetch_feeds",
        "schedule": env.float("CURATION_FETCH_EVERY_SECONDS", default=3600.0),
    },
    "inbox-poll": {
        "task": "community.tasks.poll_inboxes",
        # The embedded demo polls often, so the sandbox audience's comments show up quickly.
        "schedule": env.float("INBOX_POLL_EVERY_SECONDS", default=20.0 if DEBUG else 120.0),
    },
    "inbox-sweep-replies": {
        "task": "community.tasks.sweep_replies",
        "schedule": env.float("INBOX_SWEEP_EVERY_SECONDS", default=15.0),
    },
    "inbox-sweep-webhooks": {
        "task": "community.tasks.sweep_webhooks",
        "schedule": env.float("INBOX_SWEEP_EVERY_SECONDS", default=15.0),
    },
    # Idempotency-Key answers are replayed for 24 hours, then deleted.
    "purge-idempotency-records": {
        "task": "agency.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    # Daily: re-syncs yesterday and today in each brand's zone, so every day is read again
    # once it is over.
    "metrics-sync": {"task": "reports.tasks.sync_metrics", "schedule": 24 * 3600.0},
    "goal-statuses": {"task": "reports.tasks.record_goal_statuses", "schedule": 3600.0},
    # Hourly: e-mails each scheduled report's last complete period, once per period.
    "send-due-reports": {"task": "reports.tasks.send_due_reports", "schedule": 3600.0},
}
CURATION_FEED_TIMEOUT_SECONDS = env.float("CURATION_FEED_TIMEOUT_SECONDS", default=15.0)
CURATION_FEED_MAX_BYTES = env.int("CURATION_FEED_MAX_BYTES", default=5 * 1024 * 1024)
# Publishing is I/O bound and runs on its own queue (a thread pool in production); dispatch and
# sweeps on theirs, so slow platforms never delay the next dispatch.
CELERY_TASK_ROUTES = {
    "calendar_app.tasks.publish_target": {"queue": "publish"},
    "calendar_app.tasks.dispatch_due_posts": {"queue": "dispatch"},
    "calendar_app.tasks.sweep_publishing": {"queue": "dispatch"},
    "community.tasks.send_reply": {"queue": "publish"},
    "community.tasks.sweep_replies": {"queue": "dispatch"},
    "community.tasks.sweep_webhooks": {"queue": "dispatch"},
    "community.tasks.poll_inboxes": {"queue": "dispatch"},
}

PUBLISH_DISPATCH_BATCH = env.int("PUBLISH_DISPATCH_BATCH", default=1000)
PUBLISH_LEASE_SECONDS = env.int("PUBLISH_LEASE_SECONDS", default=300)
PUBLISH_QUEUED_STALE_SECONDS = env.int("PUBLISH_QUEUED_STALE_SECONDS", default=600)
PUBLISH_MAX_ATTEMPTS = env.int("PUBLISH_MAX_ATTEMPTS", default=6)
PUBLISH_BACKOFF_BASE_SECONDS = env.float("PUBLISH_BACKOFF_BASE_SECONDS", default=30.0)
PUBLISH_BACKOFF_CAP_SECONDS = env.float("PUBLISH_BACKOFF_CAP_SECONDS", default=3600.0)

# The inbox: webhook secrets (blank refuses every webhook of that network) and the reply engine.
META_APP_SECRET = env("META_APP_SECRET", default="")
META_VERIFY_TOKEN = env("META_VERIFY_TOKEN", default="")
X_CONSUMER_SECRET = env("X_CONSUMER_SECRET", default="")
REPLY_LEASE_SECONDS = env.int("REPLY_LEASE_SECONDS", default=120)
REPLY_MAX_ATTEMPTS = env.int("REPLY_MAX_ATTEMPTS", default=6)
# Webhook bodies are drained by tasks: at most one drain is kicked per window, and the sweep
# drains whatever has waited longer than WEBHOOK_SWEEP_AFTER_SECONDS (a lost kick, a failure).
WEBHOOK_DRAIN_KICK_MS = env.int("WEBHOOK_DRAIN_KICK_MS", default=1000)
# Each web process asks Redis at most once per this many ms (then kicks once more at its end).
WEBHOOK_DRAIN_LOCAL_MS = env.int("WEBHOOK_DRAIN_LOCAL_MS", default=250)
WEBHOOK_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_SWEEP_AFTER_SECONDS", default=30)
# Inbound deliveries only (integrations' outgoing webhooks have WEBHOOK_MAX_ATTEMPTS).
INBOUND_WEBHOOK_MAX_ATTEMPTS = env.int("INBOUND_WEBHOOK_MAX_ATTEMPTS", default=5)

# Paid insights (ads app): the daily sync re-reads the last days (platforms revise conversions
# for a while), and pacing alerts fire past this fraction off plan either way.
ADS_INSIGHTS_LOOKBACK_DAYS = env.int("ADS_INSIGHTS_LOOKBACK_DAYS", default=7)
ADS_PACING_THRESHOLD = env.float("ADS_PACING_THRESHOLD", default=0.2)
CELERY_BEAT_SCHEDULE |= {
    "ads-sync-insights": {
        "task": "ads.tasks.sync_all_insights",
        "schedule": env.float("ADS_INSIGHTS_SYNC_EVERY_SECONDS", default=86400.0),
    },
    "ads-check-pacing": {
        "task": "ads.tasks.check_pacing",
        "schedule": env.float("ADS_PACING_EVERY_SECONDS", default=3600.0),
    },
}

# Outgoing webhooks (integrations app): timeouts, retries and the sweep; see docs/WEBHOOKS.md.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=60.0)
WEBHOOK_BACKOFF_CAP_SECONDS = env.float("WEBHOOK_BACKOFF_CAP_SECONDS", default=6 * 3600.0)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
# Off in production: an endpoint on a private network (the cloud's metadata service, our own
# database) is refused. On for local receivers in development and tests.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "integrations.tasks.sweep_webhook_deliveries",
    "schedule": env.float("WEBHOOK_DELIVERY_SWEEP_EVERY_SECONDS", default=30.0),
}
CELERY_TASK_ROUTES["integrations.tasks.deliver_webhook"] = {"queue": "publish"}
CELERY_TASK_ROUTES["integrations.tasks.sweep_webhook_deliveries"] = {"queue": "dispatch"}
