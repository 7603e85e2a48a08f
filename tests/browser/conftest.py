"""Browser fixtures: a staff user who can log in to the admin and the dashboard."""

from __future__ import annotations

import pytest

from tests.browser.pages import PASSWORD
from tests.django_fixtures import (  # noqa: F401 (fixtures, found by pytest by name)
    _no_rate_limit_unless_asked,
    anonymous,
    api,
    api_key,
    django_db_modify_db_settings,
    receiver,
    webhook,
)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("operator", "op@example.com", PASSWORD)
