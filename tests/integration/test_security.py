"""Security: deployable settings, secure headers, CSRF for sessions, secrets kept out of sight."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from adapters.webhook_client import HttpWebhookSender
from dispatcher_project import config
from tests.fakes import a_message
from tests.integration.receivers import Reply

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(60)
PRODUCTION = {
    "ENVIRONMENT": "production",
    "DJANGO_SECRET_KEY": STRONG_KEY,
    "API_KEY": "k-" + secrets.token_hex(16),
    "ALLOWED_HOSTS": "api.example.com",
}


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**os.environ, **PRODUCTION}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "key"),
    [({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
     ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
     ({"DJANGO_SECRET_KEY": "django-insecure-" + STRONG_KEY}, "DJANGO_SECRET_KEY"),
     ({"API_KEY": "test-api-key-123"}, "API_KEY"),
     ({"API_KEY": "short"}, "API_KEY"),
     ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG")],
)  # fmt: skip
def test_production_refuses_development_conveniences(override, key) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"^{key}: "):
        config.load(ROOT, {**PRODUCTION, **override, "CONFIG_FILE": str(ROOT / "config.yaml")})


@pytest.mark.django_db
def test_secure_headers_and_the_https_redirect(settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_SSL_REDIRECT = True
    secure = Client().get("/health", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["X-Frame-Options"] == "DENY"
    assert Client().get("/api/v1/messages").status_code == 301
    assert Client().get("/health").status_code == 200  # healthchecks speak plain http


@pytest.mark.django_db
def test_a_session_without_its_csrf_token_cannot_change_anything(admin_user) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    refused = browser.post("/api/v1/scheduler/stop", "{}", content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    browser.get("/api/v1/scheduler/status", HTTP_ACCEPT="text/html")  # the page sets the cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/scheduler/stop", "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_api_keys_and_webhook_credentials_never_reach_logs_or_responses(
    settings, api, anonymous, receiver, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    api_key, token = settings.DISPATCHER["api_key"][0], "tok-" + secrets.token_hex(8)
    signing = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
    bodies = [
        anonymous.get("/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {api_key}x").content,
        api.post("/api/v1/messages", {"phoneNumber": "1"}, format="json").content,
        api.get("/api/v1/messages/not-an-id").content,
    ]
    echo = Reply(status=500, body=f"you sent Authorization: Bearer {token} and {signing}")
    receiver.script(echo)
    with HttpWebhookSender(url=receiver.url, timeout=timedelta(seconds=5),
                               auth_token=token, signing_secret=signing) as sender:  # fmt: skip
        outcome = sender.send(a_message())
    assert receiver.requests[0].headers["authorization"] == f"Bearer {token}"
    seen = "\n".join([*map(bytes.decode, bodies), outcome.response_excerpt, caplog.text])
    for secret in (api_key, token, signing):
        assert secret not in seen
    assert "[redacted]" in outcome.response_excerpt
