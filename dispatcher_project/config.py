"""Reads config.yaml and the environment (environment wins), validates, publishes plain values."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml
from django.core.exceptions import ImproperlyConfigured

from messaging.config_parsers import (
    ADDRESS,
    BATCH_SIZE,
    BOOLEAN,
    CONCURRENCY,
    DURATION,
    FAIL_RATE,
    HTTP_URL,
    PORT,
    RATE,
    SIGNING_SECRET,
    TOKEN,
    Parser,
    choice,
    duration_or_off,
    key_list,
    text,
    whole_number,
)


class Setting(NamedTuple):
    """One configuration value: its environment variable, its place in config.yaml
    ("section.key"), the parser of its form and its default."""

    env: str
    path: str
    parse: Parser
    default: Any


_WHOLE = "a whole number"
_SECONDS = whole_number(0, 10**9, f"{_WHOLE} of seconds, 0 = off").or_empty()
_ENVIRONMENT = choice("development", "staging", "production")
_KEYS = key_list("one or more keys separated by commas")
_HOSTS = key_list("host names separated by commas")
_DATABASE = text("a URL like postgres://user:pass@host:5432/db")
_REDIS = text("a URL like redis://host:6379/0")
_RETRIES = whole_number(0, 100)
_CIRCUIT = whole_number(0, 1_000_000, f"{_WHOLE}, 0 = no circuit breaker")
_RETENTION = duration_or_off("a duration like 30d or 12h, or 0 to keep everything")
_KEY_TTL = duration_or_off("a duration like 24h, or 0 to keep keys for ever")
_PER_MINUTE = whole_number(0, 10_000_000, f"{_WHOLE}, 0 = off")
_LEVEL = choice("debug", "info", "warning", "error")
_LOG_FORMAT = choice("json", "console")
_SECRET_KEY = text("a long random string")
_ON_OR_EMPTY = BOOLEAN.or_empty()
_SPAN_OR_EMPTY = DURATION.or_empty()
_LENGTH = whole_number(1, 10_000)
_LOCAL_HOSTS = "localhost,127.0.0.1,[::1]"

# The one list of settings; README "Configuration" says what each one means.
# fmt: off
_TABLE: tuple[tuple[str, str, Parser, Any], ...] = (
    # environment variable     config.yaml                   parser          default
    ("API_KEY",                  "app.api_key",                _KEYS,          "test-api-key-123"),
    ("HOST",                     "app.host",                   ADDRESS,        "127.0.0.1"),
    ("PORT",                     "app.port",                   PORT,           8080),
    ("DJANGO_SECRET_KEY",        "app.secret_key",             _SECRET_KEY,    ""),
    ("ENVIRONMENT",              "app.environment",            _ENVIRONMENT,   "development"),
    ("HSTS_SECONDS",             "app.hsts_seconds",           _SECONDS,       ""),
    ("SECURE_SSL_REDIRECT",      "app.ssl_redirect",           _ON_OR_EMPTY,   ""),
    ("DJANGO_DEBUG",             "app.debug",                  BOOLEAN,        False),
    ("ALLOWED_HOSTS",            "app.allowed_hosts",          _HOSTS,         _LOCAL_HOSTS),
    ("CONTENT_MAX_LENGTH",       "app.content_max_length",     _LENGTH,        160),
    ("DATABASE_URL",             "database.url",               _DATABASE,      ""),
    ("REDIS_URL",                "redis.url",                  _REDIS,         ""),
    ("RECEIPT_TTL",              "redis.receipt_ttl",          DURATION,       "720h"),
    ("WEBHOOK_URL",              "webhook.url",                HTTP_URL,       ""),
    ("WEBHOOK_AUTH_TOKEN",       "webhook.auth_token",         TOKEN,          ""),
    ("WEBHOOK_TIMEOUT",          "webhook.timeout",            DURATION,       "30s"),
    ("WEBHOOK_MAX_RETRIES",      "webhook.max_retries",        _RETRIES,       3),
    ("WEBHOOK_BACKOFF_BASE",     "webhook.retry_backoff_base", DURATION,       "1s"),
    ("WEBHOOK_BACKOFF_MAX",      "webhook.retry_backoff_max",  DURATION,       "5m"),
    ("WEBHOOK_SIGNING_SECRET",   "webhook.signing_secret",     SIGNING_SECRET, ""),
    ("WEBHOOK_LEASE",            "webhook.lease",              _SPAN_OR_EMPTY, ""),
    ("WEBHOOK_RATE_LIMIT",       "webhook.rate_limit",         RATE,           "0"),
    ("WEBHOOK_CIRCUIT_FAILURES", "webhook.circuit_failures",   _CIRCUIT,       10),
    ("WEBHOOK_CIRCUIT_COOLDOWN", "webhook.circuit_cooldown",   DURATION,       "30s"),
    ("MESSAGE_RETENTION",        "retention.messages",         _RETENTION,     "30d"),
    ("IDEMPOTENCY_KEY_TTL",      "retention.idempotency_keys", _KEY_TTL,       "24h"),
    ("SCHEDULER_ENABLED",        "scheduler.enabled",          BOOLEAN,        True),
    ("SCHEDULER_INTERVAL",       "scheduler.interval",         DURATION,       "2m"),
    ("SCHEDULER_BATCH_SIZE",     "scheduler.batch_size",       BATCH_SIZE,     2),
    ("SCHEDULER_CONCURRENCY",    "scheduler.concurrency",      CONCURRENCY,    8),
    ("RATE_LIMIT_PER_MINUTE",    "rate_limiting.requests_per_minute", _PER_MINUTE,    600),
    ("LOG_LEVEL",                "logging.level",              _LEVEL,         "info"),
    ("LOG_FORMAT",               "logging.format",             _LOG_FORMAT,    "console"),
    ("METRICS_PUBLIC",           "metrics.public",             BOOLEAN,        False),
    ("DEMO_FAIL_RATE",           "demo.fail_rate",             FAIL_RATE,      0),
)
# fmt: on
SETTINGS = tuple(Setting(*row) for row in _TABLE)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ImproperlyConfigured(f"CONFIG_FILE: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ImproperlyConfigured(f"CONFIG_FILE: {path} is not valid YAML ({exc})") from None
    if not isinstance(loaded, dict):
        raise ImproperlyConfigured(f"CONFIG_FILE: {path} must hold a mapping of sections")
    return loaded


def load(base_dir: Path, environ_map: dict[str, str] | None = None) -> dict[str, Any]:
    """All settings by environment name, validated; raises ImproperlyConfigured with one line."""
    source = os.environ if environ_map is None else environ_map
    config_file = Path(source.get("CONFIG_FILE") or base_dir / "config.yaml")
    document = _read_yaml(config_file) if config_file.exists() or "CONFIG_FILE" in source else {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        section, key = setting.path.split(".")
        raw: Any = (document.get(section) or {}).get(key, setting.default)
        origin = f"{setting.path} in {config_file.name}"
        if setting.env in source:
            raw, origin = source[setting.env], setting.env
        try:
            values[setting.env] = setting.parse(raw)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{setting.env}: {setting.parse.problem(raw)} (from {origin})"
            ) from None
    values["DATABASE_URL"] = values["DATABASE_URL"] or _composed_db_url(document)
    values["WEBHOOK_PROXIES"] = webhook_proxies(values["WEBHOOK_URL"], source)
    values["WEBHOOK_CA_BUNDLE"] = webhook_ca_bundle(source)
    if values["ENVIRONMENT"] != "development":
        _check_deployable(values)
    return values


def webhook_proxies(url: str, environ_map: Mapping[str, str]) -> dict[str, str]:
    """The proxy for `url` from http_proxy/https_proxy/all_proxy and no_proxy, in requests'
    form ({"https": "http://proxy:3128"}); {} when none applies. The rules are
    urllib.request's: lower-case names win, and HTTP_PROXY is ignored under CGI."""
    found: dict[str, str] = {}
    for lower_case in (False, True):
        for name, value in environ_map.items():
            if name.lower().endswith("_proxy") and (name == name.lower()) is lower_case:
                scheme = name[:-6].lower()
                if value:
                    found[scheme] = value
                else:
                    found.pop(scheme, None)
        if not lower_case and "REQUEST_METHOD" in environ_map:
            found.pop("http", None)
    try:
        parts = urlsplit(url)
        host, scheme = parts.hostname or "", parts.scheme.lower()
    except ValueError:
        return {}
    proxy = found.get(scheme) or found.get("all")
    if not (proxy and host) or urllib.request.proxy_bypass_environment(host, found):
        return {}
    return {scheme: proxy}


