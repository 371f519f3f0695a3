"""Uploaded files: checked, then stored under generated names inside the data folder."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from citewise.index.loaders import SUPPORTED_SUFFIXES


class UploadError(ValueError):
    """An upload that is refused; the message says why in one line."""


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
        raise UploadError(f"upload name {filename!r} is not a usable file name")
    return base[:120]


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
