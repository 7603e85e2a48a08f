"""Request ids on every response and log line; JSON log lines carry the message id."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from messaging.logging_json import JsonFormatter
from messaging.request_id import RequestIdFilter

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_given_request_id_is_echoed(anonymous) -> None:
    response = anonymous.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("given", [None, "", "bad id with spaces", "x" * 200, "inject\r\nx"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(anonymous, given) -> None:
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    first = anonymous.get("/health", **headers)["X-Request-ID"]
    second = anonymous.get("/health", **headers)["X-Request-ID"]
    assert len(first) == 32 and first != second and first != given


def test_log_lines_written_during_a_request_carry_its_id(settings, caplog) -> None:
    settings.DEBUG = False
    caplog.handler.addFilter(RequestIdFilter())
    key = settings.DISPATCHER["api_key"][0]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE messages RENAME TO messages_gone")
    try:
        response = Client(raise_request_exception=False).get(
            "/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_X_REQUEST_ID="trace-42"
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE messages_gone RENAME TO messages")
    assert response.status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and {r.request_id for r in errors} == {"trace-42"}


def test_json_log_lines_hold_level_logger_message_and_extra_fields() -> None:
    record = logging.LogRecord("core_domain.x", logging.WARNING, __file__, 1, "Message %s: FAILED",
                               ("m-1",), None)  # fmt: skip
    record.message_id = "m-1"
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["logger"] == "core_domain.x"
    assert line["message"] == "Message m-1: FAILED"
    assert (line["message_id"], line["request_id"]) == ("m-1", "-")
    assert line["time"].endswith("+00:00")
