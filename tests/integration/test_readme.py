"""The README stays in step with the code: every setting documented, every example real."""

from __future__ import annotations

import re
from pathlib import Path

from dispatcher_project.config import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \| `([a-z_]+\.[a-z_]+)`", README, re.MULTILINE))
    assert documented == {(s.env, s.path) for s in SETTINGS}


def test_the_curl_examples_use_the_configured_default_key() -> None:
    keys = set(re.findall(r"Authorization: Bearer ([\w-]+)", README))
    assert keys == {SETTINGS[0].default}
