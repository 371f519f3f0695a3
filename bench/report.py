"""Turn results.json into the Markdown table the README links to."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _get(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(r: dict[str, Any]) -> list[tuple[str, str, Any, bool | None]]:
    """(target, measured text, value, met?) for each target of issue 8."""
    ratio = _get(r, "ingest_corpus", "base-128", "ours_over_this_mb_per_s")
    corpus = _get(r, "ingest_corpus", "corpus") or {}
    where = f"real corpus, {corpus.get('files')} files, {corpus.get('text_mb')} MB of text" if corpus else "sample"
    if ratio is None:  # a results.json from before the real corpus
        ratio = _get(r, "ingest", "base-128", "ours_over_this_mb_per_s")
    q_ours, q_torch = _get(r, "quality", "ours", "hit_rate"), _get(r, "quality", "ours-torch", "hit_rate")
    answer = _get(r, "sample", "extractive_answer", "p50_ms")
    big = _get(r, "scaling", "100k", "retrieval", "p50_ms")
    cold = _get(r, "sample", "cold_start", "median_s")
    cold_10k = _get(r, "scaling", "10k", "cold_ask", "median_s")
    rss = _get(r, "sample", "peak_rss_with_llm", "peak_rss_mb")
    rss_100k = _get(r, "scaling", "100k", "peak_rss", "peak_rss_mb")
    serve, ui = _get(r, "startup", "serve", "healthz_s"), _get(r, "startup", "ui", "url_s")
    rows = [
        (
            f"ingest MB/s >= 2x baseline (same chunk size; {where})",
            f"{ratio}x",
            ratio,
            None if ratio is None else ratio >= 2,
        ),
        (
            # int8 must not cost retrieval quality; scoring above torch is no failure
            "retrieval hit rate at most 1 point below the torch backend",
            f"{q_ours} vs {q_torch}",
            q_ours,
            None if q_ours is None or q_torch is None else q_ours >= q_torch - 1.0,
        ),
        ("warm extractive answer p50 <= 50 ms (sample corpus)", f"{answer} ms", answer, _le(answer, 50)),
        ("retrieval p50 <= 30 ms at 100k chunks", f"{big} ms", big, _le(big, 30)),
        ("cold start `citewise ask` <= 4 s", f"{cold} s", cold, _le(cold, 4)),
        ("cold start `citewise ask` on a 10k-chunk index <= 4 s", f"{cold_10k} s", cold_10k, _le(cold_10k, 4)),
        ("peak RSS <= 1.5 GB with the LLM loaded", f"{rss} MB", rss, _le(rss, 1536)),
        # issue 14 asks for the figure; the bound is the one above, without the LLM
        (
            "peak RSS answering on a 100k-chunk index <= 1.5 GB (new process)",
            f"{rss_100k} MB",
            rss_100k,
            _le(rss_100k, 1536),
        ),
        ("`serve` ready (/healthz) <= 5 s, models warmed (sample corpus)", f"{serve} s", serve, _le(serve, 5)),
        ("`ui` URL printed <= 8 s, models warmed (sample corpus)", f"{ui} s", ui, _le(ui, 8)),
    ]
    return rows


def _le(value: Any, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _lat(d: Any) -> str:
    return f"{d['p50_ms']} / {d['p95_ms']}" if isinstance(d, dict) and "p50_ms" in d else "n/a"


def write_markdown(r: dict[str, Any], path: Path) -> None:
    """Write the human-readable summary of results ``r`` to ``path``."""
    m = r["machine"]
    lines = [
        "# citewise benchmark results",
        "",
        f"Run {r['when']}{' (SMOKE: reduced sizes, figures not meaningful)' if r['smoke'] else ''}, "
        f"{r['seconds']} s. Machine: {m['cores']} cores, {m['cpu']}, {m['memory']} RAM, Python {m['python']}; "
        f"load average {m['load_avg_at_start']} at start, {r.get('load_avg_at_end')} at end "
        "(a load average well above 0 means other work shared the cores and absolute times are noisy; "
        "ours and the baseline ran alternately in the same process, so ratios are fairer than absolutes).",
        "",
        f"Ours: embed_backend={r['ours']['embed_backend']}, chunk_size={r['ours']['chunk_size']}, "
        f"top_k={r['ours']['top_k']}. Produced by `python -m bench.run` with options {r.get('options', {})} "
        "(`make bench` uses rounds=3, corpus_rounds=2, real=[1000, 10000], synthetic=[100000], eval on); "
        "raw figures in results.json.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, text, _value, ok in targets(r):
        lines.append(f"| {name} | {text} | {'n/a' if ok is None else ('yes' if ok else 'NO')} |")
    ing = r["ingest"]
    lines += [
        "",
        f"## Ingest, small corpus ({', '.join(ing['corpus'])}; median of alternating runs)",
        "",
        "| pipeline | chunks | s | chunks/s | MB/s | ours / this (MB/s) | index MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("ours", "base-128", "base-default"):
        x = ing[kind]
        lines.append(
            f"| {kind} | {x['chunks']} | {x['seconds']} | {x['chunks_per_s']} | {x['mb_per_s']} | "
            f"{x.get('ours_over_this_mb_per_s', '')} | {x['index_mb']} |"
        )
    lines += _corpus_lines(r)
    q = r["quality"]
    lines += [
        "",
        f"## Retrieval quality ({q['dataset']}, top 4)",
        "",
        "| pipeline | hit rate % | MRR |",
        "|---|---|---|",
    ]
    for kind in ("ours", "ours-torch", "base-128", "base-default"):
        if kind in q:
            lines.append(f"| {kind} | {q[kind]['hit_rate']} | {q[kind]['mrr']} |")
    if "eval_suite" in q:
        lines += ["", "Seed eval suite (`citewise eval` metrics) by embedding backend:", ""]
        for backend, metrics in q["eval_suite"].items():
            lines.append(f"- {backend}: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())))
    s = r["sample"]
    lines += [
        "",
        "## Latency on the sample corpus (warm, ms p50 / p95)",
        "",
        "| what | ours | baseline (base-128 retriever) |",
        "|---|---|---|",
        f"| retrieval | {_lat(s['retrieval'])} | {_lat(q.get('baseline_retrieval_latency'))} |",
        f"| extractive answer | {_lat(s['extractive_answer'])} | n/a (no answer step) |",
    ]
    g = s.get("generative")
    if isinstance(g, dict) and "total" in g:
        lines += [
            f"| generative: first text shown | {_lat(g['first_text'])} | |",
            f"| generative: LLM first token | {_lat(g['llm_first_token'])} | |",
            f"| generative: total | {_lat(g['total'])} | |",
            f"| generative: LLM tokens/s | {g['tokens_per_s']} | |",
        ]
    elif isinstance(g, dict):
        lines.append(f"| generative | not measured: {g.get('error')} | |")
    cold, rss = s["cold_start"], s.get("peak_rss_with_llm", {})
    lines += [
        "",
        f"Cold start (`citewise ask` on an existing index, new process): median {cold['median_s']} s "
        f"(runs {cold['runs_s']}). Peak RSS: {s['peak_rss'].get('peak_rss_mb')} MB extractive only, "
        f"{rss.get('peak_rss_mb', 'n/a')} MB with the LLM loaded. Sample index: {s['index_mb']} MB on disk.",
        "",
        "Slowest imports (cumulative ms, `python -X importtime`): "
        + ", ".join(f"{x['module']} {x['cumulative_ms']}" for x in s["import_profile"]),
        "",
        "## Scaling (ms p50 / p95)",
        "",
        "| chunks | vectors | ingest chunks/s | first query (BM25 build + save) ms "
        "| first answer after reopening (saved BM25) ms | cold `citewise ask` s | retrieval | extractive answer "
        "| index MB | BM25 MB | peak RSS MB (new process answering) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _label, x in r["scaling"].items():
        lines.append(
            f"| {x['chunks']} | {x['vectors']} | {x.get('ingest_chunks_per_s', 'n/a')} | {x['first_query_ms']} | "
            f"{x.get('first_answer_after_reopen_ms', 'n/a')} | {(x.get('cold_ask') or {}).get('median_s', 'n/a')} | "
            f"{_lat(x['retrieval'])} | {_lat(x['extractive_answer'])} | {x['index_mb']} | "
            f"{x.get('keyword_index_mb', 'n/a')} | {(x.get('peak_rss') or {}).get('peak_rss_mb', 'n/a')} |"
        )
    lines += _scale_out_lines(r)
    notes = r.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _corpus_lines(r: dict[str, Any]) -> list[str]:
    """The ingest comparison on the real multi-file corpus (bench/real_corpus.py)."""
    ing = r.get("ingest_corpus")
    if not isinstance(ing, dict) or "ours" not in ing:
        return []
    c = ing["corpus"]
    kinds = ", ".join(f"{n} .{k}" for k, n in c["by_suffix"].items())
    lines = [
        "",
        f"## Ingest on a real corpus ({c['files']} files: {kinds}; {c['file_mb']} MB on disk, "
        f"{c['text_mb']} MB of text; median of {len(ing['ours']['runs_s'])} alternating runs)",
        "",
        "Sources: " + "; ".join(c["sources"]) + f" (corpus SHA-256 {c['sha256']}).",
        "",
        "| pipeline | chunks | s | chunks/s | MB/s | ours / this (MB/s) | index MB | runs s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("ours", "base-128"):
        x = ing[kind]
        lines.append(
            f"| {kind} | {x['chunks']} | {x['seconds']} | {x['chunks_per_s']} | {x['mb_per_s']} | "
            f"{x.get('ours_over_this_mb_per_s', '')} | {x['index_mb']} | {x['runs_s']} |"
        )
    a, ours = ing.get("arithmetic") or {}, ing["ours"]
    if ours.get("tokens_per_s") and a:
        lines += [
            "",
            f"Ours embedded {ours['tokens']} word pieces at {ours['tokens_per_s']} per second over the whole ingest "
            f"(padding {round(100 * ours.get('padding_share', 0), 1)}% of positions computed), i.e. "
            f"{a['ours_gflops']} GFLOP/s at {round(a['flops_per_token'] / 1e6, 1)} MFLOP per word piece "
            f"(MiniLM-L6's dense layers and attention at 128 positions; its embedding table is a lookup). "
            f"A numpy fp32 matmul reaches {a['matmul_fp32_gflops']} GFLOP/s on this CPU, which would allow "
            f"{a['fp32_limit_tokens_per_s']} word pieces/s in fp32 (ours runs int8).",
        ]
    return lines


def _scale_out_lines(r: dict[str, Any]) -> list[str]:
    """PDF extraction, shards and start-up (issue 14)."""
    lines: list[str] = []
    pdf = r.get("pdf_extraction")
    if isinstance(pdf, dict) and "pypdf_s" in pdf:
        lines += [
            "",
            f"## PDF text extraction ({pdf['file']}, {pdf['pages']} pages, median of {pdf['runs']} alternating runs)",
            "",
            f"PDFium (pypdfium2, ours): {pdf['pypdfium2_s']} s; pypdf (LlamaIndex's PDFReader, used by the "
            f"baseline above): {pdf['pypdf_s']} s; {pdf['speedup']}x.",
        ]
    sh = r.get("shards")
    if isinstance(sh, dict):
        lines += ["", "## Scaling out: `citewise ingest --shard i/N` into one `chroma run`", ""]
        if "speedup" in sh:
            lines.append(
                f"{sh['files']} files, {sh['chunks']} chunks (the same count when sharded: {sh['same_chunks_sharded']}). "
                f"One process: {sh['single_s']} s; {sh['shards']} shard processes at once: {sh['sharded_s']} s; "
                f"speed-up {sh['speedup']}x on {sh['cores']} cores (medians; runs {sh['runs_single_s']} and "
                f"{sh['runs_sharded_s']}; each process loads the model, as on a cluster)."
            )
        else:
            lines.append(f"Not measured: {sh.get('error')}")
    st = r.get("startup")
    if isinstance(st, dict):
        lines += [
            "",
            "## Start-up (new process, sample index; one run each)",
            "",
            "| command | ready s | first answer s | second answer s |",
            "|---|---|---|---|",
        ]
        for name, label in (("serve_api_only", "`serve --no-ui --no-mcp` (/healthz)"), ("serve", "`serve` (/healthz)")):
            x = st.get(name) or {}
            lines.append(
                f"| {label} | {x.get('healthz_s', x.get('error', 'n/a'))} | {x.get('first_answer_s', '')} "
                f"| {x.get('second_answer_s', '')} |"
            )
        all_parts = (st.get("serve") or {}).get("all_parts_s")
        if all_parts is not None:  # serve mounts MCP and the UI just after it reports ready
            lines.append(f"| `serve`: MCP and UI mounted too (/healthz parts) | {all_parts} | | |")
        u = st.get("ui") or {}
        lines.append(f"| `ui` (URL printed) | {u.get('url_s', u.get('error', 'n/a'))} | | |")
    return lines
