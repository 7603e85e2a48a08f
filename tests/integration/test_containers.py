"""The container files (Dockerfile, .dockerignore, docker-compose.yml, gunicorn.conf.py) say what
the README promises; no Docker engine is needed: the files are parsed, the snippets are run."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from gunicorn.config import Config

from core_domain.values import parse_duration
from dispatcher_project import config

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "dispatcher")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return found


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in _instructions((ROOT / "Dockerfile").read_text()):
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _final_stage() -> list[Instruction]:
    return _stages()[-1]


def _one(stage: list[Instruction], keyword: str) -> Instruction:
    matches = [instruction for instruction in stage if instruction.keyword == keyword]
    assert len(matches) == 1, f"expected one {keyword} in the final stage, found {len(matches)}"
    return matches[0]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _services() -> dict[str, Any]:
    return _compose()["services"]


def _with_defaults(value: str) -> str:
    """Compose interpolation as it happens with an empty shell: ${VAR:-default} -> default."""
    return re.sub(r"(?<!\$)\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _environment(service: str) -> dict[str, str]:
    environment = _services()[service]["environment"]
    return {key: _with_defaults(str(value)) for key, value in environment.items()}


def _command(service: str) -> list[str]:
    command = _services()[service]["command"]
    return shlex.split(command) if isinstance(command, str) else command


# --- Dockerfile --------------------------------------------------------------------------------


def test_the_image_is_built_in_two_stages_and_ships_only_the_virtualenv() -> None:
    stages = _stages()
    assert len(stages) >= 2
    builder_name = stages[0][0].arguments.split()[-1]
    assert stages[-1][0].arguments.split()[0] == "python:3.11-slim"
    copies = [i.arguments for i in _final_stage() if i.keyword == "COPY"]
    assert any(copy.startswith(f"--from={builder_name} /opt/venv") for copy in copies)


def test_the_final_stage_installs_no_compiler_or_build_tools() -> None:
    final = " ".join(i.arguments for i in _final_stage() if i.keyword == "RUN")
    for tool in ("build-essential", "gcc", "g++", "libpq-dev", "pip install"):
        assert tool not in final


def test_every_pip_install_skips_the_download_cache_and_leaves_pgserver_out() -> None:
    runs = [i.arguments for stage in _stages() for i in stage if i.keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs
    assert all("--no-cache-dir" in run for run in installs)
    assert any("grep -v '^pgserver' requirements.txt" in run for run in installs)


def _image_environment() -> dict[str, str]:
    values = {}
    for instruction in _final_stage():
        if instruction.keyword == "ENV":
            values.update(item.split("=", 1) for item in shlex.split(instruction.arguments))
    return values


def test_python_writes_no_bytecode_and_does_not_buffer_logs() -> None:
    values = _image_environment()
    assert values["PYTHONDONTWRITEBYTECODE"] == "1"
    assert values["PYTHONUNBUFFERED"] == "1"
    assert values["PATH"].startswith("/opt/venv/bin:")


def test_static_files_are_collected_at_build_time_with_a_throwaway_database_url() -> None:
    runs = [i.arguments for i in _final_stage() if i.keyword == "RUN"]
    collect = [run for run in runs if "collectstatic" in run]
    assert len(collect) == 1
    assert collect[0].startswith("DATABASE_URL=postgres://")
    assert "DJANGO_SECRET_KEY=" in collect[0]  # or settings would write a key into the image


def test_the_server_runs_as_a_non_root_user_set_before_the_command() -> None:
    stage = _final_stage()
    user = _one(stage, "USER")
    assert user.arguments.split(":")[0] not in {"root", "0"}
    assert stage.index(user) < stage.index(_one(stage, "CMD"))
    assert any("--uid 10001" in i.arguments for i in stage if i.keyword == "RUN")


def test_the_default_command_is_gunicorn_serving_the_wsgi_app_with_the_repo_config() -> None:
    stage = _final_stage()
    command = json.loads(_one(stage, "CMD").arguments)
    assert command[0] == "gunicorn"
    assert command[-1] == "dispatcher_project.wsgi"
    conf = Path(command[command.index("--config") + 1])
    assert str(conf.parent) == _one(stage, "WORKDIR").arguments
    assert (ROOT / conf.name).is_file()
    assert _one(stage, "EXPOSE").arguments == "8080"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "is_healthy"), [(200, True), (500, False)])
def test_the_image_healthcheck_asks_health_with_urllib_on_port(
    health_server: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    is_healthy: bool,
) -> None:
    monkeypatch.setattr(_Health, "status", status)
    check = _one(_final_stage(), "HEALTHCHECK").arguments
    assert "curl" not in check
    argv = json.loads(check.split(" CMD ", 1)[1])
    env = {**os.environ, "PORT": str(health_server.server_address[1])}
    result = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    assert (result.returncode == 0) is is_healthy


def test_the_build_context_leaves_out_local_state_but_keeps_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".venv", ".data", ".git", "staticfiles"} <= set(patterns)
    for needed in ("requirements.txt", "manage.py", "config.yaml", "gunicorn.conf.py"):
        assert not any(fnmatch.fnmatch(needed, pattern) for pattern in patterns)


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_runs_postgres_16_redis_7_migrations_the_api_and_dispatchers() -> None:
    services = _services()
    assert {"postgres", "redis", "migrate", "api", "dispatcher"} <= services.keys()
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["api"]["build"] == "."
    assert all(services[name]["image"] == services["api"]["image"] for name in APP_SERVICES)


def test_postgres_keeps_its_data_in_a_named_volume() -> None:
    volume = _services()["postgres"]["volumes"][0].split(":")
    assert volume[0] in _compose()["volumes"]
    assert volume[1] == "/var/lib/postgresql/data"


def test_postgres_redis_and_the_api_have_healthchecks() -> None:
    services = _services()
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])


def test_services_without_an_http_server_switch_off_the_images_health_check() -> None:
    for name in ("migrate", "dispatcher"):
        assert _services()[name]["healthcheck"] == {"disable": True}


def test_migrations_run_once_before_the_api_and_dispatchers_start() -> None:
    services = _services()
    assert _command("migrate")[-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "dispatcher"):
        needs = {key: value["condition"] for key, value in services[name]["depends_on"].items()}
        assert needs["postgres"] == needs["redis"] == "service_healthy"
        assert needs["migrate"] == "service_completed_successfully"


def test_the_dispatcher_can_be_scaled_and_outlives_a_webhook_call_when_stopped() -> None:
    dispatcher = _services()["dispatcher"]
    assert "ports" not in dispatcher
    assert "container_name" not in dispatcher
    assert _command("dispatcher")[-1] == "run_dispatcher"
    webhook_timeout = config.load(ROOT, {})["WEBHOOK_TIMEOUT"]
    assert parse_duration(dispatcher["stop_grace_period"]) > webhook_timeout


def test_the_api_publishes_port_8080_and_stops_after_gunicorns_graceful_timeout() -> None:
    api = _services()["api"]
    assert [_with_defaults(port) for port in api["ports"]] == ["8080:8080"]
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert parse_duration(api["stop_grace_period"]).total_seconds() > conf["graceful_timeout"]


def test_the_apps_reach_postgres_and_redis_by_service_name() -> None:
    for name in APP_SERVICES:
        env = _environment(name)
        assert urlsplit(env["DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"


def test_the_default_environment_passes_the_configuration_checks() -> None:
    env = _environment("api")
    known = {setting.env for setting in config.SETTINGS} | {
        "CONFIG_FILE",
        "PROMETHEUS_MULTIPROC_DIR",
    }
    assert env.keys() <= known
    values = config.load(ROOT, {**env, "CONFIG_FILE": str(ROOT / "config.yaml")})
    assert values["WEBHOOK_URL"] == "http://webhook:9090/webhook"
    assert "127.0.0.1" in values["ALLOWED_HOSTS"]  # the healthchecks ask 127.0.0.1


def test_every_interpolated_variable_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    variables = re.findall(r"(?<!\$)\$\{([^}]*)\}", text)
    assert variables
    assert all(":-" in variable for variable in variables)


def test_config_yaml_is_mounted_read_only_where_config_file_points() -> None:
    for name in (*APP_SERVICES, "webhook"):
        target = _environment(name)["CONFIG_FILE"]
        assert f"./config.yaml:{target}:ro" in _services()[name]["volumes"]


def test_the_demo_receiver_listens_where_the_default_webhook_url_points() -> None:
    url = urlsplit(_environment("dispatcher")["WEBHOOK_URL"])
    command = _command("webhook")
    assert url.hostname == "webhook"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(url.port)


# --- gunicorn.conf.py --------------------------------------------------------------------------


def _gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    """gunicorn.conf.py as gunicorn sees it: every value passes gunicorn's own validation."""
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings = Config()
    for name, value in namespace.items():
        if name in settings.settings:
            settings.set(name, value)
    return settings


