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


def test_relative_paths_become_absolute_from_the_working_directory(tmp_path: Path, monkeypatch):
    """FreeSWITCH runs elsewhere: a relative prompt or recording path handed to it fails (issue 17)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "h.yaml"
    path.write_text("data_dir: var\nsounds_dir: ./s\nflows_dir: f\nfax_dir: ~/fax\n")
    config = load_config(path)
    assert config.data_dir == tmp_path / "var"
    assert config.sounds_dir == tmp_path / "s"
    assert config.flows_dir == tmp_path / "f"
    assert config.fax_dir == Path.home() / "fax"
    assert config.db_url() == f"sqlite:///{tmp_path}/var/hotline.sqlite3"


def test_wrong_type_names_file_line_and_key(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text("freeswitch:\n  host: fs\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"h\.yaml:3: freeswitch\.port: Input should be a valid integer"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("agent_calls:\n  dial_string: 'sofia/gateway/t/{number},user/1'\n", r"h\.yaml:2: agent_calls\.dial_string"),
        ("agent_calls:\n  dial_string: '{x=y}sofia/gateway/trunk/{number}'\n", r"h\.yaml:2: agent_calls\.dial_string"),
        ("agent_calls:\n  caller_id: '4000,x=y'\n", r"h\.yaml:2: agent_calls\.caller_id"),
        ("calls:\n  callback_dial: 'sofia/gateway/default/{number} &park()'\n", r"h\.yaml:2: calls\.callback_dial"),
        ("calls:\n  fax_dial: 'loopback/$${number}'\n", r"h\.yaml:2: calls\.fax_dial"),
    ],
)
def test_dial_templates_and_caller_ids_follow_the_dial_grammar(tmp_path: Path, text: str, where: str):
    path = tmp_path / "h.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where):
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


# ---- checked at start: encodings, hostile YAML, regions, paths, database URLs, flows (issue 12) --------

REPO = Path(__file__).parents[1]


def test_a_config_that_is_not_utf8_names_file_and_line(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_bytes(b"calls:\n  region: GB\n  music_on_hold: caf\xe9\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}:3: not UTF-8 text (byte 0xe9)"


def test_hostile_yaml_in_the_config_is_refused_with_its_line(tmp_path: Path):
    path = tmp_path / "h.yaml"
    levels = "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
    path.write_text("tokens: {}\nx:\n  l0: &l0 [a, a, a, a, a, a, a, a, a]\n" + levels)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}:8: expands to more than 100000 values through its aliases"
    path.write_text("calls:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(1, 200)))
    with pytest.raises(ConfigError, match=r"h\.yaml:\d+: nested deeper than 64 levels"):
        load_config(path)


def test_an_unknown_region_names_the_key_and_line(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text("calls:\n  numbers: {'4000': main}\n  region: UK\n")  # the ISO code is GB
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}:3: calls.region: 'UK' is not a region phonenumbers knows")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path):
    path = tmp_path / "h.yaml"
    path.write_text(f"flows_dir: ivr_flows\ndata_dir: {path}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}:2: data_dir: {path} exists and is not a directory"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL SQLAlchemy can use"),
        ("nosuchdb://h/d", "not a database URL SQLAlchemy can use"),
        ("postgresql+nosuchdriver://u:s3cret@h/d", "not a database URL SQLAlchemy can use"),
        ("mysql+mysqldb://u:s3cret@h/d", "the driver of mysql+mysqldb is not installed"),
    ],
)
def test_an_unusable_database_url_is_refused_without_echoing_it(tmp_path: Path, url: str, message: str):
    path = tmp_path / "h.yaml"
    path.write_text(f"data_dir: var\ndatabase_url: '{url}'\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}:2: database_url: {message}")
    assert "s3cret" not in str(exc.value)


def test_calls_naming_an_unknown_flow_stop_the_engine_at_start(tmp_path: Path):
    from engine.runtime.hotline import Hotline

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text((REPO / "ivr_flows" / "after_hours.yaml").read_text())  # flow: after_hours
    path = tmp_path / "h.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'var'}\nflows_dir: {flows}\nhttp: {{port: 0}}\nsocket: {{port: 0}}\n"
        "calls:\n  numbers:\n    '4000': after_hours\n    '4001': mian\n  default_flow: after_hours\n"
    )
    engine = Hotline(load_config(path))
    try:
        with pytest.raises(ConfigError) as exc:
            engine.start(wait_for_freeswitch=0)
    finally:
        engine.db.dispose()
    assert str(exc.value) == f"{path}:8: calls.numbers.4001: unknown flow 'mian' (flows in {flows}: after_hours)"
