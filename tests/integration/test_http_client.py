"""KeepAliveClient against a loopback server that answers with exact bytes, and over real TLS."""

from __future__ import annotations

import gzip
import http.client
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator

import pytest
import trustme

from adapters.http_client import InvalidURLError, KeepAliveClient, Target

HEADERS = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
CLOSE = b""  # in a script: close the connection after the previous answer


class RawServer:
    """Reads each request whole, then sends the next scripted answer byte for byte."""

    def __init__(self, *answers: bytes, tls: ssl.SSLContext | None = None) -> None:
        self._answers = deque(answers)
        self._lock = threading.Lock()
        self._tls = tls
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request bytes)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            number = self.connections
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
            with sock, sock.makefile("rb") as stream:
                while request := _read_request(stream):
                    self.requests.append((number, request))
                    with self._lock:  # the answer and its CLOSE, before the client can go on
                        answer = self._answers.popleft()
                        close = bool(self._answers) and self._answers[0] == CLOSE
                        if close:
                            self._answers.popleft()
                    sock.sendall(answer)
                    if close:
                        return
        except (OSError, IndexError):
            return


def _read_request(stream) -> bytes:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return b""
        head += line
    fields = [line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line]
    length = sum(int(value) for name, value in fields if name.lower() == b"content-length")
    return head + stream.read(length)


@pytest.fixture
def serve() -> Iterator:
    servers: list[RawServer] = []
    clients: list[KeepAliveClient] = []

    def start(
        *answers: bytes, max_body: int = 1024, **options
    ) -> tuple[RawServer, KeepAliveClient]:
        server = RawServer(*answers, **options)
        client = KeepAliveClient(server.url(), timeout=2.0, pool_size=4, max_body=max_body)
        servers.append(server)
        clients.append(client)
        return server, client

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.close()


OK = b'HTTP/1.1 202 Accepted\r\nContent-Length: 17\r\n\r\n{"messageId":"m"}'


def test_the_request_is_one_post_with_host_length_and_the_given_headers(serve) -> None:
    server, client = serve(OK)

    response = client.post(HEADERS, b'{"to":"+1"}')

    assert (response.status, response.body, response.cut) == (202, b'{"messageId":"m"}', None)
    [(_, request)] = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Length: 11" in lines and b"Idempotency-Key: k-1" in lines
    assert body == b'{"to":"+1"}'


