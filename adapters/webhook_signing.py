"""Standard Webhooks signatures: the `whsec_` secret format and the `webhook-signature` value."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret, given as `whsec_<base64>` or bare base64.

    Raises ValueError naming the setting, never quoting the secret.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
        key = b""
    if not key:
        raise ValueError("WEBHOOK_SIGNING_SECRET: expected whsec_<base64>")
    return key


def standard_webhooks_signature(*, key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">."""
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
