"""Browser fixtures: a staff user who can log in to the admin and the dashboard."""

from __future__ import annotations

import pytest

from tests.browser.pages import PASSWORD
from tests.django_fixtures import *  # noqa: F403 (its __all__: fixtures pytest finds by name)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("operator", "op@example.com", PASSWORD)
