"""Load: 20 concurrent clients through the HTTP API and the Gradio queue while a folder is ingested.

Runs the real load driver (bench/load_test.py: `chroma run`, `citewise serve --ui`, a
`citewise ingest` process) at a reduced size; latency figures come from the full run
(`python bench/load_test.py` writes bench/load_results.json), never from this test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_20_clients_per_interface_while_ingesting_get_well_formed_answers(tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, "-m", "bench.load_test", "--clients", "20", "--rounds", "1", "--ingest-docs", "100"]
    proc = subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.exists(), proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for name in ("api", "gradio"):
        phase = results["phases"][name]
        assert phase["errors"] == 0, phase["error_samples"]
        assert phase["ok"] == 20
        assert phase["answered"] >= 12 and phase["refused"] >= 1  # 4 of the 5 questions are answerable
        # what the test means: the clients ran while an ingest was running. The driver keeps
        # ingest processes going back to back until the last client is done, so this holds on
        # any machine; it would fail if the phases ran without an ingest alongside them.
        assert phase["ingest_overlap_s"] >= 0.5 * phase["wall_s"] > 0, phase
    assert results["ingest"]["batches"] >= 1
    assert results["ingest"]["exit_code"] == 0
    assert results["ingest"]["indexed_after"] == results["ingest"]["expected_after"]
    assert proc.returncode == 0, proc.stdout[-2000:]
