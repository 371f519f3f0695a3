"""The baseline gate: fail when a gated metric drops more than ``max_drop`` below a committed baseline.

A baseline file (``citewise/eval/baselines/extractive.json``) records, per dataset, the
figures of the test splits and the seed regression suite as measured when it was
written. CI runs ``citewise eval --baseline FILE`` and fails on any drop larger than
``max_drop`` (default 0.02), or than one case on a set so small that one case weighs more:
a relative gate, instead of an absolute bar one case away from failing. ``--write-baseline FILE`` rewrites it from a run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.errors import CitewiseError

if TYPE_CHECKING:
    from citewise.eval.runner import EvalReport

MAX_DROP = 0.02
# dataset kind -> the metrics a baseline gates (seed: facts; squad-complexity: squad; blockchain-test: reference)
GATED: dict[str, tuple[str, ...]] = {
    "facts": ("answer_accuracy", "citation_accuracy", "refusal_accuracy"),
    "squad": ("overall_accuracy", "has_ans_accuracy", "no_ans_accuracy"),
    "reference": ("citation_accuracy", "context_hit_rate"),
}
PACKAGED = Path(__file__).parent / "baselines" / "extractive.json"


class BaselineError(CitewiseError):
    """A baseline file that cannot be read or does not fit the run."""

    code = "bad_baseline"


@dataclass
class Baseline:
    """Gated figures per dataset, the answer mode they were measured in, and the tolerated drop."""

    metrics: dict[str, dict[str, float]]
    mode: str = "extractive"
    max_drop: float = MAX_DROP
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        """The datasets the baseline gates, in file order."""
        return list(self.metrics)


def read_baseline(path: Path) -> Baseline:
    """Read a baseline JSON file.

    Raises:
        BaselineError: the file is missing or not a baseline.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read the baseline {path}: {exc}; write one with --write-baseline") from None
    datasets = data.get("datasets") if isinstance(data, dict) else None
    if (
        not isinstance(datasets, dict)
        or not datasets
        or not all(
            isinstance(m, dict) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in m.values())
            for m in datasets.values()
        )
    ):
        raise BaselineError(f"{path} is not a baseline: expected {{datasets: {{name: {{metric: number}}}}}}")
    return Baseline(
        metrics={name: {k: float(v) for k, v in m.items()} for name, m in datasets.items()},
        mode=str(data.get("mode", "extractive")),
        max_drop=float(data.get("max_drop", MAX_DROP)),
        notes={k: v for k, v in data.items() if k not in ("datasets", "mode", "max_drop")},
    )


def check_baseline(
    measured: Mapping[str, Mapping[str, float]], baseline: Baseline, max_drop: float | None = None
) -> list[str]:
    """The gated metrics that dropped more than ``max_drop`` below the baseline, one line each.

    Args:
        measured: dataset -> metric -> value, from this run.
        baseline: the committed figures.
        max_drop: tolerated drop (default: the baseline file's, else 0.02).

    A dataset or metric of the baseline missing from ``measured`` is a failure too, so a
    gate cannot pass by not running. Rising figures never fail.

    On a small set one case weighs more than ``max_drop`` (1/29 = 0.034 on the blockchain
    test half), and one case can flip between machines: the int8 embedding kernels of an
    AVX-512 CPU and of an AVX2 one round differently, which moved one blockchain question's
    retrieval. So the allowed drop is the larger of ``max_drop`` and one case of the set
    (``1 / cases``, when ``measured`` gives ``cases``); two cases still fail.
    """
    drop = baseline.max_drop if max_drop is None else max_drop
    failed = []
    for dataset, gated in baseline.metrics.items():
        if dataset not in measured:
            failed.append(f"{dataset}: not evaluated (the baseline gates it)")
            continue
        cases = measured[dataset].get("cases") or 0
        allowed = max(drop, 1 / cases) if cases else drop
        for metric, expected in gated.items():
            value = measured[dataset].get(metric)
            if value is None:
                failed.append(f"{dataset}: {metric} not measured (the baseline has {expected:.3f})")
            elif value < expected - allowed - 1e-4:  # the baseline holds 4 decimals
                why = f"allowed drop {drop:.2f}" if allowed == drop else f"allowed drop one case of {cases:.0f}"
                failed.append(
                    f"{dataset}: {metric} {value:.3f} is {expected - value:.3f} below the baseline {expected:.3f} ({why})"
                )
    return failed


def baseline_json(
    reports: Sequence[EvalReport],
    max_drop: float = MAX_DROP,
    notes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The baseline file's content for a run: the gated metrics (`GATED`) of each dataset.

    Tune splits are left out: a baseline holds only figures nobody tuned on (test splits,
    the seed regression suite, or sets without a role).

    Args:
        reports: the run's reports (one mode).
        max_drop: recorded as the file's tolerated drop.
        notes: extra keys to record (how and when it was measured).
    """
    datasets = {
        r.dataset: {m: round(float(r.metrics[m]), 4) for m in GATED.get(r.kind, ()) if m in r.metrics}
        for r in reports
        if r.role != "tune"
    }
    mode = reports[0].mode if reports else "extractive"
    return {**(notes or {}), "mode": mode, "max_drop": max_drop, "datasets": {k: v for k, v in datasets.items() if v}}


def write_baseline(path: Path, content: dict[str, Any]) -> None:
    """Write a baseline file (see `baseline_json()`)."""
    if not content.get("datasets"):
        raise BaselineError(f"nothing to write to {path}: the run holds only tune splits")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
