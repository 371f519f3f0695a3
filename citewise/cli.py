"""The `citewise` command: one group of commands over the Assistant facade."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from citewise.config import load_settings, setting_fields
from citewise.errors import CitewiseError
from citewise.progress import terminal_progress
from citewise.rag.modes import mode_names

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit."""
    click.echo(f"citewise: error: {message}", err=True)
    sys.exit(code)


# Commands that live beside their feature, imported only when run: name -> "module:attribute".
LAZY_COMMANDS: dict[str, str] = {
    "ui": "citewise.ui.command:ui",
    "serve": "citewise.api:serve",
    "eval": "citewise.eval.command:eval_command",
    "collections": "citewise.workspace_commands:collections",
    "watch": "citewise.workspace_commands:watch",
}


class _Group(click.Group):
    """Loads feature commands lazily, and turns the errors a user can meet into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        import importlib.util

        lazy = [n for n, target in LAZY_COMMANDS.items() if importlib.util.find_spec(target.split(":")[0])]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            import importlib

            module, attribute = LAZY_COMMANDS[cmd_name].split(":")
            try:
                command = getattr(importlib.import_module(module), attribute)
            except ImportError as exc:
                fail(f"`citewise {cmd_name}` is not available: {exc}; install citewise with its extras")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """The one place the CLI turns errors a user can meet (CitewiseError) into one line and exit 2."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except CitewiseError as exc:
            fail(exc.message)


def _settings(ctx: click.Context, **overrides: Any) -> Any:
    base = ctx.obj["overrides"]
    return load_settings({**base, **{k: v for k, v in overrides.items() if v is not None}})


def _assistant(ctx: click.Context, **overrides: Any) -> Any:
    from citewise.assistant import Assistant

    return Assistant.from_settings(_settings(ctx, **overrides))


