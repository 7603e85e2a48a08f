"""Secrets a receiver echoes back never reach attempts or logs (SPEC §9 "Redaction").

The receivers here answer with exact bytes (tests/integration/raw_receivers.py); the echo
receiver answers with the request it got, Authorization header and request target included.
"""

from __future__ import annotations

import base64
import logging

from tests.fakes import a_message
from tests.integration.raw_receivers import CLOSE, accepted, answer, echo, serving


def test_a_token_straddling_the_1_kib_cut_is_hidden_whole() -> None:
    token = "tok-Q9zKx7Lw3Pm5"
    body = b"x" * 1020 + token.encode() + b" and more"
    with serving(answer("500 Oops", body), auth_token=token) as (server, sender):
        outcome = sender.send(a_message())

    assert outcome.response_excerpt == "x" * 1020 + "[red"  # cut inside the replacement
    assert server.requests_holding(f"Authorization: Bearer {token}") == [1]


def test_url_credentials_their_basic_header_and_the_query_never_come_back(caplog) -> None:
    query = "key=k3y-value&sig=a%2Bb%2Fc&v=1"
    with (
        caplog.at_level(logging.DEBUG),
        serving(echo, path=f"/hook?{query}", userinfo="us3r:pa55word") as (server, sender),
    ):
        outcome = sender.send(a_message())

    basic = base64.b64encode(b"us3r:pa55word").decode()
    assert server.requests_holding(f"Authorization: Basic {basic}\r\n") == [1]
    assert server.requests_holding(f"POST /hook?{query} HTTP/1.1") == [1]
    assert outcome.status_code == 500 and "[redacted]" in outcome.response_excerpt
    for secret in ("us3r", "pa55word", basic, query, "k3y-value", "a%2Bb%2Fc", "a+b/c"):
        assert secret not in outcome.response_excerpt
        assert secret not in caplog.text


def test_the_token_wins_over_url_credentials() -> None:
    with serving(accepted("one"), userinfo="us3r:pa55word", auth_token="t0ken") as (server, sender):
        assert sender.send(a_message()).external_id == "one"
    [(_, request)] = server.requests
    assert b"Authorization: Bearer t0ken\r\n" in request and b"Basic" not in request


def test_library_warnings_about_an_answer_never_show_the_query(caplog) -> None:
    odd = b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n"
    with (
        caplog.at_level(logging.WARNING),
        serving(odd, CLOSE, path="/hook?token=s3cr3t-value") as (_, sender),
    ):
        outcome = sender.send(a_message())

    assert outcome.status_code == 200
    assert "Failed to parse headers (url=" in caplog.text  # urllib3 did warn, with the URL
    assert "s3cr3t-value" not in caplog.text
