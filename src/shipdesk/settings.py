"""Django settings. Every value a deployment changes comes from ``shipdesk.env``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE

from shipdesk import env

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = env.DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.secret("SHIPDESK_SECRET_KEY", embedded_file="secret_key")
# Separate key for credentials at rest, so that rotating the session key does not make
# stored carrier passwords unreadable. Comma-separated: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.secret("SHIPDESK_FIELD_ENCRYPTION_KEYS", embedded_file="field_keys")
DEBUG = env.get_bool("SHIPDESK_DEBUG", default=False)
ALLOWED_HOSTS = env.get_list(
    "SHIPDESK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if env.EMBEDDED else ""
)
CSRF_TRUSTED_ORIGINS = env.get_list("SHIPDESK_CSRF_TRUSTED_ORIGINS")
PUBLIC_URL = env.get("SHIPDESK_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # its Swagger UI static files: the API docs page loads nothing from a CDN
    "axes",  # throttles failed logins (pages, /admin/) and bad API keys
    "csp",
    "shipdesk.core",
    "shipdesk.tenancy",
    "shipdesk.carriers",
    "shipdesk.numbering",
    "shipdesk.tariffs",
    "shipdesk.shipments",
    "shipdesk.documents",
    "shipdesk.tracking",
    "shipdesk.notifications",
    "shipdesk.analytics",
    "shipdesk.finance",
    "shipdesk.integrations",
    "shipdesk.claims",
    "shipdesk.postage",
]

MIDDLEWARE = [
    "shipdesk.core.middleware.RequestIdMiddleware",
    "shipdesk.core.middleware.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Views marked @public_route leave here through PUBLIC_ROUTE_MIDDLEWARE below.
    "shipdesk.core.middleware.PublicRouteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "shipdesk.tenancy.middleware.CurrentOrganizationMiddleware",
    "shipdesk.core.middleware.ServiceErrorMiddleware",
    "shipdesk.core.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The short chain of public pages (the recipient's tracking page, health checks): nothing
# per-user (no session, login, organization, CSRF, messages). See PublicRouteMiddleware.
PUBLIC_ROUTE_MIDDLEWARE = [
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shipdesk.urls"
WSGI_APPLICATION = "shipdesk.wsgi.application"

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
                "django.template.context_processors.i18n",
                "shipdesk.tenancy.context_processors.organization",
                "shipdesk.core.navigation.nav_items",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        # An empty variable means "not set" (scripts/test.sh clears it for the SQLite run).
        env.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'shipdesk.sqlite3'}",
        # Persistent connections in both modes: opening one per request cost more than the
        # request itself (SQLite: ~2 ms for the open and the PRAGMAs; PostgreSQL: a fork).
        # Health checks: a connection the database server dropped is replaced, not failed on.
        conn_max_age=env.get_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many concurrent writers on one file: WAL lets readers go on while one writes, the busy
    # timeout makes writers queue instead of failing, and IMMEDIATE transactions take the
    # write lock up front so two transactions never deadlock upgrading a read lock.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            " PRAGMA foreign_keys=ON; PRAGMA cache_size=-64000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate limits, circuit breakers shared across workers) -----------------------
REDIS_URL = env.get("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    # Embedded: processes on one machine share a cache folder, no server needed.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(DATA_DIR / "cache")}}
# Rendered public pages, per process: every hit is checked against the row versions it was
# rendered from (tracking.views.public), so a process never serves a page older than the
# database, and no network round trip is spent on a page that renders in a millisecond.
CACHES["pages"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                   "LOCATION": "shipdesk-pages", "OPTIONS": {"MAX_ENTRIES": 5000}}

# --- auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (the login page and /admin/) and bad API keys are counted per user name and
# client address; after AXES_FAILURE_LIMIT failures that pair waits AXES_COOLOFF_TIME (429).
AXES_FAILURE_LIMIT = env.get_int("SHIPDESK_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env.get_int("SHIPDESK_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# counted in the database (AxesDatabaseHandler, the default): atomic across processes in both
# modes (a file cache is not), and the lockouts are listed in /admin/ where they can be lifted
AXES_LOCKOUT_CALLABLE = "shipdesk.tenancy.auth.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
# behind a reverse proxy (scale-out) the client's address is the one it adds to X-Forwarded-For
AXES_IPWARE_PROXY_COUNT = env.get_int("SHIPDESK_PROXY_COUNT", 0 if env.EMBEDDED else 1) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
                                     if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"])
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.get_int("SHIPDESK_SESSION_AGE", 14 * 24 * 3600)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.get_bool("SHIPDESK_SECURE_COOKIES", not env.EMBEDDED)
SESSION_COOKIE_HTTPONLY = True

# --- i18n: Russian first --------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.get("SHIPDESK_TIME_ZONE", "Europe/Moscow")

# --- static and stored files ----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": env.get("SHIPDESK_STORAGE_BACKEND",
                           "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": str(Path(env.get("SHIPDESK_MEDIA_DIR", str(DATA_DIR / "media"))))}
        if not env.get("SHIPDESK_STORAGE_BACKEND") else {},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Uploads of large spreadsheets stream to disk; a request body above this is refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("SHIPDESK_MAX_BODY_BYTES", 20 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
SHIPDESK_MAX_UPLOAD_BYTES = env.get_int("SHIPDESK_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# a request with no session and no API key (login form, webhooks): refused above this, unread
SHIPDESK_MAX_ANONYMOUS_BODY_BYTES = env.get_int("SHIPDESK_MAX_ANONYMOUS_BODY_BYTES", 1024 * 1024)
# spreadsheets with at least this many rows are read and checked in a child process
SHIPDESK_IMPORT_READ_IN_CHILD_ROWS = env.get_int("SHIPDESK_IMPORT_READ_IN_CHILD_ROWS", 5_000)

# --- e-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
                        if env.get("EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env.get_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env.get_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "Shipdesk <noreply@localhost>")

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files in the data folder, so a worker, the
    # scheduler and the web app on one machine share a queue without any server.
    _queue_dir = DATA_DIR / "broker"
    (_queue_dir / "out").mkdir(parents=True, exist_ok=True)
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_queue_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        # Without it kombu keeps its exchange table in ./control of whatever folder the
        # process was started from.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a crashed worker's task is redelivered, tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
SHIPDESK_SWEEP_SECONDS = env.get_int("SHIPDESK_SWEEP_SECONDS", 30)

# --- logging --------------------------------------------------------------------------
LOG_FORMAT = env.get("SHIPDESK_LOG_FORMAT", "text" if env.EMBEDDED else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "shipdesk.core.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                    "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.get("SHIPDESK_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- security headers -----------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if not env.EMBEDDED else None
# Scale-out serves HTTPS only (behind a proxy that sets X-Forwarded-Proto): plain HTTP is
# redirected, and browsers are told to remember it. Health checks stay reachable over HTTP.
SECURE_SSL_REDIRECT = env.get_bool("SHIPDESK_SSL_REDIRECT", not env.EMBEDDED)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.get_int("SHIPDESK_HSTS_SECONDS", 0 if env.EMBEDDED else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.get_bool("SHIPDESK_HSTS_INCLUDE_SUBDOMAINS", not env.EMBEDDED)
# Preloading is a promise to browsers' built-in lists that only the domain's owner can make;
# off unless asked for, and its deploy-check reminder silenced with it.
SECURE_HSTS_PRELOAD = env.get_bool("SHIPDESK_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_REFERRER_POLICY = "same-origin"
# Scripts only from our own static files (no inline handlers: core/static/core/shipdesk.js
# wires data-confirm, data-autosubmit and data-check-all); inline <script> needs the nonce.
# Inline style attributes stay allowed: they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
NINJA_PAGINATION_PER_PAGE = 50
SHIPDESK_MODE = env.MODE
# Outbound requests to user-given addresses reach public addresses only, plus these networks
# and hosts (shipdesk/core/outbound.py); embedded mode's emulators listen on loopback.
OUTBOUND_ALLOW = env.get_list("SHIPDESK_OUTBOUND_ALLOW",
                              "127.0.0.0/8,::1,localhost" if env.EMBEDDED else "")
