"""``hotline emulator``: the emulator as a process of its own, started as an operator starts it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from engine.transport import CommandFailed, InboundClient

REPO = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--socket", "8084"], "--socket: '8084' is not HOST:PORT"),
        (["--socket", "127.0.0.1:99999"], "--socket: '127.0.0.1:99999' is not HOST:PORT"),
        (["--agents", "1001,10 02"], "--agents: '10 02' is not an extension"),
        (["--number", "40;00"], "--number: '40;00' is not an extension"),
        (["--esl-port", "70000"], "--esl-port: 70000 is not a port number"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(capsys, args: list[str], message: str) -> None:
    assert cli.main(["emulator", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hotline: {message}") and err.count("\n") == 1


def test_a_taken_port_is_one_line_not_a_traceback(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["emulator", "--esl-port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hotline: emulator: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1


def test_the_process_answers_on_its_event_socket_rings_its_agents_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "emulator", "--esl-port", "0", "--password", "s3cret",
         "--socket", "127.0.0.1:9", "--agents", "1001,1002"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        banner = proc.stdout.readline()  # printed once it listens: what an operator (or a test) waits for
        assert banner.startswith("emulator: ESL on 127.0.0.1:"), banner + proc.stderr.read()
        port = int(banner.split()[3].rstrip(";").rpartition(":")[2])
        conn = InboundClient("127.0.0.1", port, "s3cret", ["BACKGROUND_JOB"], timeout=10).connect_once()
        leg = conn.api("originate", "user/1002", "&park()", timeout=10).split()[1]
        assert conn.api("uuid_getvar", leg, "dialed_user", timeout=10) == "1002"
        with pytest.raises(CommandFailed, match="USER_NOT_REGISTERED"):  # not one of its agents
            conn.api("originate", "user/1003", "&park()", timeout=10)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
