"""A progress bar on the terminal for long work (ingest, re-index, evaluation)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# progress(done, total, name of the current item)
ProgressFn = Callable[[int, int, str], None]


def terminal_progress(desc: str, unit: str) -> tuple[ProgressFn, Callable[[], None]]:
    """(update, close) for a tqdm bar on stderr when it is a terminal; both do nothing otherwise."""
    if not sys.stderr.isatty():
        return (lambda done, total, name: None), (lambda: None)
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int, name: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False)
        bar["bar"].set_postfix_str(name[:30])
        bar["bar"].update(done - bar["bar"].n)

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    return update, close
