"""ops/systemd/: the hotline unit and the FreeSWITCH drop-in, as systemd itself reads them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).parents[1] / "ops" / "systemd"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (package systemd)")
# the packaged freeswitch.service the drop-in is written for (FreeSWITCH's Debian packages)
PACKAGED_FREESWITCH = """\
[Unit]
Description=freeswitch
After=network-online.target
[Service]
Type=forking
PIDFile=/run/freeswitch/freeswitch.pid
ExecStartPre=/bin/chown -R freeswitch:freeswitch /var/lib/freeswitch
ExecStart=/usr/bin/freeswitch -u freeswitch -g freeswitch -ncwait -nonat
[Install]
WantedBy=multi-user.target
"""


def _settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines (continuations joined), every value of a repeated key in order."""
    out: dict[str, list[str]] = {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        key, eq, value = line.partition("=")
        if eq and not line.startswith(("#", "[")):
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The unit and drop-in as installed, with the programs they start pointing at this machine's."""
    hotline = Path(sys.executable).parent / "hotline"
    text = (SYSTEMD / "hotline.service").read_text().replace("/opt/hotline/.venv/bin/hotline", str(hotline))
    (tmp_path / "hotline.service").write_text(text)
    (tmp_path / "freeswitch.service").write_text(PACKAGED_FREESWITCH)
    drop_in = (SYSTEMD / "freeswitch.service.d" / "hotline.conf").read_text()
    if shutil.which("freeswitch") is None:  # verify insists the program exists; the rest is checked as written
        drop_in = drop_in.replace("ExecStart=freeswitch ", "ExecStart=/bin/true ")
    (tmp_path / "freeswitch.service.d").mkdir()
    (tmp_path / "freeswitch.service.d" / "hotline.conf").write_text(drop_in)
    return tmp_path


def _verify(units: Path, *names: str) -> list[str]:
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", *names], cwd=units, capture_output=True, text=True, timeout=120
    )
    # systemd says "ignoring" for a setting it cannot parse and still exits 0: any line about our files fails
    ours = [line for line in (done.stdout + done.stderr).splitlines() if str(units) in line or "hotline" in line]
    assert done.returncode == 0, done.stdout + done.stderr
    return ours


@needs_analyze
def test_systemd_accepts_the_unit_and_the_drop_in_without_a_warning(units: Path) -> None:
    assert _verify(units, "hotline.service", "freeswitch.service") == []


@needs_analyze
def test_verify_would_see_a_setting_systemd_ignores(units: Path) -> None:
    """The check above can fail: a misspelt value is reported (with exit status 0) and caught."""
    path = units / "hotline.service"
    path.write_text(path.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    assert any("protect system" in line.lower() for line in _verify(units, "hotline.service"))


@needs_analyze
def test_the_hotline_unit_s_exposure_is_low(units: Path) -> None:
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", "hotline.service"],
        cwd=units, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r"Overall exposure level for hotline\.service: ([0-9.]+)", done.stdout)
    if done.returncode != 0 and found is None:
        pytest.skip(f"this systemd-analyze cannot rate a unit offline: {done.stderr.strip()[:200]}")
    assert found is not None and float(found.group(1)) < 2.0, done.stdout[-2000:]


def test_the_unit_reloads_on_hup_drains_on_term_and_writes_only_its_data_directory() -> None:
    unit = _settings((SYSTEMD / "hotline.service").read_text())
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["KillSignal"] == ["SIGTERM"] and unit["KillMode"] == ["mixed"]
    assert int(unit["TimeoutStopSec"][0]) > 300  # the drain limit the unit's comment names, plus the writes
    assert unit["User"] == ["hotline"] and unit["StateDirectory"] == ["hotline"]
    assert unit["ProtectSystem"] == ["strict"] and unit["ReadWritePaths"] == ["/var/lib/hotline"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["PrivateTmp"] == ["yes"]
    assert unit["StandardOutput"] == ["journal"] and unit["CapabilityBoundingSet"] == [""]
    assert "--config /etc/hotline/hotline.yaml run" in unit["ExecStart"][0]


def test_the_drop_in_runs_freeswitch_on_hotline_s_configuration_in_the_foreground() -> None:
    drop_in = _settings((SYSTEMD / "freeswitch.service.d" / "hotline.conf").read_text())
    assert drop_in["ExecStart"][0] == ""  # clears the packaged command
    command = drop_in["ExecStart"][1].split()
    assert command[command.index("-conf") + 1] == "/opt/hotline/freeswitch_conf"
    assert {"-nf", "-nc", "-nonat"} <= set(command) and drop_in["Type"] == ["simple"]
    assert command[command.index("-recordings") + 1].startswith("/var/lib/hotline/")
    assert drop_in["SupplementaryGroups"] == ["hotline"] and drop_in["PIDFile"] == [""]
