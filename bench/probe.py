"""Run in a new process: answer a question (optionally with the LLM) and print peak RSS.

Usage: ``python -m bench.probe DATA_DIR [--llm] [--question TEXT]`` prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def _vm_hwm_kb() -> int:
    """This process's own peak RSS (ru_maxrss can carry the parent's peak across fork/exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    """Answer over the index in DATA_DIR, then report peak resident memory."""
    from citewise import Assistant

    data_dir = Path(sys.argv[1])
    with_llm = "--llm" in sys.argv
    question = (
        sys.argv[sys.argv.index("--question") + 1] if "--question" in sys.argv else "When did OpenAI launch Sora 2?"
    )
    assistant = Assistant.from_settings(data_dir=data_dir)
    assistant.ask(question)
    mode = "extractive"
    if with_llm:
        answer = assistant.ask(question, mode="generative")
        mode = answer.mode
    peak_kb = _vm_hwm_kb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mb": round(peak_kb / 1024, 1), "llm_loaded": with_llm, "mode": mode}))


if __name__ == "__main__":
    main()
