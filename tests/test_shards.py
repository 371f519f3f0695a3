"""`citewise ingest --shard i/N`: N processes split one corpus by document id, into one Chroma server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citewise.index.shards import ShardError, in_shard, parse_shard, shard_of

TOPICS = ["harbour", "glacier", "orchard", "lighthouse", "quarry", "vineyard", "observatory", "canal", "mill", "ferry"]


def _corpus(folder: Path) -> list[str]:
    """Ten small text files (two in a subfolder); returns their document ids."""
    ids = []
    for n, topic in enumerate(TOPICS):
        rel = f"{'north/' if n < 2 else ''}{topic}.txt"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"The {topic} of Zorbury was built in {1800 + n}. Its keeper was named {topic.title()}son.\n")
        ids.append(rel)
    return ids


def _cli(data_dir: Path, chroma_url: str, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"CITEWISE_DATA_DIR": str(data_dir), "CITEWISE_CHROMA_URL": chroma_url, "HF_HUB_OFFLINE": "1"})
    return subprocess.Popen(
        [sys.executable, "-m", "citewise.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _done(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_parse_shard_accepts_i_of_n_and_refuses_the_rest():
    assert parse_shard("1/2") == (1, 2)
    assert parse_shard(" 4 / 4 ") == (4, 4)
    for bad in ["0/2", "3/2", "1/0", "2", "a/b", "-1/2", "1/2/3", ""]:
        with pytest.raises(ShardError) as info:
            parse_shard(bad)
        assert "\n" not in info.value.message and "--shard" in info.value.message


def test_every_id_lands_in_exactly_one_shard_the_same_in_every_process():
    ids = [f"doc-{n}.txt" for n in range(200)] + ["é/ünïcode.md", "a/b/c.pdf"]
    for n in (1, 2, 3, 7):
        for doc_id in ids:
            assert sum(in_shard(doc_id, (i, n)) for i in range(1, n + 1)) == 1
    assert in_shard("anything", None)
    # a stable hash (SHA-256), not Python's salted hash(): the same shard in a fresh interpreter
    code = "from citewise.index.shards import shard_of; print([shard_of(f'doc-{n}.txt', 5) for n in range(50)])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == str([shard_of(f"doc-{n}.txt", 5) for n in range(50)])
    digest = hashlib.sha256(b"doc-0.txt").digest()
    assert shard_of("doc-0.txt", 5) == int.from_bytes(digest[:8], "big") % 5 + 1
    sizes = [sum(shard_of(d, 2) == i for d in ids) for i in (1, 2)]
    assert min(sizes) > 60  # roughly even, not all in one shard


def test_bad_shard_is_one_line_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["CITEWISE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "citewise.cli", "ingest", "--shard", "3/2", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("citewise: error: --shard 3/2")
    assert not (tmp_path / "data").exists()  # refused before any index was opened


def test_two_shard_processes_index_every_document_once_into_one_chroma_server(chroma_server, tmp_path):
    corpus = tmp_path / "corpus"
    ids = _corpus(corpus)
    mine = {i: {d for d in ids if shard_of(d, 2) == i} for i in (1, 2)}
    assert mine[1] and mine[2], "the sample ids should fall in both shards"

    # two "machines": each its own data folder, both writing to the same Chroma server at once
    procs = {
        i: _cli(tmp_path / f"node{i}", chroma_server, "ingest", "--json", "--shard", f"{i}/2", str(corpus))
        for i in (1, 2)
    }
    reports = {i: _done(p) for i, p in procs.items()}
    for i in (1, 2):
        assert set(reports[i]["added"]) == mine[i] and reports[i]["ok"]
    listing = subprocess.run(  # a third process reads what both wrote
        [
            sys.executable,
            "-m",
            "citewise.cli",
            "--chroma-url",
            chroma_server,
            "--data-dir",
            str(tmp_path / "reader"),
            "docs",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = {d["doc_id"]: d for d in json.loads(listing.stdout)}
    assert sorted(docs) == sorted(ids)  # every document once, none twice
    assert sum(d["chunks"] for d in docs.values()) == reports[1]["chunks"] + reports[2]["chunks"]

    # change one file of each shard, then run shard 1 again: only its own document is updated
    one, two = sorted(mine[1])[0], sorted(mine[2])[0]
    for rel in (one, two):
        (corpus / rel).write_text((corpus / rel).read_text() + "It was rebuilt after the flood of 1901.\n")
    again = _done(_cli(tmp_path / "node1", chroma_server, "ingest", "--json", "--shard", "1/2", str(corpus)))
    assert again["updated"] == [one] and set(again["unchanged"]) == mine[1] - {one} and not again["added"]
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "citewise.cli",
            "--chroma-url",
            chroma_server,
            "--data-dir",
            str(tmp_path / "reader"),
            "docs",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    after = {d["doc_id"]: d for d in json.loads(listing.stdout)}
    assert sorted(after) == sorted(ids)
    assert after[one]["doc_hash"] != docs[one]["doc_hash"]
    for doc_id in mine[2]:  # shard 2's documents, the changed one too, are exactly as shard 2 left them
        assert after[doc_id] == docs[doc_id]


def test_files_that_would_share_an_id_fall_in_one_shard(make_assistant, tmp_path):
    """`ingest a b --shard` with a/notes.txt and b/notes.txt: one shard takes both and gives them distinct ids."""
    for folder, year in (("a", 1901), ("b", 1902)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(f"The Zorbury canal was dug in {year}.\n")
    mine = shard_of("notes.txt", 2)
    assistant = make_assistant()
    other = assistant.ingest([tmp_path / "a", tmp_path / "b"], shard=(3 - mine, 2))
    assert other.ok and other.added == []
    report = assistant.ingest([tmp_path / "a", tmp_path / "b"], shard=(mine, 2))
    assert report.ok and sorted(report.added) == ["b/notes.txt", "notes.txt"]
