"""The keyword (BM25) index over committed chunks, saved to disk and keyed by the store's revision.

Building BM25 means reading every chunk back from Chroma and tokenising it: seconds at 10k
chunks, about 18 s at 100k. So the built index is saved under the data folder, in a folder
named after the store revision it was built from, and a process that opens the index finds
it there and loads it in milliseconds. It is rebuilt only when the revision changes (every
commit or removal changes it).

On disk, per collection (``<data_dir>/keywords/<store key>/<revision hash>/``):

* the bm25s arrays (``bm25s`` saves numpy arrays and JSON; no pickle);
* ``chunks.jsonl``: one chunk record per line, in index order; ``offsets.json``, the byte
  offset of each line, so a search reads only the lines of its hits; ``ids.json``;
* ``meta.json``, written last: the revision, the chunk count and the format version. A
  folder without it is an interrupted save and is ignored.

Each process keeps its own copy under its own data folder (with a Chroma server, the
folder is keyed by the server URL and collection too).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from citewise.index.store import ChunkRecord

FORMAT = 2  # 2: words of one character are tokens (an index of format 1 is rebuilt on load)
# the text BM25 sees: LlamaIndex's embed-mode node text (metadata lines, a blank line, the chunk),
# as the LlamaIndex BM25 retriever citewise used before, so rankings do not move
_META_KEYS = ("doc_id", "title", "source", "page")


def bm25_text(chunk: ChunkRecord) -> str:
    """What the keyword index sees of a chunk: its metadata lines, then its text."""
    meta = "\n".join(f"{k}: {getattr(chunk, k)}" for k in _META_KEYS)
    return f"{meta}\n\n{chunk.text}"


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# words of one character count too: a quoted command or key ("the "u" command", "press x") is
# often the one word that finds its passage (bm25s keeps words of two characters or more)
_TOKEN = r"(?u)\b\w+\b"


def _tokenize(texts: list[str], stemmer: Any, stopwords: str | None = "english") -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=stemmer, token_pattern=_TOKEN, show_progress=False)


def _record(chunk: ChunkRecord) -> dict[str, Any]:
    out = asdict(chunk)
    out["page_breaks"] = [list(p) for p in chunk.page_breaks]
    return out


def _chunk(data: dict[str, Any]) -> ChunkRecord:
    data["page_breaks"] = tuple(tuple(p) for p in data.get("page_breaks", ()))
    return ChunkRecord(**data)


class BM25Index:
    """A BM25 index whose chunk records stay on disk until a search needs them."""

    def __init__(self, bm25: Any, ids: list[str], folder: Path | None, chunks: dict[str, ChunkRecord] | None) -> None:
        self._bm25 = bm25
        self.ids = ids
        self._folder = folder
        self._chunks = chunks  # in memory when just built; read from chunks.jsonl when loaded
        self._offsets: list[int] | None = None
        self._stemmer = _stemmer()

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, chunks: list[ChunkRecord]) -> BM25Index:
        """Tokenise and index ``chunks`` (in memory)."""
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(_tokenize([bm25_text(c) for c in chunks], _stemmer()), show_progress=False)
        return cls(bm25, [c.id for c in chunks], None, {c.id: c for c in chunks})

    def save(self, folder: Path, revision: str) -> None:
        """Write the index to ``folder`` (created fresh); ``meta.json`` last, so a partial save is ignored."""
        assert self._chunks is not None, "only a built index is saved"
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder))
        offsets: list[int] = []
        with open(folder / "chunks.jsonl", "wb") as fh:
            for cid in self.ids:
                offsets.append(fh.tell())
                fh.write(json.dumps(_record(self._chunks[cid]), ensure_ascii=False).encode() + b"\n")
        (folder / "offsets.json").write_text(json.dumps(offsets))
        (folder / "ids.json").write_text(json.dumps(self.ids))
        meta = {"format": FORMAT, "revision": revision, "chunks": len(self.ids)}
        tmp = folder / f"meta.json.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, folder / "meta.json")

    @classmethod
    def load(cls, folder: Path, revision: str) -> BM25Index | None:
        """The index saved in ``folder`` for ``revision``; None if absent, partial or of another revision."""
        import bm25s

        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != FORMAT or meta.get("revision") != revision:
                return None
            ids = json.loads((folder / "ids.json").read_text())
            offsets = json.loads((folder / "offsets.json").read_text())
            if not len(ids) == len(offsets) == meta.get("chunks"):
                return None
            bm25 = bm25s.BM25.load(str(folder), load_corpus=False, mmap=True)
        except (OSError, ValueError, KeyError):
            return None
        index = cls(bm25, ids, folder, None)
        index._offsets = offsets
        return index

    def chunk(self, i: int) -> ChunkRecord:
        """The chunk at index position ``i``."""
        if self._chunks is not None:
            return self._chunks[self.ids[i]]
        assert self._folder is not None and self._offsets is not None
        with open(self._folder / "chunks.jsonl", "rb") as fh:
            fh.seek(self._offsets[i])
            return _chunk(json.loads(fh.readline()))

    def search(self, query: str, n: int) -> list[tuple[int, float]]:
        """The ``n`` best (position, score) pairs for ``query``, best first."""
        if not self.ids or not query.strip():
            return []
        tokens = _tokenize([query], self._stemmer, stopwords=None)  # as LlamaIndex's BM25 retriever does
        positions, scores = self._bm25.retrieve(tokens, k=max(1, min(n, len(self.ids))), show_progress=False)
        return [(int(p), float(s)) for p, s in zip(positions[0], scores[0], strict=True)]


def folder_for(data_dir: Path, store_key: str) -> Path:
    """Where the saved indexes of one store (URL + collection) live in this process's data folder."""
    digest = hashlib.sha256(store_key.encode()).hexdigest()[:16]
    return data_dir / "keywords" / digest


def revision_folder(base: Path, revision: str) -> Path:
    """The folder of the index built at ``revision``."""
    return base / hashlib.sha256(revision.encode()).hexdigest()[:16]


def save_current(index: BM25Index, base: Path, revision: str) -> None:
    """Save ``index`` for ``revision`` and remove older saves (a failure to save is not an error)."""
    target = revision_folder(base, revision)
    staging = base / f".tmp-{uuid.uuid4().hex}"
    try:
        index.save(staging, revision)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        return
    for old in base.iterdir():
        if old != target and not old.name.startswith(".tmp-"):
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
