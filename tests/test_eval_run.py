"""run_eval end to end (real Chroma, real model), reports, and the `citewise eval` exit-code gates."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CORPUS

from citewise.eval.command import check_gates
from citewise.eval.report import format_table, render_html, report_json
from citewise.eval.runner import EvalError, run_eval

SMALL_SUITE = {
    "name": "small",
    "documents": [str(CORPUS)],
    "cases": [
        {
            "id": "launch",
            "question": "When did OpenAI launch Sora 2?",
            "expect": {"all_of": ["September 30, 2025"]},
            "sources": [{"doc": "coda-written-request-openai.md", "passage": "September 30, 2025"}],
        },
        {
            "id": "founded",
            "history": [{"role": "user", "content": "What is CODA?"}],
            "question": "And when was it founded?",
            "expect": {"all_of": ["2002"]},
            "sources": [{"doc": "coda-written-request-openai.md", "passage": "2002"}],
        },
        {"id": "cup", "question": "Who won the 2022 FIFA World Cup?", "refuse": True},
    ],
}


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL_SUITE), encoding="utf-8")
    return path


def test_run_eval_on_a_small_suite_leaves_the_users_index_alone(make_assistant, small_suite):
    assistant = make_assistant()  # the user's index: empty, and it must stay so
    seen: list[tuple[int, int, str]] = []
    report = run_eval(assistant, small_suite, "extractive", progress=lambda d, t, n: seen.append((d, t, n)))
    assert assistant.documents() == []
    assert seen[-1] == (3, 3, "cup")
    assert report.metrics["answer_accuracy"] == 1.0
    assert report.metrics["citation_accuracy"] == 1.0
    assert report.metrics["refusal_accuracy"] == 1.0
    assert report.metrics["hit_rate"] == 1.0 and 0 < report.metrics["mrr"] <= 1
    rows = report.rows()
    assert [r["id"] for r in rows] == ["launch", "founded", "cup"]
    assert all({"question", "answer", "passed", "why", "citations"} <= set(r) for r in rows)
    assert rows[2]["refused"] and rows[2]["passed"]
    assert "CODA" in report.results[1].answer.query  # the follow-up carried its subject


def test_reports_table_json_and_self_contained_html(make_assistant, small_suite):
    report = run_eval(make_assistant(), small_suite)
    table = format_table([report])
    assert "answer_accuracy" in table and "small/extractive" in table
    data = report_json([report])
    metrics = data["results"]["small"]["extractive"]["metrics"]
    assert {"answer_accuracy", "citation_accuracy", "refusal_accuracy", "hit_rate", "mrr"} <= set(metrics)
    page = render_html([report])
    assert "When did OpenAI launch Sora 2?" in page and "September 30, 2025" in page
    assert not re.search(r"(src|href)\s*=|https?://|@import|<script", page, re.I)


def test_html_escapes_what_the_documents_say(make_assistant, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text("The <script>alert(1)</script> tag was launched in 2001 by Acme Labs.\n")
    suite = {
        "name": "esc",
        "documents": ["docs"],
        "cases": [
            {
                "question": "When was the tag launched?",
                "expect": {"all_of": ["2001"]},
                "sources": [{"doc": "x.md"}],
            }
        ],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    page = render_html([run_eval(make_assistant(), tmp_path / "s.yaml")])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_documents_that_fail_to_index_stop_the_eval(make_assistant, tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    suite = {"name": "bad", "documents": ["bad.pdf"], "cases": [{"question": "q?", "refuse": True}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(EvalError, match="cannot index"):
        run_eval(make_assistant(), tmp_path / "s.yaml")


def test_gates():
    metrics = {"answer_accuracy": 0.9, "citation_accuracy": 1.0, "hit_rate": 0.5}
    assert check_gates(metrics, {"min_accuracy": 0.9, "min_hit_rate": None}) == []
    failed = check_gates(metrics, {"min_accuracy": 0.95, "min_hit_rate": 0.6, "min_citation_accuracy": 1.0})
    assert len(failed) == 2 and "answer_accuracy 0.900 is below --min-accuracy 0.95" in failed


def _citewise(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "citewise"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(exe), "--data-dir", str(cwd / "data"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_cli_exit_codes_follow_the_gates(small_suite, tmp_path):
    out = tmp_path / "r.json"
    ok = _citewise("eval", "--dataset", str(small_suite), "--json", str(out), "--min-accuracy", "0.9", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "answer_accuracy" in ok.stdout
    impossible = _citewise(
        "eval",
        "--dataset",
        str(small_suite),
        "--min-accuracy",
        "1.01",
        "--html",
        str(tmp_path / "r.html"),
        cwd=tmp_path,
    )
    assert impossible.returncode == 1
    assert "answer_accuracy 1.000 is below --min-accuracy 1.01" in impossible.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    data = json.loads(out.read_text())
    assert data["results"]["small"]["extractive"]["metrics"]["answer_accuracy"] == 1.0
    missing = _citewise("eval", "--dataset", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no dataset at" in missing.stderr


@pytest.mark.slow
def test_seed_suite_holds_its_committed_baseline(make_assistant):
    """The seed suite is a regression gate: no gated figure more than 0.02 below the committed baseline."""
    from citewise.eval.baseline import PACKAGED, Baseline, check_baseline, read_baseline

    report = run_eval(make_assistant(), "seed", "extractive")
    baseline = read_baseline(PACKAGED)
    seed_only = Baseline(metrics={"seed": baseline.metrics["seed"]}, max_drop=baseline.max_drop)
    failed = [f"{r['id']}: {r['why']}" for r in report.failures()]
    assert check_baseline({"seed": report.metrics}, seed_only) == [], failed
    assert report.metrics["citation_precision"] == 1.0  # extractive answers quote verbatim
