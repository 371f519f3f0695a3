"""A watched folder: index what is there, then keep the index in step with it.

New and changed files are indexed, deleted ones removed, a few seconds after they
change (file events come from the ``watchfiles`` package and arrive in batches, so a
burst of saves is one ingest). Hidden files and editors' temporary files are ignored. A
file that cannot be read is reported, as ``citewise ingest`` does, and the watch goes on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from citewise.errors import CitewiseError

Echo = Callable[[str], None]
# vim (.swp, 4913), emacs (#x#, .#x), backups (x~), MS Office locks (~$x), downloads and atomic-save temps
_TEMP_NAME = re.compile(
    r"(^\.|^~\$|^#.*#$|~$|^4913$|\.(swp|swo|swx|swn|tmp|temp|part|crdownload|bak|orig|lock)$)", re.IGNORECASE
)
DEBOUNCE_MS = 800


class WatchError(CitewiseError, ValueError):
    """A path that cannot be watched."""

    status, code = 400, "invalid_watch_path"


def is_ignored(path: Path, roots: Iterable[Path] = ()) -> bool:
    """Hidden files and folders, editors' temporary files, and types citewise cannot read."""
    from citewise.index.loaders import SUPPORTED_SUFFIXES

    parts = path.parts
    for root in roots:
        if path == root or root in path.parents:
            parts = path.relative_to(root).parts
            break
    if any(part.startswith(".") for part in parts):
        return True
    return bool(_TEMP_NAME.search(path.name)) or path.suffix.lower() not in SUPPORTED_SUFFIXES


class FolderWatcher:
    """Keeps ``assistant``'s index in step with files and folders.

    Args:
        assistant: the `Assistant` whose collection receives the files.
        paths: files and folders to watch (folders recursively).
        echo: prints one line per change (default: nothing).
    """

    def __init__(self, assistant: Any, paths: Iterable[str | Path], echo: Echo | None = None) -> None:
        self.assistant = assistant
        self.paths = [Path(p).expanduser().resolve() for p in paths]
        if not self.paths:
            raise WatchError("name at least one file or folder to watch")
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise WatchError(f"cannot watch {', '.join(missing)}: no such file or folder")
        self.roots = [p if p.is_dir() else p.parent for p in self.paths]
        self.echo = echo or (lambda line: None)

    # ---- one pass --------------------------------------------------------------------
    def _root_of(self, path: Path) -> Path:
        for root in self.roots:
            if root in path.parents:
                return root
        return path.parent

    def _watched(self, path: Path) -> bool:
        """Whether ``path`` lies inside what is watched (a named file, or under a named folder)."""
        return any(path == p or (p.is_dir() and p in path.parents) for p in self.paths)

    def _owned(self, record: Any) -> Path | None:
        """The file a document was indexed from, if it lies inside what is watched."""
        try:
            source = Path(record.source).resolve()
        except (OSError, ValueError):
            return None
        return source if self._watched(source) else None

    def sync(self) -> None:
        """Index everything watched, and remove documents whose watched file is gone."""
        gone = [
            record.doc_id
            for record in self.assistant.documents()
            if (source := self._owned(record)) is not None and not source.exists()
        ]
        self._remove(gone)
        report = self.assistant.ingest(self.paths)
        for _path, reason in report.failed:
            self.echo(f"skipped: {reason}")
        self.echo(f"watching {', '.join(str(p) for p in self.paths)}: {report.summary()}")

    def apply(self, changed: Iterable[str | Path]) -> None:
        """Bring the index in step with ``changed`` paths (files written, created or deleted)."""
        present: dict[Path, str] = {}
        deleted: list[Path] = []
        for raw in sorted({Path(p).resolve() for p in changed}):
            if not self._watched(raw) or is_ignored(raw, self.roots):
                if not raw.exists():
                    deleted.append(raw)  # a deleted folder has no suffix: check what it held
                continue
            if raw.is_file():
                from citewise.index.loaders import doc_id_for

                present[raw] = doc_id_for(raw, self._root_of(raw))
            elif not raw.exists():
                deleted.append(raw)
        if deleted:
            doomed = [
                record.doc_id
                for record in self.assistant.documents()
                if (source := self._owned(record)) is not None
                and not source.exists()
                and any(source == d or d in source.parents for d in deleted)
            ]
            self._remove(doomed)
        if present:
            self._ingest(present)

    def _remove(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            try:
                if self.assistant.remove(doc_id):
                    self.echo(f"removed {doc_id}")
            except CitewiseError as exc:
                self.echo(f"error: could not remove {doc_id}: {exc}")

    def _ingest(self, files: dict[Path, str]) -> None:
        try:
            report = self.assistant.ingest(list(files), doc_ids=files)
        except CitewiseError as exc:
            self.echo(f"error: {exc}")
            return
        for doc_id in report.added:
            self.echo(f"indexed {doc_id}")
        for doc_id in report.updated:
            self.echo(f"updated {doc_id}")
        for _path, reason in report.failed:
            self.echo(f"skipped: {reason}")

    # ---- the loop --------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        """Sync, then apply file events until ``stop`` is set (or Ctrl-C).

        The watch starts before the sync, so a file written while the sync runs is not missed.
        """
        import watchfiles

        roots = sorted({str(r) for r in self.roots})
        synced = False
        for changes in watchfiles.watch(
            *roots,
            watch_filter=lambda _change, path: self._relevant(Path(path)),
            debounce=debounce_ms,
            stop_event=stop,
            raise_interrupt=False,
            yield_on_timeout=True,  # the first (empty) batch comes once the watch is set up
            rust_timeout=500,
        ):
            if not synced:
                self.sync()
                synced = True
            if not changes:
                continue
            try:
                self.apply(path for _change, path in changes)
            except CitewiseError as exc:  # the store went away: say so, and keep watching
                self.echo(f"error: {exc}")
            except Exception as exc:  # a watch must outlive one bad batch; the line names the failure
                self.echo(f"error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")

    def _relevant(self, path: Path) -> bool:
        if not self._watched(path):
            return False
        # a deleted folder arrives as one event without a suffix; keep it
        return not is_ignored(path, self.roots) or (not path.exists() and not path.suffix)


def start_watching(assistant: Any, paths: Iterable[str | Path], echo: Echo | None = None) -> threading.Event:
    """Run a `FolderWatcher` in a daemon thread (for ``ui --watch`` and ``serve --watch``).

    Returns:
        The event that stops it.

    Raises:
        WatchError: a path does not exist (checked before the thread starts).
    """
    watcher = FolderWatcher(assistant, paths, echo)
    stop = threading.Event()

    def loop() -> None:
        try:
            watcher.run(stop)
        except Exception as exc:  # a watcher must never take the server down with it
            watcher.echo(f"error: the folder watch stopped: {exc}")

    threading.Thread(target=loop, name="citewise-watch", daemon=True).start()
    return stop
