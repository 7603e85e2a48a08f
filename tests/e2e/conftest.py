"""End-to-end fixtures: the shared receiver and a way to seed messages."""

from __future__ import annotations

import pytest

from core_domain.use_cases.create_messages import NewMessage
from messaging.bootstrap import use_cases
from tests.django_fixtures import *  # noqa: F403 (its __all__: fixtures pytest finds by name)


@pytest.fixture
def seed():
    def create(count: int) -> list:
        items = [NewMessage(phone_number="+905551234567", content=f"e2e {n}") for n in range(count)]
        return use_cases().create_messages.execute(items=items)

    use_cases.cache_clear()
    yield create
    use_cases.cache_clear()
