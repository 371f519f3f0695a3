"""The baseline gate: a drop beyond max_drop fails, a smaller one passes; the committed baseline's shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_eval_squad import TINY

from citewise.eval.baseline import (
    GATED,
    PACKAGED,
    Baseline,
    BaselineError,
    baseline_json,
    check_baseline,
    read_baseline,
    write_baseline,
)
from citewise.eval.runner import EvalReport

BASE = Baseline(
    metrics={
        "seed": {"answer_accuracy": 0.95, "citation_accuracy": 0.95, "refusal_accuracy": 0.96},
        "squad-complexity": {"overall_accuracy": 0.60, "has_ans_accuracy": 0.75, "no_ans_accuracy": 0.40},
    }
)
MEASURED = {
    "seed": {"answer_accuracy": 0.95, "citation_accuracy": 0.95, "refusal_accuracy": 0.96},
    "squad-complexity": {"overall_accuracy": 0.60, "has_ans_accuracy": 0.75, "no_ans_accuracy": 0.40},
}


def _with(dataset: str, metric: str, value: float) -> dict[str, dict[str, float]]:
    measured = {name: dict(m) for name, m in MEASURED.items()}
    measured[dataset][metric] = value
    return measured


def test_the_same_figures_pass():
    assert check_baseline(MEASURED, BASE) == []


def test_a_drop_of_0_03_fails_and_names_the_metric():
    failed = check_baseline(_with("squad-complexity", "no_ans_accuracy", 0.37), BASE)
    assert failed == ["squad-complexity: no_ans_accuracy 0.370 is 0.030 below the baseline 0.400 (allowed drop 0.02)"]


def test_a_drop_of_0_01_passes_and_so_does_a_rise():
    assert check_baseline(_with("seed", "answer_accuracy", 0.94), BASE) == []
    assert check_baseline(_with("seed", "refusal_accuracy", 1.0), BASE) == []


def test_a_drop_of_exactly_max_drop_passes():
    assert check_baseline(_with("seed", "citation_accuracy", 0.93), BASE) == []


def test_on_a_small_set_one_case_is_allowed_and_two_are_not():
    # 29 questions: one case is 0.034, more than max_drop; it flips between CPUs (int8 kernels)
    small = Baseline(metrics={"blockchain-test": {"citation_accuracy": 0.931, "context_hit_rate": 1.0}})
    one = {"blockchain-test": {"cases": 29.0, "citation_accuracy": 26 / 29, "context_hit_rate": 28 / 29}}
    assert check_baseline(one, small) == []
    two = {"blockchain-test": {"cases": 29.0, "citation_accuracy": 25 / 29, "context_hit_rate": 27 / 29}}
    assert check_baseline(two, small) == [
        "blockchain-test: citation_accuracy 0.862 is 0.069 below the baseline 0.931 (allowed drop one case of 29)",
        "blockchain-test: context_hit_rate 0.931 is 0.069 below the baseline 1.000 (allowed drop one case of 29)",
    ]
    # on a large set one case is less than max_drop: max_drop holds
    large = {"seed": {**MEASURED["seed"], "cases": 64.0, "answer_accuracy": 0.92}}
    assert len(check_baseline({**MEASURED, **large}, BASE)) == 1


def test_max_drop_comes_from_the_file_or_the_caller():
    strict = Baseline(metrics=BASE.metrics, max_drop=0.005)
    assert len(check_baseline(_with("seed", "answer_accuracy", 0.94), strict)) == 1
    assert check_baseline(_with("seed", "answer_accuracy", 0.90), BASE, max_drop=0.05) == []


def test_a_dataset_or_metric_that_was_not_run_fails():
    only_seed = {"seed": MEASURED["seed"]}
    assert check_baseline(only_seed, BASE) == ["squad-complexity: not evaluated (the baseline gates it)"]
    no_metric = {
        "seed": {"answer_accuracy": 0.95, "citation_accuracy": 0.95},
        **{"squad-complexity": MEASURED["squad-complexity"]},
    }
    assert check_baseline(no_metric, BASE) == ["seed: refusal_accuracy not measured (the baseline has 0.960)"]


def _report(dataset: str, kind: str, role: str, metrics: dict[str, float]) -> EvalReport:
    return EvalReport(dataset=dataset, mode="extractive", kind=kind, metrics=metrics, results=[], role=role)


def test_written_baselines_keep_the_gated_metrics_of_everything_but_tune_splits(tmp_path):
    reports = [
        _report(
            "seed",
            "facts",
            "gate",
            {"answer_accuracy": 0.94444, "citation_accuracy": 0.9, "refusal_accuracy": 1.0, "mrr": 0.8},
        ),
        _report(
            "squad-normans", "squad", "tune", {"overall_accuracy": 0.5, "has_ans_accuracy": 0.8, "no_ans_accuracy": 0.1}
        ),
        _report(
            "blockchain-test", "reference", "test", {"citation_accuracy": 0.8, "context_hit_rate": 0.9, "hit_rate": 0.9}
        ),
    ]
    content = baseline_json(reports, notes={"about": "test"})
    assert content["datasets"] == {
        "seed": {"answer_accuracy": 0.9444, "citation_accuracy": 0.9, "refusal_accuracy": 1.0},
        "blockchain-test": {"citation_accuracy": 0.8, "context_hit_rate": 0.9},
    }
    path = tmp_path / "b" / "baseline.json"
    write_baseline(path, content)
    again = read_baseline(path)
    assert again.metrics == content["datasets"] and again.mode == "extractive" and again.max_drop == 0.02
    assert again.notes == {"about": "test"}
    with pytest.raises(BaselineError, match="only tune splits"):
        write_baseline(path, baseline_json(reports[1:2]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "cannot read"),
        ('{"datasets": {}}', "not a baseline"),
        ('{"datasets": {"seed": {"x": "high"}}}', "not a baseline"),
    ],
)
def test_bad_baseline_files_say_why(tmp_path, text, message):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=message) as err:
        read_baseline(path)
    assert "\n" not in str(err.value)
    with pytest.raises(BaselineError, match="cannot read"):
        read_baseline(tmp_path / "missing.json")


def test_the_committed_baseline_gates_the_test_splits_and_the_seed_suite():
    baseline = read_baseline(PACKAGED)
    assert baseline.mode == "extractive" and baseline.max_drop == 0.02
    assert sorted(baseline.datasets) == ["blockchain-test", "seed", "squad-complexity"]
    assert set(baseline.metrics["seed"]) == set(GATED["facts"])
    assert set(baseline.metrics["squad-complexity"]) == set(GATED["squad"])
    assert set(baseline.metrics["blockchain-test"]) == set(GATED["reference"])
    assert all(0.0 <= v <= 1.0 for m in baseline.metrics.values() for v in m.values())
    assert json.loads(Path(PACKAGED).read_text())["about"]


def _citewise(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "citewise"
    return subprocess.run(
        [str(exe), "--data-dir", str(cwd / "data"), *args],
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_cli_writes_a_baseline_then_gates_on_it(tmp_path):
    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(TINY))
    specs = ["--dataset", f"squad:{squad}#Lighthouses", "--dataset", f"squad:{squad}#Bread_baking"]
    written = _citewise("eval", *specs, "--json", "r.json", "--write-baseline", "b.json", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    head = written.stdout.splitlines()[0]
    assert "squad-lighthouses/extractive" in head and "squad-bread_baking/extractive" in head
    assert "has_ans_accuracy" in written.stdout and "overall_accuracy" in written.stdout
    report = json.loads((tmp_path / "r.json").read_text())["results"]
    assert set(report) == {"squad-lighthouses", "squad-bread_baking"}
    baseline = json.loads((tmp_path / "b.json").read_text())
    assert set(baseline["datasets"]["squad-lighthouses"]) == set(GATED["squad"])

    same = _citewise("eval", *specs, "--baseline", "b.json", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "no gated metric dropped" in same.stdout

    gated = baseline["datasets"]["squad-lighthouses"]
    # as if the scorer had lost two cases (on a set this small one case is allowed: check_baseline)
    cases = report["squad-lighthouses"]["extractive"]["metrics"]["cases"]
    gated["has_ans_accuracy"] = round(gated["has_ans_accuracy"] + 2 / cases, 4)
    (tmp_path / "b.json").write_text(json.dumps(baseline))
    dropped = _citewise("eval", *specs, "--baseline", "b.json", cwd=tmp_path)
    assert dropped.returncode == 1
    assert "FAILED: squad-lighthouses: has_ans_accuracy" in dropped.stderr and "below the baseline" in dropped.stderr

    limited = _citewise("eval", *specs, "--baseline", "b.json", "--limit", "1", cwd=tmp_path)
    assert limited.returncode == 2 and "need every case" in limited.stderr