@click.group(cls=_Group)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding the index.")
@click.option("--chroma-url", help="Chroma server URL (default: embedded store).")
@click.option("--collection", help="Collection name prefix.")
@click.version_option(package_name="citewise")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, chroma_url: str | None, collection: str | None) -> None:
    """Answers about your documents, with citations you can check."""
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"data_dir": data_dir, "chroma_url": chroma_url, "collection": collection}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--shard", metavar="I/N", help="Index only shard I of N (split by document id), e.g. 1/4.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[str, ...], as_json: bool, shard: str | None) -> None:
    """Index files and folders (.txt .md .html .pdf .docx); exit 1 if any file failed."""
    from citewise.index.shards import parse_shard

    urls = [p for p in paths if _URL.match(p)]
    if urls:
        fail(f"URLs are not supported ({urls[0]}); download the file and ingest its path")
    split = parse_shard(shard) if shard is not None else None  # a bad value fails before the model loads
    assistant = _assistant(ctx)
    before = _committed(assistant)
    update, close = terminal_progress("indexing", "file", chunks=_chunk_counter(assistant))
    try:
        report = assistant.ingest([Path(p) for p in paths], progress=update, shard=split)
    except KeyboardInterrupt:
        close()
        _interrupted(assistant, before, (*paths, "--shard", shard) if shard else paths)
    finally:
        close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for _path, reason in report.failed:
            click.echo(f"skipped: {reason}", err=True)
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--mode", type=click.Choice(mode_names()), help="Answer mode.")
@click.option("--top-k", type=int, help="Passages to retrieve.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool, mode: str | None, top_k: int | None) -> None:
    """Answer one question with citations."""
    from citewise.rag.chat import clean_question

    if as_json:
        try:
            answer = _assistant(ctx, mode=mode, top_k=top_k).ask(clean_question(question))
        except CitewiseError as exc:  # scripts read stdout: the error is JSON there too
            click.echo(json.dumps({"error": {"message": exc.message, "code": exc.code}}, ensure_ascii=False))
            raise
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    question = clean_question(question)
    stream = _assistant(ctx, mode=mode, top_k=top_k).stream(question)
    for delta in stream.deltas():
        click.echo(delta, nl=False)
    click.echo()
    _print_sources(stream.answer())


def _committed(assistant: Any) -> dict[str, str]:
    return {d.doc_id: d.doc_hash for d in assistant.documents()}


def _chunk_counter(assistant: Any) -> Any:
    """Chunks written since the ingest began (for the progress line without a terminal)."""
    start = assistant.chunk_count()
    return lambda: assistant.chunk_count() - start


def _interrupted(assistant: Any, before: dict[str, str], paths: tuple[str, ...]) -> NoReturn:
    """After Ctrl-C: what is committed, and how to resume (documents commit whole, so none is half-indexed)."""
    after = _committed(assistant)
    done = [d for d, digest in after.items() if before.get(d) != digest]
    again = " ".join(paths)
    fail(
        f"interrupted: {len(done)} document(s) were committed before the stop ({len(after)} indexed in all); "
        f"run `citewise ingest {again}` again to resume (committed files are skipped)",
        130,
    )


def _one_line(quote: str) -> str:
    """A quote on one line of the list (a line break inside a PDF or list sentence would split the item);
    `ask --json` keeps the exact text."""
    return " ".join(quote.split())


def _print_sources(answer: Any) -> None:
    """What follows an answer's text: its note, citations and confidence, or a refusal's closest passages."""
    if answer.note:
        click.echo(f"({answer.note})")
    for c in answer.citations:
        page = f", p. {c.page}" if c.page else ""
        click.echo(f"  [{c.n}] {c.title} ({c.doc_id}{page}): \u201c{_one_line(c.quote)}\u201d")
    if answer.refused and answer.closest:
        click.echo("Closest passages:")
        for c in answer.closest:  # not citations: no [n], they do not answer the question
            page = f", p. {c.page}" if c.page else ""
            click.echo(f"  - {c.title or c.doc_id} ({c.doc_id}{page}): \u201c{_one_line(c.quote)}\u201d")
    elif not answer.refused and answer.confidence is not None:
        click.echo(f"(confidence {answer.confidence:.2f})")


@main.command()
@click.option("--mode", type=click.Choice(mode_names()), help="Answer mode.")
@click.pass_context
def chat(ctx: click.Context, mode: str | None) -> None:
    """Multi-turn chat in the terminal (empty line or Ctrl-D to quit)."""
    assistant = _assistant(ctx, mode=mode)
    if assistant.is_empty():
        from citewise.assistant import NO_DOCUMENTS

        click.echo(NO_DOCUMENTS, err=True)
    history: list[dict[str, str]] = []
    click.echo("Ask about the documents. Empty line or Ctrl-D quits; /new starts over.")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        if question == "/new":
            history.clear()
            continue
        try:
            click.echo("citewise> ", nl=False)
            stream = assistant.stream(question, history)
            for delta in stream.deltas():
                click.echo(delta, nl=False)
            answer = stream.answer()
            click.echo()
        except CitewiseError as exc:  # one bad turn (the LLM is down...) does not end the chat
            click.echo()
            click.echo(f"citewise: error: {exc.message}", err=True)
            continue
        _print_sources(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def docs(ctx: click.Context, as_json: bool) -> None:
    """List the indexed documents."""
    documents = _assistant(ctx).documents()
    if as_json:
        click.echo(json.dumps([d.__dict__ for d in documents], ensure_ascii=False))
        return
    if not documents:
        click.echo("no documents indexed; add some with `citewise ingest PATH`")
    for d in documents:
        click.echo(f"{d.doc_id}\t{d.kind}\t{d.chunks} chunks\t{d.indexed_at}\t{d.title}")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@click.pass_context
def remove(ctx: click.Context, doc_ids: tuple[str, ...]) -> None:
    """Remove documents (by the id `citewise docs` shows)."""
    assistant = _assistant(ctx)
    missing = [d for d in doc_ids if not assistant.remove(d)]
    for d in doc_ids:
        if d not in missing:
            click.echo(f"removed {d}")
    if missing:
        fail(f"not indexed: {', '.join(missing)} (see `citewise docs`)", 1)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def reindex(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Delete the index and rebuild it from PATHS (default: the sources it held, else corpus/)."""
    assistant = _assistant(ctx)
    update, close = terminal_progress("indexing", "file")
    try:
        report = assistant.rebuild(paths, progress=update)
    finally:
        close()
    for _path, reason in report.failed:
        click.echo(f"skipped: {reason}", err=True)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Print the settings in force and where each came from."""
    settings = _settings(ctx)
    values = settings.as_dict()
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": settings.source_of(k)} for k, v in values.items()}))
        return
    for f in setting_fields():
        click.echo(f"{f.name} = {values[f.name]!r}  ({settings.source_of(f.name)})")


if __name__ == "__main__":  # pragma: no cover
    main()
