"""`citewise eval`: score the assistant on a dataset, write reports, gate CI on the figures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from citewise.progress import terminal_progress
from citewise.rag.modes import mode_names

# --min-* flag -> the metric it gates
GATES = {
    "min_accuracy": "answer_accuracy",
    "min_citation_accuracy": "citation_accuracy",
    "min_hit_rate": "hit_rate",
    "min_refusal_accuracy": "refusal_accuracy",
}


def check_gates(metrics: dict[str, float], gates: dict[str, float | None]) -> list[str]:
    """The gates a run fails, one line each (empty list: all passed)."""
    failed = []
    for flag, threshold in gates.items():
        if threshold is None:
            continue
        metric = GATES[flag]
        value = metrics.get(metric, 0.0)
        if value < threshold:
            failed.append(f"{metric} {value:.3f} is below --{flag.replace('_', '-')} {threshold}")
    return failed


@click.command("eval")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    help="seed (default), squad-normans, squad-complexity, blockchain[-tune|-test], squad:FILE#Article, "
    "a .yaml suite or a rag_dataset.json folder; repeat for columns side by side.",
)
@click.option("--mode", type=click.Choice(mode_names()), default="extractive", show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write (merge) the JSON report here.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML report here.")
@click.option("--min-accuracy", type=float, help="Exit 1 if answer accuracy is below this.")
@click.option("--min-citation-accuracy", type=float, help="Exit 1 if citation accuracy is below this.")
@click.option("--min-hit-rate", type=float, help="Exit 1 if hit@k is below this.")
@click.option("--min-refusal-accuracy", type=float, help="Exit 1 if refusal accuracy is below this.")
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path),
    help="Exit 1 if a metric gated by this baseline JSON drops more than --max-drop (runs its datasets by default).",
)
@click.option("--max-drop", type=float, help="Tolerated drop below the baseline (default: the file's, 0.02).")
@click.option("--write-baseline", type=click.Path(path_type=Path), help="Write this run's gated figures here.")
@click.option("--limit", type=int, help="Evaluate only N cases, spread evenly over the dataset.")
@click.option("--judge", is_flag=True, help="Also run LlamaIndex's LLM judges (slow; uses the generative LLM).")
@click.pass_context
def eval_command(
    ctx: click.Context,
    datasets: tuple[str, ...],
    mode: str,
    json_path: Path | None,
    html_path: Path | None,
    baseline_path: Path | None,
    max_drop: float | None,
    write_baseline: Path | None,
    limit: int | None,
    judge: bool,
    **gates: float | None,
) -> None:
    """Score answers, citations, retrieval and refusals on datasets; exit 1 below the gates or the baseline."""
    from citewise.cli import _assistant, fail
    from citewise.eval.baseline import BaselineError, read_baseline
    from citewise.eval.datasets import DatasetError
    from citewise.eval.report import format_table, write_html, write_json
    from citewise.eval.runner import EvalError, EvalReport, run_eval

    if limit and (baseline_path or write_baseline):
        fail("--baseline and --write-baseline need every case: drop --limit")
    try:
        baseline = read_baseline(baseline_path) if baseline_path else None
        if baseline is not None and baseline.mode != mode:
            fail(f"the baseline {baseline_path} was measured in {baseline.mode} mode, not {mode}")
        names = list(datasets) or (baseline.datasets if baseline else ["seed"])
        assistant = _assistant(ctx)
        reports: list[EvalReport] = []
        for name in names:
            update, close = terminal_progress(f"evaluating {name}", "case")
            try:
                reports.append(run_eval(assistant, name, mode, update, limit=limit, judge=judge))
            finally:
                close()
    except (DatasetError, EvalError, BaselineError) as exc:
        fail(str(exc))
        return
    click.echo(format_table(reports))
    if json_path:
        write_json(json_path, reports)
    if html_path:
        write_html(html_path, reports)
    failed = [
        f"{r.dataset}: {line}" if len(reports) > 1 else line for r in reports for line in check_gates(r.metrics, gates)
    ]
    measured = {r.dataset: r.metrics for r in reports}
    if baseline is not None:
        from citewise.eval.baseline import check_baseline

        failed += check_baseline(measured, baseline, max_drop)
        if not failed:
            click.echo(
                f"citewise eval: no gated metric dropped more than {max_drop or baseline.max_drop:.2f} "
                f"below {baseline_path}"
            )
    if write_baseline:
        _write_baseline(write_baseline, reports, fail)
    for line in failed:
        click.echo(f"citewise eval: FAILED: {line}", err=True)
    sys.exit(1 if failed else 0)


def _write_baseline(path: Path, reports: list[Any], fail: Callable[[str], None]) -> None:
    import datetime as dt

    from citewise import __version__
    from citewise.eval.baseline import BaselineError, baseline_json, write_baseline

    notes = {
        "about": "figures gated by `citewise eval --baseline`; rewrite with --write-baseline",
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "citewise": __version__,
    }
    try:
        write_baseline(path, baseline_json(reports, notes=notes))
    except BaselineError as exc:
        fail(str(exc))
    click.echo(f"citewise eval: wrote the baseline {path}")
