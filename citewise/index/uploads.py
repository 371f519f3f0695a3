"""Uploaded files: checked, then stored under generated names inside the data folder."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from citewise.errors import CitewiseError
from citewise.index.loaders import SUPPORTED_SUFFIXES

MAX_NAME = 120  # characters kept of an uploaded file's name (the document id is uploads/<name>)
_THREAD_LOCK = threading.Lock()

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per data folder
    fcntl = None  # type: ignore[assignment]


class UploadError(CitewiseError, ValueError):
    """An upload that is refused; the message says why in one line."""

    status = 400
    code = "invalid_upload"


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be."""

    max_bytes: int = 50 * 1024 * 1024
    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES


def safe_name(filename: str) -> str:
    """The file's base name with anything path-like or odd removed (``../x.txt`` -> ``x.txt``)."""
    base = PureWindowsPath(PurePosixPath(filename.replace("\x00", "")).name).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    if not base or base.startswith("."):
        raise UploadError(f"upload name {filename[:120]!r} is not a usable file name")
    if len(base) > MAX_NAME:  # shorten the stem, keep the type: "<long>.txt" stays a .txt
        stem, suffix = os.path.splitext(base)
        suffix = suffix if len(suffix) <= 10 else ""
        base = stem[: MAX_NAME - len(suffix)].rstrip(" .") + suffix
    return base


def check_upload(filename: str, size: int, limits: UploadLimits) -> str:
    """Validate an upload's name, type and size; returns the cleaned name."""
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in limits.suffixes:
        raise UploadError(
            f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(limits.suffixes)}"
        )
    if size > limits.max_bytes:
        raise UploadError(f"{name}: file is {size / 2**20:.1f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB")
    if size == 0:
        raise UploadError(f"{name}: file is empty")
    return name


def store_upload(data_dir: Path, filename: str, data: bytes, limits: UploadLimits) -> tuple[str, Path]:
    """Save an upload under a generated name in ``data_dir/uploads``.

    Returns:
        (document id shown to users, i.e. ``uploads/<clean name>``; path of the stored file)
    """
    name = check_upload(filename, len(data), limits)
    folder = data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    path.write_bytes(data)
    return f"uploads/{name}", path


@contextlib.contextmanager
def upload_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's upload lock: one upload or removal at a time, across processes.

    Every process sharing a data folder (several ``serve`` workers on one volume) takes it,
    so reading a document's previous file, committing the new one and deleting the old
    one happen as one step, and no stored file is left that no document owns.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK:
        if fcntl is None:  # pragma: no cover
            yield
            return
        fd = os.open(data_dir / "uploads.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
