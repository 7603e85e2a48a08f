"""Swagger UI renders in headless Chromium, fetches nothing off the machine, lists every route."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Request

from tests.browser.pages import guarded_page, leaves_the_machine

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
API_TITLE = "Message Dispatcher API"
TIMEOUT_MS = 30_000


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
    documented = _documented_operations(live_server.url)
    assert documented, "the OpenAPI document lists no operations"

    requested: list[str] = []
    failed_locally: list[str] = []

    def on_request_failed(request: Request) -> None:
        if not leaves_the_machine(request.url):
            failed_locally.append(f"{request.url}: {request.failure}")

    with guarded_page() as guarded:
        page = guarded.page
        page.on("request", lambda request: requested.append(request.url))
        page.on("requestfailed", on_request_failed)
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
        guarded.screenshot("swagger")
    off_machine, page_errors = guarded.off_machine, guarded.errors

    assert off_machine == [], f"requests that tried to leave the machine: {off_machine}"
    assert requested, "the page made no requests at all"
    assert failed_locally == [], f"local requests that failed: {failed_locally}"
    assert page_errors == [], f"JavaScript errors on the page: {page_errors}"
    assert page_title == API_TITLE
    assert API_TITLE in info_title
    missing = sorted(documented - rendered)
    assert missing == [], f"documented operations that Swagger UI does not list: {missing}"
    assert rendered == documented
