"""`make run`: API server (gunicorn), one dispatcher and, without WEBHOOK_URL, the demo receiver."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from core_domain.values import format_duration
from messaging.config_parsers import PORT
from messaging.management.commands._options import ShowingDefaults, checked

WILDCARDS = ("0.0.0.0", "::")


def address(host: str, port: int) -> str:
    """host:port as gunicorn binds it and a browser opens it ([v6]:port)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def demo_receiver_line(fail_rate: float) -> str:
    """What the demo receiver does to the calls, and how to make it do otherwise."""
    if fail_rate:
        return f"demo receiver fails {fail_rate * 100:g}% of calls (DEMO_FAIL_RATE=0: none)"
    return "demo receiver fails 0% of calls (set DEMO_FAIL_RATE=0.2 to see retries)"


def _admin_password(data_dir: Path) -> str:
    """ADMIN_PASSWORD, or a generated one kept under .data/ so it survives restarts."""
    if os.environ.get("ADMIN_PASSWORD"):
        return os.environ["ADMIN_PASSWORD"]
    path = data_dir / "admin_password"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _fresh_metrics_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR for every child, so the API's /metrics adds up all processes.

    Emptied first: counter files left by an earlier run would add to this run's totals.
    """
    path = Path(settings.BASE_DIR) / ".data" / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


class Command(ShowingDefaults):
    help = (
        "Start the API on HOST:PORT, a dispatcher and, without WEBHOOK_URL, the demo receiver; "
        "Ctrl-C stops all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo-port", default=9090, help="port of the demo receiver")

    def handle(self, *args, **options) -> None:
        host, port = settings.DISPATCHER["host"], settings.DISPATCHER["port"]
        fail_rate = settings.DISPATCHER["demo_fail_rate"]
        password = _admin_password(Path(settings.BASE_DIR) / ".data")
        self._ensure_admin(password)
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": _fresh_metrics_dir()}
        children = []
        webhook = settings.DISPATCHER["webhook_url"]
        demo = None if webhook else checked("--demo-port", PORT, options["demo_port"])
        if demo is not None:
            webhook = env["WEBHOOK_URL"] = f"http://127.0.0.1:{demo}/webhook"
            argv = ("--port", str(demo), "--fail-rate", f"{fail_rate:g}")
            children.append(self._spawn(self._manage("demo_webhook", *argv), env=env))
        # The API gets WEBHOOK_URL too: POST /api/v1/messaging/process delivers in-process.
        children.append(self._spawn(self._gunicorn(host, port), env=env))
        children.append(self._spawn(self._manage("run_dispatcher"), env=env))
        demo_line = None if demo is None else demo_receiver_line(fail_rate)
        self._announce(host, port, password, webhook=webhook, demo=demo_line)
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=60)
        self.stdout.write("Stopped.")

    def _gunicorn(self, host: str, port: int) -> list[str]:
        workers = max(2, (os.cpu_count() or 1))
        return [
            sys.executable, "-m", "gunicorn", "dispatcher_project.wsgi",
            "--bind", address(host, port), "--workers", str(workers), "--threads", "4",
            "--graceful-timeout", "30", "--access-logfile", "-",
        ]  # fmt: skip

    def _manage(self, *args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def _spawn(self, argv: list[str], *, env: dict[str, str]) -> subprocess.Popen[bytes]:
        # A new process group keeps the terminal's Ctrl-C from hitting children twice.
        return subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, start_new_session=True)

    def _ensure_admin(self, password: str) -> None:
        users = get_user_model()
        admin, _ = users.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()

    def _announce(
        self, host: str, port: int, password: str, *, webhook: str, demo: str | None
    ) -> None:
        # Every interface includes loopback, which ALLOWED_HOSTS names by default.
        base = f"http://{address('localhost' if host in WILDCARDS else host, port)}"
        interval = format_duration(settings.DISPATCHER["scheduler_interval"])
        key = settings.DISPATCHER["api_key"][0]
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Message Dispatcher is starting:",
                    f"  Listening    {address(host, port)}",
                    f"  API          {base}/api/v1/messages",
                    f"  Swagger UI   {base}/swagger/index.html",
                    f"  Admin        {base}/admin/   (user admin, password {password})",
                    f"  Health       {base}/health",
                    f"  Metrics      {base}/metrics   (API key unless METRICS_PUBLIC=true)",
                    f"  Webhook      {webhook}",
                    *([f"               {demo}"] if demo else []),
                    f"  Dispatcher   one process, a batch every {interval}",
                    f"  API key      {key}",
                    f'  Try: curl -H "Authorization: Bearer {key}" {base}/api/v1/messages',
                    "Press Ctrl-C to stop.",
                    "",
                ]
            )
        )
