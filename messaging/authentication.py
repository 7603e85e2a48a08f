"""Bearer API-key authentication (constant-time, several keys) and the API permission."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest
from rest_framework import authentication, exceptions, permissions


class ApiClient:
    """The caller behind a valid API key; `key_id` is a short hash, never the key itself."""

    is_authenticated = True
    is_staff = False
    is_anonymous = False

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def __str__(self) -> str:
        return f"api-key:{self.key_id}"


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def matching_key_id(token: str) -> str | None:
    """The id of the configured key equal to `token`; compares with every key in constant time."""
    given = token.encode()
    matched = None
    for key in settings.DISPATCHER["api_key"]:
        if hmac.compare_digest(given, key.encode()):
            matched = key
    return hashlib.sha256(matched.encode()).hexdigest()[:12] if matched else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <API_KEY>`; any of the configured keys is accepted."""

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            return None
        key_id = matching_key_id(token)
        if key_id is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        return ApiClient(key_id), key_id

    def authenticate_header(self, request) -> str:
        return "Bearer"


class IsApiClientOrStaff(permissions.BasePermission):
    """An API-key client, or a logged-in staff user (for the browsable API)."""

    message = "Authentication required: send Authorization: Bearer <API key>"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return isinstance(user, ApiClient) or bool(user and user.is_staff and user.is_active)
