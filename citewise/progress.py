"""Progress for long work (ingest, re-index, evaluation): a bar on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

# progress(done, total, name of the current item)
ProgressFn = Callable[[int, int, str], None]
LINE_EVERY_S = 5.0  # without a terminal (piped to a log, CI), one line this often


def terminal_progress(
    desc: str, unit: str, *, chunks: Callable[[], int] | None = None, every: float = LINE_EVERY_S
) -> tuple[ProgressFn, Callable[[], None]]:
    """(update, close): a tqdm bar on stderr when it is a terminal, else plain progress lines.

    Args:
        desc: what is being done (``indexing``).
        unit: what is counted (``file``).
        chunks: optional count of chunks written so far, shown in the plain lines.
        every: seconds between plain lines (the first and the last item always get one).
    """
    if not sys.stderr.isatty():
        return _line_progress(desc, unit, chunks, every)
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


def _line_progress(
    desc: str, unit: str, chunks: Callable[[], int] | None, every: float
) -> tuple[ProgressFn, Callable[[], None]]:
    started = time.monotonic()
    last = [-float("inf")]

    def update(done: int, total: int, name: str) -> None:
        now = time.monotonic()
        if now - last[0] < every and 1 < done < total:
            return
        last[0] = now
        rate = done / max(now - started, 1e-6)
        share = f" ({done / total:.0%})" if total else ""
        parts = [f"{desc}: {done}/{total} {unit}s{share}"]
        if chunks is not None:
            with contextlib.suppress(Exception):  # a progress line is never worth failing the work for
                parts.append(f"{chunks()} chunks written")
        parts.append(f"{rate:.1f} {unit}s/s")
        print(", ".join(parts), file=sys.stderr, flush=True)

    return update, lambda: None
