"""API: the create API under gunicorn against a bare DRF INSERT endpoint, same settings.

Two gunicorns run `gunicorn -c gunicorn.conf.py dispatcher_project.wsgi` with WEB_CONCURRENCY
and GUNICORN_THREADS set and RATE_LIMIT_PER_MINUTE=0, plus `--max-requests 0` so no worker is
recycled mid-measurement; the second has
DJANGO_SETTINGS_MODULE=benchmarks.support.baseline_settings.
Load: wrk when installed, else benchmarks/support/loadgen.py (2 processes of threads, keep-alive).
Messages inserted/s is 2xx answers x messages per request / seconds (the table starts empty in
each phase and its row count afterwards is kept as a cross-check).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.support import harness, procs
from benchmarks.support.cpu import wait_children

BASELINE_SETTINGS = "benchmarks.support.baseline_settings"  # the bare INSERT endpoint
SINGLE = {"phoneNumber": "+905551234567", "content": "bench"}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local body = io.open("{body}", "rb")
wrk.body = body:read("*a")
body:close()
"""


def wait_http(url: str, *, timeout: float, process: subprocess.Popen) -> None:
    """Until `url` answers with any HTTP status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see bench-logs")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def gunicorn(name: str, settings: str, *, workers: int, threads: int) -> Iterator[str]:
    port = procs.free_port()
    env = procs.child_env(
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        RATE_LIMIT_PER_MINUTE="0",
        DJANGO_SETTINGS_MODULE=settings,
    )
    argv = [procs.PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--max-requests", "0"]
    with procs.running([*argv, "dispatcher_project.wsgi"], env=env, log=f"{name}.log") as popen:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", timeout=90, process=popen)
        yield base


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, duration, p50/p99 and non-2xx from `wrk --latency` output."""
    count, seconds = re.search(r"(\d+) requests in ([\d.]+)s", output).groups()
    found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": int(count),
        "seconds": float(seconds),
        "p50_ms": _ms(found["50"]),
        "p99_ms": _ms(found["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "errors": sum(map(int, errors.groups())) if errors else 0,
    }


def run_wrk(url: str, *, body: Path, token: str, seconds: float, connections: int) -> dict:
    script = body.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(token=token, body=body))
    options = f"-t 2 -c {connections} -d {seconds:g}s --timeout 30s --latency -s {script}"
    argv = ["wrk", *options.split(), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    with (procs.LOGS / "wrk.log").open("a") as log:
        log.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    return parse_wrk(done.stdout)


def run_python(url: str, *, body: Path, token: str, seconds: float, connections: int) -> dict:
    outs = [body.with_name(f"loadgen-{n}.json") for n in range(2)]
    threads = str(max(1, connections // 2))
    argv = [procs.PYTHON, "-m", "benchmarks.support.loadgen", "--url", url, "--body-file"]
    argv += [str(body), "--token", token, "--seconds", str(seconds), "--threads", threads]
    popens = [
        procs.spawn([*argv, "--out", str(out)], env=procs.child_env(), log="loadgen.log")
        for out in outs
    ]
    wait_children(popens, timeout=seconds + 120)
    parts = [json.loads(out.read_text()) for out in outs]
    latencies = sorted(x for part in parts for x in part["latencies_ms"])
    return {
        "requests": len(latencies),
        "seconds": max(part["seconds"] for part in parts),
        "p50_ms": latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "non_2xx": sum(part["non_2xx"] for part in parts),
        "errors": sum(part["errors"] for part in parts),
    }


def endpoint_run(url: str, *, body: Path, per_request: int, tool: str, **load: object) -> dict:
    """One load phase on an emptied table: requests/s, latency, messages inserted/s."""
    harness.reset_messages()
    run = run_wrk if tool == "wrk" else run_python
    result = run(url, body=body, **load)
    seconds = result["seconds"] or 1.0
    accepted = (result["requests"] - result["non_2xx"]) * per_request
    return {
        **result,
        "requests_per_s": result["requests"] / seconds,
        "messages_per_s": accepted / seconds,
        "messages_per_request": per_request,
        "rows_in_table_after": harness.message_count(),
    }


def load_tool(choice: str) -> str:
    if choice == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("--loadgen wrk: wrk is not installed")
    return "wrk" if choice != "python" and shutil.which("wrk") else "python"


def bodies(workdir: Path) -> tuple[Path, Path]:
    single, bulk = workdir / "single.json", workdir / "bulk.json"
    single.write_text(json.dumps(SINGLE))
    bulk.write_text(json.dumps([SINGLE] * 1000))
    return single, bulk


def measure(*, repeat: int, workers: int, threads: int, **load: object) -> dict:
    """`repeat` rounds of baseline, single POST and bulk POST; `load`: seconds, connections,
    tool and token."""
    runs: dict[str, list[dict]] = {"baseline": [], "single": [], "bulk": []}
    servers = {"workers": workers, "threads": threads}
    with tempfile.TemporaryDirectory(prefix="md-bench-api-") as workdir:
        single, bulk = bodies(Path(workdir))
        with (
            gunicorn("gunicorn-product", "dispatcher_project.settings", **servers) as product,
            gunicorn("gunicorn-baseline", BASELINE_SETTINGS, **servers) as bare,
        ):
            phases = (
                ("baseline", f"{bare}/bench/insert", single, 1),
                ("single", f"{product}/api/v1/messages", single, 1),
                ("bulk", f"{product}/api/v1/messages/bulk", bulk, 1000),
            )
            for _ in range(repeat):
                for name, url, body, per_request in phases:
                    result = endpoint_run(url, body=body, per_request=per_request, **load)
                    runs[name].append(result)
    harness.reset_messages()
    settings = {k: v for k, v in load.items() if k != "token"}
    return {**settings, **servers, **{name: {"runs": found} for name, found in runs.items()}}
