"""Django settings, built from dispatcher_project.config (config.yaml + environment)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ

from dispatcher_project import config
from dispatcher_project.embedded_postgres import embedded_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "1.0.0"

CONF = config.load(BASE_DIR)

DEBUG = CONF["DJANGO_DEBUG"]


def _local_secret_key(path: Path) -> str:
    """A development key kept under .data/ so sessions survive restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = CONF["DJANGO_SECRET_KEY"] or _local_secret_key(BASE_DIR / ".data" / "secret_key")
ALLOWED_HOSTS = CONF["ALLOWED_HOSTS"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "messaging",
]

MIDDLEWARE = [
    "messaging.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "messaging.middleware.JsonErrorMiddleware",
    "messaging.middleware.RequestBodyLimitMiddleware",
    "messaging.rate_limit.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dispatcher_project.urls"
WSGI_APPLICATION = "dispatcher_project.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = CONF["DATABASE_URL"] or embedded_database_url(BASE_DIR / ".data" / "postgres")
DATABASES = {"default": environ.Env.db_url_config(_database_url)}
DATABASES["default"].update(
    {
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), "connect_timeout": 5},
    }
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if CONF["REDIS_URL"]:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CONF["REDIS_URL"],
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root before collectstatic
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
IS_DEPLOYED = CONF["ENVIRONMENT"] != "development"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = IS_DEPLOYED
SESSION_COOKIE_HTTPONLY = True
_hsts = CONF["HSTS_SECONDS"]
SECURE_HSTS_SECONDS = (365 * 24 * 3600 if IS_DEPLOYED else 0) if _hsts is None else _hsts
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
_redirect = CONF["SECURE_SSL_REDIRECT"]
SECURE_SSL_REDIRECT = IS_DEPLOYED if _redirect is None else _redirect
SECURE_REDIRECT_EXEMPT = [r"^health"]  # load balancers and container healthchecks speak http
if SECURE_SSL_REDIRECT:
    # TLS ends at the proxy in front of us, which must set (and never pass on) this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "messaging.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["messaging.authentication.IsApiClientOrStaff"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "messaging.exception_handler.json_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Message Dispatcher API",
    "DESCRIPTION": "Accepts short messages and delivers each one to a webhook, with retries.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "messaging.openapi.require_bulk_body",
        "messaging.openapi.add_metrics",
    ],
    "TAGS": [
        {"name": "messages", "description": "Create, list and inspect messages; one at a time."},
        {
            "name": "operator",
            "description": "Requeue or cancel every message a filter selects, in batches.",
        },
        {"name": "dispatching", "description": "Deliver a batch now; queue and today's counts."},
        {
            "name": "scheduler",
            "description": "The switch every dispatcher reads, its heartbeats, the circuit.",
        },
        {"name": "health", "description": "Liveness and readiness, without an API key."},
        {"name": "metrics", "description": "Prometheus metrics."},
    ],
}

# What the application reads, each value under one name: its variable's, in lower case. Left
# out: the two whose effective values are SECRET_KEY and DATABASES above.
_DJANGO_OWN = {"DJANGO_SECRET_KEY", "DATABASE_URL"}
DISPATCHER = {
    "version": VERSION,
    **{name.lower(): value for name, value in CONF.items() if name not in _DJANGO_OWN},
    "webhook_lease": CONF["WEBHOOK_LEASE"] or 2 * CONF["WEBHOOK_TIMEOUT"] + timedelta(seconds=5),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "messaging.request_id.RequestIdFilter"}},
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": {"()": "messaging.logging_json.JsonFormatter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": CONF["LOG_FORMAT"],
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stderr"], "level": CONF["LOG_LEVEL"].upper()},
    "loggers": {"django.request": {"level": "ERROR"}, "pgserver": {"level": "WARNING"}},
}
