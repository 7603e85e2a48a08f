"""A lost or unreachable database: the dispatcher's writes survive, the API answers 503 JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from core_domain.delivery import CallResult
from core_domain.errors import StorageUnavailableError
from core_domain.judge import judge
from core_domain.retry import RetryPolicy
from messaging.bootstrap import message_repository
from tests.fakes import a_message
from tests.integration.receivers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)
LEASE = timedelta(seconds=30)


def terminate_my_backend() -> None:
    """Cut the default connection from the server side, as a restart would."""
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def test_finalize_is_retried_after_the_connection_is_cut() -> None:
    repository = message_repository(reconnect_delays=(0.05, 0.1))
    now = datetime.now(UTC)
    repository.add([a_message(created_at=now, next_attempt_at=now)])
    (claimed,) = repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    outcome = CallResult(duration=timedelta(milliseconds=3), status_code=202, external_id="x")
    sent = judge(claimed, outcome=outcome, policy=RetryPolicy(), started_ago=timedelta(0))
    terminate_my_backend()
    assert repository.finalize([sent]).keys() == {claimed.id}
    assert repository.get(claimed.id).status.value == "SENT"


def test_without_reconnect_delays_the_error_reaches_the_caller_as_the_domain_error() -> None:
    repository = message_repository()
    now = datetime.now(UTC)
    repository.add([a_message(created_at=now, next_attempt_at=now)])
    (claimed,) = repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    terminate_my_backend()
    with pytest.raises(StorageUnavailableError):
        repository.release([claimed])
    connection.close()  # what Django does at the end of a request


@pytest.fixture
def unreachable_database():
    """Point the default connection at a port where nothing listens, then put it back."""
    conf = connection.settings_dict
    saved = {key: conf.get(key) for key in ("HOST", "PORT", "OPTIONS")}
    connection.close()
    conf.update(
        HOST="127.0.0.1", PORT=str(closed_port()),
        OPTIONS={k: v for k, v in conf["OPTIONS"].items() if k != "host"},
    )  # fmt: skip
    yield
    connection.close()
    conf.update(saved)


def test_the_api_answers_503_json_while_the_database_is_unreachable(api, unreachable_database):
    response = api.get("/api/v1/messages")
    assert response.status_code == 503
    assert response.json()["error"] == "Service Unavailable"
    assert "database" in response.json()["message"]
    assert response["Retry-After"] == "5"


def test_readiness_names_the_database_when_it_is_down(anonymous, unreachable_database) -> None:
    response = anonymous.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
    assert "database" in response.json()["message"]
    assert anonymous.get("/health").status_code == 200
