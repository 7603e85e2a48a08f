"""`run_dispatcher --processes N`: fork N dispatchers after one Django set-up and wait for them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable

from django.db import connections

logger = logging.getLogger(__name__)


def run_forked(count: int, run: Callable[[], None]) -> int:
    """Run `run` in `count` forked children and wait for them; returns the worst exit code.

    Django is set up once, here, so children start at once and share its pages until they
    write them. SIGTERM/SIGINT are passed on to every child. A child killed by signal N
    counts as 128 + N, as shells say.
    """
    connections.close_all()  # a database connection must never be shared across a fork
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(_child_exit_code(run))
        children.append(pid)

    def forward(signum, frame) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    worst = max(codes, key=abs)
    return 128 - worst if worst < 0 else worst


def _child_exit_code(run: Callable[[], None]) -> int:
    try:
        run()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logger.exception("dispatcher process failed")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
