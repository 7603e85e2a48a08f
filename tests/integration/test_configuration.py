"""Configuration: file, environment overrides, and one clear line for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dispatcher_project import config

ROOT = Path(__file__).resolve().parents[2]


def manage_py_check(overrides: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own, with `overrides` in its environment."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **overrides},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_yaml_holds_the_go_services_sections() -> None:
    values = config.load(ROOT, {})
    assert values["SCHEDULER_INTERVAL"] == timedelta(minutes=2)
    assert values["SCHEDULER_BATCH_SIZE"] == 2
    assert values["WEBHOOK_TIMEOUT"] == timedelta(seconds=30)
    assert values["DJANGO_DEBUG"] is False


def test_environment_overrides_the_file(tmp_path) -> None:
    (tmp_path / "c.yaml").write_text("scheduler:\n  interval: 5m\n  batch_size: 7\n")
    values = config.load(
        ROOT,
        {"CONFIG_FILE": str(tmp_path / "c.yaml"), "SCHEDULER_INTERVAL": "500ms", "API_KEY": "a, b"},
    )
    assert values["SCHEDULER_INTERVAL"] == timedelta(milliseconds=500)
    assert values["SCHEDULER_BATCH_SIZE"] == 7
    assert values["API_KEY"] == ["a", "b"]


def test_the_go_services_database_keys_compose_a_url(tmp_path) -> None:
    (tmp_path / "c.yaml").write_text(
        "database:\n  host: db\n  port: 5433\n  username: u\n  password: p\n  database: d\n"
    )
    values = config.load(ROOT, {"CONFIG_FILE": str(tmp_path / "c.yaml")})
    assert values["DATABASE_URL"] == "postgres://u:p@db:5433/d"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WEBHOOK_TIMEOUT": "soon"}, "WEBHOOK_TIMEOUT: expected a duration like 500ms"),
        ({"SCHEDULER_INTERVAL": "0s"}, "SCHEDULER_INTERVAL: expected a duration"),
        ({"SCHEDULER_BATCH_SIZE": "many"}, "SCHEDULER_BATCH_SIZE: expected a whole number"),
        ({"RATE_LIMIT_PER_MINUTE": "-1"}, "RATE_LIMIT_PER_MINUTE: expected a whole number"),
        ({"API_KEY": " , "}, "API_KEY: expected one or more keys"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG: expected true or false"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT: expected json or console"),
        ({"WEBHOOK_URL": "ftp://x"}, "WEBHOOK_URL: expected an http:// or https:// URL"),
        ({"CONFIG_FILE": "/nonexistent/config.yaml"}, "CONFIG_FILE: cannot read"),
    ],
)
def test_a_bad_value_is_reported_naming_the_key(env, expected) -> None:
    with pytest.raises(ImproperlyConfigured, match=expected.replace(".", r"\.")):
        config.load(ROOT, env)


@pytest.mark.parametrize("key", ["WEBHOOK_TIMEOUT", "SCHEDULER_INTERVAL"])
def test_manage_py_stops_with_one_line_and_a_non_zero_exit(key) -> None:
    result = manage_py_check({key: "every now and then"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Configuration error: {key}: expected a duration like 500ms, 30s, 2m or 1h, "
        f"got 'every now and then' (from {key})"
    ]
    assert "Traceback" not in result.stderr


# -- secrets are never repeated in a configuration error ---------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "ftp://us3r:pa55word@hooks.example:8443/in?token=s3cr3t#frag",
            "ftp://hooks.example:8443/in",
        ),
        (
            "https://us3r:pa55word@hooks.example:99999/in?token=s3cr3t",
            "https://hooks.example:99999/in",
        ),
        ("http://us3r:pa55word@/in?token=s3cr3t", None),  # no host: nothing is worth showing
        ("us3r:pa55word@hooks.example/in?token=s3cr3t", None),  # not a URL at all
    ],
)
def test_a_bad_webhook_url_is_shown_without_userinfo_or_query(url, shown) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        config.load(ROOT, {"WEBHOOK_URL": url})

    message = str(raised.value)
    assert message.startswith("WEBHOOK_URL: expected an http:// or https:// URL")
    assert message.endswith("(from WEBHOOK_URL)")
    assert (f"got '{shown}'" in message) if shown else ("got" not in message)
    for secret in ("us3r", "pa55word", "s3cr3t", "token", "frag"):
        assert secret not in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("WEBHOOK_AUTH_TOKEN", "tök-s3cr3t-value", "a token of printable ASCII characters"),
        ("WEBHOOK_AUTH_TOKEN", "s3cr3t\nvalue", "a token of printable ASCII characters"),
        ("WEBHOOK_SIGNING_SECRET", "whsec_s3cr3t*value!", "whsec_<base64>"),
        ("WEBHOOK_SIGNING_SECRET", "whsec_", "whsec_<base64>"),
    ],
)
def test_a_bad_token_or_signing_secret_is_named_but_never_shown(key, value, expected) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        config.load(ROOT, {key: value})

    assert str(raised.value) == f"{key}: expected {expected} (from {key})"


def test_a_bad_secret_in_config_yaml_is_not_shown_either(tmp_path) -> None:
    (tmp_path / "c.yaml").write_text("webhook:\n  signing_secret: 'whsec_s3cr3t*value!'\n")

    with pytest.raises(ImproperlyConfigured) as raised:
        config.load(ROOT, {"CONFIG_FILE": str(tmp_path / "c.yaml")})

    assert str(raised.value) == (
        "WEBHOOK_SIGNING_SECRET: expected whsec_<base64> (from webhook.signing_secret in c.yaml)"
    )


def test_manage_py_names_a_bad_token_without_repeating_it() -> None:
    result = manage_py_check({"WEBHOOK_AUTH_TOKEN": "s3cr3t-tök"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Configuration error: WEBHOOK_AUTH_TOKEN: expected a token of printable ASCII "
        "characters (from WEBHOOK_AUTH_TOKEN)"
    ]


# -- proxies and the CA bundle for the webhook, from the standard variables ----------------------

HOOK = "https://hooks.example/in"


@pytest.mark.parametrize(
    ("env", "proxies"),
    [
        ({}, {}),
        ({"https_proxy": "http://proxy.local:3128"}, {"https": "http://proxy.local:3128"}),
        ({"HTTPS_PROXY": "http://upper:3128"}, {"https": "http://upper:3128"}),
        ({"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128"},
            {"https": "http://lower:3128"}),
        ({"all_proxy": "socks5://any:1080"}, {"https": "socks5://any:1080"}),
        ({"http_proxy": "http://proxy.local:3128"}, {}),  # not for an https URL
        ({"https_proxy": "http://proxy.local:3128", "no_proxy": "example"}, {}),
        ({"https_proxy": "http://proxy.local:3128", "NO_PROXY": "*"}, {}),
        ({"https_proxy": "http://proxy.local:3128", "no_proxy": "other.example"},
            {"https": "http://proxy.local:3128"}),
    ],
)  # fmt: skip
def test_the_proxy_for_the_webhook_url_comes_from_the_standard_variables(env, proxies) -> None:
    assert config.load(ROOT, {"WEBHOOK_URL": HOOK, **env})["WEBHOOK_PROXIES"] == proxies


def test_under_cgi_an_upper_case_http_proxy_is_ignored() -> None:
    env = {"HTTP_PROXY": "http://injected:1", "REQUEST_METHOD": "POST"}

    assert config.webhook_proxies("http://hooks.example/in", env) == {}


def test_the_ca_bundle_comes_from_requests_ca_bundle_then_curl_ca_bundle(tmp_path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_text("")
    second.write_text("")

    both = {"REQUESTS_CA_BUNDLE": str(first), "CURL_CA_BUNDLE": str(second)}
    assert config.load(ROOT, both)["WEBHOOK_CA_BUNDLE"] == str(first)
    assert config.load(ROOT, {"CURL_CA_BUNDLE": str(second)})["WEBHOOK_CA_BUNDLE"] == str(second)
    assert config.load(ROOT, {})["WEBHOOK_CA_BUNDLE"] == ""


def test_a_missing_ca_bundle_stops_start_up(tmp_path) -> None:
    with pytest.raises(ImproperlyConfigured, match="REQUESTS_CA_BUNDLE: expected a CA bundle"):
        config.load(ROOT, {"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_the_webhook_settings_carry_proxies_and_the_ca_bundle(settings) -> None:
    conf = settings.DISPATCHER

    assert isinstance(conf["webhook_proxies"], dict)
    assert isinstance(conf["webhook_ca_bundle"], str)
