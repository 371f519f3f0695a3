"""Nothing lost: concurrent ingests, colliding names, bad files in a batch, zip bombs, concurrent uploads.

Each defect is driven through the interface where it was found (the CLI in subprocesses,
the HTTP API, ``Assistant.upload`` from threads) against real Chroma, embedded and served.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import API_KEY, CORPUS

from citewise.index.store import ChromaStore, StoreConfig, StoreError, chunk_id

WORDS = [
    "amber",
    "basalt",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "granite",
    "harbor",
    "island",
    "juniper",
    "kestrel",
    "lagoon",
    "meadow",
]


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "CITEWISE_DATA_DIR": str(data), **extra})
    return env


def _cli(args: list[str], data: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args],
        capture_output=True,
        text=True,
        env=_env(data, **extra),
        cwd=cwd,
        timeout=900,
    )


def _forget_client(data: Path) -> None:
    """Drop this process's cached embedded Chroma for ``data`` so the next open reads the disk afresh."""
    from chromadb.api.client import SharedSystemClient

    key = str(data / "chroma")
    system = SharedSystemClient._identifier_to_system.pop(key, None)
    SharedSystemClient._identifier_to_refcount.pop(key, None)
    if system is not None:
        system.stop()


def _big_text(chars: int) -> str:
    lines, i = [], 0
    while sum(len(x) for x in lines) < chars:
        w = [WORDS[(i * k + 3) % len(WORDS)] for k in (1, 2, 5)]
        lines.append(f"Entry {i}: the {w[0]} survey of {w[1].title()} Point {i} counted {i % 97} {w[2]} trees.\n")
        i += 1
    return "".join(lines)


def _missing_chunks(store: ChromaStore) -> dict[str, int]:
    """Per document, how many of the chunks its registry record names are not in the store."""
    held = store.chunk_ids()
    return {
        d.doc_id: missing
        for d in store.documents().values()
        if (missing := sum(chunk_id(d.doc_id, d.doc_hash, i) not in held for i in range(d.chunks)))
    }


# ---- 1. concurrent ingests ------------------------------------------------------------
def _concurrent_ingests(tmp_path: Path, **extra: str) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    (work / "big.txt").write_text(_big_text(800_000))
    (work / "small.txt").write_text("The Quillon ferry has crossed the Marrow strait every morning since 1931.\n")
    assert _cli(["ingest", str(CORPUS)], data, work, **extra).returncode == 0
    store = ChromaStore(StoreConfig(data, extra.get("CITEWISE_CHROMA_URL", "")))
    corpus_chunks = sum(d.chunks for d in store.documents().values())
    big = subprocess.Popen(
        [sys.executable, "-m", "citewise.cli", "ingest", "big.txt"],
        env=_env(data, **extra),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while store.count_chunks() <= corpus_chunks:  # wait for big's first uncommitted chunks
            assert big.poll() is None, big.communicate()
            assert time.monotonic() < deadline, "big.txt wrote no chunk in 10 minutes"
            time.sleep(0.5)
        small = _cli(["ingest", "small.txt"], data, work, **extra)  # its start-up sweep ran while big wrote
        assert small.returncode == 0, small.stderr
        assert big.poll() is None, "big.txt was indexed before small.txt finished; the test needs a larger file"
        out, err = big.communicate(timeout=900)
    finally:
        if big.poll() is None:
            big.kill()
    assert big.returncode == 0, err
    assert "1 added" in out
    if not extra:
        _forget_client(data)
    store = ChromaStore(StoreConfig(data, extra.get("CITEWISE_CHROMA_URL", "")))
    docs = store.documents()
    assert {"big.txt", "small.txt"} <= set(docs)
    assert _missing_chunks(store) == {}
    assert store.count_chunks() == sum(d.chunks for d in docs.values())
    again = _cli(["ingest", "big.txt", "--json"], data, work, **extra)
    assert json.loads(again.stdout)["unchanged"] == ["big.txt"]


@pytest.mark.slow
def test_concurrent_cli_ingests_keep_each_others_chunks_embedded(tmp_path):
    _concurrent_ingests(tmp_path)


@pytest.mark.slow
def test_concurrent_cli_ingests_keep_each_others_chunks_on_a_chroma_server(tmp_path, chroma_server):
    _concurrent_ingests(tmp_path, CITEWISE_CHROMA_URL=chroma_server)


def test_reingest_repairs_a_document_whose_chunks_are_missing(tmp_path):
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(_big_text(20_000))
    assert _cli(["ingest", "notes.txt"], data, work).returncode == 0
    store = ChromaStore(StoreConfig(data))
    record = store.documents()["notes.txt"]
    assert record.chunks > 4
    store.chunks.delete(ids=[chunk_id("notes.txt", record.doc_hash, i) for i in range(3)])  # lost, as in the issue
    assert _missing_chunks(store) == {"notes.txt": 3}
    _forget_client(data)
    again = _cli(["ingest", "notes.txt"], data, work)
    assert again.returncode == 0, again.stderr
    assert "1 repaired" in again.stdout
    store = ChromaStore(StoreConfig(data))
    assert _missing_chunks(store) == {}
    assert store.count_chunks() == record.chunks


def test_a_live_writers_uncommitted_chunks_survive_a_sweep_and_a_dead_ones_do_not(make_assistant, tmp_path):
    a = make_assistant()
    a.ingest([CORPUS])
    store = a.store
    doc = [c for c in store.all_chunks()][0]
    ghost = {**_meta(doc), "doc_id": "ghost.txt", "doc_hash": "f" * 64}
    # a writer in another process: it holds its lease until told to exit
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LEASE, str(tmp_path / "data")], stdout=subprocess.PIPE, text=True
    )
    try:
        writer = holder.stdout.readline().strip()
        assert writer in store.live_writers()
        store.chunks.upsert(
            ids=["ghost.txt::ffff::000000"],
            embeddings=a.embedder.embed([doc.text]),
            documents=[doc.text],
            metadatas=[{**ghost, "writer": writer}],
        )
        assert store.sweep() == 0  # its writer is alive: not an orphan
        a.ingest([CORPUS])
        assert "ghost.txt::ffff::000000" in store.chunk_ids()
    finally:
        holder.kill()
        holder.wait(30)
    assert writer not in store.live_writers()  # the kernel released the lock of the killed process
    assert store.sweep() == 1


