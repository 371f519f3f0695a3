"""Eval reports: a table for the terminal, a JSON file, and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from citewise.eval.runner import EvalReport

# Metrics in display order, with the direction that is better.
MAIN_METRICS = (
    "overall_accuracy",
    "has_ans_accuracy",
    "no_ans_accuracy",
    "answer_accuracy",
    "citation_accuracy",
    "citation_precision",
    "citation_relevance",
    "hit_rate",
    "mrr",
    "refusal_accuracy",
    "refusal_precision",
    "refusal_recall",
    "context_hit_rate",
    "answer_similarity",
    "token_recall",
    "pass_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)
# What each baseline metric of a llama-dataset card is, and whether ours is comparable.
BASELINE_NOTES = {
    "contextSimilarity": "embedding similarity of retrieved to reference contexts (ada-002); "
    "closest of ours: context_hit_rate (text overlap), not the same measure",
    "correctness": "gpt-3.5 judge, 1-5 scale; ours: answer_similarity / token_recall (no judge), not comparable",
    "faithfulness": "gpt-3.5 judge; ours: citation_precision (quotes hold the sentence), not comparable",
    "relevancy": "gpt-3.5 judge; no counterpart here",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.3f}"
    return "" if value is None else str(value)


def _ordered(metrics: dict[str, float]) -> list[str]:
    return [m for m in MAIN_METRICS if m in metrics] + sorted(
        m for m in metrics if m not in MAIN_METRICS and m != "cases"
    )


def _head(report: EvalReport) -> str:
    return f"{report.dataset}/{report.mode}"


def format_table(reports: Sequence[EvalReport], failures: int = 10) -> str:
    """Metrics side by side (one column per dataset and mode, with its role), then the first failed cases."""
    heads = [_head(r) for r in reports]
    names = ["cases", *_ordered({m: 0.0 for r in reports for m in r.metrics})]
    width = max(len(n) for n in names) + 2
    col = max(12, *(len(h) + 2 for h in heads))
    lines = ["metric".ljust(width) + "".join(h.rjust(col) for h in heads)]
    lines.append("role".ljust(width) + "".join((r.role or "-").rjust(col) for r in reports))
    lines.append("-" * len(lines[0]))
    for name in names:
        lines.append(name.ljust(width) + "".join(_fmt(r.metrics.get(name)).rjust(col) for r in reports))
    for r in reports:
        if r.baseline:
            config = ", ".join(f"{k} {v}" for k, v in r.baseline.get("config", {}).items())
            lines.append(f"\n{r.dataset}: published baseline ({r.baseline.get('name', '')}: {config})")
            for k, v in r.baseline.get("metrics", {}).items():
                lines.append(f"  {k:<18}{v:>8}   {BASELINE_NOTES.get(k, '')}")
        failed = r.failures()
        if failed:
            lines.append(f"\n{r.dataset}/{r.mode}: {len(failed)} of {len(r.results)} cases failed")
            for row in failed[:failures]:
                lines.append(f"  x {row['id']}: {row['why'][:160]}")
            if len(failed) > failures:
                lines.append(f"  ... and {len(failed) - failures} more (see --html or --json)")
    return "\n".join(lines)


def report_json(reports: Sequence[EvalReport], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"results": {dataset: {mode: {metrics, baseline, config, cases}}}}``, merged into ``previous``."""
    out: dict[str, Any] = previous if previous and isinstance(previous.get("results"), dict) else {"results": {}}
    for r in reports:
        out["results"].setdefault(r.dataset, {})[r.mode] = r.to_dict()
    return out


def write_json(path: Path, reports: Sequence[EvalReport]) -> None:
    """Write the JSON report; results already in the file for other datasets or modes are kept."""
    previous = None
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_json(reports, previous), indent=2, ensure_ascii=False), encoding="utf-8")


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail{background:#fff0f0}tr.pass{background:#f3fff3}blockquote{margin:2px 0;color:#444;font-size:13px}
.why{color:#a00}.small{color:#666;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape(_fmt(value))


def _metrics_html(reports: Sequence[EvalReport]) -> str:
    names = ["cases", *_ordered({m: 0.0 for r in reports for m in r.metrics})]
    head = "".join(f"<th>{_e(r.dataset)}/{_e(r.mode)}</th>" for r in reports)
    roles = "".join(f"<td>{_e(r.role or '-')}</td>" for r in reports)
    rows = f"<tr><td>role</td>{roles}</tr>" + "".join(
        f"<tr><td>{_e(n)}</td>" + "".join(f"<td class=num>{_e(r.metrics.get(n))}</td>" for r in reports) + "</tr>"
        for n in names
    )
    return f"<table><tr><th>metric</th>{head}</tr>{rows}</table>"


def _baseline_html(report: EvalReport) -> str:
    if not report.baseline:
        return ""
    config = ", ".join(f"{k} {v}" for k, v in report.baseline.get("config", {}).items())
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td class=num>{_e(v)}</td><td>{_e(BASELINE_NOTES.get(k, ''))}</td></tr>"
        for k, v in report.baseline.get("metrics", {}).items()
    )
    return (
        f"<h3>Published baseline of {_e(report.dataset)}</h3><p class=small>{_e(config)}</p>"
        f"<table><tr><th>metric</th><th>value</th><th>comparable?</th></tr>{rows}</table>"
    )


def _page(page: Any) -> str:
    return f" p. {_e(page)}" if page else ""


def _case_html(row: dict[str, Any]) -> str:
    cites = "".join(
        f"<blockquote>[{c['n']}] <b>{_e(c['doc_id'])}</b>{_page(c['page'])}: “{_e(c['quote'])}”</blockquote>"
        for c in row["citations"]
    )
    history = "".join(f"<div class=small>{_e(t['role'])}: {_e(t['content'])}</div>" for t in row["history"])
    expected = "refuse" if row["should_refuse"] else _e(row.get("reference_answer") or "")
    status = "pass" if row["passed"] else "fail"
    return (
        f"<tr class={status}><td>{_e(row['id'])}<div class=small>{_e(row['kind'])}</div></td>"
        f"<td>{history}{_e(row['question'])}</td><td>{_e(row['answer'])}{cites}</td>"
        f"<td>{expected}</td><td><b>{status}</b><div class=why>{_e(row['why'])}</div>"
        f"<div class=small>rank {_e(row['rank'])} · {_e(row['latency_ms'])} ms</div></td></tr>"
    )


def render_html(reports: Sequence[EvalReport]) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external URLs) with every case."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>citewise eval</title>",
        f"<style>{_CSS}</style></head><body><h1>citewise evaluation</h1>",
        _metrics_html(reports),
    ]
    for r in reports:
        config = ", ".join(f"{k}={v}" for k, v in r.config.items() if k != "documents")
        role = f" · {_e(r.role)}" if r.role else ""
        parts.append(f"<h2>{_e(r.dataset)} · {_e(r.mode)}{role}</h2><p class=small>{_e(r.started)} · {_e(config)}</p>")
        parts.append(_baseline_html(r))
        parts.append(
            "<table><tr><th>case</th><th>question</th><th>answer and citations</th>"
            "<th>expected</th><th>result</th></tr>" + "".join(_case_html(row) for row in r.rows()) + "</table>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def write_html(path: Path, reports: Sequence[EvalReport]) -> None:
    """Write `render_html()` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(reports), encoding="utf-8")
