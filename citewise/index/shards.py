"""Split one ingest across N processes by document id, with no scheduler.

Shard ``i/N`` (1 <= i <= N) takes the files whose id hashes to ``i - 1`` modulo ``N``. The
hash is SHA-256 of the id (never Python's ``hash()``, which changes from process to
process), and the id is the file's path relative to the folder given to ``ingest``, so
every machine computes the same split whatever folder the corpus is mounted at. Each
shard commits, skips and repairs only its own documents; shards may run one after the
other or all at once against one Chroma server.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from citewise.errors import CitewiseError
from citewise.index.loaders import doc_id_for

Shard = tuple[int, int]  # (i, N), 1-based: (1, 2) and (2, 2) cover everything

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(CitewiseError):
    """A ``--shard`` value that is not ``i/N`` with 1 <= i <= N."""

    code = "invalid_shard"


def parse_shard(spec: str) -> Shard:
    """``"2/4"`` -> ``(2, 4)``.

    Raises:
        ShardError: ``spec`` is not ``i/N`` with whole numbers 1 <= i <= N.
    """
    match = _SPEC.match(spec or "")
    if not match:
        raise ShardError(f"--shard {spec!r} is not i/N (e.g. 1/4 for the first of four shards)")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= i <= n:
        raise ShardError(f"--shard {spec}: i must be between 1 and N (got {i}/{n}); shards are numbered 1/N to N/N")
    return i, n


def shard_of(doc_id: str, n: int) -> int:
    """The shard (1..n) that document id ``doc_id`` belongs to; the same on every machine."""
    digest = hashlib.sha256(doc_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def in_shard(doc_id: str, shard: Shard | None) -> bool:
    """Whether ``doc_id`` belongs to ``shard`` (every id does when ``shard`` is None)."""
    return shard is None or shard_of(doc_id, shard[1]) == shard[0]


def file_key(path: Path, root: Path) -> str:
    """What a file is sharded by: its id before any collision suffix (its path under ``root``).

    Files that would collide on an id (``a/notes.txt`` and ``b/notes.txt`` given as two
    folders) share this key, so one shard assigns both their ids.
    """
    try:
        return doc_id_for(path, root)
    except (OSError, RuntimeError):  # a path too long or a symlink loop: the loader reports it
        return path.name
