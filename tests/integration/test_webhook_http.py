"""The webhook sender's HTTP stack against loopback receivers that answer with exact bytes.

Framing, bytes left over on a connection, malformed answers, the one resend, IDNA host names,
more than 1,024 open descriptors and TLS (secrets echoed back: test_webhook_secrets.py).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import resource
import ssl
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
import trustme

from adapters.webhook_client import HttpWebhookSender
from core_domain.delivery import DeliveryOutcome
from tests.fakes import a_message
from tests.integration.raw_receivers import (
    CLOSE,
    RawServer,
    accepted,
    answer,
    hang_up,
    reset_after,
    serving,
)


@pytest.fixture
def serve() -> Iterator:
    """serve(*answers, **options) -> (RawServer, HttpWebhookSender), as raw_receivers.serving,
    both closed after the test."""
    with contextlib.ExitStack() as stack:
        yield lambda *answers, **options: stack.enter_context(serving(*answers, **options))


def send(sender: HttpWebhookSender) -> DeliveryOutcome:
    return sender.send(a_message())


def send_through(proxy: RawServer, url: str) -> DeliveryOutcome:
    """One call to `url` with the loopback server as its HTTP proxy; the proxy is closed after."""
    try:
        with HttpWebhookSender(url=url, timeout=timedelta(seconds=2),
                               proxies={"http": proxy.url("")}) as sender:  # fmt: skip
            return send(sender)
    finally:
        proxy.close()


# -- bytes left over after an answer never become the next message's answer (bug 1) -------------

STOLEN = accepted("stolen")


@pytest.mark.parametrize(
    ("first", "status"),
    [
        (answer("422 Unprocessable", b"no") + STOLEN, 422),  # a whole answer after the body
        (answer("200 OK", b"hello") + b" world" + STOLEN, 200),  # more than Content-Length
        (b"HTTP/1.1 204 No Content\r\n\r\n" + STOLEN, 204),  # a body after a 204
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n{\"x\": 1}" + STOLEN, 204),
    ],
    ids=["data-after-the-body", "body-longer-than-content-length", "204-with-a-body",
         "204-with-a-content-length"],
)  # fmt: skip
def test_bytes_left_after_an_answer_never_answer_the_next_message(serve, first, status) -> None:
    server, sender = serve(first, accepted("own"))

    outcomes = [send(sender), send(sender)]

    assert [o.status_code for o in outcomes] == [status, 202]
    assert outcomes[1].external_id == "own"
    assert server.connections == 2  # the first connection was closed, never pooled


def test_an_answer_read_to_its_end_keeps_its_connection(serve) -> None:
    server, sender = serve(accepted("one"), accepted("two"))

    assert [send(sender).external_id for _ in range(2)] == ["one", "two"]
    assert server.connections == 1


def test_a_chunked_body_with_extensions_and_trailers_is_joined_and_reused(serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    server, sender = serve(chunked, accepted("two"))

    assert send(sender).response_excerpt == "hello world"
    assert send(sender).external_id == "two"
    assert server.connections == 1


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_bodies_are_decoded(serve, encoding, pack) -> None:
    packed = pack(b'{"messageId":"zipped"}')
    _, sender = serve(
        answer("200 OK", packed, head=b"Content-Encoding: %s\r\n" % encoding.encode())
    )

    assert send(sender).external_id == "zipped"


def test_a_gzip_answer_through_a_proxy_is_decoded_too() -> None:
    packed = gzip.compress(b'{"messageId":"proxied"}')
    proxy = RawServer(answer("200 OK", packed, head=b"Content-Encoding: gzip\r\n"))
    outcome = send_through(proxy, "http://webhook.invalid/hook")
    assert outcome.external_id == "proxied"
    assert [r.split(b" ")[1] for _, r in proxy.requests] == [b"http://webhook.invalid/hook"]


def test_an_undecodable_body_still_counts_its_status(serve) -> None:
    _, sender = serve(
        answer("202 Accepted", b"not gzip at all", head=b"Content-Encoding: gzip\r\n")
    )

    outcome = send(sender)

    assert (outcome.status_code, outcome.is_success) == (202, True)


def test_connection_close_is_honoured_without_a_resend(serve) -> None:
    closing = answer("202 Accepted", head=b"Connection: close\r\n")
    server, sender = serve(closing, CLOSE, accepted("two"))

    assert [send(sender).status_code for _ in range(2)] == [202, 202]
    assert (server.connections, len(server.requests)) == (2, 2)


def test_a_body_cut_short_keeps_its_status_and_its_connection_is_not_reused(serve) -> None:
    short = b"HTTP/1.1 202 Accepted\r\nContent-Length: 50\r\n\r\npartial"
    server, sender = serve(short, CLOSE, accepted("two"))

    outcome = send(sender)

    assert (outcome.status_code, outcome.response_excerpt) == (202, "partial")
    assert send(sender).external_id == "two"
    assert server.connections == 2


# -- odd answers are outcomes, never exceptions (bug 2) -----------------------------------------


@pytest.mark.parametrize(
    ("script", "status", "error"),
    [
        ((b"HTTP/1.1 202 Accepted\r\nContent-Length: \xb2\r\n\r\nok", CLOSE), 202, None),  # ²
        ((b"HTTP/1.1 202 Accepted\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nok", CLOSE),
            202, None),
        ((b"HTTP/1.1 2" + b"0" * 5000 + b" Accepted\r\nContent-Length: 0\r\n\r\n",),
            None, "invalid HTTP response"),
        ((b"\r\n\r\n",), None, "invalid HTTP response"),
        ((b"SMTP ready\r\n\r\n",), None, "invalid HTTP response"),
        ((b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",), None, "invalid HTTP response"),
        ((b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n", CLOSE), 200, None),
        ((CLOSE,), None, "connection closed by the server without a response"),
    ],
    ids=["unicode-digit-content-length", "5000-digit-content-length", "5000-digit-status",
         "empty-head", "not-http", "two-content-lengths", "header-without-colon",
         "closed-unanswered"],
)  # fmt: skip
def test_an_odd_answer_is_an_outcome(serve, script, status, error) -> None:
    _, sender = serve(*script)

    outcome = send(sender)

    assert (outcome.status_code, outcome.error) == (status, error)


# -- the one resend: a pooled connection that dropped before any byte of an answer --------------


def test_a_pooled_connection_closed_unanswered_is_resent_once_on_a_new_one(serve) -> None:
    server, sender = serve(accepted("one"), hang_up(), accepted("two"))
    first, second = a_message(), a_message()

    assert sender.send(first).external_id == "one"
    assert sender.send(second).external_id == "two"
    assert server.requests_holding(str(second.id)) == [1, 2]


def test_a_new_connection_closed_unanswered_is_not_resent(serve) -> None:
    server, sender = serve(hang_up(), accepted("never"))
    message = a_message()

    outcome = sender.send(message)

    assert outcome.error == "connection closed by the server without a response"
    assert server.requests_holding(str(message.id)) == [1]


def test_no_resend_once_a_byte_of_the_answer_arrived(serve) -> None:
    server, sender = serve(accepted("one"), reset_after(b"HTTP/1.1 202 Acc", pause=0.1))
    message = a_message()
    send(sender)

    outcome = sender.send(message)

    assert (outcome.status_code, outcome.error) == (None, "connection reset")
    assert server.requests_holding(str(message.id)) == [1]


# -- host names, descriptors ----------------------------------------------------------------


def test_an_international_host_name_is_encoded_with_idna_2008(serve) -> None:
    """faß.de is xn--fa-hia.de in IDNA 2008/UTS 46, not fass.de as IDNA 2003 had it. The
    loopback server acts as the proxy, so that name is never looked up."""
    proxy = RawServer(accepted("via-proxy"))
    assert send_through(proxy, "http://faß.de:8080/hook").external_id == "via-proxy"
    [(_, request)] = proxy.requests
    assert request.startswith(b"POST http://xn--fa-hia.de:8080/hook HTTP/1.1\r\n")
    assert b"\r\nHost: xn--fa-hia.de:8080\r\n" in request


@pytest.fixture
def over_1024_descriptors() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    assert wanted >= 2048, f"the hard limit on open files ({hard}) is too low for this test"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield
    finally:
        for descriptor in opened:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connections_are_reused_with_more_than_1024_descriptors_open(
    over_1024_descriptors, serve
) -> None:
    probe = os.open(os.devnull, os.O_RDONLY)
    os.close(probe)
    assert probe > 1024  # so every socket below is out of select()'s reach
    server, sender = serve(accepted("one"), accepted("two"))

    assert [send(sender).external_id for _ in range(2)] == ["one", "two"]
    assert server.connections == 1


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_context(authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_https_to_a_trusted_authority_works_and_is_kept_alive(
    serve, authority, tls_context, tmp_path
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    server, sender = serve(
        accepted("one"), accepted("two"), tls=tls_context, scheme="https", ca_bundle=str(bundle)
    )

    assert [send(sender).external_id for _ in range(2)] == ["one", "two"]
    assert server.connections == 1


def test_https_to_an_unknown_authority_fails_verification(serve, tls_context) -> None:
    server, sender = serve(accepted("never"), tls=tls_context, scheme="https")

    outcome = send(sender)

    assert outcome.status_code is None
    assert outcome.error.startswith("TLS error: certificate verify failed")
    assert server.requests == []
