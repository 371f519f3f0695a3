"""``citewise collections`` and ``citewise watch``: document sets, and a folder kept indexed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group("collections", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def collections(ctx: click.Context, as_json: bool) -> None:
    """List the collections with their document and chunk counts (`collections delete NAME` deletes one)."""
    if ctx.invoked_subcommand is not None:
        return
    from citewise.cli import _settings
    from citewise.collections import CollectionInfo, list_collections

    settings = _settings(ctx)
    infos = list_collections(settings)
    if settings.collection not in {i.name for i in infos}:  # the one in use, even before its first document
        infos = sorted([*infos, CollectionInfo(settings.collection, 0, 0, True)], key=lambda i: i.name)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos]))
        return
    for i in infos:
        mark = "*" if i.current else " "
        click.echo(f"{mark} {i.name}\t{i.documents} documents\t{i.chunks} chunks")


@collections.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a collection: its documents, chunks and uploaded files (asks first unless --yes)."""
    from citewise.cli import _settings
    from citewise.collections import collection_names, delete_collection, describe, validate_name

    settings = _settings(ctx)
    name = validate_name(name)
    if not yes and name in collection_names(settings):
        info = describe(settings, name)
        question = f"Delete collection {name!r} ({info.documents} documents, {info.chunks} chunks)?"
        click.confirm(question, abort=True, err=True)
    info = delete_collection(settings, name)
    click.echo(f"deleted collection {info.name} ({info.documents} documents, {info.chunks} chunks)")


@click.command("watch")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--collection", help="Collection to index into (default: the global --collection or setting).")
@click.pass_context
def watch(ctx: click.Context, paths: tuple[Path, ...], collection: str | None) -> None:
    """Index PATHS, then keep the index in step as files are added, changed or deleted (Ctrl-C stops)."""
    from citewise.cli import _assistant
    from citewise.watch import FolderWatcher

    assistant = _assistant(ctx, collection=collection)
    watcher = FolderWatcher(assistant, paths, echo=lambda line: click.echo(line, err=line.startswith(("skip", "err"))))
    watcher.run()


def watch_option(command: Any) -> Any:
    """The ``--watch PATH`` option of ``ui`` and ``serve`` (repeatable)."""
    return click.option(
        "--watch",
        "watch_paths",
        multiple=True,
        type=click.Path(exists=True),
        help="Keep this file or folder indexed while serving (repeatable); like `citewise watch`.",
    )(command)


def start_watch(assistant: Any, paths: tuple[str, ...]) -> None:
    """Run the folder watcher in-process for ``ui --watch`` / ``serve --watch`` (nothing without paths)."""
    if not paths:
        return
    from citewise.watch import start_watching

    start_watching(assistant, paths, echo=lambda line: click.echo(f"watch: {line}", err=True))
