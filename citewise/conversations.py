"""Saved conversations: every turn with its answer, citations and mode, in a SQLite file.

The file is ``<data_dir>/conversations.sqlite3`` (stdlib `sqlite3`, WAL journal, the
schema version in ``PRAGMA user_version``). Each conversation has an owner (the signed-in
user, or ``""`` without auth) and a collection; every read and write names the owner, so
one user never sees another's conversations. A damaged file is a one-line
`ConversationStoreError` naming it, never a crash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citewise.errors import CitewiseError, reason

FILE_NAME = "conversations.sqlite3"
SCHEMA_VERSION = 1
TITLE_CHARS = 80
_ID = re.compile(r"^[0-9a-f]{32}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated_at);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    mode TEXT NOT NULL,
    refused INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
"""


class ConversationStoreError(CitewiseError, RuntimeError):
    """The conversation database cannot be opened, read or written."""

    status, code = 503, "conversations_unavailable"


class NoSuchConversation(CitewiseError, LookupError):
    """A conversation that does not exist (or belongs to someone else)."""

    status, code = 404, "conversation_not_found"


class ConversationError(CitewiseError, ValueError):
    """A request about a conversation that cannot be met (bad title, ...)."""

    status, code = 400, "invalid_conversation"


@dataclass
class Turn:
    """One question and its answer (``answer`` is the answer's JSON form, citations with passages)."""

    question: str
    answer: dict[str, Any]
    mode: str
    refused: bool
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (also the chat page's turn format: ``question`` and ``answer``)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "mode": self.mode,
            "refused": self.refused,
            "created_at": self.created_at,
        }


