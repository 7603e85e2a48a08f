"""Reads config.yaml and the environment (environment wins), validates, publishes plain values."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.core.exceptions import ImproperlyConfigured

from adapters.webhook_signing import signing_key
from core_domain.send_gate import RateLimit
from core_domain.values import parse_duration


@dataclass(frozen=True)
class Setting:
    """One configuration value: its environment variable, its place in config.yaml, its form."""

    env: str
    path: tuple[str, str]
    parse: Callable[[Any], Any]
    expected: str
    default: Any
    help: str
    shown: Callable[[Any], str | None] = repr  # how a bad value appears in the error (None: not)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(text)


def _optional_whole_number(value: Any) -> int | None:
    return None if _text(value) == "" else _int_between(0, 10**9)(value)


def _optional_boolean(value: Any) -> bool | None:
    return None if _text(value) == "" else _boolean(value)


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(value)
        number = int(_text(value))
        if not low <= number <= high:
            raise ValueError(number)
        return number

    return parse


def _duration(value: Any) -> Any:
    span = parse_duration(_text(value))
    if span.total_seconds() <= 0:
        raise ValueError(value)
    return span


def _optional_duration(value: Any) -> Any:
    return None if _text(value) == "" else _duration(value)


def _duration_or_off(value: Any) -> Any:
    """A duration, or 0 for none at all (kept for ever)."""
    return None if _text(value) == "0" else _duration(value)


def _rate(value: Any) -> RateLimit | None:
    return RateLimit.parse(_text(value))


def _key_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else _text(value).split(",")
    keys = [_text(item) for item in items if _text(item)]
    if not keys:
        raise ValueError(value)
    return keys


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in allowed:
            raise ValueError(text)
        return text

    return parse


def _http_url(value: Any) -> str:
    text = _text(value)
    if not text:
        return text
    parts = urlsplit(text)  # raises ValueError for a malformed [IPv6] host
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.port == 0:
        raise ValueError("not an http(s) URL")
    if not text.isprintable() or any(character.isspace() for character in text):
        raise ValueError("spaces or control characters")
    return text


def _shown_url(value: Any) -> str | None:
    """scheme://host[:port]/path of a URL: its userinfo and query may hold credentials."""
    try:
        parts = urlsplit(_text(value))
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    return repr(f"{parts.scheme}://{host}{parts.path}") if parts.scheme and host else None


def _hidden(value: Any) -> None:
    """A secret is never repeated, not even in part."""
    return None


def _token(value: Any) -> str:
    text = _text(value)
    if not (text.isascii() and text.isprintable()):
        raise ValueError("not a printable ASCII token")
    return text


def _signing_secret(value: Any) -> str:
    text = _text(value)
    if text:
        signing_key(text)  # raises ValueError
    return text


