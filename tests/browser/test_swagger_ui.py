"""Swagger UI renders in headless Chromium, fetches nothing off the machine, lists every route."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Request, Route, sync_playwright

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
# Schemes that never touch the network (inline images, blobs, the initial blank page).
OFFLINE_SCHEMES = {"data", "blob", "about"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
API_TITLE = "Message Dispatcher API"
SCREENSHOT = Path(__file__).parent / "screenshots" / "swagger.png"
TIMEOUT_MS = 30_000


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (install Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _leaves_the_machine(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in OFFLINE_SCHEMES:
        return False
    return parts.hostname not in LOCAL_HOSTS


def _documented_operations(base_url: str) -> set[tuple[str, str]]:
    response = requests.get(f"{base_url}/swagger/doc.json", timeout=10)
    response.raise_for_status()
    document = response.json()
    assert document["info"]["title"] == API_TITLE
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_offline_and_lists_every_endpoint(live_server) -> None:
    _require_chromium()
    documented = _documented_operations(live_server.url)
    assert documented, "the OpenAPI document lists no operations"

    requested: list[str] = []
    off_machine: list[str] = []
    failed_locally: list[str] = []
    page_errors: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if _leaves_the_machine(url):
            off_machine.append(url)
            route.abort()
        else:
            route.continue_()

    def on_request_failed(request: Request) -> None:
        if not _leaves_the_machine(request.url):
            failed_locally.append(f"{request.url}: {request.failure}")

    # Playwright's event loop must be closed before the test ends, so that the database
    # teardown of the transactional test does not run "inside" an async context.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 2000})
            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("requestfailed", on_request_failed)
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            response = page.goto(f"{live_server.url}/swagger/index.html", wait_until="load")
            assert response is not None and response.status == 200
            page.wait_for_selector(".opblock .opblock-summary-path", timeout=TIMEOUT_MS)
            page.wait_for_selector(".information-container .info .title", timeout=TIMEOUT_MS)

            rendered = {
                (method.strip().upper(), path.replace("\u200b", "").strip())
                for method, path in page.eval_on_selector_all(
                    ".opblock",
                    """blocks => blocks.map(block => {
                        const path = block.querySelector(".opblock-summary-path");
                        return [
                            block.querySelector(".opblock-summary-method").textContent,
                            path.getAttribute("data-path") || path.textContent,
                        ];
                    })""",
                )
            }
            page_title = page.title()
            info_title = page.inner_text(".information-container .info .title")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    assert off_machine == [], f"requests that tried to leave the machine: {off_machine}"
    assert requested, "the page made no requests at all"
    assert failed_locally == [], f"local requests that failed: {failed_locally}"
    assert page_errors == [], f"JavaScript errors on the page: {page_errors}"
    assert page_title == API_TITLE
    assert API_TITLE in info_title
    missing = sorted(documented - rendered)
    assert missing == [], f"documented operations that Swagger UI does not list: {missing}"
    assert rendered == documented
