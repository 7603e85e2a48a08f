"""Headless Debian Chromium pages (via Playwright) that may only talk to this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
OFFLINE_SCHEMES = {"data", "blob", "about"}  # never touch the network
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "s3cret-pass-word"  # of the `staff` fixture's user, "operator"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (install Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def leaves_the_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in OFFLINE_SCHEMES and parts.hostname not in LOCAL_HOSTS


@dataclass
class GuardedPage:
    page: object
    off_machine: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def guarded_page() -> Iterator[GuardedPage]:
    """A Chromium page whose requests off this machine are aborted and recorded.

    Do database work before or after the block, not inside: Playwright's sync API runs an
    event loop here, and Django would give code inside it a connection of its own.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            guarded = GuardedPage(page=context.new_page())

            def guard(route) -> None:
                if leaves_the_machine(route.request.url):
                    guarded.off_machine.append(route.request.url)
                    route.abort()
                else:
                    route.continue_()

            context.route("**/*", guard)
            guarded.page.on("pageerror", lambda error: guarded.errors.append(str(error)))
            yield guarded
        finally:
            browser.close()


def log_in(guarded: GuardedPage, base_url: str) -> None:
    """Log in to the admin as the `staff` fixture's user."""
    page = guarded.page
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name", timeout=30_000)
