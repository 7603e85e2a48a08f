"""The forms a configuration value may take: each parser knows what it expects.

A parser turns a raw value (from config.yaml, the environment or a command-line option) into
the setting's value or raises ValueError/TypeError; `expected` and `shown` make the one line
that reports a bad value. dispatcher_project.config builds its table of settings from them and
the management commands check their options with the same ones, so a limit is written once
(here in messaging, the layer both may import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from adapters.webhook_signing import signing_key
from core_domain.send_gate import RateLimit
from core_domain.values import parse_duration


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _hidden(value: Any) -> None:
    """A secret is never repeated, not even in part."""
    return None


@dataclass(frozen=True)
class Parser:
    """`parse` with the words for what it accepts; `shown` gives a bad value as the error
    repeats it (None: it is not repeated)."""

    parse: Callable[[Any], Any]
    expected: str
    shown: Callable[[Any], str | None] = repr

    def __call__(self, value: Any) -> Any:
        return self.parse(value)

    def problem(self, value: Any) -> str:
        """'expected …, got …' for a value this parser refused."""
        shown = self.shown(value)
        return f"expected {self.expected}" + ("" if shown is None else f", got {shown}")

    def or_empty(self) -> Parser:
        """The same form, or empty for None (the setting's own default applies)."""
        return Parser(lambda v: None if _text(v) == "" else self.parse(v), self.expected)


def text(expected: str) -> Parser:
    return Parser(_text, expected)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = _text(value).lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(lowered)


BOOLEAN = Parser(_boolean, "true or false")


def whole_number(low: int, high: int, expected: str = "") -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(value)
        number = int(_text(value))
        if not low <= number <= high:
            raise ValueError(number)
        return number

    return Parser(parse, expected or f"a whole number {low}-{high}")


def fraction(expected: str) -> Parser:
    """A number from 0 to 1, such as a share of calls."""

    def parse(value: Any) -> float:
        number = float(_text(value))
        if not 0.0 <= number <= 1.0:
            raise ValueError(number)
        return number

    return Parser(parse, expected)


def _duration(value: Any) -> Any:
    span = parse_duration(_text(value))
    if span.total_seconds() <= 0:
        raise ValueError(value)
    return span


DURATION = Parser(_duration, "a duration like 500ms, 30s, 2m or 1h")


def duration_or_off(expected: str) -> Parser:
    """A duration, or 0 for none at all (kept for ever)."""
    return Parser(lambda value: None if _text(value) == "0" else _duration(value), expected)


RATE = Parser(
    lambda value: RateLimit.parse(_text(value)), "a rate like 50/s or 3000/m, or 0 for no limit"
)


def key_list(expected: str) -> Parser:
    def parse(value: Any) -> list[str]:
        items = value if isinstance(value, list) else _text(value).split(",")
        keys = [_text(item) for item in items if _text(item)]
        if not keys:
            raise ValueError(value)
        return keys

    return Parser(parse, expected)


def choice(*allowed: str) -> Parser:
    def parse(value: Any) -> str:
        lowered = _text(value).lower()
        if lowered not in allowed:
            raise ValueError(lowered)
        return lowered

    return Parser(parse, f"{', '.join(allowed[:-1])} or {allowed[-1]}")


def _address(value: Any) -> str:
    address = _text(value)
    if not address or not address.isprintable() or any(c.isspace() for c in address):
        raise ValueError(address)
    return address


ADDRESS = Parser(_address, "an address to listen on, like 127.0.0.1 or 0.0.0.0")


def _http_url(value: Any) -> str:
    url = _text(value)
    if not url:
        return url
    parts = urlsplit(url)  # raises ValueError for a malformed [IPv6] host
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.port == 0:
        raise ValueError("not an http(s) URL")
    if not url.isprintable() or any(character.isspace() for character in url):
        raise ValueError("spaces or control characters")
    return url


def _shown_url(value: Any) -> str | None:
    """scheme://host[:port]/path of a URL: its userinfo and query may hold credentials."""
    try:
        parts = urlsplit(_text(value))
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    return repr(f"{parts.scheme}://{host}{parts.path}") if parts.scheme and host else None


HTTP_URL = Parser(_http_url, "an http:// or https:// URL", _shown_url)


def _token(value: Any) -> str:
    token = _text(value)
    if not (token.isascii() and token.isprintable()):
        raise ValueError("not a printable ASCII token")
    return token


TOKEN = Parser(_token, "a token of printable ASCII characters", _hidden)


def _signing_secret(value: Any) -> str:
    secret = _text(value)
    if secret:
        signing_key(secret)  # raises ValueError
    return secret


SIGNING_SECRET = Parser(_signing_secret, "whsec_<base64>", _hidden)


# Limits that a setting and a command-line option share.
PORT = whole_number(1, 65535, "a port number 1-65535")
BATCH_SIZE = whole_number(1, 1000)
CONCURRENCY = whole_number(1, 512)
FAIL_RATE = fraction("a number from 0 to 1")
