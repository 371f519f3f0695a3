"""End-to-end in headless Chromium: choosing a collection, saved conversations, collection create/delete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from conftest import free_port
from test_collections import KELP, Q_KELP, Q_ZORB, ZORB

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WAIT_MS = 120_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The chat app over collection alpha (beta beside it), served from this process."""
    from citewise import Assistant, Settings
    from citewise.ui.app import build_app
    from citewise.ui.command import serve

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "zorblat.txt").write_text(ZORB, encoding="utf-8")
    (tmp_path / "b" / "kelp.txt").write_text(KELP, encoding="utf-8")
    alpha = Assistant.from_settings(Settings(), data_dir=tmp_path / "data", collection="alpha")
    beta = Assistant.from_settings(Settings(), data_dir=tmp_path / "data", collection="beta")
    assert alpha.ingest([tmp_path / "a"]).ok and beta.ingest([tmp_path / "b"]).ok
    app = build_app(alpha)
    port = free_port()
    serve(app, "127.0.0.1", port, None, alpha.settings.max_upload_mb, block=False)
    try:
        yield f"http://127.0.0.1:{port}/", alpha
    finally:
        app.close()


@pytest.fixture
def page(served: tuple[str, Any]) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `bash scripts/install-browser.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        outside: list[str] = []
        pg.on("request", lambda r: outside.append(r.url) if re.match(r"https?://(?!127\.0\.0\.1)", r.url) else None)
        pg.goto(served[0])
        pg.wait_for_selector("#cw-question textarea")
        yield pg
        browser.close()
        assert outside == []


def _ask(pg: Any, question: str, turn: int) -> str:
    pg.fill("#cw-question textarea", question)
    pg.click("#cw-ask")
    pg.wait_for_selector(f'#cw-sources [data-turn="{turn}"]', timeout=WAIT_MS)
    return str(pg.locator("#cw-chat [data-testid=bot]").nth(turn).inner_text())


def _choose(pg: Any, dropdown: str, option: str) -> None:
    pg.click(f"{dropdown} input")
    pg.get_by_role("option", name=option).click()


def _wait(check: Any, what: str, seconds: float = 60) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def test_collections_and_saved_conversations_in_the_browser(page: Any, served: tuple[str, Any]) -> None:
    from citewise.collections import list_collections
    from citewise.ui.history import conversations

    _url, alpha = served
    store = conversations(alpha)
    assert page.locator("#cw-collection input").input_value() == "alpha"
    assert "March" in _ask(page, Q_ZORB, 0)
    _wait(lambda: [c.title for c in store.recent()] == [Q_ZORB], "the first conversation is saved")

    _choose(page, "#cw-collection", "beta")  # another collection: a new conversation
    _wait(lambda: page.locator("#cw-chat [data-testid=bot]").count() == 0, "the chat starts over")
    assert "rhodoxins" in _ask(page, Q_KELP, 0)
    _wait(lambda: len(store.recent()) == 2, "the second conversation is saved")
    newest = store.recent()[0]
    assert (newest.title, newest.collection, newest.turn_count) == (Q_KELP, "beta", 1)

    page.reload()
    page.wait_for_selector("#cw-question textarea")
    page.get_by_text("Saved conversations").click()
    _choose(page, "#cw-conversations", re.compile(re.escape(Q_ZORB)))  # reopen the first one
    page.wait_for_selector('#cw-sources [data-turn="0"]', timeout=WAIT_MS)
    # its sources panel, as it was (the panel of the conversation shown before may linger a moment)
    _wait(lambda: "March" in page.locator("#cw-sources").inner_text(), "the first conversation's sources are shown")
    assert Q_ZORB in page.locator("#cw-chat").inner_text()
    _wait(lambda: page.locator("#cw-collection input").input_value() == "alpha", "its collection is selected")

    page.click("#cw-conv-export")
    page.locator("#cw-conv-file a").first.wait_for(timeout=30_000)
    shown = re.sub(r"\s+", "", page.locator("#cw-conv-file").inner_text())  # the name wraps at its suffix
    assert re.search(r"citewise-conversation-[0-9a-f]{8}\.md", shown)
    href = page.locator("#cw-conv-file a[href*='citewise-conversation-']").first.get_attribute("href")
    exported = page.request.get(urljoin(_url, href)).text()
    assert exported.startswith(f"# {Q_ZORB}") and "[^1-1]: \u201c" in exported  # the quote as a footnote

    page.fill("#cw-conv-title textarea, #cw-conv-title input", "Festival notes")
    page.click("#cw-conv-rename")
    _wait(lambda: "Festival notes" in [c.title for c in store.recent()], "the rename is saved")
    page.click("#cw-conv-delete")
    _wait(lambda: [c.title for c in store.recent()] == [Q_KELP], "the delete is saved")

    page.get_by_role("tab", name="Documents").click()
    page.fill("#cw-new-collection textarea, #cw-new-collection input", "gamma")
    page.click("#cw-create-collection")
    _wait(lambda: page.locator("#cw-collection input").input_value() == "gamma", "the new collection is selected")
    assert "gamma" in [c.name for c in list_collections(alpha.settings)]
    page.click("#cw-delete-collection")
    _wait(lambda: page.locator("#cw-collection input").input_value() == "alpha", "back to the default collection")
    assert "Deleted collection gamma" in page.locator("#cw-collection-status").inner_text()


def test_each_signed_in_user_sees_only_their_conversations(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `bash scripts/install-browser.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    from citewise import Assistant, Settings
    from citewise.ui.app import build_app
    from citewise.ui.history import conversations

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "zorblat.txt").write_text(ZORB, encoding="utf-8")
    assistant = Assistant.from_settings(Settings(), data_dir=tmp_path / "data")
    assert assistant.ingest([tmp_path / "a"]).ok
    app = build_app(assistant)
    app.queue(default_concurrency_limit=1)
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        auth=[("ann", "ann-pw"), ("bob", "bob-pw")],
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
    )
    store = conversations(assistant)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

            def login(user: str) -> Any:
                pg = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
                pg.goto(f"http://127.0.0.1:{port}/")
                pg.get_by_label("username").fill(user)
                pg.get_by_label("password").fill(f"{user}-pw")
                pg.get_by_role("button", name="Login").click()
                pg.wait_for_selector("#cw-question textarea", timeout=WAIT_MS)
                return pg

            ann = login("ann")
            assert "March" in _ask(ann, Q_ZORB, 0)
            _wait(lambda: [c.title for c in store.recent("ann")] == [Q_ZORB], "ann's conversation is saved as hers")
            assert store.recent("") == [] and store.recent("bob") == []

            bob = login("bob")
            bob_question = "Who won the 2022 FIFA World Cup?"
            _ask(bob, bob_question, 0)
            _wait(lambda: [c.title for c in store.recent("bob")] == [bob_question], "bob's conversation is saved")
            bob.get_by_text("Saved conversations").click()
            bob.click("#cw-conversations input")
            bob.get_by_role("option", name=re.compile(re.escape(bob_question))).wait_for(timeout=30_000)
            assert bob.get_by_role("option").count() == 1  # ann's conversation is not offered to bob
            ann.reload()
            ann.wait_for_selector("#cw-question textarea")
            ann.get_by_text("Saved conversations").click()
            ann.click("#cw-conversations input")
            ann.get_by_role("option", name=re.compile(re.escape(Q_ZORB))).wait_for(timeout=30_000)
            browser.close()
    finally:
        app.close()
