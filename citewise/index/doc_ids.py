"""Document ids that never collide, and stay the same when a file is indexed again.

A file's id is, in order of preference:

1. the id it already has: a file indexed before (same absolute path) keeps its id;
2. its path relative to the folder given to ``ingest`` (``notes.txt``, ``2024/q1.md``), the
   scheme of every index made before, so existing indexes keep their ids;
3. if another file that still exists holds that id, the folder's name in front
   (``b/notes.txt`` for ``citewise ingest a b`` where both hold ``notes.txt``);
4. if that is taken too, the relative path and a short hash of the absolute path
   (``notes.txt@1a2b3c4d``).

An id whose file no longer exists (the folder was moved or renamed) is taken over by the
file that now has that relative path, so a moved folder updates its documents in place.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from citewise.index.loaders import doc_id_for
from citewise.index.store import DocRecord


def absolute(path: Path | str) -> str:
    """``path`` made absolute and resolved (symbolic links followed), as a string."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a path too long or a symlink loop: keep it as written
        return os.path.abspath(path)


class DocIds:
    """Assigns ids for one ingest run, given the documents already committed."""

    def __init__(self, records: Iterable[DocRecord]) -> None:
        self._by_path: dict[str, str] = {}  # absolute path -> id
        self._owner: dict[str, str] = {}  # id -> absolute path of the file that holds it
        for r in records:
            where = r.path or absolute(r.source)  # indexes made before 0.2 stored only the source
            self._by_path.setdefault(where, r.doc_id)
            self._owner[r.doc_id] = where

    def assign(self, path: Path, root: Path) -> str:
        """The id for file ``path`` found under ``root`` (claimed for this run)."""
        me = absolute(path)
        if me in self._by_path:
            return self._by_path[me]
        rel = doc_id_for(path, root)
        candidates = [rel]
        folder = Path(absolute(root)).name
        if folder:
            candidates.append(f"{folder}/{rel}")
        candidates.append(f"{rel}@{hashlib.sha256(me.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}")
        doc_id = next((c for c in candidates if self._free(c, me)), candidates[-1])
        self._by_path[me] = doc_id
        self._owner[doc_id] = me
        return doc_id

    def claim(self, doc_id: str, path: Path) -> None:
        """Record a fixed id (an upload's) so no other file of this run takes it."""
        self._owner[doc_id] = absolute(path)

    def _free(self, doc_id: str, me: str) -> bool:
        owner = self._owner.get(doc_id)
        if owner is None or owner == me:
            return True
        try:
            return not os.path.exists(owner)
        except (OSError, ValueError):
            return True
