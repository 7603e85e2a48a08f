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


def run_unit_tests(tree: Path) -> subprocess.CompletedProcess[str]:
    """`make test-unit`, with none of the services' settings in its environment; `-X importtime`
    lists on stderr every module the run imported (`--capture=sys` leaves that stream alone)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pytest", "tests/unit", "-p", "no:django"]
        + ["-q", "-p", "no:cacheprovider", "--capture=sys"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(tree)},
    )


def imported_modules(importtime_log: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_unit_tests_pass_without_django_or_services() -> None:
    result = run_unit_tests(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    modules = imported_modules(result.stderr)
    assert "core_domain.message" in modules  # the log is read correctly
    assert not {name for name in modules if name.split(".")[0].startswith("django")}


def test_a_unit_test_importing_django_fails_the_unit_run(tmp_path) -> None:
    tree = copy_of_the_tree(tmp_path)
    (tree / "tests" / "unit" / "test_uses_django.py").write_text(
        "import django.conf\n\n\ndef test_nothing_wrong_by_itself():\n    assert django.conf\n"
    )
    result = run_unit_tests(tree)
    assert result.returncode != 0
    assert "tests/unit imported Django: django" in result.stdout
