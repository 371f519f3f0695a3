"""`make bench-smoke`: the benchmark harness runs end to end at reduced sizes and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_bench_smoke_writes_every_figure(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["smoke"] is True and results["machine"]["cores"] >= 1
    for kind in ("ours", "base-128", "base-default"):
        run = results["ingest"][kind]
        assert run["chunks"] > 0 and run["chunks_per_s"] > 0 and run["mb_per_s"] > 0
    assert results["ingest"]["base-128"]["ours_over_this_mb_per_s"] > 0
    real = results["ingest_corpus"]  # the real multi-file corpus, reduced to a few files in smoke mode
    assert real["corpus"]["files"] >= 3 and real["corpus"]["by_suffix"].get("pdf") == 1
    assert real["ours"]["chunks"] > 0 and real["base-128"]["chunks"] > 0
    assert real["base-128"]["ours_over_this_mb_per_s"] > 0
    assert real["ours"]["tokens_per_s"] > 0 and real["arithmetic"]["matmul_fp32_gflops"] > 0
    for kind in ("ours", "base-128", "base-default"):
        assert 0 <= results["quality"][kind]["hit_rate"] <= 100
    sample = results["sample"]
    for figure in ("retrieval", "extractive_answer"):
        assert sample[figure]["n"] > 0 and sample[figure]["p95_ms"] >= sample[figure]["p50_ms"] > 0
    assert sample["cold_start"]["ok"] and sample["cold_start"]["median_s"] > 0
    assert sample["peak_rss"]["peak_rss_mb"] > 0 and sample["index_mb"] > 0
    assert sample["import_profile"]
    assert {p["vectors"] for p in results["scaling"].values()} >= {"embedded"}
    for point in results["scaling"].values():
        assert point["chunks"] > 0 and point["retrieval"]["p50_ms"] > 0 and point["index_mb"] > 0
        assert point["peak_rss"]["peak_rss_mb"] > 0, point["peak_rss"]  # a new process answered on it
        if point["vectors"] == "embedded":  # a new `citewise ask` process answered on that index
            assert point["cold_ask"]["ok"] and point["cold_ask"]["median_s"] > 0, point["cold_ask"]
    pdf = results["pdf_extraction"]
    assert pdf["pages"] > 0 and pdf["pypdfium2_s"] > 0 and pdf["pypdf_s"] > 0
    shards = results["shards"]
    assert shards["same_chunks_sharded"] and shards["chunks"] > 0 and shards["speedup"] > 0, shards
    startup = results["startup"]
    for name in ("serve_api_only", "serve"):
        assert startup[name]["healthz_s"] > 0 and startup[name]["first_answer_s"] > 0, startup
    assert startup["ui"]["url_s"] > 0, startup
    assert startup["serve"]["all_parts_s"] >= startup["serve"]["healthz_s"], startup  # MCP and UI mounted after
    table = (out / "RESULTS.md").read_text()
    assert "| target | measured | met |" in table and "cores" in table and "peak RSS MB" in table
    assert "## Scaling out" in table and "## Start-up" in table and "## PDF text extraction" in table
    assert "## Ingest on a real corpus" in table