_DURATION = "a duration like 500ms, 30s, 2m or 1h"
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "API_KEY",
        ("app", "api_key"),
        _key_list,
        "one or more keys separated by commas",
        "test-api-key-123",
        "Bearer keys accepted by /api/v1 (comma-separated for rotation)",
    ),
    Setting(
        "PORT",
        ("app", "port"),
        _int_between(1, 65535),
        "a port number 1-65535",
        8080,
        "HTTP port of `make run`",
    ),
    Setting(
        "DJANGO_SECRET_KEY",
        ("app", "secret_key"),
        _text,
        "a long random string",
        "",
        "Django secret key (required when DEBUG is off in production)",
    ),
    Setting(
        "ENVIRONMENT",
        ("app", "environment"),
        _choice("development", "staging", "production"),
        "development, staging or production",
        "development",
        "staging and production require a real secret key and turn on the secure defaults",
    ),
    Setting(
        "HSTS_SECONDS",
        ("app", "hsts_seconds"),
        _optional_whole_number,
        "a whole number of seconds, 0 = off",
        "",
        "Strict-Transport-Security max-age; empty = 1 year in production, off otherwise",
    ),
    Setting(
        "SECURE_SSL_REDIRECT",
        ("app", "ssl_redirect"),
        _optional_boolean,
        "true or false",
        "",
        "redirect http to https behind a proxy setting X-Forwarded-Proto; empty = on in production",
    ),
    Setting(
        "DJANGO_DEBUG",
        ("app", "debug"),
        _boolean,
        "true or false",
        False,
        "Django DEBUG; off unless asked for",
    ),
    Setting(
        "ALLOWED_HOSTS",
        ("app", "allowed_hosts"),
        _key_list,
        "host names separated by commas",
        "localhost,127.0.0.1,[::1]",
        "Django ALLOWED_HOSTS",
    ),
    Setting(
        "CONTENT_MAX_LENGTH",
        ("app", "content_max_length"),
        _int_between(1, 10000),
        "a whole number 1-10000",
        160,
        "maximum message length in characters",
    ),
    Setting(
        "DATABASE_URL",
        ("database", "url"),
        _text,
        "a URL like postgres://user:pass@host:5432/db",
        "",
        "PostgreSQL; empty = embedded PostgreSQL under .data/",
    ),
    Setting(
        "REDIS_URL",
        ("redis", "url"),
        _text,
        "a URL like redis://host:6379/0",
        "",
        "Redis for receipts and rate limits; empty = local-memory cache",
    ),
    Setting(
        "RECEIPT_TTL",
        ("redis", "receipt_ttl"),
        _duration,
        _DURATION,
        "720h",
        "how long delivery receipts stay in the cache",
    ),
    Setting(
        "WEBHOOK_URL",
        ("webhook", "url"),
        _http_url,
        "an http:// or https:// URL",
        "",
        "where messages are POSTed; empty = the bundled demo receiver under `make run`",
        _shown_url,
    ),
    Setting(
        "WEBHOOK_AUTH_TOKEN",
        ("webhook", "auth_token"),
        _token,
        "a token of printable ASCII characters",
        "",
        "sent as `Authorization: Bearer` to the webhook when set",
        _hidden,
    ),
    Setting(
        "WEBHOOK_TIMEOUT",
        ("webhook", "timeout"),
        _duration,
        _DURATION,
        "30s",
        "the longest one webhook call takes, connect to last byte",
    ),
    Setting(
        "WEBHOOK_MAX_RETRIES",
        ("webhook", "max_retries"),
        _int_between(0, 100),
        "a whole number 0-100",
        3,
        "retries after the first attempt before FAILED",
    ),
    Setting(
        "WEBHOOK_BACKOFF_BASE",
        ("webhook", "retry_backoff_base"),
        _duration,
        _DURATION,
        "1s",
        "delay before the first retry (doubles each retry)",
    ),
    Setting(
        "WEBHOOK_BACKOFF_MAX",
        ("webhook", "retry_backoff_max"),
        _duration,
        _DURATION,
        "5m",
        "longest delay between retries",
    ),
    Setting(
        "WEBHOOK_SIGNING_SECRET",
        ("webhook", "signing_secret"),
        _signing_secret,
        "whsec_<base64>",
        "",
        "Standard Webhooks signing secret; empty = unsigned",
        _hidden,
    ),
    Setting(
        "WEBHOOK_LEASE",
        ("webhook", "lease"),
        _optional_duration,
        _DURATION,
        "",
        "how long a claim lasts; empty = 2 x timeout + 5s",
    ),
    Setting(
        "WEBHOOK_RATE_LIMIT",
        ("webhook", "rate_limit"),
        _rate,
        "a rate like 50/s or 3000/m, or 0 for no limit",
        "0",
        "the most sends for the whole fleet together (kept in PostgreSQL)",
    ),
    Setting(
        "WEBHOOK_CIRCUIT_FAILURES",
        ("webhook", "circuit_failures"),
        _int_between(0, 1_000_000),
        "a whole number, 0 = no circuit breaker",
        10,
        "retryable failures in a row (fleet-wide) that open the circuit; one 410 always does",
    ),
    Setting(
        "WEBHOOK_CIRCUIT_COOLDOWN",
        ("webhook", "circuit_cooldown"),
        _duration,
        _DURATION,
        "30s",
        "wait before the first probe of an open circuit (doubles while probes fail, up to 10m)",
    ),
    Setting(
        "MESSAGE_RETENTION",
        ("retention", "messages"),
        _duration_or_off,
        "a duration like 30d or 12h, or 0 to keep everything",
        "30d",
        "SENT and FAILED messages (and their attempts) last changed longer ago are removed",
    ),
    Setting(
        "IDEMPOTENCY_KEY_TTL",
        ("retention", "idempotency_keys"),
        _duration_or_off,
        "a duration like 24h, or 0 to keep keys for ever",
        "24h",
        "how long an Idempotency-Key matches; a repeat after that creates a new message",
    ),
    Setting(
        "SCHEDULER_ENABLED",
        ("scheduler", "enabled"),
        _boolean,
        "true or false",
        True,
        "initial state of the shared on/off switch (set when its row is first created)",
    ),
    Setting(
        "SCHEDULER_INTERVAL",
        ("scheduler", "interval"),
        _duration,
        _DURATION,
        "2m",
        "time between dispatcher ticks",
    ),
    Setting(
        "SCHEDULER_BATCH_SIZE",
        ("scheduler", "batch_size"),
        _int_between(1, 1000),
        "a whole number 1-1000",
        2,
        "messages claimed per batch",
    ),
    Setting(
        "SCHEDULER_CONCURRENCY",
        ("scheduler", "concurrency"),
        _int_between(1, 512),
        "a whole number 1-512",
        8,
        "concurrent webhook calls per dispatcher",
    ),
    Setting(
        "RATE_LIMIT_PER_MINUTE",
        ("rate_limiting", "requests_per_minute"),
        _int_between(0, 10_000_000),
        "a whole number, 0 = off",
        600,
        "requests per minute per API key (per address when anonymous)",
    ),
    Setting(
        "LOG_LEVEL",
        ("logging", "level"),
        _choice("debug", "info", "warning", "error"),
        "debug, info, warning or error",
        "info",
        "log level",
    ),
    Setting(
        "LOG_FORMAT",
        ("logging", "format"),
        _choice("json", "console"),
        "json or console",
        "console",
        "log line format",
    ),
    Setting(
        "METRICS_PUBLIC",
        ("metrics", "public"),
        _boolean,
        "true or false",
        False,
        "serve /metrics without the API key",
    ),
)


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
        section, key = setting.path
        raw: Any = (document.get(section) or {}).get(key, setting.default)
        origin = f"{section}.{key} in {config_file.name}"
        if setting.env in source:
            raw, origin = source[setting.env], setting.env
        try:
            values[setting.env] = setting.parse(raw)
        except (ValueError, TypeError):
            shown = setting.shown(raw)
            got = "" if shown is None else f", got {shown}"
            raise ImproperlyConfigured(
                f"{setting.env}: expected {setting.expected}{got} (from {origin})"
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
        path = _text(environ_map.get(name))
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
