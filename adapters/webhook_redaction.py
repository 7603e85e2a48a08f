"""The webhook's secrets in every form a receiver or a library could echo, and the stored excerpt.

A receiver that echoes our request back, or a library that logs its target, could put into an
attempt, an error or a log line: the token, the signing secret, the URL's userinfo (and the
Basic header made from it) and the URL's query string. Redaction runs before any truncation,
so a secret that straddles the 1 KiB cut is hidden whole.
"""

from __future__ import annotations

import base64
import codecs
import logging
import threading
import weakref
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit

from requests.utils import requote_uri

from adapters.webhook_signing import SECRET_PREFIX

REDACTED = "[redacted]"
EXCERPT_BYTES = 1024
# User names and query values this short are not secrets ("v=1"); hiding every "1" in an
# excerpt would only make it unreadable. Passwords, tokens and whole queries always count.
_SHORTEST_PUBLIC_PART = 3
_LIBRARY_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry")


class Redaction:
    """Replaces each known secret with [redacted], longest first ("user:pw" before "user")."""

    __slots__ = ("_secrets", "_longest", "__weakref__")

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {secret for secret in secrets if secret}
        self._secrets = sorted(unique, key=len, reverse=True)
        self._longest = max((len(secret.encode()) for secret in unique), default=0)

    @classmethod
    def for_webhook(cls, *, url: str, auth_token: str, signing_secret: str) -> Redaction:
        secrets = [auth_token, signing_secret, signing_secret.removeprefix(SECRET_PREFIX)]
        return cls([*secrets, *_url_secrets(url)])

    def apply(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def excerpt(self, body: bytes) -> str:
        """The first 1 KiB of `body` as UTF-8 text without NUL, secrets hidden, no character
        cut in half."""
        window = body[: EXCERPT_BYTES + self._longest]  # holds any secret starting in the KiB
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(window, final=len(window) == len(body))
        text = self.apply(text.replace("\x00", "\ufffd"))  # PostgreSQL text cannot hold NUL
        return text.encode()[:EXCERPT_BYTES].decode(errors="ignore")  # drops a split tail only


def _url_secrets(url: str) -> list[str]:
    """Userinfo and query of `url`, raw and percent-decoded, and the Basic value made of them."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []  # such a URL is never requested (every call answers "invalid URL")
    userinfo = parts.netloc.rpartition("@")[0]
    user, colon, password = userinfo.partition(":")
    found = [password, unquote(password)] + ([userinfo, unquote(userinfo)] if colon else [])
    found += [part for part in (user, unquote(user)) if len(part) >= _SHORTEST_PUBLIC_PART]
    if userinfo:
        pair = f"{unquote(user)}:{unquote(password)}"
        for encoding in ("latin-1", "utf-8"):  # requests sends latin-1 when it can
            try:
                found.append(base64.b64encode(pair.encode(encoding)).decode("ascii"))
            except UnicodeEncodeError:
                continue
    query = parts.query
    found += [query, requote_uri(query), unquote(query), unquote_plus(query)]
    for field in query.split("&"):
        value = field.partition("=")[2]
        forms = (value, requote_uri(value), unquote(value), unquote_plus(value))
        found += [form for form in forms if len(form) >= _SHORTEST_PUBLIC_PART]
    return found


class _LibraryLogRedaction(logging.Filter):
    """urllib3 logs request targets (with their query) and answer lines it cannot parse."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._redactions: weakref.WeakSet[Redaction] = weakref.WeakSet()

    def add(self, redaction: Redaction) -> None:
        with self._lock:
            self._redactions.add(redaction)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactions = list(self._redactions)
        if redactions:
            message = record.getMessage()
            for redaction in redactions:
                message = redaction.apply(message)
            record.msg, record.args = message, None
            record.exc_info = record.exc_text = None  # a traceback can quote the answer
        return True


_LIBRARY_LOGS = _LibraryLogRedaction()


def redact_library_logs(redaction: Redaction) -> None:
    """Apply `redaction` to urllib3's log records too, while it is in use."""
    _LIBRARY_LOGS.add(redaction)
    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        if _LIBRARY_LOGS not in library_logger.filters:
            library_logger.addFilter(_LIBRARY_LOGS)
