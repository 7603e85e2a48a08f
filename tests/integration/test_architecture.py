"""The dependency rule is enforced: the import-linter contract fails when it is broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(tree)},
    )


def copy_of_the_tree(destination: Path) -> Path:
    for package in ("core_domain", "adapters", "messaging", "dispatcher_project", "tests"):
        shutil.copytree(
            ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", destination)
    return destination


def test_the_contracts_hold_for_the_code_as_it_is(tmp_path) -> None:
    result = run_lint_imports(copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout


def test_core_domain_importing_django_breaks_the_contract(tmp_path) -> None:
    tree = copy_of_the_tree(tmp_path)
    message_module = tree / "core_domain" / "message.py"
    message_module.write_text(message_module.read_text() + "\nimport django  # noqa\n")
    result = run_lint_imports(tree)
    assert result.returncode != 0
    assert "core_domain imports no framework" in result.stdout
    assert "BROKEN" in result.stdout