@dataclass
class Conversation:
    """A saved conversation; ``turns`` is filled by `ConversationStore.get()`."""

    id: str
    owner: str
    collection: str
    title: str
    created_at: str
    updated_at: str
    turns: list[Turn] = field(default_factory=list)
    turn_count: int = 0

    def as_dict(self, with_turns: bool = True) -> dict[str, Any]:
        """JSON-friendly form."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "collection": self.collection,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "turns": len(self.turns) if not with_turns else [t.as_dict() for t in self.turns],
        }
        if not with_turns:
            out["turns"] = self.turn_count
        return out

    def history(self) -> list[dict[str, str]]:
        """The turns as the OpenAI-style history the Assistant takes."""
        out: list[dict[str, str]] = []
        for t in self.turns:
            out += [
                {"role": "user", "content": t.question},
                {"role": "assistant", "content": t.answer.get("answer", "")},
            ]
        return out


def _conversation(row: Any) -> Conversation:
    """A conversation (without turns) from a row of ``_row``/``recent``: six columns, then the turn count."""
    cid, owner, collection, title, created, updated, turns = row
    return Conversation(cid, owner, collection, title, created, updated, turn_count=int(turns))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def answer_json(answer: Any) -> dict[str, Any]:
    """An `Answer` as stored: its JSON form, citations with passages."""
    return dict(answer.to_dict(passages=True))


def title_for(question: str) -> str:
    """A conversation's title: its first question, on one line, shortened."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """Conversations in one SQLite file, safe to share between threads.

    Args:
        path: the database file (created with its folder on first use).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ConversationStore:
        """The store at ``data_dir/conversations.sqlite3``."""
        return cls(Path(data_dir) / FILE_NAME)

    # ---- connection -------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> ConversationStoreError:
        return ConversationStoreError(
            f"the conversation database {self.path} cannot be used ({reason(exc)}); "
            "move it aside and citewise starts a new one"
        )

    def _open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConversationStoreError(
                    f"the conversation database {self.path} was written by a newer citewise (schema {version}); "
                    "upgrade citewise or use another --data-dir"
                )
            conn.execute("PRAGMA journal_mode = WAL")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == 0 and tables - {"conversations", "turns"}:
                raise ConversationStoreError(
                    f"{self.path} is not a citewise conversation database; move it aside or use another --data-dir"
                )
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM conversations").fetchone()  # a damaged file fails here at the latest
        except ConversationStoreError:
            if conn is not None:
                conn.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise self._fail(exc) from None
        self._conn = conn
        return conn

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._open()
            try:
                if write:
                    conn.execute("BEGIN IMMEDIATE")
                yield conn
                if write:
                    conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                if write and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._fail(exc) from None
            except BaseException:
                if write and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ---- conversations ----------------------------------------------------------------
    def create(self, owner: str = "", collection: str = "", title: str = "") -> Conversation:
        """A new, empty conversation."""
        now = _now()
        conv = Conversation(uuid.uuid4().hex, owner, collection, title_for(title) if title else "", now, now)
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO conversations (id, owner, collection, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conv.id, owner, collection, conv.title, now, now),
            )
        return conv

    def _row(self, db: sqlite3.Connection, conversation_id: str, owner: str) -> tuple[Any, ...]:
        row = None
        if isinstance(conversation_id, str) and _ID.match(conversation_id):
            row = db.execute(
                "SELECT c.id, c.owner, c.collection, c.title, c.created_at, c.updated_at, "
                "(SELECT count(*) FROM turns t WHERE t.conversation_id = c.id) "
                "FROM conversations c WHERE c.id = ? AND c.owner = ?",
                (conversation_id, owner),
            ).fetchone()
        if row is None:
            raise NoSuchConversation(f"there is no conversation {str(conversation_id)[:40]!r}")
        return tuple(row)

    def get(self, conversation_id: str, owner: str = "") -> Conversation:
        """A conversation with its turns.

        Raises:
            NoSuchConversation: no conversation of ``owner`` has this id.
        """
        with self._db() as db:
            conv = _conversation(self._row(db, conversation_id, owner))
            rows = db.execute(
                "SELECT question, answer, mode, refused, created_at FROM turns WHERE conversation_id = ? "
                "ORDER BY position",
                (conv.id,),
            ).fetchall()
        try:
            conv.turns = [Turn(q, json.loads(a), m, bool(r), c) for q, a, m, r, c in rows]
        except ValueError as exc:
            raise self._fail(exc) from None
        conv.turn_count = len(conv.turns)
        return conv

    def recent(self, owner: str = "", collection: str | None = None, limit: int = 200) -> list[Conversation]:
        """``owner``'s conversations (in ``collection``, if given), newest first, without their turns."""
        query = (
            "SELECT c.id, c.owner, c.collection, c.title, c.created_at, c.updated_at, "
            "(SELECT count(*) FROM turns t WHERE t.conversation_id = c.id) FROM conversations c WHERE c.owner = ?"
        )
        args: list[Any] = [owner]
        if collection is not None:
            query += " AND c.collection = ?"
            args.append(collection)
        query += " ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?"
        args.append(max(1, int(limit)))
        with self._db() as db:
            rows = db.execute(query, args).fetchall()
        return [_conversation(row) for row in rows]

    def add_turn(self, conversation_id: str, owner: str, question: str, answer: Any) -> Turn:
        """Save a turn (an `Answer` or its stored JSON form).

        The conversation is titled by its first question unless it has a title already.
        """
        data = answer if isinstance(answer, dict) else answer_json(answer)
        turn = Turn(question, data, str(data.get("mode", "")), bool(data.get("refused")), _now())
        with self._db(write=True) as db:
            _, _, _, title, _, _, count = self._row(db, conversation_id, owner)
            db.execute(
                "INSERT INTO turns (conversation_id, position, question, answer, mode, refused, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    count,
                    question,
                    json.dumps(data, ensure_ascii=False),
                    turn.mode,
                    turn.refused,
                    turn.created_at,
                ),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (turn.created_at, title or title_for(question), conversation_id),
            )
        return turn

    def rename(self, conversation_id: str, owner: str, title: str) -> Conversation:
        """Give a conversation a new title (one line, at most 80 characters kept)."""
        clean = title_for(title or "")
        if not clean:
            raise ConversationError("the title is empty; type a title for the conversation")
        with self._db(write=True) as db:
            self._row(db, conversation_id, owner)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (clean, conversation_id))
        return self.get(conversation_id, owner)

    def delete(self, conversation_id: str, owner: str = "") -> None:
        """Delete a conversation and its turns.

        Raises:
            NoSuchConversation: no conversation of ``owner`` has this id.
        """
        with self._db(write=True) as db:
            self._row(db, conversation_id, owner)
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))


# ---- Markdown export -------------------------------------------------------------------
_MARKER = re.compile(r"\[(\d+)\]")


def export_markdown(conv: Conversation) -> str:
    """The conversation as Markdown: each answer's ``[n]`` markers become footnotes holding the quotes."""
    lines = [f"# {conv.title or 'Conversation'}", ""]
    meta = f"Collection `{conv.collection}` · started {conv.created_at[:16].replace('T', ' ')} UTC"
    lines += [f"_{meta}_", ""]
    notes: list[str] = []
    for i, turn in enumerate(conv.turns, start=1):
        cites = {int(c["n"]): c for c in turn.answer.get("citations", []) if "n" in c}

        def footnote(match: re.Match[str], i: int = i, cites: dict[int, Any] = cites) -> str:
            n = int(match.group(1))
            return f"[^{i}-{n}]" if n in cites else match.group(0)

        text = _MARKER.sub(footnote, str(turn.answer.get("answer", "")))
        lines += [f"**Q{i}:** {turn.question}", "", text, ""]
        for n, c in sorted(cites.items()):
            page = f", p. {c['page']}" if c.get("page") else ""
            quote = " ".join(str(c.get("quote", "")).split())
            notes.append(
                f"[^{i}-{n}]: \u201c{quote}\u201d \u2014 {c.get('title') or c.get('doc_id')} ({c.get('doc_id')}{page})"
            )
    if notes:
        lines += ["---", "", *notes, ""]
    return "\n".join(lines)
