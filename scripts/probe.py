"""Ask a small probe of questions about documents no evaluation suite holds; print each answer.

    .venv/bin/python scripts/probe.py readmes            # httpx and rich READMEs (installed packages)
    .venv/bin/python scripts/probe.py sklearn-datasets   # six scikit-learn dataset descriptions
    .venv/bin/python scripts/probe.py licences           # Apache 2.0, GPL 3, MPL 2.0, LGPL 3 (Debian's copies)
    .venv/bin/python scripts/probe.py python-history     # Python's LICENSE.txt: its history, then its licences
    .venv/bin/python scripts/probe.py vim-manual         # the first three chapters of Vim's user manual (Debian's vim)
    .venv/bin/python scripts/probe.py zlib-howto         # Mark Adler's annotated zlib example (Debian's zlib1g-dev), HTML
    .venv/bin/python scripts/probe.py coding-style       # systemd's CODING_STYLE.md (Debian's systemd)

Each probe is ``scripts/probes/<name>.tsv``: kind (A: answerable, R: to be refused), question,
and for A a text the answer must contain. The documents are files that installed packages carry
(see ``SOURCES``), copied into a temporary folder and indexed there. A probe is read for defects
after it is run, so once read it is no longer unseen data (docs/evaluation.md).
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent / "probes"


def _metadata_body(dist: str) -> str:
    """A distribution's long description (its README), as installed."""
    return importlib.metadata.metadata(dist).get_payload() or ""  # type: ignore[attr-defined]


def _sklearn_descr(name: str) -> str:
    import sklearn.datasets

    return (Path(sklearn.datasets.__file__).parent / "descr" / f"{name}.rst").read_text()


def _gunzip(path: str) -> str:
    import gzip

    return gzip.decompress(Path(path).read_bytes()).decode("utf-8")


def _python_licence() -> str:
    """The history of Python and its licences, as the Python installation carries it."""
    import sysconfig

    for folder in (sysconfig.get_paths()["stdlib"], "/usr/lib/python3.11"):
        path = Path(folder) / "LICENSE.txt"
        if path.exists():
            return path.read_text()
    raise SystemExit("probe.py: no LICENSE.txt in the Python installation")


def _file(path: str | Path) -> Callable[[], str]:
    return lambda: Path(path).read_text()


_VIM = Path("/usr/share/vim/vim90/doc")
SOURCES: dict[str, dict[str, Callable[[], str]]] = {
    "readmes": {"httpx.md": lambda: _metadata_body("httpx"), "rich.md": lambda: _metadata_body("rich")},
    "licences": {
        f"{n}.txt": _file(Path("/usr/share/common-licenses") / n) for n in ("Apache-2.0", "GPL-3", "MPL-2.0", "LGPL-3")
    },
    "python-history": {"python-license.txt": _python_licence},
    "coding-style": {"CODING_STYLE.md": lambda: _gunzip("/usr/share/doc/systemd/CODING_STYLE.md.gz")},
    "zlib-howto": {"zlib_how.html": _file("/usr/share/doc/zlib1g-dev/examples/zlib_how.html")},
    "vim-manual": {n: _file(_VIM / n) for n in ("usr_01.txt", "usr_02.txt", "usr_03.txt")},
    "sklearn-datasets": {
        f"{n}.txt": functools.partial(_sklearn_descr, n)
        for n in ("iris", "wine_data", "breast_cancer", "california_housing", "covtype", "lfw")
    },
}


def write_documents(name: str, folder: Path) -> None:
    """Write probe ``name``'s documents into ``folder``."""
    for filename, read in SOURCES[name].items():
        (folder / filename).write_text(read(), encoding="utf-8")


def questions(name: str) -> list[tuple[str, str, str]]:
    """Probe ``name``'s rows: (kind, question, needle); kind A (the answer holds the needle) or R (refuse)."""
    with (HERE / f"{name}.tsv").open(encoding="utf-8") as f:
        return [
            (kind, question, needle) for kind, question, needle in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "readmes"
    if name not in SOURCES:
        sys.exit(f"probe.py: no probe {name!r}; the probes are {', '.join(SOURCES)}")
    from citewise.assistant import Assistant

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        write_documents(name, docs)
        assistant = Assistant.from_settings(data_dir=Path(tmp) / "index", chroma_url="", collection=f"probe_{name}")
        assistant.ingest([docs])
        right = total = 0
        for kind, question, needle in questions(name):
            answer = assistant.ask(question, mode="extractive")
            ok = answer.refused if kind == "R" else (not answer.refused and needle.lower() in answer.text.lower())
            right += ok
            total += 1
            print(f"{'ok' if ok else 'XX'} {kind} confidence={answer.confidence or 0:.2f} {question}")
            print("      " + " ".join(answer.text.split())[:240])
        shutil.rmtree(docs)
    print(f"{right} of {total} right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