_HOLD_LEASE = """
import sys, time
from pathlib import Path
from citewise.index.store import ChromaStore, StoreConfig
store = ChromaStore(StoreConfig(Path(sys.argv[1])))
with store.writing() as writer:
    print(writer, flush=True)
    time.sleep(600)
"""


def _meta(chunk) -> dict:
    from citewise.index.store import _chunk_meta

    return _chunk_meta(chunk)


# ---- 2. document ids -------------------------------------------------------------------
def test_same_named_files_in_two_folders_are_two_documents(tmp_path):
    data, work = tmp_path / "data", tmp_path / "work"
    (work / "a").mkdir(parents=True)
    (work / "b").mkdir()
    (work / "a" / "notes.txt").write_text("The Velmar observatory was built on Tarn Hill in 1874.\n")
    (work / "b" / "notes.txt").write_text("The Osric lighthouse was painted red and white in 1902.\n")
    first = _cli(["ingest", "a", "b", "--json"], data, work)
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(first.stdout)["added"]) == ["b/notes.txt", "notes.txt"]
    for question, doc_id, fact in (
        ("When was the Velmar observatory built?", "notes.txt", "1874"),
        ("When was the Osric lighthouse painted?", "b/notes.txt", "1902"),
    ):
        out = _cli(["ask", question, "--json"], data, work)
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout)
        assert fact in answer["answer"]
        assert answer["citations"][0]["doc_id"] == doc_id
    again = _cli(["ingest", "b", "a", "--json"], data, work)  # another order: each file keeps its id
    assert sorted(json.loads(again.stdout)["unchanged"]) == ["b/notes.txt", "notes.txt"]


