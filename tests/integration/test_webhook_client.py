"""HttpWebhookSender against a real HTTP receiver on loopback (SPEC §6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.utils import formatdate
from typing import Any

import pytest

from adapters.webhook_client import (
    HttpWebhookSender,
    signing_key,
    standard_webhooks_signature,
)
from core_domain.delivery import AttemptOutcome, DeliveryOutcome
from core_domain.retry import Decision, RetryPolicy
from dispatcher_project import config
from tests.fakes import a_message
from tests.integration.receivers import Reply, ScriptedReceiver, closed_port

MakeSender = Callable[..., HttpWebhookSender]


@pytest.fixture
def make_sender() -> Iterator[MakeSender]:
    built: list[HttpWebhookSender] = []

    def build(url: str, **options: Any) -> HttpWebhookSender:
        options.setdefault("timeout", timedelta(seconds=5))
        built.append(HttpWebhookSender(url=url, **options))
        return built[-1]

    yield build
    for sender in built:
        sender.close()


def decide(outcome: DeliveryOutcome, *, retries_so_far: int = 0) -> Decision:
    policy = RetryPolicy(max_retries=3, backoff_base=timedelta(seconds=1))
    return policy.decide(outcome=outcome, retries_so_far=retries_so_far)


# -- the request -------------------------------------------------------------------------------


def test_posts_compact_json_with_the_spec_headers(receiver: ScriptedReceiver, make_sender) -> None:
    message = a_message(phone_number="+905551234567", content="Merhaba dünya")

    outcome = make_sender(receiver.url, auth_token="t0ken", version="2.3.4").send(message)

    assert outcome.is_success
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/webhook")
    assert request.body == '{"to":"+905551234567","content":"Merhaba dünya"}'.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(request.body))
    assert request.headers["user-agent"] == "message-dispatcher/2.3.4"
    assert request.headers["idempotency-key"] == str(message.id)
    assert request.headers["authorization"] == "Bearer t0ken"
    assert not [name for name in request.headers if name.startswith("webhook-")]


def test_no_token_means_no_authorization_header(receiver: ScriptedReceiver, make_sender) -> None:
    make_sender(receiver.url).send(a_message())

    assert "authorization" not in receiver.requests[0].headers


def test_every_attempt_carries_the_same_idempotency_key(receiver, make_sender) -> None:
    receiver.script(Reply(status=503), Reply(status=202))
    sender, message = make_sender(receiver.url), a_message()

    first, second = sender.send(message), sender.send(message)

    assert (first.status_code, second.status_code) == (503, 202)
    assert receiver.count(str(message.id)) == 2


@pytest.mark.parametrize("prefix", ["whsec_", ""])
def test_a_signing_secret_adds_verifiable_standard_webhooks_headers(
    receiver: ScriptedReceiver, make_sender, prefix: str
) -> None:
    key, message = secrets.token_bytes(32), a_message()
    before = int(time.time())

    make_sender(receiver.url, signing_secret=prefix + base64.b64encode(key).decode()).send(message)

    [request] = receiver.requests
    webhook_id, timestamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    assert webhook_id == str(message.id)
    assert before <= int(timestamp) <= time.time()
    signed = f"{webhook_id}.{timestamp}.".encode() + request.body
    version, signature = request.headers["webhook-signature"].split(",")
    assert version == "v1"
    assert hmac.compare_digest(
        base64.b64decode(signature), hmac.new(key, signed, hashlib.sha256).digest()
    )


def test_the_signature_reproduces_the_standard_webhooks_test_vector() -> None:
    signature = standard_webhooks_signature(
        key=signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_malformed_signing_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SIGNING_SECRET") as raised:
        HttpWebhookSender(url="http://x", timeout=timedelta(seconds=1), signing_secret="no!")

    assert "no!" not in str(raised.value)


def test_it_is_built_from_the_settings_webhook_section(receiver, settings) -> None:
    conf = {**settings.DISPATCHER, "webhook_url": receiver.url, "webhook_auth_token": "tok"}

    with HttpWebhookSender.from_conf(conf, version="9.9.9", pool_size=4) as sender:
        assert sender.send(a_message()).is_success

    headers = receiver.requests[0].headers
    assert headers["user-agent"] == "message-dispatcher/9.9.9"
    assert headers["authorization"] == "Bearer tok"


# -- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "kept"), [("ext-42", "ext-42"), (12345, "12345")])
def test_the_message_id_of_a_2xx_becomes_the_external_id(receiver, make_sender, sent, kept) -> None:
    receiver.script(Reply(status=202, body={"message": "Accepted", "messageId": sent}))

    outcome = make_sender(receiver.url).send(a_message())

    assert outcome.is_success
    assert outcome.external_id == kept
    assert decide(outcome).outcome is AttemptOutcome.DELIVERED


def test_a_2xx_without_message_id_is_delivered_with_a_warning(
    receiver, make_sender, caplog
) -> None:
    receiver.script(Reply(status=200, body="OK", headers={"Content-Type": "text/plain"}))
    message = a_message()

    with caplog.at_level(logging.WARNING, logger="adapters.webhook_client"):
        outcome = make_sender(receiver.url).send(message)

    assert (outcome.status_code, outcome.external_id, outcome.response_excerpt) == (200, None, "OK")
    assert decide(outcome).outcome is AttemptOutcome.DELIVERED
    [record] = [r for r in caplog.records if r.name == "adapters.webhook_client"]
    assert record.message_id == str(message.id)
    assert "without a messageId" in record.getMessage()


def test_a_500_is_a_failure_that_is_retried(receiver: ScriptedReceiver, make_sender) -> None:
    receiver.script(Reply(status=500, body={"message": "Internal error"}))

    outcome = make_sender(receiver.url).send(a_message())

    assert (outcome.status_code, outcome.external_id, outcome.error) == (500, None, None)
    assert outcome.response_excerpt == '{"message": "Internal error"}'
    assert outcome.duration > timedelta(0)
    decision = decide(outcome)
    assert decision.outcome is AttemptOutcome.RETRY_SCHEDULED
    assert decision.error == 'HTTP 500: {"message": "Internal error"}'


def test_a_429_with_retry_after_seconds_delays_the_retry(receiver, make_sender) -> None:
    receiver.script(Reply(status=429, headers={"Retry-After": "2"}))

    outcome = make_sender(receiver.url).send(a_message())

    assert (outcome.status_code, outcome.retry_after) == (429, timedelta(seconds=2))
    decision = RetryPolicy(backoff_base=timedelta(milliseconds=100)).decide(
        outcome=outcome, retries_so_far=0
    )
    assert decision.outcome is AttemptOutcome.RETRY_SCHEDULED
    assert decision.retry_in == timedelta(seconds=2)


def test_retry_after_may_be_an_http_date(receiver: ScriptedReceiver, make_sender) -> None:
    receiver.script(
        Reply(status=503, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)})
    )

    outcome = make_sender(receiver.url).send(a_message())

    assert timedelta(seconds=115) <= outcome.retry_after <= timedelta(seconds=120)


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_an_unusable_or_past_retry_after_means_no_extra_wait(receiver, make_sender, value) -> None:
    receiver.script(Reply(status=503, headers={"Retry-After": value}))

    outcome = make_sender(receiver.url).send(a_message())

    assert outcome.retry_after in (None, timedelta(0))


def test_a_redirect_is_not_followed_and_fails_for_good(receiver, make_sender) -> None:
    receiver.script(Reply(status=302, headers={"Location": receiver.url + "/elsewhere"}))

    outcome = make_sender(receiver.url).send(a_message())

    assert outcome.status_code == 302
    assert len(receiver.requests) == 1
    assert decide(outcome).outcome is AttemptOutcome.FAILED


def test_an_answer_over_1_mib_is_cut_and_still_delivers(receiver, make_sender, caplog) -> None:
    huge = b'{"messageId":"big","padding":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    receiver.script(Reply(status=200, body=huge))

    with caplog.at_level(logging.WARNING, logger="adapters.webhook_client"):
        outcome = make_sender(receiver.url).send(a_message())

    assert outcome.is_success
    assert outcome.response_excerpt == huge[:1024].decode()
    assert any("cut at 1048576 bytes" in record.getMessage() for record in caplog.records)


def test_an_answer_just_under_1_mib_is_read_whole(receiver, make_sender) -> None:
    body = b'{"messageId":"big","padding":"' + b"x" * (1000 * 1024) + b'"}'
    receiver.script(Reply(status=200, body=body))

    assert make_sender(receiver.url).send(a_message()).external_id == "big"


def test_a_body_dripping_slower_than_the_timeout_is_cut_in_time(receiver, make_sender) -> None:
    body = b'{"messageId":"slow"}' + b" " * 100
    receiver.script(Reply(status=202, body=body, action="drip", drip_interval=0.02))

    outcome = make_sender(receiver.url, timeout=timedelta(seconds=0.5)).send(a_message())

    assert outcome.status_code == 202
    assert outcome.duration < timedelta(seconds=1.5)
    assert len(outcome.response_excerpt) < len(body)


def test_a_body_that_stalls_keeps_the_status_that_came_first(receiver, make_sender) -> None:
    receiver.script(Reply(status=202, body=b"accepted", action="drip", drip_interval=2.0))

    outcome = make_sender(receiver.url, timeout=timedelta(seconds=0.3)).send(a_message())

    assert (outcome.status_code, outcome.response_excerpt) == (202, "")
    assert outcome.duration < timedelta(seconds=1.5)


# -- no answer ---------------------------------------------------------------------------------


def test_a_slow_answer_times_out_and_is_retried(receiver: ScriptedReceiver, make_sender) -> None:
    receiver.script(Reply(delay=3.0))

    outcome = make_sender(receiver.url, timeout=timedelta(seconds=0.3)).send(a_message())

    assert (outcome.status_code, outcome.error) == (None, "timed out after 0.3s (read)")
    assert outcome.duration < timedelta(seconds=2)
    assert decide(outcome).outcome is AttemptOutcome.RETRY_SCHEDULED
    assert len(receiver.requests) == 1  # a timeout is never re-tried inside the call


def test_a_closed_port_is_a_refused_connection(make_sender) -> None:
    outcome = make_sender(f"http://127.0.0.1:{closed_port()}/webhook").send(a_message())

    assert (outcome.status_code, outcome.error) == (None, "connection refused")
    assert decide(outcome).outcome is AttemptOutcome.RETRY_SCHEDULED


def test_a_reset_before_any_answer_is_a_connection_error(receiver, make_sender) -> None:
    receiver.script(Reply(action="reset"), Reply(action="reset"))
    message = a_message()

    outcome = make_sender(receiver.url).send(message)

    assert (outcome.status_code, outcome.error) == (None, "connection reset")
    assert decide(outcome).outcome is AttemptOutcome.RETRY_SCHEDULED
    # A new connection is never re-tried inside the call: the receiver may have acted on it.
    assert receiver.count(str(message.id)) == 1


def test_a_pooled_connection_dropped_before_any_answer_is_resent_at_once(
    receiver, make_sender
) -> None:
    sender, first, second = make_sender(receiver.url), a_message(), a_message()
    assert sender.send(first).is_success
    receiver.script(Reply(action="reset"))

    outcome = sender.send(second)

    assert outcome.is_success
    assert receiver.count(str(second.id)) == 2
    requests = receiver.requests
    assert requests[0].connection == requests[1].connection != requests[2].connection


def test_a_stale_keep_alive_connection_is_replaced_transparently(receiver, make_sender) -> None:
    receiver.script(Reply(stale_after=True))
    sender, first, second = make_sender(receiver.url), a_message(), a_message()

    assert sender.send(first).is_success
    assert sender.send(second).is_success

    assert receiver.count(str(second.id)) == 1
    assert receiver.requests[0].connection != receiver.requests[1].connection


def test_consecutive_sends_reuse_one_keep_alive_connection(receiver, make_sender) -> None:
    sender = make_sender(receiver.url)

    for _ in range(3):
        assert sender.send(a_message()).is_success

    assert len({request.connection for request in receiver.requests}) == 1


def test_concurrent_sends_share_one_sender(receiver: ScriptedReceiver, make_sender) -> None:
    sender, messages = make_sender(receiver.url, pool_size=4), [a_message() for _ in range(24)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(sender.send, messages))

    assert all(outcome.is_success for outcome in outcomes)
    assert receiver.counts() == {str(message.id): 1 for message in messages}
    assert len({request.connection for request in receiver.requests}) <= 4


def test_https_to_a_plain_http_receiver_is_a_tls_error(receiver, make_sender) -> None:
    outcome = make_sender(f"https://127.0.0.1:{receiver.port}/webhook").send(a_message())

    assert outcome.status_code is None
    assert outcome.error.startswith("TLS error: ")
    assert decide(outcome).outcome is AttemptOutcome.RETRY_SCHEDULED


@pytest.mark.parametrize("url", ["", "ftp://example.com/hook", "http://"])
def test_an_invalid_url_is_an_outcome_not_an_exception(make_sender, url) -> None:
    outcome = make_sender(url).send(a_message())

    assert outcome.status_code is None
    assert outcome.error.startswith("invalid URL")


def test_errors_and_logs_never_show_credentials(make_sender, caplog) -> None:
    url = f"http://user:pa55word@127.0.0.1:{closed_port()}/hook?key=k3y"

    with caplog.at_level(logging.DEBUG, logger="adapters.webhook_client"):
        outcome = make_sender(url, auth_token="t0ken").send(a_message())

    assert outcome.error == "connection refused"
    ours = [r for r in caplog.records if r.name == "adapters.webhook_client"]
    assert ours, "the failure is logged"
    for secret in ("pa55word", "k3y", "t0ken"):
        assert not [r for r in ours if secret in r.getMessage()]


def test_a_configured_proxy_is_used(receiver, make_sender) -> None:
    proxies = {"http": f"http://127.0.0.1:{receiver.port}"}

    outcome = make_sender("http://webhook.invalid/hook", proxies=proxies).send(a_message())

    assert outcome.is_success
    assert receiver.requests[0].path == "http://webhook.invalid/hook"


def test_a_host_in_no_proxy_is_reached_directly(receiver, make_sender) -> None:
    environment = {"http_proxy": f"http://127.0.0.1:{closed_port()}", "no_proxy": "127.0.0.1"}
    proxies = config.webhook_proxies(receiver.url, environment)

    outcome = make_sender(receiver.url, proxies=proxies).send(a_message())

    assert outcome.is_success
    assert receiver.requests[0].path == "/webhook"


def test_the_sender_never_reads_proxies_from_the_environment(
    receiver, make_sender, monkeypatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")

    assert make_sender(receiver.url).send(a_message()).is_success
