#!/usr/bin/env python
"""Django's command-line utility; a configuration error is one line on stderr, not a traceback."""

from __future__ import annotations

import os
import signal
import sys

# Commands that must stop cleanly (exit 0) on SIGTERM/SIGINT even while still starting up;
# once running, they install their own graceful handlers.
STOPPABLE_WHILE_STARTING = {"run_dispatcher", "demo_webhook", "run_stack"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in STOPPABLE_WHILE_STARTING:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: sys.exit(0))  # nothing claimed or served yet
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_project.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads and validates the configuration
    except ImproperlyConfigured as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