def test_gunicorn_binds_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _gunicorn_config(monkeypatch, HOST="0.0.0.0", PORT="8111").bind == ["0.0.0.0:8111"]
    assert _gunicorn_config(monkeypatch, HOST="::").bind == ["[::]:8080"]
    assert _gunicorn_config(monkeypatch).bind == ["127.0.0.1:8080"]


def test_the_image_binds_every_interface_of_its_container() -> None:
    assert _image_environment()["HOST"] == "0.0.0.0"


def test_gunicorn_sizes_workers_from_the_cpus_and_caps_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _gunicorn_config(monkeypatch)
    cpus = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["usable_cpus"]()
    assert settings.workers == min(cpus * 2 + 1, 8)
    assert settings.threads == 4
    assert settings.worker_class_str == "gthread"
    assert settings.accesslog == "-"
    assert 0 < settings.graceful_timeout <= 30


def test_web_concurrency_overrides_the_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _gunicorn_config(monkeypatch, WEB_CONCURRENCY="3").workers == 3


def test_a_bad_port_stops_gunicorn_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _gunicorn_config(monkeypatch, PORT="eighty")
    assert str(stopped.value) == (
        "Configuration error: PORT: expected a whole number 1-65535, got 'eighty'"
    )


def test_the_api_sums_metrics_of_all_workers_in_a_fresh_directory() -> None:
    api = _services()["api"]
    directory = api["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert any(mount.startswith(f"{directory}:") for mount in api["tmpfs"])
    assert "def child_exit" in (ROOT / "gunicorn.conf.py").read_text()
