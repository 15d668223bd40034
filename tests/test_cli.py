"""The operator CLI: database commands, flow validation and dry runs, and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cli

REPO = Path(__file__).parents[1]


@pytest.fixture
def hotline(tmp_path: Path, db_url: str, capsys):
    config = tmp_path / "hotline.yaml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\ndatabase_url: {db_url}\nflows_dir: {REPO / 'ivr_flows'}\n")

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["--config", str(config), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.mark.db
def test_db_upgrade_reports_the_revision(hotline):
    code, out, _ = hotline("db", "upgrade")
    assert code == 0 and out.startswith("schema revision: ")


@pytest.mark.db
def test_agents_and_queues_are_added_listed_and_removed(hotline):
    assert hotline("queue", "add", "support", "--skill", "support=2", "--strategy", "most_skilled")[0] == 0
    assert hotline("agent", "add", "1001", "--name", "Grace", "--skill", "support=7", "--skill", "billing=3")[0] == 0
    code, out, _ = hotline("agent", "list")
    assert code == 0 and "1001" in out and "Grace" in out and "user/1001" in out
    assert "billing=3" in out and "support=7" in out
    code, out, _ = hotline("queue", "list")
    assert "support" in out and "most_skilled" in out and "support>=2" in out
    assert hotline("agent", "remove", "1001")[0] == 0
    assert "1001" not in hotline("agent", "list")[1]


@pytest.mark.db
def test_bad_input_is_one_clear_line_status_1_and_bad_usage_status_2(hotline):
    code, _, err = hotline("agent", "add", "1001", "--skill", "support=11")
    assert code == 1 and "level" in err and "11" in err and "Traceback" not in err
    code, _, err = hotline("queue", "add", "q", "--strategy", "longest-idle")
    assert code == 1 and "queue.strategy" in err
    code, _, err = hotline("agent", "remove", "9999")
    assert code == 1 and "9999" in err
    code, _, err = hotline("agent", "add", "1002", "--skill", "support=x")
    assert code == 2 and "expected NAME or NAME=LEVEL" in err


def test_validate_runs_every_shipped_flow_and_its_test_cases(hotline):
    code, out, _ = hotline("flows", "validate")
    assert code == 0
    for name in ("main", "ticket_status", "after_hours", "fax_on_demand", "survey"):
        assert f"ok   {name}" in out


def test_validate_names_file_line_and_loads_nothing_from_a_broken_directory(hotline, tmp_path: Path):
    broken = tmp_path / "flows"
    broken.mkdir()
    (broken / "bad.yaml").write_text("flow: bad\nnodes:\n  start:\n    goto: nowhere\n")
    code, _, err = hotline("flows", "validate", str(broken))
    assert code == 1
    assert f"{broken / 'bad.yaml'}:4:" in err and "nowhere" in err and "nothing was loaded" in err


def test_dry_run_prints_the_trace_and_outcome(hotline):
    code, out, _ = hotline("flows", "test", "ticket_status", "--caller", "13900139000", "--input", "123456#,1")
    assert code == 0
    assert "flow ticket_status" in out and "outcome:" in out


@pytest.mark.parametrize(
    ("when", "first_steps"),
    [("2026-12-06T10:00", "goto closed"), ("2026-12-07T10:00", "goto welcome"), ("2026-12-07T19:00", "goto closed")],
)
def test_dry_run_at_a_given_local_time_follows_opening_hours(hotline, when, first_steps):
    """The shipped main flow is open Mon-Fri 08:00-18:00 (ivr_flows/main.yaml); 2026-12-06 is a Sunday."""
    code, out, _ = hotline("flows", "test", "main", "--time", when)
    assert code == 0
    assert f"local time in the flow: {when.replace('T', ' ')}" in out
    assert out.splitlines()[2].split() == ["opening_hours", "branch", "->", *first_steps.split()]


def test_dry_run_time_that_is_not_a_time_is_named(hotline):
    code, _, err = hotline("flows", "test", "main", "--time", "monday")
    assert code == 1 and "--time 'monday'" in err and "2026-12-07T09:30" in err


def test_unknown_flow_is_named_with_the_ones_there_are(hotline):
    code, _, err = hotline("flows", "test", "nope")
    assert code == 1 and "no flow named 'nope'" in err and "main" in err


def test_live_commands_say_when_the_engine_is_not_running(hotline):
    code, _, err = hotline("queue", "status")
    assert code == 1 and "not reachable" in err and "hotline run" in err


@pytest.mark.db
def test_reports_show_hold_wrap_up_and_handle_time_as_csv_and_table(hotline, db_url: str):
    from datetime import UTC, datetime, timedelta

    from engine.store.agent_states import append_agent_state
    from engine.store.agents import create_agent
    from engine.store.calls import CallRecord, record_finished_call
    from engine.store.db import make_engine, session_factory

    assert hotline("db", "upgrade")[0] == 0
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        create_agent(s, "1001", name="Grace", contact="user/1001")
        log = [(0, "ready"), (10, "reserved"), (15, "on_call"), (135, "wrap_up"), (165, "break"), (465, "ready")]
        for second, state in log:
            append_agent_state(s, "1001", state, reason="lunch" if state == "break" else None, at=at(second))
        record_finished_call(s, CallRecord(
            uuid="c1", caller_number="+1", destination="4000", created_at=at(0), ended_at=at(135),
            outcome="answered", queue="sales", agent_id="1001", queued_at=at(5), bridged_at=at(15),
            hold_seconds=30, hold_count=2,
        ))  # fmt: skip
    engine.dispose()
    window = ["--since", at(0).isoformat(), "--until", at(600).isoformat()]
    code, out, _ = hotline("report", "agents", *window, "--csv")
    assert code == 0
    header, row = out.strip().splitlines()
    assert header == "agent,calls,talk,hold,holds,wrap,aht,ready,on_call,break,occupancy,offers,not_answered,breaks"
    # talk 120 - hold 30 = 90; AHT (90 + 30 + wrap 30) / 1; occupancy (120 + 30) / (600 - 300 break)
    assert row == "1001,1,90,30,2,30,150.000,145,120,300,0.500,1,0,lunch=1/300s"
    code, out, _ = hotline("report", "queues", *window, "--interval", "60", "--csv")
    header, row = out.strip().splitlines()
    assert header.split(",")[7:13] == ["sl", "sl2", "asa", "talk", "hold", "wrap"]
    assert row.split(",")[10:14] == ["90.000", "30.000", "30.000", "150.000"]  # talk, hold, wrap, aht
    code, out, _ = hotline("report", "agents", *window)
    assert code == 0 and "HOLD" in out.splitlines()[0] and "lunch=1/300s" in out


def test_call_dial_needs_a_number(hotline):
    code, _, err = hotline("call", "dial", "1001")
    assert code != 0 and "which number? (--number N)" in err


@pytest.mark.db
def test_recordings_purge_dry_run_then_purge_prints_counts_and_bytes(hotline, tmp_path: Path, db_url: str):
    from datetime import UTC, datetime

    from engine.store.db import make_engine, session_factory
    from engine.store.migrate import upgrade
    from tests.retention_seed import seed

    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        seeded = seed(s, tmp_path / "var", datetime.now(UTC))
    engine.dispose()
    code, out, _ = hotline("recordings", "purge", "--dry-run")
    assert code == 0 and "no period is set, so every recording is kept" in out

    config = tmp_path / "hotline.yaml"
    config.write_text(config.read_text() + "retention:\n  call_recordings_days: 30\n  voicemail_days: 30\n")
    code, out, _ = hotline("recordings", "purge", "--dry-run")
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert code == 0 and out.split()[:2] == ["KIND", "WOULD_DELETE"]
    assert lines["call_recording"] == ["2", "1001", "1", "1"] and lines["voicemail"] == ["1", "300", "0", "0"]
    assert seeded.files["ended"].exists()
    code, out, _ = hotline("recordings", "purge")
    assert code == 0 and out.split()[:2] == ["KIND", "DELETED"] and "1001" in out
    assert not seeded.files["ended"].exists() and not seeded.files["voicemail"].exists()
    assert seeded.files["labelled"].exists()  # amd_samples_days unset: kept


# ---- no tracebacks: every user error is one line naming the thing at fault (issue 12) ------------------


CAMPAIGN = ["--region", "GB", "--caller-id", "4000", "--queue", "sales"]


def _one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.db
def test_adding_an_agent_twice_is_one_line_and_status_1(hotline):
    assert hotline("agent", "add", "1001")[0] == 0
    code, _, err = hotline("agent", "add", "1001")
    assert code == 1 and _one_line(err) == "hotline: agent '1001': already exists"


def test_a_missing_or_directory_path_for_validate_is_named(hotline, tmp_path: Path):
    code, _, err = hotline("flows", "validate", str(tmp_path / "nope"))
    assert code == 1 and f"{tmp_path / 'nope'}: cannot read: No such file or directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = hotline("flows", "validate", str(tmp_path / "empty"))
    assert code == 1 and f"{tmp_path / 'empty'}: no flow files (*.yaml, *.yml) here" in err and "Traceback" not in err


@pytest.mark.db
def test_a_missing_or_directory_path_for_imports_is_named(hotline, tmp_path: Path):
    assert hotline("campaign", "create", "spring", *CAMPAIGN)[0] == 0
    for path in (tmp_path / "nope.csv", tmp_path):
        code, _, err = hotline("campaign", "import", "spring", str(path))
        assert code == 1 and _one_line(err).startswith(f"hotline: {path}: "), err
        code, _, err = hotline("dnc", "import", str(path))
        assert code == 1 and _one_line(err).startswith(f"hotline: {path}: "), err
    (tmp_path / "dnc.txt").write_bytes(b"020 7946 0018\n020 7946 0\xff19\n")
    code, _, err = hotline("dnc", "import", str(tmp_path / "dnc.txt"))
    assert code == 1 and _one_line(err) == f"hotline: {tmp_path / 'dnc.txt'}: line 2: not UTF-8 text"


@pytest.mark.db
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["phone,name", '020 7946 0018,"Ann', "020 7946 0019,Bob", "020 7946 0020,Cy"], "line 2: a quoted field"),
        (["phone,notes", "020 7946 0018," + "x" * (129 * 1024)], "line 2: a field is longer than 65536 characters"),
        (["phone,name", "020 7946 0017,Zed", '020 7946 0018,"Ann"x'], "line 3: ',' expected after '\"'"),
    ],
    ids=["unclosed-quote", "field-over-128KiB", "stray-quote"],
)
def test_a_broken_contact_csv_names_its_line_and_imports_nothing(hotline, tmp_path: Path, rows, message):
    assert hotline("campaign", "create", "spring", *CAMPAIGN)[0] == 0
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(rows) + "\n")
    code, _, err = hotline("campaign", "import", "spring", str(path))
    assert code == 1 and _one_line(err).startswith(f"hotline: {path}: {message}"), err
    assert json.loads(hotline("campaign", "report", "spring")[1])["contacts"] == 0
    path.write_text('phone,name\n020 7946 0018,"Ann, ""the"" first"\n020 7946 0019,"Bob\non two lines"\n')
    assert hotline("campaign", "import", "spring", str(path))[0] == 0  # well-formed quoting still imports
    assert json.loads(hotline("campaign", "report", "spring")[1])["contacts"] == 2


def test_validate_checks_the_flows_the_config_names(hotline, tmp_path: Path):
    config = tmp_path / "hotline.yaml"
    config.write_text(config.read_text() + "calls:\n  numbers:\n    '4000': mian\n")
    code, _, err = hotline("flows", "validate")
    assert code == 1 and _one_line(err).startswith(f"hotline: {config}:6: calls.numbers.4000: unknown flow 'mian' (")


def test_a_data_dir_that_is_a_file_or_a_bad_database_url_is_named(hotline, tmp_path: Path):
    config = tmp_path / "hotline.yaml"
    config.write_text(f"data_dir: {config}\n")
    code, _, err = hotline("agent", "list")
    assert code == 1 and _one_line(err) == f"hotline: {config}:1: data_dir: {config} exists and is not a directory"
    config.write_text("database_url: 'postgresql://hotline:s3cret@db.example/hotline?x=%'\n")
    code, _, err = hotline("db", "upgrade")
    assert code == 1 and _one_line(err).startswith(f"hotline: {config}:1: database_url: ") and "s3cret" not in err


def test_a_database_that_cannot_be_opened_is_one_line_without_the_statement(hotline, tmp_path: Path):
    config = tmp_path / "hotline.yaml"
    config.write_text(f"database_url: sqlite:///{config}\n")  # a YAML file, not a database
    code, _, err = hotline("agent", "list")
    assert code == 1 and _one_line(err) == "hotline: database error: file is not a database"


@pytest.mark.parametrize(
    ("command", "option", "value", "why"),
    [
        ("queue add q", "--ring-timeout", "nan", "is not a finite number"),
        ("queue add q", "--ring-timeout", "inf", "is not a finite number"),
        ("queue add q", "--ring-timeout", "0", "must be above 0"),
        ("queue add q", "--wrap-up", "-1", "must be at least 0"),
        ("queue add q", "--busy-delay", "-inf", "is not a finite number"),
        ("queue add q", "--record-percent", "101", "must be at most 100"),
        ("queue add q", "--callback-attempts", "0", "must be at least 1"),
        ("queue add q", "--max-wait", "1.5", "is not an integer"),
        ("report queues", "--interval", "0", "must be at least 1"),
        ("report queues", "--target", "nan", "is not a finite number"),
        ("campaign create c", "--ratio", "nan", "is not a finite number"),
        ("campaign create c", "--region", "UK", "is not a known region: an ISO 3166 code such as GB or CN"),
        ("demo", "--speed", "inf", "is not a finite number"),
        ("run", "--wait", "-5", "must be at least 0"),
    ],
)
def test_meaningless_numbers_are_usage_errors_naming_the_option(hotline, command, option, value, why):
    code, _, err = hotline(*command.split(), f"{option}={value}")
    assert code == 2
    name = command.split()[0]
    assert _one_line(err) == f"hotline {name}: argument {option}: '{value}' {why} (see hotline {name} -h)"


def _subprocess(*args: str, config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOTLINE_PASSWORD": ""}
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "--config", str(config), *args],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_user_add_without_a_terminal_and_bad_options_in_a_real_process(tmp_path: Path):
    config = tmp_path / "hotline.yaml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n")
    done = _subprocess("user", "add", "grace", config=config)
    assert done.returncode == 2
    expected = "hotline: user add grace: no terminal to ask for the password; set HOTLINE_PASSWORD"
    assert _one_line(done.stderr) == expected
    done = _subprocess("queue", "add", "q", "--ring-timeout", "nan", config=config)
    assert done.returncode == 2
    assert _one_line(done.stderr) == (
        "hotline queue: argument --ring-timeout: 'nan' is not a finite number (see hotline queue -h)"
    )


@pytest.mark.db
def test_import_reports_each_row_and_a_rerun_changes_nothing(hotline, tmp_path: Path):
    skills = tmp_path / "skills.yaml"
    skills.write_text("skills:\n  - name: support\n  - name: billing\n")
    agents = tmp_path / "agents.csv"
    agents.write_text("id,name,skills\n1001,Grace,support=7\n1002,Ada,billing=3;support=2\n")
    assert hotline("skill", "import", str(skills))[0] == 0
    code, out, _ = hotline("agent", "import", str(agents))
    assert code == 0
    assert f"{agents}:2: agent 1001 created" in out and f"{agents}:3: agent 1002 created" in out
    code, out, _ = hotline("agent", "import", str(agents))
    assert code == 0 and out.strip() == f"{agents}: 0 created, 0 updated, 2 unchanged agents"
    agents.write_text("id,name,skills\n1001,Grace Hopper,support=7\n1002,Ada,billing=3;support=2\n")
    code, out, _ = hotline("agent", "import", str(agents))
    assert f"{agents}:2: agent 1001 updated: name: 'Grace' -> 'Grace Hopper'" in out
    assert "0 created, 1 updated, 1 unchanged agents" in out
    assert "Grace Hopper" in hotline("agent", "list")[1]


@pytest.mark.db
def test_a_bad_import_file_exits_1_naming_every_bad_line_and_changes_nothing(hotline, tmp_path: Path):
    queues = tmp_path / "queues.csv"
    queues.write_text("name,strategy,max_wait_seconds\nsales,round_robin,60\nvip,fastest,60\nbad name,,0\n")
    code, out, err = hotline("queue", "import", str(queues))
    assert code == 1 and out == "" and "Traceback" not in err
    assert f"{queues}:3: strategy: 'fastest' must be one of" in err
    assert f"{queues}:4: name: 'bad name'" in err and f"{queues}:4: max_wait_seconds: 0" in err
    assert "nothing was changed" in err
    assert "sales" not in hotline("queue", "list")[1]


@pytest.mark.db
def test_export_writes_what_import_reads_in_both_formats(hotline, tmp_path: Path):
    assert hotline("skill", "add", "support")[0] == 0
    assert hotline("queue", "add", "support", "--skill", "support=2", "--strategy", "most_skilled")[0] == 0
    assert hotline("agent", "add", "1001", "--name", "王芳", "--skill", "support=7")[0] == 0
    for kind in ("skill", "queue", "agent"):
        for suffix in ("csv", "yaml"):
            path = tmp_path / f"{kind}s.{suffix}"
            code, out, _ = hotline(kind, "export", str(path))
            assert code == 0 and out.startswith(f"{path}: 1 {kind}(s) exported")
            code, out, _ = hotline(kind, "import", str(path))
            assert code == 0 and out.strip() == f"{path}: 0 created, 0 updated, 1 unchanged {kind}s"
    assert "1001,王芳,user/1001,support=7" in (tmp_path / "agents.csv").read_text(encoding="utf-8")


def test_import_and_export_without_a_file_are_usage_errors(hotline):
    for command in (["agent", "import"], ["queue", "export"], ["skill", "import"]):
        code, _, err = hotline(*command)
        assert code == 2 and "which file?" in err