def webhook_ca_bundle(environ_map: Mapping[str, str]) -> str:
    """REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE (a file or a directory), as requests reads them;
    "" for certifi's bundle."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        path = (environ_map.get(name) or "").strip()
        if path and not Path(path).exists():
            raise ImproperlyConfigured(
                f"{name}: expected a CA bundle file or directory, got {path!r} (not found)"
            )
        if path:
            return path
    return ""


def _check_deployable(values: dict[str, Any]) -> None:
    """Staging and production refuse the conveniences that are fine on a laptop."""
    key = values["DJANGO_SECRET_KEY"]
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY: expected at least 50 random characters when ENVIRONMENT is "
            f"{values['ENVIRONMENT']}"
        )
    if any(len(api_key) < 16 or api_key == "test-api-key-123" for api_key in values["API_KEY"]):
        raise ImproperlyConfigured(
            "API_KEY: expected keys of at least 16 characters, not the example key, when "
            f"ENVIRONMENT is {values['ENVIRONMENT']}"
        )
    if values["DJANGO_DEBUG"]:
        raise ImproperlyConfigured(
            f"DJANGO_DEBUG: must be false when ENVIRONMENT is {values['ENVIRONMENT']}"
        )


def _composed_db_url(document: dict[str, Any]) -> str:
    """The Go service's host/port/username/password/database keys, when given."""
    database = document.get("database") or {}
    if not database.get("host"):
        return ""
    user, password = database.get("username", "postgres"), database.get("password", "")
    return (
        f"postgres://{user}:{password}@{database['host']}:{database.get('port', 5432)}"
        f"/{database.get('database', 'message_dispatcher')}"
    )
