"""Config loading: defaults, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, load_config


def test_defaults_run_on_embedded_sqlite():
    config = load_config(None)
    assert config.freeswitch.host == "127.0.0.1" and config.freeswitch.port == 8021
    assert config.db_url().startswith("sqlite:///") and config.db_url().endswith("var/hotline.sqlite3")
    assert config.calls.numbers == {"4000": "main"}


def test_shipped_config_is_valid():
    config = load_config(Path(__file__).parents[1] / "hotline.yaml")
    assert config.socket.port == 8084


def test_wrong_type_names_file_line_and_key(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text("freeswitch:\n  host: fs\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"h\.yaml:3: freeswitch\.port: Input should be a valid integer"):
        load_config(path)


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text("freeswitch:\n  pasword: x\n")
    with pytest.raises(ConfigError, match=r"h\.yaml:2: freeswitch\.pasword: Extra inputs are not permitted"):
        load_config(path)


def test_agent_token_must_name_an_agent(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text("tokens:\n  0123456789abcdef0123:\n    role: agent\n")
    with pytest.raises(ConfigError, match="role agent needs 'agent: <agent id>'"):
        load_config(path)


def test_not_yaml_and_missing_file_are_clear(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("freeswitch: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:2: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_win(tmp_path: Path):
    assert load_config(None, {"http": {"port": 0}}).http.port == 0


def test_retention_keeps_everything_by_default_and_bad_values_name_the_key(tmp_path: Path):
    retention = load_config(None).retention
    assert (retention.call_recordings_days, retention.voicemail_days, retention.amd_samples_days) == (None,) * 3
    path = tmp_path / "h.yaml"
    path.write_text("retention:\n  voicemail_days: 30\n  run_at: '25:00'\n")
    with pytest.raises(ConfigError, match=r"h\.yaml:3: retention\.run_at: .*'25:00' is not a time of day HH:MM"):
        load_config(path)
    path.write_text("retention:\n  call_recordings_days: -1\n")
    with pytest.raises(ConfigError, match=r"h\.yaml:2: retention\.call_recordings_days: .*greater than or equal to 0"):
        load_config(path)
