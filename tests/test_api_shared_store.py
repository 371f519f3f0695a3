"""Scale-out: two `citewise serve` processes on one `chroma run` server stay in step without restart."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from conftest import CORPUS, CitewiseServer, free_port, wait_for_port

pytestmark = pytest.mark.slow

NOTE = b"The Zorblat festival is held every April in Quenton. It was founded in 1911 by Mara Velde.\n"


def ask(server: CitewiseServer, question: str) -> tuple[str, list[dict]]:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    resp = client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": question}])
    return resp.choices[0].message.content or "", resp.model_extra["citations"]


def test_two_api_processes_share_one_chroma_server(chroma_server, tmp_path):
    shared = tmp_path / "shared-data"  # one uploads folder for both processes (a shared volume in production)
    env = {"CITEWISE_CHROMA_URL": chroma_server}
    http = httpx.Client(timeout=180)
    a = CitewiseServer(shared, env=env)  # one after the other: both fill the shared data_dir/models cache
    b = CitewiseServer(shared, env=env)
    try:
        # no API key set: requests without one are served
        corpus_file = CORPUS / "coda-written-request-openai.md"
        up = http.post(f"{a.url}/v1/documents", files={"file": (corpus_file.name, corpus_file.read_bytes())})
        assert up.status_code == 201, up.text
        text, cites = ask(b, "When did OpenAI launch Sora 2?")  # B builds its keyword index now
        assert "September 30, 2025" in text and cites[0]["doc_id"] == "uploads/coda-written-request-openai.md"

        up = http.post(f"{a.url}/v1/documents", files={"file": ("zorblat.txt", NOTE)})
        assert up.status_code == 201, up.text
        source = up.json()["document"]["source"]
        text, cites = ask(b, "Who founded the Zorblat festival?")
        assert "Mara Velde" in text and cites[0]["doc_id"] == "uploads/zorblat.txt"
        hits = http.post(f"{b.url}/v1/search", json={"query": "Zorblat Quenton"}).json()["passages"]
        assert hits[0]["doc_id"] == "uploads/zorblat.txt"
        assert hits[0]["keyword_rank"] == 1  # B's BM25 index picked up A's document without a restart
        listed = http.get(f"{b.url}/v1/documents").json()["documents"]
        assert "uploads/zorblat.txt" in [d["doc_id"] for d in listed]

        assert http.delete(f"{b.url}/v1/documents/uploads/zorblat.txt").status_code == 200
        hits = http.post(f"{a.url}/v1/search", json={"query": "Zorblat Quenton"}).json()["passages"]
        assert all(h["doc_id"] != "uploads/zorblat.txt" for h in hits)
        text, cites = ask(a, "Who founded the Zorblat festival?")
        assert all(c["doc_id"] != "uploads/zorblat.txt" for c in cites)
        assert not (shared / "uploads" / source.rsplit("/", 1)[-1]).exists()  # the shared folder is kept clean
    finally:
        a.stop()
        b.stop()


def _chroma(port: int, folder) -> subprocess.Popen:
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    return proc


def test_store_outage_is_a_503_and_the_api_recovers(tmp_path):
    port = free_port()
    chroma = _chroma(port, tmp_path / "chroma")
    server = CitewiseServer(tmp_path / "data", env={"CITEWISE_CHROMA_URL": f"http://127.0.0.1:{port}"})
    http = httpx.Client(timeout=180)
    body = {"model": "citewise", "messages": [{"role": "user", "content": "When did OpenAI launch Sora 2?"}]}
    try:
        assert http.get(f"{server.url}/healthz").status_code == 200
        chroma.terminate()
        chroma.wait(15)
        for resp in (http.get(f"{server.url}/healthz"), http.post(f"{server.url}/v1/chat/completions", json=body)):
            assert resp.status_code == 503
            assert "Chroma" in resp.json()["error"]["message"] and "\n" not in resp.json()["error"]["message"]
        chroma = _chroma(port, tmp_path / "chroma")
        assert http.get(f"{server.url}/healthz").status_code == 200  # reconnects, no restart
        assert http.post(f"{server.url}/v1/chat/completions", json=body).json()["refused"] is True  # empty index
    finally:
        server.stop()
        chroma.terminate()
        chroma.wait(15)