def test_a_chunked_body_with_extensions_and_trailers_is_joined(serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    server, client = serve(chunked, OK)

    assert client.post(HEADERS, b"{}").body == b"hello world"
    assert client.post(HEADERS, b"{}").status == 202
    assert server.connections == 1  # the chunked answer was read to its end: reused


def test_a_gzip_body_is_decoded(serve) -> None:
    packed = gzip.compress(b'{"messageId":"zipped"}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(
        packed
    )
    _, client = serve(answer + packed)

    assert client.post(HEADERS, b"{}").body == b'{"messageId":"zipped"}'


def test_an_http_1_0_body_ends_with_the_connection_which_is_not_reused(serve) -> None:
    server, client = serve(b"HTTP/1.0 200 OK\r\n\r\nto the end", CLOSE, OK)

    assert client.post(HEADERS, b"{}").body == b"to the end"
    assert client.post(HEADERS, b"{}").status == 202
    assert server.connections == 2


def test_informational_answers_are_skipped(serve) -> None:
    _, client = serve(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)

    assert client.post(HEADERS, b"{}").status == 202


def test_bare_newlines_and_folded_headers_are_understood(serve) -> None:
    answer = b"HTTP/1.1 503 Busy\nRetry-After: 1\nX-Long: a\n  b\nContent-Length: 2\n\nno"
    _, client = serve(answer)

    response = client.post(HEADERS, b"{}")

    assert (response.status, response.body) == (503, b"no")
    assert response.headers["retry-after"] == "1" and response.headers["x-long"] == "a b"


def test_connection_close_is_honoured(serve) -> None:
    server, client = serve(
        b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", CLOSE, OK
    )

    assert client.post(HEADERS, b"{}").status == 202
    assert client.post(HEADERS, b"{}").status == 202
    assert server.connections == 2
    assert len(server.requests) == 2  # no resend: the closed connection was never written to


def test_a_body_cut_short_keeps_the_status_and_says_why(serve) -> None:
    server, client = serve(b"HTTP/1.1 202 Accepted\r\nContent-Length: 50\r\n\r\npartial", CLOSE, OK)

    response = client.post(HEADERS, b"{}")

    assert (response.status, response.body, response.cut) == (202, b"partial", "response cut short")
    assert client.post(HEADERS, b"{}").status == 202
    assert server.connections == 2


def test_a_body_over_the_limit_is_cut_and_the_connection_dropped(serve) -> None:
    server, client = serve(
        b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n" + b"x" * 30, OK, max_body=10
    )

    response = client.post(HEADERS, b"{}")

    assert (response.body, response.cut) == (b"x" * 10, "larger than the limit")
    assert client.post(HEADERS, b"{}").status == 202
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_a_malformed_answer_is_an_http_exception_or_a_cut_body(serve, answer) -> None:
    _, client = serve(answer)

    try:
        response = client.post(HEADERS, b"{}")
    except http.client.HTTPException:
        return
    assert response.cut is not None and response.cut.startswith("invalid HTTP response")


def test_a_connection_closed_without_an_answer_is_resent_once_then_raised(serve) -> None:
    server, client = serve(CLOSE, CLOSE)  # every connection closes unanswered

    with pytest.raises(http.client.RemoteDisconnected):
        client.post(HEADERS, b"{}")
    assert server.connections == 2


@pytest.mark.parametrize(
    ("url", "authority", "path"),
    [
        ("http://example.com", "example.com", "/"),
        ("https://Example.COM:443/a b?q=1&r=ü", "example.com", "/a%20b?q=1&r=%C3%BC"),
        ("http://[::1]:8080/h", "[::1]:8080", "/h"),
        ("http://bücher.example/x", "xn--bcher-kva.example", "/x"),
    ],
)
def test_urls_become_host_headers_and_request_targets(url, authority, path) -> None:
    target = Target.parse(url)

    assert (target.authority, target.path) == (authority, path)


@pytest.mark.parametrize(
    "url",
    ["", "ftp://example.com/", "http://", "http://host:99999/", "http://a b/", "http://h\r\nX: 1/"],
)
def test_unusable_urls_are_refused(url) -> None:
    with pytest.raises(InvalidURLError):
        Target.parse(url)


def test_credentials_in_the_url_become_basic_auth(serve) -> None:
    server, _ = serve(OK)
    url = f"http://us%40er:p%3Ass@127.0.0.1:{server.port}/"
    client = KeepAliveClient(url, timeout=2.0, pool_size=1, max_body=99)
    try:
        client.post(HEADERS, b"{}")
    finally:
        client.close()

    [(_, request)] = server.requests
    assert b"Authorization: Basic dXNAZXI6cDpzcw==\r\n" in request  # base64 of "us@er:p:ss"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_https_to_a_trusted_certificate_works_and_is_kept_alive(
    authority, tmp_path, monkeypatch
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    server = RawServer(OK, OK, tls=_tls_server_context(authority))
    client = KeepAliveClient(server.url(scheme="https"), timeout=2.0, pool_size=1, max_body=99)
    try:
        assert [client.post(HEADERS, b"{}").status for _ in range(2)] == [202, 202]
        assert server.connections == 1
    finally:
        client.close()
        server.close()


def test_https_to_an_unknown_certificate_authority_fails_verification(authority) -> None:
    server = RawServer(OK, tls=_tls_server_context(authority))
    client = KeepAliveClient(server.url(scheme="https"), timeout=2.0, pool_size=1, max_body=99)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.post(HEADERS, b"{}")
        assert server.requests == []
    finally:
        client.close()
        server.close()
