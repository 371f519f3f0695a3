"""`citewise eval`: score the assistant on a dataset, write reports, gate CI on the figures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from citewise.progress import terminal_progress

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
@click.option("--dataset", default="seed", show_default=True, help="seed, a .yaml suite, or a rag_dataset.json folder.")
@click.option("--mode", type=click.Choice(["extractive", "generative"]), default="extractive", show_default=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write (merge) the JSON report here.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML report here.")
@click.option("--min-accuracy", type=float, help="Exit 1 if answer accuracy is below this.")
@click.option("--min-citation-accuracy", type=float, help="Exit 1 if citation accuracy is below this.")
@click.option("--min-hit-rate", type=float, help="Exit 1 if hit@k is below this.")
@click.option("--min-refusal-accuracy", type=float, help="Exit 1 if refusal accuracy is below this.")
@click.option("--limit", type=int, help="Evaluate only N cases, spread evenly over the dataset.")
@click.option("--judge", is_flag=True, help="Also run LlamaIndex's LLM judges (slow; uses the generative LLM).")
@click.pass_context
def eval_command(
    ctx: click.Context,
    dataset: str,
    mode: str,
    json_path: Path | None,
    html_path: Path | None,
    limit: int | None,
    judge: bool,
    **gates: float | None,
) -> None:
    """Score answers, citations, retrieval and refusals on a dataset; exit 1 below the gates."""
    from citewise.cli import _assistant, fail
    from citewise.eval.datasets import DatasetError
    from citewise.eval.report import format_table, write_html, write_json
    from citewise.eval.runner import EvalError, run_eval

    assistant = _assistant(ctx)
    update, close = terminal_progress("evaluating", "case")
    try:
        report = run_eval(assistant, dataset, mode, update, limit=limit, judge=judge)
    except (DatasetError, EvalError) as exc:
        fail(str(exc))
        return
    finally:
        close()
    click.echo(format_table([report]))
    if json_path:
        write_json(json_path, [report])
    if html_path:
        write_html(html_path, [report])
    failed = check_gates(report.metrics, gates)
    for line in failed:
        click.echo(f"citewise eval: FAILED: {line}", err=True)
    sys.exit(1 if failed else 0)
