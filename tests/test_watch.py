"""A watched folder, driven by real file events (watchfiles): each check polls with a bounded wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

WAIT = 60.0  # seconds a change may take to show on a loaded machine (it usually takes about one)


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_ignored_names() -> None:
    from citewise.watch import is_ignored

    root = Path("/w")
    for name in ("notes.md", "a/b/report.pdf", "x.txt", "Weird name (1).docx"):
        assert not is_ignored(root / name, [root]), name
    for name in (".hidden.md", ".git/config.txt", "a/.cache/x.md", "notes.md.swp", ".notes.md.swx", "notes.md~",
                 "#notes.md#", ".#notes.md", "~$report.docx", "4913", "draft.txt.tmp", "big.pdf.part",
                 "file.crdownload", "image.png", "script.py"):  # fmt: skip
        assert is_ignored(root / name, [root]), name
    assert not is_ignored(Path("/home/.me/w/notes.md"), [Path("/home/.me/w")])  # only parts below the root count


class RecordingWatcher:
    """A FolderWatcher in a thread that records its lines and the size of each ingest batch."""

    def __init__(self, assistant, folder: Path) -> None:
        from citewise.watch import FolderWatcher

        lines, batches = self.lines, self.batches = [], []

        class Recording(FolderWatcher):
            def _ingest(self, files):
                batches.append(sorted(files.values()))
                super()._ingest(files)

        self.watcher = Recording(assistant, [folder], echo=lines.append)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watcher.run, args=(self.stop,), kwargs={"debounce_ms": 400})
        self.thread.start()
        wait_until(lambda: any(line.startswith("watching ") for line in lines), "the first sync")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def _ids(assistant) -> set[str]:
    return {d.doc_id for d in assistant.documents()}


def test_watch_keeps_the_index_in_step(make_assistant, tmp_path: Path) -> None:
    folder = tmp_path / "watched"
    (folder / "sub").mkdir(parents=True)
    (folder / "old.md").write_text("# Old\n\nThe lighthouse at Varn was built in 1820.\n", encoding="utf-8")
    assistant = make_assistant()
    # indexed from the watched folder earlier, its file deleted while nobody watched
    (folder / "gone.txt").write_text("The Varn ferry stopped running in 1990.", encoding="utf-8")
    assert assistant.ingest([folder]).ok
    (folder / "gone.txt").unlink()
    watch = RecordingWatcher(assistant, folder)
    try:
        assert _ids(assistant) == {"old.md"} and "removed gone.txt" in watch.lines  # the first sync caught up

        (folder / ".draft.md").write_text("Hidden draft about the Varn lighthouse keeper.", encoding="utf-8")
        (folder / "new.md.swp").write_text("vim swap", encoding="utf-8")
        (folder / "new.md~").write_text("a backup", encoding="utf-8")
        (folder / "sub" / "new.md").write_text("# New\n\nThe Varn lighthouse keeper was Ida Mol.\n", encoding="utf-8")
        wait_until(lambda: "sub/new.md" in _ids(assistant), "a new file is indexed")
        assert _ids(assistant) == {"old.md", "sub/new.md"}  # hidden and temporary files were not
        wait_until(lambda: "indexed sub/new.md" in watch.lines, "its line")  # printed just after the commit

        before = assistant.store.documents()["old.md"].doc_hash
        (folder / "old.md").write_text("# Old\n\nThe lighthouse at Varn was rebuilt in 1911.\n", encoding="utf-8")
        wait_until(lambda: assistant.store.documents()["old.md"].doc_hash != before, "a changed file is re-indexed")
        assert "1911" in (assistant.document_text("old.md") or "")
        wait_until(lambda: "updated old.md" in watch.lines, "its line")

        (folder / "broken.txt").write_bytes(b"\x00\x01\x02 binary \x00")
        (folder / "after.txt").write_text("After the broken file, the watch goes on.", encoding="utf-8")
        wait_until(lambda: "after.txt" in _ids(assistant), "a file after a bad one is indexed")
        wait_until(lambda: any(line.startswith("skipped: broken.txt") for line in watch.lines), "the bad file's line")

        (folder / "sub" / "new.md").unlink()
        wait_until(lambda: "sub/new.md" not in _ids(assistant), "a deleted file is removed")
        wait_until(lambda: "removed sub/new.md" in watch.lines, "its line")

        names = [f"burst-{i}.txt" for i in range(6)]
        for i, name in enumerate(names):
            (folder / name).write_text(f"Burst note number {i} about the Varn harbour.", encoding="utf-8")
        wait_until(lambda: set(names) <= _ids(assistant), "a burst of files is indexed")
        burst_batches = [b for b in watch.batches if set(b) & set(names)]
        assert len(burst_batches) < len(names)  # batched, not one ingest per file
        assert watch.thread.is_alive()
    finally:
        watch.close()


def test_watch_command_prints_one_line_per_change(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha note about the river Ordu.", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"CITEWISE_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"})
    cmd = [sys.executable, "-m", "citewise.cli", "watch", str(folder), "--collection", "notes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("1 added" in line for line in lines), "the first sync", timeout=180)
        (folder / "b.md").write_text("# B\n\nBeta note about mountain goats.\n", encoding="utf-8")
        wait_until(lambda: "indexed b.md\n" in lines, "the new file's line")
        (folder / "a.txt").unlink()
        wait_until(lambda: "removed a.txt\n" in lines, "the deleted file's line")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("citewise watch did not stop on Ctrl-C")
    listed = subprocess.run(
        [sys.executable, "-m", "citewise.cli", "--collection", "notes", "docs"], capture_output=True, text=True, env=env
    )
    assert listed.stdout.split("\t")[0] == "b.md"


def test_watch_refuses_a_missing_path(make_assistant, tmp_path: Path) -> None:
    from citewise.watch import FolderWatcher, WatchError

    with pytest.raises(WatchError, match="no such file or folder"):
        FolderWatcher(make_assistant(), [tmp_path / "nope"])


@pytest.mark.slow
def test_serve_watch_indexes_in_process(tmp_path: Path) -> None:
    import httpx
    from conftest import CitewiseServer

    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text("The first memo mentions the Ordu bridge.", encoding="utf-8")
    server = CitewiseServer(tmp_path / "data", args=["--no-ui", "--no-mcp", "--watch", str(folder)])
    try:

        def ids() -> set[str]:
            return {d["doc_id"] for d in httpx.get(f"{server.url}/v1/documents", timeout=30).json()["documents"]}

        wait_until(lambda: ids() == {"first.txt"}, "the first sync")
        (folder / "second.md").write_text("# Second\n\nThe second memo is about the Ordu ferry.\n", encoding="utf-8")
        wait_until(lambda: ids() == {"first.txt", "second.md"}, "a new file is indexed by the server")
    finally:
        server.stop()
    assert "watch: indexed second.md" in server.log_path.read_text()
