"""Settings: defaults < file < environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.config import Settings, SettingsError, load_settings


def test_layers_override_in_order(tmp_path):
    f = tmp_path / "citewise.toml"
    f.write_text('top_k = 5\nmode = "generative"\n')
    s = load_settings({"top_k": 9}, config_file=f, env={"CITEWISE_MODE": "extractive", "CITEWISE_DATA_DIR": "/x"})
    assert s.top_k == 9 and s.source_of("top_k") == "flag"
    assert s.mode == "extractive" and s.source_of("mode") == "env:CITEWISE_MODE"
    assert s.data_dir == Path("/x")


def test_yaml_file(tmp_path):
    f = tmp_path / "citewise.yaml"
    f.write_text("citewise:\n  chunk_size: 96\n")
    assert load_settings(config_file=f, env={}).chunk_size == 96


def test_default_data_dir_is_not_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings().data_dir == tmp_path / "citewise"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CITEWISE_MODE": "poetic"}, "mode"),
        ({"CITEWISE_CHUNK_SIZE": "1024"}, "chunk_size=1024 must be between"),
        ({"CITEWISE_STRICT": "perhaps"}, "strict"),
    ],
)
def test_bad_values_are_named(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env, config_file=None)


def test_unknown_key_in_file(tmp_path):
    f = tmp_path / "citewise.toml"
    f.write_text("topk = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'topk'"):
        load_settings(config_file=f, env={})


def test_api_keys_are_masked():
    s = load_settings(env={"CITEWISE_API_KEY": "secret"}, config_file=None)
    assert s.as_dict()["api_key"] == "***"