def test_a_moved_folder_updates_its_documents_in_place(make_assistant, tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    (old / "n.txt").write_text("The Harrow mill ground barley until 1950.\n")
    a = make_assistant()
    assert a.ingest([old]).added == ["n.txt"]
    old.rename(new)
    (new / "n.txt").write_text("The Harrow mill ground barley until 1961.\n")
    report = a.ingest([new])
    assert report.updated == ["n.txt"] and [d.doc_id for d in a.documents()] == ["n.txt"]


# ---- 3. loaders fail one file ----------------------------------------------------------
def _bad_xml_docx(path: Path) -> Path:
    from test_loaders import make_docx

    make_docx(path, ["A fine paragraph."])
    parts = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            parts[name] = z.read(name)
    parts["word/document.xml"] = b"<w:document><w:body><w:p>unclosed"
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in parts.items():
            z.writestr(name, blob)
    return path


def test_bad_files_in_a_folder_are_skipped_with_one_line_each_and_the_rest_indexed(tmp_path):
    from test_loaders import make_pdf

    data, work = tmp_path / "data", tmp_path / "work"
    mixed = work / "mixed"
    mixed.mkdir(parents=True)
    (mixed / "good.txt").write_text("The Pellam causeway floods twice a year.\n")
    _bad_xml_docx(mixed / "badxml.docx")
    (mixed / "badzip.docx").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    make_pdf(mixed / "secret.pdf", ["Hidden."], password="pw")
    (mixed / "badpdf.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(3000))
    (mixed / "binary.txt").write_bytes(bytes(range(256)) * 40)
    out = _cli(["ingest", "mixed"], data, work)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    skipped = [line for line in out.stderr.splitlines() if line.startswith("skipped: ")]
    assert sorted(line.split()[1].rstrip(":") for line in skipped) == [
        "badpdf.pdf",
        "badxml.docx",
        "badzip.docx",
        "binary.txt",
        "secret.pdf",
    ]
    assert "1 added" in out.stdout
    assert [d.doc_id for d in ChromaStore(StoreConfig(data)).documents().values()] == ["good.txt"]


def _deep_tree(root: Path, depth: int) -> None:
    """``root/dd/dd/.../dd`` ``depth`` levels deep (2,000 levels: longer than any path the kernel accepts)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("dd", dir_fd=fd)
            nxt = os.open("dd", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write("Too deep to matter.\n")
    finally:
        os.close(fd)


def _remove_deep_tree(top: Path) -> None:
    fds = [os.open(top, os.O_RDONLY)]
    while "dd" in os.listdir(fds[-1]):
        fds.append(os.open("dd", os.O_RDONLY, dir_fd=fds[-1]))
    for name in os.listdir(fds[-1]):
        os.unlink(name, dir_fd=fds[-1])
    while len(fds) > 1:
        os.close(fds.pop())
        os.rmdir("dd", dir_fd=fds[-1])
    os.close(fds[0])


def test_deep_folders_and_overlong_paths_are_one_line_reasons(tmp_path):
    data, work = tmp_path / "data", tmp_path / "work"
    folder = work / "docs"
    (folder / "deep").mkdir(parents=True)
    (folder / "good.txt").write_text("The Brisk canal opens at dawn.\n")
    _deep_tree(folder / "deep", 2000)
    try:
        long_path = "x/" * 2100 + "y.txt"
        out = _cli(["ingest", "docs", long_path], data, work)
    finally:
        _remove_deep_tree(folder / "deep")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    skipped = [line for line in out.stderr.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 2, out.stderr[-2000:]
    assert all(len(line) < 300 for line in skipped)
    assert any("File name too long" in line for line in skipped)
    assert "1 added" in out.stdout


# ---- 3b. zip bombs -----------------------------------------------------------------------
_DOCX_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)


def _docx_bomb(path: Path, unpacked: int) -> Path:
    """A .docx whose document.xml unpacks to ``unpacked`` bytes of paragraphs (about 1/1000 packed)."""
    from test_loaders import make_docx

    make_docx(path.with_suffix(".seed.docx"), ["seed"])
    para = b"<w:p><w:r><w:t>" + b"boom " * 200 + b"</w:t></w:r></w:p>"
    block = para * (2**20 // len(para))
    with zipfile.ZipFile(path.with_suffix(".seed.docx")) as seed, zipfile.ZipFile(path, "w") as z:
        for name in seed.namelist():
            if name != "word/document.xml":
                z.writestr(name, seed.read(name))
        info = zipfile.ZipInfo("word/document.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as fh:
            fh.write(_DOCX_HEAD)
            written = len(_DOCX_HEAD)
            while written < unpacked:
                fh.write(block)
                written += len(block)
            fh.write(b"</w:body></w:document>")
    return path


_PEAK_RSS = """
import json, sys
from pathlib import Path
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
import docx, lxml.etree  # the parser's own imports are not the bomb's doing
from citewise.index.loaders import LoadError, load_document
base = hwm()
try:
    load_document(Path(sys.argv[1]))
    reason = None
except LoadError as exc:
    reason = str(exc)
print(json.dumps({"base": base, "peak": hwm(), "reason": reason}))
"""


@pytest.mark.slow
def test_docx_bomb_is_refused_before_unpacking_with_bounded_memory(tmp_path):
    bomb = _docx_bomb(tmp_path / "bomb.docx", 2**30)
    assert bomb.stat().st_size < 4 * 2**20
    out = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(bomb)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["reason"] and "bomb.docx" in got["reason"] and "limit" in got["reason"], got
    assert "\n" not in got["reason"]
    grew = (got["peak"] - got["base"]) / 2**20
    print(f"docx bomb: refused; peak RSS grew {grew:.1f} MB over a baseline of {got['base'] / 2**20:.0f} MB")
    assert grew < 300


def test_docx_with_too_many_entries_is_refused(tmp_path):
    from citewise.index.loaders import ZIP_MAX_ENTRIES, LoadError, load_document

    path = tmp_path / "many.docx"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(ZIP_MAX_ENTRIES + 1):
            z.writestr(f"word/media/{i}.txt", b"")
    with pytest.raises(LoadError, match="holds 2,001 files"):
        load_document(path)


# ---- 4. uploads ----------------------------------------------------------------------------
def _orphans(data: Path, sources: list[str]) -> list[str]:
    owned = {Path(s).name for s in sources}
    return sorted(p.name for p in (data / "uploads").iterdir() if p.name not in owned)


def test_ten_concurrent_uploads_of_one_name_leave_one_file(make_assistant):
    a = make_assistant()
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            a.upload("same.txt", f"Version {i} of the Kellan report says the dam is {100 + i} metres tall.\n".encode())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    docs = a.documents()
    assert [d.doc_id for d in docs] == ["uploads/same.txt"]
    assert _orphans(a.settings.data_dir, [d.source for d in docs]) == []
    assert a.remove("uploads/same.txt")
    assert list((a.settings.data_dir / "uploads").iterdir()) == []


def test_api_uploads_bad_docx_is_400_long_name_keeps_type_and_concurrent_uploads_leave_no_orphan(api_server, tmp_path):
    http = httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300)
    bad = _bad_xml_docx(tmp_path / "bad.docx")
    r = http.post("/v1/documents", files={"file": ("bad.docx", bad.read_bytes())})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("bad.docx: DOCX is damaged") and "\n" not in message

    long_name = "n" * 130 + ".txt"  # 134 characters
    r = http.post("/v1/documents", files={"file": (long_name, b"The Tolvar bell weighs nine tonnes.\n")})
    assert r.status_code == 201, r.text
    doc_id = r.json()["document"]["doc_id"]
    assert doc_id.startswith("uploads/nnn") and doc_id.endswith(".txt")
    assert http.delete(f"/v1/documents/{doc_id}").status_code == 200

    codes: list[int] = []

    def send(i: int) -> None:
        with httpx.Client(base_url=api_server.url, headers=http.headers, timeout=300) as c:
            body = f"Draft {i}: the Ombra tunnel is {200 + i} metres long.\n".encode()
            codes.append(c.post("/v1/documents", files={"file": ("ombra.txt", body)}).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [201] * 10
    docs = http.get("/v1/documents").json()["documents"]
    assert _orphans(api_server.data_dir, [d["source"] for d in docs]) == []
    assert http.delete("/v1/documents/uploads/ombra.txt").status_code == 200


def test_store_errors_are_not_swallowed_by_the_lease(tmp_path):
    (tmp_path / "file").write_text("x")
    store = ChromaStore(StoreConfig(tmp_path / "file"))
    with pytest.raises(StoreError), store.writing():
        pass


def test_a_folder_reingest_repairs_only_the_damaged_document(make_assistant, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(25):  # more than 20 files: the check lists every chunk id once
        (folder / f"n{i:02d}.txt").write_text(f"Note {i}: the Arlen weir was rebuilt in {1900 + i}.\n")
    a = make_assistant()
    assert len(a.ingest([folder]).added) == 25
    record = {d.doc_id: d for d in a.documents()}["n07.txt"]
    a.store.chunks.delete(ids=[chunk_id("n07.txt", record.doc_hash, 0)])
    report = a.ingest([folder])
    assert report.repaired == ["n07.txt"] and len(report.unchanged) == 24
    assert _missing_chunks(a.store) == {}
    assert any(p.chunk.doc_id == "n07.txt" for p in a.search("Note 7 Arlen weir rebuilt in 1907", top_k=10))


def test_an_index_made_before_ids_were_checked_keeps_its_ids(make_assistant, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "y.txt").write_text("The Corran bridge has nine arches.\n")
    a = make_assistant()
    assert a.ingest([folder]).added == ["sub/y.txt"]
    got = a.store.docs.get(ids=["sub/y.txt"], include=["metadatas", "documents"])
    legacy = {k: v for k, v in got["metadatas"][0].items() if k != "path"}  # what older versions stored
    a.store.docs.delete(ids=["sub/y.txt"])
    a.store.docs.add(ids=["sub/y.txt"], metadatas=[legacy], documents=got["documents"], embeddings=[[1.0]])
    assert a.documents()[0].path == ""
    assert a.ingest([folder]).unchanged == ["sub/y.txt"]


def test_reindex_keeps_every_documents_id(make_assistant, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "y.txt").write_text("The Corran bridge has nine arches.\n")
    a = make_assistant()
    a.ingest([folder])
    a.upload("z.txt", b"The Dunmore clock strikes thirteen at noon.\n")
    before = {d.doc_id: d.doc_hash for d in a.documents()}
    assert set(before) == {"sub/y.txt", "uploads/z.txt"}
    report = a.rebuild()
    assert report.ok and sorted(report.added) == sorted(before)
    assert {d.doc_id: d.doc_hash for d in make_assistant().documents()} == before
