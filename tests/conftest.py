"""Root conftest: nothing here loads Django, so `tests/unit` runs without it (`-p no:django`).

The Django suites get their fixtures from tests/django_fixtures.py through their own conftests.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject.toml names the settings module for pytest-django; with the plugin off the key is
    # unknown, which --strict-config rejects. Declaring it then keeps one pytest configuration.
    if pluginmanager.is_blocked("django"):
        parser.addini("DJANGO_SETTINGS_MODULE", "read by pytest-django (off in this run)")
