"""Self-checks of the SIPp load kit (bench/load/): the overlay, the scenarios, the runner's edges.

Nothing here needs FreeSWITCH or SIPp: the tests that do run them skip cleanly when the binary is
missing (or, for FreeSWITCH, when the load overlay's ports are taken).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.load import run, sipp
from bench.load.switch import REPO, FreeSwitch, KitError, Ports, build_overlay

SHIPPED = [REPO / "freeswitch_conf" / "vars.xml", REPO / "dialplans" / "public.xml", REPO / "dialplans" / "default.xml"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_overlay_patches_a_copy_and_leaves_the_shipped_files_unchanged(tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in SHIPPED}
    conf = build_overlay(tmp_path, "127.0.0.1:5070")
    assert {path: path.read_bytes() for path in SHIPPED} == before
    text = (conf / "vars.xml").read_text()
    for setting in (
        "sip_auth_calls=false",
        "sessions_per_second=1000",
        "rtp_end_port=32767",
        "core_loglevel=warning",
        "load_phone=127.0.0.1:5070",
        "load_baseline_number=4001",
        f"hotline_dialplan_dir={tmp_path / 'dialplans'}",
    ):
        assert f'data="{setting}"' in text
    assert 'data="sip_auth_calls=true"' not in text
    public = ET.parse(tmp_path / "dialplans" / "public.xml").getroot()
    routes = {a.get("data") for a in public.iter("action")}
    assert routes == {"$${hotline_number} XML default", "4001 XML load"}  # the shipped route kept, the baseline's added
    load = ET.parse(tmp_path / "dialplans" / "load.xml").getroot()
    apps = [a.get("application") for a in load.iter("action")]
    assert apps[0] == "answer" and "play_and_get_digits" in apps and apps[-1] == "bridge"


def test_overlay_names_the_file_when_the_shipped_config_lacks_a_setting(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(REPO / "freeswitch_conf", shipped / "freeswitch_conf")
    shutil.copytree(REPO / "dialplans", shipped / "dialplans")
    vars_xml = shipped / "freeswitch_conf" / "vars.xml"
    vars_xml.write_text("\n".join(line for line in vars_xml.read_text().splitlines() if "rtp_end_port" not in line))
    with pytest.raises(KitError, match=r"vars\.xml: expected one setting of rtp_end_port, found 0"):
        build_overlay(tmp_path / "run", "127.0.0.1:5070", conf_dir=shipped / "freeswitch_conf")


@pytest.mark.parametrize("name", sipp.CALLERS + sipp.PHONES)
def test_every_scenario_is_well_formed_xml(name: str) -> None:
    root = ET.parse(sipp.SCENARIOS / f"{name}.xml").getroot()
    assert root.tag == "scenario"
    first = root[0]
    assert (first.tag, first.get("request")) == (("send", None) if name.startswith("caller") else ("recv", "INVITE"))


def test_without_binaries_the_runner_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_FREESWITCH_BIN", "HOTLINE_SIPP_BIN")}
    env["PATH"] = str(tmp_path)  # neither freeswitch nor sipp on it
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "bench.load.run", "--rates", "1", "--step-seconds", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no freeswitch binary on PATH" in done.stderr and "no sipp binary on PATH" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rates", "0"], "--rates: 1 to 8 rates"),
        (["--rates", "1,2,3,4,5,6,7,8,9"], "--rates: 1 to 8 rates"),
        (["--rates", "five"], "is not a comma-separated list"),
        (["--step-seconds", "601"], "--step-seconds: 1 to 600"),
        (["--sides", "mod_callcenter"], "--sides"),
        (["--set", "release_socket_in_talk"], "--set: 'release_socket_in_talk' is not SECTION.KEY=VALUE"),
    ],
)
def test_unbounded_or_bad_arguments_are_refused(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        run.main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_settings_for_the_engine_are_read_as_json_else_as_text() -> None:
    assert run.setting("freeswitch.release_socket_in_talk=false") == (("freeswitch", "release_socket_in_talk"), False)
    assert run.setting("admission.max_lag_ms=250") == (("admission", "max_lag_ms"), 250)
    assert run.setting("calls.default_flow=load") == (("calls", "default_flow"), "load")


METRICS_BEFORE = """\
# TYPE hotline_esl_command_seconds histogram
hotline_esl_command_seconds_bucket{command="api",le="0.01"} 10.0
hotline_esl_command_seconds_bucket{command="api",le="0.1"} 10.0
hotline_esl_command_seconds_bucket{command="api",le="5.0"} 10.0
hotline_esl_command_seconds_bucket{command="api",le="+Inf"} 10.0
hotline_esl_command_seconds_count{command="api"} 10.0
hotline_esl_command_seconds_sum{command="api"} 0.05
"""
METRICS_AFTER = """\
# TYPE hotline_esl_command_seconds histogram
hotline_esl_command_seconds_bucket{command="api",le="0.01"} 60.0
hotline_esl_command_seconds_bucket{command="api",le="0.1"} 108.0
hotline_esl_command_seconds_bucket{command="api",le="5.0"} 110.0
hotline_esl_command_seconds_bucket{command="api",le="+Inf"} 110.0
hotline_esl_command_seconds_count{command="api"} 110.0
hotline_esl_command_seconds_sum{command="api"} 3.0
hotline_esl_command_seconds_bucket{command="bgapi",le="0.01"} 0.0
hotline_esl_command_seconds_bucket{command="bgapi",le="0.1"} 0.0
hotline_esl_command_seconds_bucket{command="bgapi",le="5.0"} 0.0
hotline_esl_command_seconds_bucket{command="bgapi",le="+Inf"} 0.0
hotline_esl_command_seconds_count{command="bgapi"} 0.0
hotline_esl_command_seconds_sum{command="bgapi"} 0.0
"""


def test_esl_p99_is_read_from_the_step_delta_of_the_histogram() -> None:
    # 100 commands in the step: 50 under 10 ms, 48 under 100 ms, 2 under 5 s -> the 99th is in the 5 s bucket
    buckets, count = run.histogram_deltas(METRICS_BEFORE, METRICS_AFTER, "hotline_esl_command_seconds")
    assert count == 100
    assert run.p99_ms(buckets, count) == 5000.0
    assert run.p99_ms([], 0) is None
    # two more commands timed out (never observed by the histogram): the 99th of 102 is beyond every bucket
    assert run.p99_ms(buckets, count + 2) == float("inf")
    assert run.fmt(float("inf")) == "> 5000"
    assert run.lag_histogram(METRICS_AFTER) is None  # no event-loop lag histogram: the table says n/a


def test_log_summary_counts_warnings_of_the_step_only(tmp_path: Path) -> None:
    log = tmp_path / "hotline.log"
    log.write_text("2026-12-07 00:00:00Z WARNING old: before the step\n")
    offset = log.stat().st_size
    with log.open("a") as out:
        out.write("2026-12-07 00:00:01Z INFO x: fine\n")
        for uuid in ("0f525a72-1cd5-4e0c-85f4-8ad935c89654", "dca094f8-b4d1-4de6-81d1-536b5f4bb01e"):
            out.write(f"2026-12-07 00:00:02Z WARNING engine.acd: uuid_bridge {uuid} timed out\n")
    lines, end = run.log_summary(log, offset)
    assert end == log.stat().st_size
    assert lines[0].startswith("first: 2026-12-07 00:00:02Z WARNING engine.acd: uuid_bridge 0f525a72")
    assert lines[1:] == ["    2 x WARNING engine.acd: uuid_bridge # timed out"]


@pytest.mark.skipif(shutil.which("sipp") is None, reason="no sipp binary on PATH (Debian package sip-tester)")
@pytest.mark.parametrize(("phone", "completed", "failed"), [("phone_answer", 1, 0), ("phone_reject", 0, 1)])
def test_a_caller_scenario_against_a_phone_scenario(tmp_path: Path, phone: str, completed: int, failed: int) -> None:
    """The abandoning caller dials the phone directly (no switch): answered and hung up, or rejected."""
    phone_port = free_udp_port()
    uas = sipp.phone("sipp", tmp_path, "phone", scenario=phone, sip_port=phone_port, media_port=free_udp_port(),
                     control_port=free_udp_port())  # fmt: skip
    try:
        uac = sipp.callers(
            "sipp", tmp_path, "caller", scenario="caller_abandon", switch=f"127.0.0.1:{phone_port}", number="4000",
            rate=1, calls=1, sip_port=free_udp_port(), media_port=free_udp_port(), control_port=free_udp_port(),
            timeout=30,
        )  # fmt: skip
        assert uac.wait(60) is not None, "the caller did not finish"
    finally:
        uas.stop()
    stats = uac.stats()
    assert (stats.created, stats.successful, stats.failed) == (1, completed, failed)


@pytest.mark.realfs
def test_freeswitch_boots_on_the_overlay_with_the_baseline(tmp_path: Path) -> None:
    binary = os.environ.get("HOTLINE_FREESWITCH_BIN") or shutil.which("freeswitch")
    if binary is None:
        pytest.skip("no freeswitch binary on PATH and HOTLINE_FREESWITCH_BIN is not set")
    conf = build_overlay(tmp_path, "127.0.0.1:5070")
    if busy := Ports.of(conf).busy():
        pytest.skip(f"the load overlay's ports {busy} (its vars.xml) are in use: a load run?")
    fs = FreeSwitch(binary, conf, tmp_path)
    try:
        assert fs.esl.api("global_getvar sip_auth_calls").strip() == "false"
        assert 'extension name="load_baseline"' in fs.esl.api("xml_locate dialplan context name load")
        assert fs.channels() == 0
    finally:
        fs.stop()
