"""Command-line value types shared by the benchmark entry points."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def section_names(known: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """An argparse type for `--sections a,b`: the chosen names of `known`, in `known`'s order."""

    def parse(text: str) -> tuple[str, ...]:
        chosen = {part.strip() for part in text.split(",") if part.strip()}
        unknown = chosen - set(known)
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown sections {sorted(unknown)}; pick from {known}"
            )
        return tuple(name for name in known if name in chosen)

    return parse
