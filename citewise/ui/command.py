"""`citewise ui`: serve the chat in the browser."""

from __future__ import annotations

import os
from typing import Any

import click

from citewise.workspace_commands import start_watch, watch_option

AUTH_ENV = "CITEWISE_UI_AUTH"


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:password`` -> (user, password); empty -> None.

    Raises:
        click.BadParameter: the value has no ``:`` or an empty user or password.
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise click.BadParameter(f"expected user:password, got {value.split(':')[0]!r}...", param_hint="--auth")
    return user, password


def ui_refusal(api_key: str, login: tuple[str, str] | None) -> str:
    """Why ``serve`` does not mount the chat UI, or "" when it may.

    One access rule for everything ``serve`` mounts: when an API key guards ``/v1`` and
    ``/mcp``, the UI (which can remove and re-index documents) needs a login of its own.
    """
    if api_key and login is None:
        return (
            "the chat UI is not served: CITEWISE_API_KEY guards /v1 and /mcp, and /ui needs its own login; "
            f"set --ui-auth or {AUTH_ENV}=user:password to serve it"
        )
    return ""


def _offline_gradio() -> None:
    """Keep gradio from phoning home: no analytics, no version check, no share tunnel."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_SSR_MODE", "False")


def serve(app: Any, host: str, port: int, auth: tuple[str, str] | None, max_upload_mb: int, block: bool = True) -> str:
    """Launch ``app`` on ``host:port`` and return its URL (blocks until Ctrl-C when ``block``)."""
    app.queue(default_concurrency_limit=1)
    try:
        _, url, _ = app.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            share=False,
            inbrowser=False,
            quiet=True,
            ssr_mode=False,
            max_file_size=f"{max_upload_mb}mb",
            prevent_thread_lock=True,
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {host}:{port}: the port is in use or not allowed; pick another with --port"
        ) from exc
    shown = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{app.server_port}/"
    click.echo(f"citewise chat running at {shown}  (Ctrl-C stops it)")
    if block:
        app.block_thread()
    return str(url or shown)


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 shares it).")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to serve on.")
@click.option("--auth", envvar=AUTH_ENV, help=f"user:password required to open the app (or ${AUTH_ENV}).")
@watch_option
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, auth: str | None, watch_paths: tuple[str, ...]) -> None:
    """Serve the chat in the browser (indexes corpus/ first when the index is empty)."""
    from citewise.cli import _assistant

    credentials = parse_auth(auth)
    if host not in ("127.0.0.1", "localhost", "::1") and credentials is None:
        click.echo(f"citewise: warning: serving on {host} without --auth; anyone on the network can use it", err=True)
    _offline_gradio()
    assistant = _assistant(ctx)
    start_watch(assistant, watch_paths)  # --watch: the watched folder, not the sample corpus
    report = None if watch_paths else assistant.ensure_corpus()
    if report is not None:
        click.echo(f"indexed the sample corpus: {report.summary()}", err=True)
    from citewise.warmup import warm_in_background

    warmed = warm_in_background(assistant)  # models and keyword index load while Gradio imports
    from citewise.ui.app import build_app

    app = build_app(assistant)
    warmed()  # the URL is printed when the first question will be fast
    serve(app, host, port, credentials, assistant.settings.max_upload_mb)
