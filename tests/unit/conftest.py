"""The unit tests run on the domain and the in-memory fakes alone: a run with pytest-django off
(`make test-unit`) fails if anything it imported pulled in Django."""

from __future__ import annotations

import sys

import pytest


def _django_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0].startswith("django"))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not session.config.pluginmanager.is_blocked("django"):
        return  # a whole-tree run loads Django for the other suites
    loaded = _django_modules()
    if loaded:
        session.config.get_terminal_writer().line(
            f"tests/unit imported Django: {', '.join(loaded[:5])}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
