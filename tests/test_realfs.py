"""Boot a real FreeSWITCH with freeswitch_conf/ unchanged and talk to it over the Event Socket.

Skipped unless a ``freeswitch`` binary is on PATH or named by HOTLINE_FREESWITCH_BIN.
Every writable folder (log, db, run, storage, ...) is a temporary one; the configuration
is read straight from the repository. Waits poll with a deadline; none sleeps blindly.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.realfs

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "freeswitch_conf"
HOST = "127.0.0.1"
ESL_PORT = 8021
SIP_PORT = 5060
HOTLINE_PORT = 8084
BOOT_SECONDS = 30.0
WRITABLE_DIRS = ("log", "db", "run", "temp", "storage", "cache", "recordings", "sounds")


def vars_value(name: str) -> str:
    """A value set in vars.xml."""
    text = (CONF_DIR / "vars.xml").read_text(encoding="utf-8")
    match = re.search(rf'cmd="set" data="{re.escape(name)}=([^"]*)"', text)
    assert match, f"vars.xml does not set {name}"
    return match.group(1)


def freeswitch_binary() -> str | None:
    return os.environ.get("HOTLINE_FREESWITCH_BIN") or shutil.which("freeswitch")


def udp_port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def poll(check: Callable[[], bool], deadline: float, proc: subprocess.Popen[bytes], what: str) -> None:
    """Call ``check`` until it is true; fail at ``deadline`` or when FreeSWITCH exits."""
    while not check():
        try:
            code = proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            pytest.fail(f"freeswitch exited with {code} while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")


class EslClient:
    """Just enough of the inbound Event Socket protocol to run api commands."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def _read_line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("event socket closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("event socket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_message(self) -> tuple[dict[str, str], str]:
        """One message: its headers and its body (empty when it has none)."""
        headers: dict[str, str] = {}
        while line := self._read_line().rstrip(b"\r"):
            name, _, value = line.decode().partition(":")
            headers[name] = value.strip()
        length = int(headers.get("Content-Length", "0"))
        return headers, self._read_exactly(length).decode() if length else ""

    def send(self, command: str) -> tuple[dict[str, str], str]:
        self.sock.sendall(f"{command}\n\n".encode())
        return self.read_message()

    def api(self, command: str) -> str:
        headers, body = self.send(f"api {command}")
        assert headers.get("Content-Type") == "api/response", headers
        return body


def esl_connect(password: str) -> EslClient:
    client = EslClient(ESL_PORT)
    headers, _ = client.read_message()
    assert headers.get("Content-Type") == "auth/request"
    headers, _ = client.send(f"auth {password}")
    assert headers.get("Reply-Text") == "+OK accepted", headers
    return client


def accepting(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def freeswitch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    binary = freeswitch_binary()
    if binary is None:
        pytest.skip("no freeswitch binary on PATH and HOTLINE_FREESWITCH_BIN is not set")
    busy = [p for p in (ESL_PORT, HOTLINE_PORT) if accepting(p)]
    busy += [SIP_PORT] if udp_port_in_use(SIP_PORT) else []
    if busy:
        pytest.skip(f"ports already in use on {HOST}: {busy}")
    root = tmp_path_factory.mktemp("fs")
    args = [binary, "-nonat", "-nf", "-nc", "-conf", str(CONF_DIR)]
    for name in WRITABLE_DIRS:
        (root / name).mkdir()
        args += [f"-{name}", str(root / name)]
    with (root / "stdout.txt").open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        poll(lambda: accepting(ESL_PORT), time.monotonic() + BOOT_SECONDS, proc, "the event socket")
        yield proc
    finally:
        if proc.poll() is None:
            try:
                esl_connect(vars_value("esl_password")).send("api fsctl shutdown")
            except (OSError, AssertionError):
                proc.terminate()
            try:
                proc.wait(timeout=BOOT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def esl(freeswitch: subprocess.Popen[bytes]) -> Iterator[EslClient]:
    client = esl_connect(vars_value("esl_password"))
    yield client
    client.close()


def test_wrong_password_is_refused(freeswitch: subprocess.Popen[bytes]) -> None:
    client = EslClient(ESL_PORT)
    try:
        client.read_message()
        headers, _ = client.send("auth ClueCon")
        assert headers.get("Reply-Text") == "-ERR invalid"
    finally:
        client.close()


def test_status_is_up(esl: EslClient) -> None:
    assert "UP" in esl.api("status")


def test_internal_profile_runs_on_loopback(esl: EslClient, freeswitch: subprocess.Popen[bytes]) -> None:
    def running() -> bool:
        return bool(re.search(r"internal\s+profile\s+\S+\s+RUNNING", esl.api("sofia status")))

    poll(running, time.monotonic() + BOOT_SECONDS, freeswitch, "sofia profile internal RUNNING")
    info = esl.api("sofia xmlstatus profile internal")
    profile_info = ET.fromstring(info).find("profile-info")
    assert profile_info is not None
    assert profile_info.findtext("sip-ip") == HOST
    assert profile_info.findtext("rtp-ip") == HOST


def test_all_configured_modules_loaded(esl: EslClient) -> None:
    tree = ET.parse(CONF_DIR / "autoload_configs" / "modules.conf.xml")
    for load in tree.iter("load"):
        module = load.get("module", "")
        assert esl.api(f"module_exists {module}").strip() == "true", module


def test_hotline_unreachable_falls_back_to_voicemail(esl: EslClient) -> None:
    """With nothing on the hotline socket, a caller still reaches voicemail and leaves a message."""
    number, box = vars_value("hotline_number"), vars_value("hotline_voicemail_box")
    mailbox = f"{box}@{vars_value('domain')}"
    watcher = esl_connect(vars_value("esl_password"))
    executed: list[str] = []
    try:
        headers, _ = watcher.send("event plain CHANNEL_EXECUTE RECORD_START CHANNEL_HANGUP_COMPLETE")
        assert headers.get("Reply-Text", "").startswith("+OK"), headers
        caller = "{origination_caller_id_number=5550100}"
        reply = esl.api(f"originate {caller}loopback/{number}/default &park()")
        assert reply.startswith("+OK"), reply
        caller_uuid = reply.split()[1]
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"fallback did not finish within 60 s, ran {executed}"
            _, body = watcher.read_message()
            event = dict(line.partition(": ")[::2] for line in body.splitlines() if line)
            if not event.get("Channel-Name", "").endswith(f"{number}-b"):
                continue
            name = event.get("Event-Name")
            if name == "CHANNEL_EXECUTE":
                executed.append(event.get("Application", ""))
            elif name == "RECORD_START":
                # the caller "speaks" for a few seconds, then falls silent: voicemail keeps it
                esl.api(f"uuid_broadcast {caller_uuid} tone_stream://%(4000,0,440) aleg")
            elif name == "CHANNEL_HANGUP_COMPLETE":
                break
    finally:
        watcher.close()
        esl.api("hupall NORMAL_CLEARING")
    assert executed[0] == "socket"
    assert executed.index("answer") < executed.index("speak") < executed.index("bridge")
    assert executed.index("bridge") < executed.index("voicemail")
    messages = esl.api(f"vm_list {mailbox}").splitlines()
    # vm_list fields: created:read:user:domain:folder:path:uuid:cid_name:cid_number:seconds
    assert any(line.split(":")[8] == "5550100" for line in messages if line.count(":") == 9), messages
