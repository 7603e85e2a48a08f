"""One webhook call ends within WEBHOOK_TIMEOUT whatever the receiver does (SPEC §9 "HTTP").

Each receiver below keeps every single socket read under the timeout (it drips a byte every
0.3 s, or answers just in time and then drips), so only a deadline on the whole call ends it.
The lease (2 x timeout + 5 s by default) relies on this.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import trustme

from adapters.webhook_client import HttpWebhookSender
from core_domain.delivery import CallResult
from tests.fakes import a_message
from tests.integration.raw_receivers import (
    LoopbackServer,
    RawServer,
    StalledTlsServer,
    drip,
    hang_up,
    never_answer,
)

TIMEOUT = 1.0
# Room for a loaded machine, yet below what any of these receivers took before the deadline
# covered the whole call (1.8 s and more).
LIMIT = TIMEOUT + 0.5
ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Length: 17\r\n\r\n{"messageId":"m"}'
DRIPPING_HEAD = drip(b"HTTP/1.1 202 Accepted\r\n", b"X-Slow: " + b"a" * 100)


@pytest.fixture
def started() -> Iterator:
    """started(server) -> server, closed after the test."""
    servers: list[LoopbackServer] = []

    def start(server: LoopbackServer) -> Any:
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def timed_send(url: str, *, warm_up: bool = False, **options: Any) -> tuple[CallResult, float]:
    """One send (after one more when `warm_up`, to leave a pooled connection) and its length."""
    with HttpWebhookSender(url=url, timeout=timedelta(seconds=TIMEOUT), **options) as sender:
        if warm_up:
            assert sender.send(a_message()).is_success
        clock = time.monotonic()
        outcome = sender.send(a_message())
        return outcome, time.monotonic() - clock


def test_headers_that_drip_are_cut_at_the_deadline(started) -> None:
    server = started(RawServer(DRIPPING_HEAD))

    outcome, took = timed_send(server.url())

    assert (outcome.status_code, outcome.error) == (None, "timed out after 1s (read)")
    assert took < LIMIT


def test_headers_just_in_time_then_a_dripping_body_end_at_the_deadline(started) -> None:
    head = b"HTTP/1.1 202 Accepted\r\nContent-Length: 40\r\n\r\n"
    server = started(RawServer(drip(head, b'{"messageId":"late"}' + b" " * 20, after=0.8)))

    outcome, took = timed_send(server.url())

    assert outcome.is_success  # the status came in time and counts
    assert outcome.external_id is None  # the body did not
    assert took < LIMIT


def test_no_answer_at_all_times_out(started) -> None:
    server = started(RawServer(never_answer))

    outcome, took = timed_send(server.url())

    assert (outcome.status_code, outcome.error) == (None, "timed out after 1s (read)")
    assert TIMEOUT * 0.9 < took < LIMIT


def test_the_resend_after_an_unanswered_close_shares_the_deadline(started) -> None:
    server = started(RawServer(ACCEPTED, hang_up(after=0.8), never_answer))

    outcome, took = timed_send(server.url(), warm_up=True)

    assert (outcome.status_code, outcome.error) == (None, "timed out after 1s (read)")
    assert took < LIMIT
    assert [number for number, _ in server.requests] == [1, 1, 2]  # it was resent


@pytest.mark.parametrize("drips", [False, True], ids=["silent", "dripping"])
def test_a_stalled_tls_handshake_times_out(started, drips) -> None:
    server = started(StalledTlsServer(drips=drips))

    outcome, took = timed_send(server.url(scheme="https"))

    assert (outcome.status_code, outcome.error) == (None, "timed out after 1s (connect)")
    assert took < LIMIT


def test_a_slow_tls_handshake_leaves_only_the_rest_of_the_deadline(started, tmp_path) -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    server = started(RawServer(never_answer, tls=context, tls_after=0.8))

    outcome, took = timed_send(server.url(scheme="https"), ca_bundle=str(bundle))

    assert (outcome.status_code, outcome.error) == (None, "timed out after 1s (read)")
    assert took < LIMIT
    assert len(server.requests) == 1  # the handshake did complete


@pytest.mark.parametrize(
    ("scheme", "status_line", "phase"),
    [
        ("http", b"HTTP/1.1 202 Accepted", "read"),
        ("https", b"HTTP/1.1 200 Tunnel ready", "connect"),
    ],
)
def test_a_proxy_that_drips_its_headers_is_cut_at_the_deadline(
    started, scheme, status_line, phase
) -> None:
    """For http the proxy forwards (its answer is the webhook's); for https it drips its
    answer to CONNECT. Either way the webhook's name is never looked up."""
    proxy = started(RawServer(drip(status_line + b"\r\n", b"X-Slow: " + b"a" * 100)))

    outcome, took = timed_send(f"{scheme}://webhook.invalid/hook", proxies={scheme: proxy.url("")})

    assert (outcome.status_code, outcome.error) == (None, f"timed out after 1s ({phase})")
    assert took < LIMIT
    [(_, request)] = proxy.requests
    assert request.split(b" ")[:2] in (
        [b"POST", b"http://webhook.invalid/hook"],
        [b"CONNECT", b"webhook.invalid:443"],
    )
