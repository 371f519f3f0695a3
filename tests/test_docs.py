"""The documentation: the site builds strictly, and the README stays short and true to the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 250
CITEWISE = Path(sys.executable).parent / "citewise"


def test_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, a missing anchor or a page left out of the nav fails."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reference = (site / "reference.html").read_text(encoding="utf-8")
    for name in ("from_settings", "Answer", "Citation", "Settings", "CitewiseError"):
        assert name in reference, f"the API reference lacks {name}"
    assert (site / "img" / "chat.png").is_file()
    # font: false -- no page asks a CDN for fonts (the site is read offline)
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page


def test_every_docs_page_is_in_the_nav() -> None:
    """mkdocs only warns about pages left out of the nav; we want each one reachable."""
    import yaml

    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        return []

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert on_disk - in_nav == set(), "docs pages missing from mkdocs.yml's nav"
    assert in_nav - on_disk == set(), "nav entries without a page"


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_links_point_at_files() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into the docs"
    missing = [t for t in targets if not t.startswith(("http://", "https://")) and not (ROOT / t).exists()]
    assert missing == []


def help_commands() -> tuple[set[str], set[str]]:
    """The commands `citewise --help` lists, and its global options that take a value."""
    done = subprocess.run([str(CITEWISE), "--help"], capture_output=True, text=True, timeout=120, check=True)
    commands: set[str] = set()
    valued: set[str] = set()
    section = ""
    for line in done.stdout.splitlines():
        if line and not line.startswith(" "):
            section = line.strip().rstrip(":")
            continue
        words = line.split()
        if not words:
            continue
        if section == "Commands":
            commands.add(words[0])
        elif section == "Options" and len(words) > 1 and words[0].startswith("--") and words[1].isupper():
            valued.add(words[0])
    return commands, valued


def readme_commands(text: str, valued: set[str]) -> list[str]:
    """Each `citewise COMMAND` the README shows, in shell blocks and inline code."""
    shell: list[str] = []
    in_shell = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_shell = line.strip() in ("```bash", "```sh", "```console", "```shell")
            continue
        if in_shell:
            shell.append(line.split(" #", 1)[0])
    shell += re.findall(r"`(citewise [^`]+)`", text)
    found = []
    for line in shell:
        for segment in re.split(r"&&|\|\||;|\|", line):
            words = segment.split()
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                words.pop(0)  # VAR=value before the command
            if not words or Path(words[0]).name != "citewise":
                continue
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                option = rest.pop(0)
                if option in valued and "=" not in option and rest:
                    rest.pop(0)
            if rest:
                found.append(rest[0])
    return found


def test_readme_commands_exist() -> None:
    if not CITEWISE.exists():
        pytest.fail(f"no citewise script beside {sys.executable}: install the package (make setup)")
    commands, valued = help_commands()
    assert {"ask", "ingest", "serve"} <= commands, commands  # the help was read
    shown = readme_commands(README.read_text(encoding="utf-8"), valued)
    assert {"ingest", "ask", "chat", "ui", "serve", "eval"} <= set(shown), "the tour shows each command"
    unknown = sorted(set(shown) - commands)
    assert unknown == [], f"README shows commands `citewise --help` does not list: {unknown}"


def test_readme_command_reader_catches_an_unknown_command() -> None:
    text = "```bash\nCITEWISE_X=1 citewise --data-dir /tmp/x frobnicate --fast\n```\nor `citewise ask Q`\n"
    assert readme_commands(text, {"--data-dir"}) == ["frobnicate", "ask"]


def test_docstrings_use_markdown_not_sphinx_roles() -> None:
    """mkdocstrings renders docstrings as Markdown: a Sphinx role (``:class:`X```) would show raw."""
    role = re.compile(r":(?:py:)?(mod|class|func|meth|attr|data|exc|obj):`")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "citewise").rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
        if role.search(line)
    ]
    assert not found, f"Sphinx roles in docstrings (write `name` instead): {found[:10]}"
