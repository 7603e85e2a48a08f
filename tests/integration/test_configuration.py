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
    env = {**os.environ, key: "every now and then"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Configuration error: {key}: expected a duration like 500ms, 30s, 2m or 1h, "
        f"got 'every now and then' (from {key})"
    ]
    assert "Traceback" not in result.stderr
