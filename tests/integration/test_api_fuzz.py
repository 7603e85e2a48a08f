"""API fuzzing: schemathesis drives every operation in /swagger/doc.json over real HTTP.

Each operation gets schemathesis's examples and coverage cases plus `FUZZ_EXAMPLES` (default 20)
generated requests, valid and invalid ones, sent with the API key to the live server. Every
response must pass all of schemathesis's checks: no 5xx; status code, content type, headers and
body as documented; invalid data rejected; valid data accepted; the API key not ignored.
`FUZZ_EXAMPLES=500` makes a longer run.

The document is read at collection, from the same `/swagger/doc.json` view through Django's test
client, because `schemathesis.pytest.from_fixture` (which would read it from `live_server` at
run time) fails under pytest 9.2: it writes `Node._nodeid`, which pytest no longer has. The last
test proves that the live server serves exactly this document. Under pytest 9.2 the operations'
tests also share one node id; the operation is in each test's name (`-k`, failure headers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from django.test import Client, override_settings
from hypothesis import settings

from messaging.bootstrap import close_dispatchers
from tests.integration.receivers import ScriptedReceiver

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))


def _served_document() -> dict[str, Any]:
    # Collection runs before pytest-django allows the test client's host name.
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        response = Client().get("/swagger/doc.json")
    assert response.status_code == 200, response.content
    return response.json()


# schemathesis's defaults, plus 413: a body over the size limit (SPEC §5) is rejected before
# its fields are read, e.g. a `content` far beyond its documented maxLength.
REJECTION_STATUSES = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx",
]  # fmt: skip
# A schedule's rules are relative to now (expiresAt in the future, both within a year), which
# no JSON Schema can state: on the two operations that take one, a valid-looking schedule may
# be rejected with 400 (the domain's answer), and only there.
RELATIVE_TO_NOW = ["400", "2xx", "401", "403", "404", "409", "429", "5xx"]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}},
        "operations": [
            {
                "include-path-regex": "^/api/v1/messages(/bulk)?$",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"expected-statuses": RELATIVE_TO_NOW}},
            }
        ],
    }
)
DOCUMENT = _served_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender honours proxy variables; the loopback receiver must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def _webhook(settings, receiver: ScriptedReceiver) -> Iterator[None]:
    """`POST /messaging/process` delivers to the loopback receiver, never to a real webhook."""
    conf = settings.DISPATCHER
    settings.DISPATCHER = {
        **conf,
        "webhook_url": receiver.url,
        "webhook_timeout": timedelta(seconds=5),
    }
    close_dispatchers()
    yield
    close_dispatchers()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run, so a failure reproduces
    database=None,  # no replay of earlier failures either: a run depends on the code only
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, live_server) -> None:
    # Read here, not through the `api_key` fixture: Hypothesis refuses function-scoped fixtures.
    api_key = django_settings.DISPATCHER["api_key"][0]
    # Without `checks=`, every check schemathesis has runs (all are enabled by default).
    case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )


def test_the_live_server_serves_the_fuzzed_document(live_server) -> None:
    response = requests.get(f"{live_server.url}/swagger/doc.json", timeout=30)
    assert response.json() == DOCUMENT
