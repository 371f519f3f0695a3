"""The Gradio chat mounted at /ui of `citewise serve`, beside the API, driven in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, CitewiseServer, ingest_corpus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def test_ui_is_served_at_slash_ui_next_to_the_api(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `bash scripts/install-browser.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    # with an API key, the UI is served only behind its own login (tests/test_access.py)
    server = CitewiseServer(
        data_dir, env={"CITEWISE_API_KEY": "k", "CITEWISE_UI_AUTH": "reader:ui-pass"}, args=["--ui"]
    )
    try:
        assert httpx.get(f"{server.url}/ui/", timeout=60).status_code == 200
        root = httpx.get(f"{server.url}/", timeout=60)
        assert root.status_code == 307 and root.headers["location"] == "/ui/"  # / opens the chat
        assert httpx.get(f"{server.url}/v1/models", timeout=60).status_code == 401  # the API keeps its key
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            login = page.request.post(f"{server.url}/ui/login", form={"username": "reader", "password": "ui-pass"})
            assert login.ok, login.status  # the session cookie now belongs to the page's context
            outside: list[str] = []
            page.on(
                "request", lambda r: outside.append(r.url) if re.match(r"https?://(?!127\.0\.0\.1)", r.url) else None
            )
            page.goto(f"{server.url}/ui/")
            page.fill("#cw-question textarea", "When did OpenAI launch Sora 2?")
            page.click("#cw-ask")
            page.wait_for_selector('#cw-sources [data-turn="0"]', timeout=120_000)
            answer = page.locator("#cw-chat [data-testid=bot]").first.inner_text()
            shots = ROOT / "test-artifacts" / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "api-mounted-ui.png"), full_page=True)
            browser.close()
        assert "September 30, 2025" in answer
        assert outside == [], outside[:3]
    finally:
        server.stop()
