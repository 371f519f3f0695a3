"""Writer leases: which ingests are writing chunks right now.

Every ingest (CLI, upload, re-index) holds a lease for as long as it runs and tags the
chunks it writes with the lease's id. A sweep or a commit deletes an uncommitted chunk only
when its writer no longer holds a lease, so one ingest can never delete another's work.

* Embedded store: a lease is a file ``<data_dir>/writers/<id>.lock`` that the writer keeps
  locked (``flock``). The lock is released by the kernel when the process dies, so a
  killed writer is seen as gone at once, and a live one is never mistaken for gone.
* Chroma server: writers may run on different machines, so a lease is a record in the
  ``<collection>_writers`` collection, refreshed every `HEARTBEAT` seconds; it is
  gone when it has not been refreshed for `LEASE_TTL` seconds (crashed writer).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HEARTBEAT = 5.0  # seconds between refreshes of a server-mode lease
LEASE_TTL = 60.0  # a server-mode lease not refreshed for this long belongs to a writer that is gone
_DUMMY = [1.0]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: leases go in the store instead
    fcntl = None  # type: ignore[assignment]


class Lease:
    """A held lease; `release()` gives it up."""

    def __init__(self, writer_id: str, release: Callable[[], None]) -> None:
        self.id = writer_id
        self._release = release

    def release(self) -> None:
        """Give the lease up (idempotent)."""
        release, self._release = self._release, lambda: None
        release()


class FileLeases:
    """Leases as locked files in one folder (embedded stores, one machine)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def acquire(self) -> Lease:
        """Take a new lease."""
        assert fcntl is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        writer_id = uuid.uuid4().hex
        tmp = self.folder / f"{writer_id}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        # locked before it gets the name that other processes look at: never seen unlocked while alive
        os.rename(tmp, self.folder / f"{writer_id}.lock")

        def release() -> None:
            with contextlib.suppress(OSError):
                os.unlink(self.folder / f"{writer_id}.lock")
            os.close(fd)

        return Lease(writer_id, release)

    def alive(self) -> set[str]:
        """Ids of the writers whose lease is held; files of writers that are gone are removed."""
        assert fcntl is not None
        try:
            names = [n for n in os.listdir(self.folder) if n.endswith(".lock")]
        except FileNotFoundError:
            return set()
        live: set[str] = set()
        for name in names:
            try:
                fd = os.open(self.folder / name, os.O_RDWR)
            except FileNotFoundError:
                continue  # released meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.add(name[: -len(".lock")])
            else:  # nobody holds it: the writer died without releasing
                with contextlib.suppress(OSError):
                    os.unlink(self.folder / name)
            finally:
                os.close(fd)
        return live


class StoreLeases:
    """Leases as heartbeat records in a Chroma collection (server mode, any number of machines)."""

    def __init__(self, collection: Callable[[], Any], *, heartbeat: float = HEARTBEAT, ttl: float = LEASE_TTL) -> None:
        self._collection = collection
        self.heartbeat = heartbeat
        self.ttl = ttl

    def _beat(self, writer_id: str) -> None:
        meta = {"beat": time.time(), "host": socket.gethostname(), "pid": os.getpid()}
        self._collection().upsert(ids=[writer_id], embeddings=[_DUMMY], metadatas=[meta], documents=[""])

    def acquire(self) -> Lease:
        """Take a new lease and keep it fresh from a background thread until released."""
        writer_id = uuid.uuid4().hex
        self._beat(writer_id)
        stop = threading.Event()

        def keep_alive() -> None:
            while not stop.wait(self.heartbeat):
                with contextlib.suppress(Exception):  # a server blip: the next beat retries
                    self._beat(writer_id)

        thread = threading.Thread(target=keep_alive, name=f"citewise-lease-{writer_id[:8]}", daemon=True)
        thread.start()

        def release() -> None:
            stop.set()
            thread.join(timeout=self.heartbeat + 5)
            with contextlib.suppress(Exception):
                self._collection().delete(ids=[writer_id])

        return Lease(writer_id, release)

    def alive(self) -> set[str]:
        """Ids of the writers whose lease was refreshed within the last ``ttl`` seconds."""
        got = self._collection().get(include=["metadatas"])
        now = time.time()
        live, gone = set(), []
        for wid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            if meta and now - float(meta.get("beat", 0.0)) < self.ttl:
                live.add(wid)
            else:
                gone.append(wid)
        if gone:
            with contextlib.suppress(Exception):
                self._collection().delete(ids=gone)
        return live


def file_leases_supported() -> bool:
    """Whether this platform has ``flock`` (every POSIX system)."""
    return fcntl is not None
