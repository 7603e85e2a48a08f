"""The project's settings with the API baseline's URLs: a second gunicorn serves only those."""

from __future__ import annotations

from dispatcher_project.settings import *  # noqa: F403 - the very same server settings

ROOT_URLCONF = "benchmarks.support.baseline_urls"
