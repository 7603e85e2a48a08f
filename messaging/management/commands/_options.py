"""What the management commands share: `--help` that shows every default, and options checked
by the configuration's own parsers (one limit, one line of error)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from messaging.config_parsers import Parser


class DefaultsHelpFormatter(DjangoHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Django's ordering of the options, each followed by "(default: …)"."""


class ShowingDefaults(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)


def checked(option: str, parser: Parser, raw: Any) -> Any:
    """`raw` as `parser` reads it, or a CommandError naming the option and what it expects."""
    try:
        return parser(raw)
    except (ValueError, TypeError):
        raise CommandError(f"{option}: {parser.problem(raw)}") from None
