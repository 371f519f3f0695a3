"""Calibrate the refusal threshold and the chunking on the eval sets; prints Markdown tables.

    python -m citewise.eval.calibrate threshold            # min_score sweep on the seed suite
    python -m citewise.eval.calibrate chunks --dataset seed --dataset ../shared/datasets/llama_blockchain_solana

Each chunk configuration is indexed into its own eval folder, so runs never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

THRESHOLDS = tuple(round(0.30 + 0.025 * i, 3) for i in range(17))  # 0.30 .. 0.70
CHUNKS = ((64, 8), (96, 16), (128, 16), (128, 32), (192, 24), (256, 32))


def best_scores(assistant: Any, dataset: str = "seed") -> list[tuple[bool, float, bool]]:
    """(should refuse, best sentence score, answer right when not refused) per case, min_score off."""
    from citewise.eval.runner import run_eval

    probe = type(assistant).from_settings(assistant.settings, min_score=0.0)
    report = run_eval(probe, dataset, "extractive")
    out = []
    for r in report.results:
        best = max((c.score for c in r.answer.citations), default=float("-inf"))
        out.append((r.case.refuse, best, bool(r.answer_ok)))
    return out


def threshold_table(scores: Sequence[tuple[bool, float, bool]], thresholds: Sequence[float] = THRESHOLDS) -> str:
    """Refusal and answer accuracy at each candidate min_score, as a Markdown table."""
    answerable = [s for s in scores if not s[0]]
    unanswerable = [s for s in scores if s[0]]
    lines = [
        "| min_score | refusal accuracy | answerable refused | unanswerable answered | answer accuracy |",
        "|---|---|---|---|---|",
    ]
    for t in thresholds:
        wrong_refusals = sum(1 for _, best, _ in answerable if best < t)
        missed = sum(1 for _, best, _ in unanswerable if best >= t)
        right = sum(1 for _, best, ok in answerable if best >= t and ok)
        accuracy = 1 - (wrong_refusals + missed) / len(scores)
        lines.append(
            f"| {t:.3f} | {accuracy:.3f} | {wrong_refusals}/{len(answerable)} | {missed}/{len(unanswerable)} "
            f"| {right / max(1, len(answerable)):.3f} |"
        )
    return "\n".join(lines)


def separation(scores: Sequence[tuple[bool, float, bool]]) -> str:
    """The best-score ranges of answerable and unanswerable cases, side by side."""

    def describe(values: list[float]) -> str:
        values = sorted(values)
        return f"min {values[0]:.3f}, median {values[len(values) // 2]:.3f}, max {values[-1]:.3f}" if values else "-"

    return (
        f"answerable: {describe([b for r, b, _ in scores if not r])}; "
        f"unanswerable: {describe([b for r, b, _ in scores if r])}; "
        f"unanswerable sorted: {', '.join(f'{b:.3f}' for b in sorted(b for r, b, _ in scores if r))}"
    )


def chunk_table(assistant: Any, datasets: Sequence[str], configs: Sequence[tuple[int, int]] = CHUNKS) -> str:
    """Hit rate, MRR, answer and citation accuracy per chunk size/overlap and dataset (Markdown)."""
    from citewise.eval.runner import run_eval

    lines = [
        "| chunk/overlap | dataset | hit_rate | mrr | answer_accuracy | citation_accuracy | refusal_accuracy |"
        " answer_similarity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, overlap in configs:
        probe = type(assistant).from_settings(assistant.settings, chunk_size=size, chunk_overlap=overlap)
        for dataset in datasets:
            m = run_eval(probe, dataset, "extractive").metrics
            similarity = f"{m['answer_similarity']:.3f}" if "answer_similarity" in m else "-"
            lines.append(
                f"| {size}/{overlap} | {Path(dataset).name} | {m['hit_rate']:.3f} | {m['mrr']:.3f} "
                f"| {m['answer_accuracy']:.3f} | {m['citation_accuracy']:.3f} | {m['refusal_accuracy']:.3f} "
                f"| {similarity} |"
            )
            click.echo(lines[-1], err=True)
    return "\n".join(lines)


@click.group()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder for the eval indexes.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Calibrate min_score and chunking on the evaluation sets."""
    from citewise.assistant import Assistant

    ctx.obj = Assistant.from_settings(data_dir=data_dir)


@main.command()
@click.option("--dataset", default="seed", show_default=True)
@click.pass_obj
def threshold(assistant: Any, dataset: str) -> None:
    """Sweep min_score: refusal and answer accuracy at each threshold."""
    scores = best_scores(assistant, dataset)
    click.echo(separation(scores))
    click.echo(threshold_table(scores))


@main.command()
@click.option("--dataset", "datasets", multiple=True, default=["seed"], show_default=True)
@click.option("--config", "configs", multiple=True, help="SIZE/OVERLAP, repeatable (default: a built-in grid).")
@click.pass_obj
def chunks(assistant: Any, datasets: tuple[str, ...], configs: tuple[str, ...]) -> None:
    """Try chunk sizes and overlaps on each dataset."""
    grid = [tuple(int(x) for x in c.split("/")) for c in configs] or list(CHUNKS)
    click.echo(chunk_table(assistant, datasets, [(a, b) for a, b in grid]))


if __name__ == "__main__":  # pragma: no cover
    main()
