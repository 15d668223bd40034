"""FreeSWITCH for the load kit: the shipped configuration plus a load overlay, in a temporary folder.

The shipped files (freeswitch_conf/, dialplans/) are never changed. ``build_overlay`` copies both into
a run folder and changes only the copies:

* vars.xml: the values in ``LOAD_VARS`` (no SIP auth for the load callers, sessions per second and
  the RTP range raised, logs at warning, ports of its own) and two new variables for the kit (the phone's address, the
  baseline's number);
* dialplans/public.xml: one extension that sends the baseline number to the "load" context;
* dialplans/load.xml: the plain-dialplan baseline (bench/load/overlay/load.xml).

``FreeSwitch`` boots the binary on that copy with every writable folder in the run folder, and
``Esl`` is a minimal blocking Event Socket client for the few ``api`` commands the kit needs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRITABLE_DIRS = ("log", "db", "run", "temp", "storage", "cache", "recordings", "sounds")

# The load overlay: vars.xml values replaced in the copy. Everything else is the shipped configuration.
LOAD_VARS = {
    "sip_auth_calls": "false",  # load callers are not registered users: they land in "public"
    "carrier_cidr": "127.0.0.0/8",  # ... taken as the carrier's calls (others would be refused with 403)
    "sessions_per_second": "1000",  # the shipped 30 would refuse calls above 15 cps (two legs per call)
    "max_sessions": "3000",
    "rtp_start_port": "20000",
    "rtp_end_port": "32767",  # 200 ports carry at most 100 calls; 20 cps x ~13 s needs ~520 legs
    # ports of their own, so a load run never collides with the test suite's FreeSWITCH (5060, 8021, 8084)
    "sip_port": "5090",
    "esl_listen_port": "8031",
    "hotline_socket": "127.0.0.1:8094",
    "console_loglevel": "warning",
    "core_loglevel": "warning",
}
BASELINE_NUMBER = "4001"
BASELINE_ROUTE = f"""
    <extension name="load_baseline">
      <condition field="destination_number" expression="^{BASELINE_NUMBER}$">
        <action application="transfer" data="{BASELINE_NUMBER} XML load"/>
      </condition>
    </extension>
"""


class KitError(RuntimeError):
    """The load kit cannot run (missing binary, busy port, switch not up): a one-line reason."""


def set_var(text: str, name: str, value: str) -> str:
    """``text`` (vars.xml) with ``name`` set to ``value``; raises KitError when vars.xml lacks ``name``."""
    pattern = re.compile(rf'(cmd="set" data="{re.escape(name)}=)[^"]*(")')
    patched, count = pattern.subn(lambda m: f"{m.group(1)}{value}{m.group(2)}", text)
    if count != 1:
        raise KitError(f"freeswitch_conf/vars.xml: expected one setting of {name}, found {count}")
    return patched


def add_var(text: str, name: str, value: str) -> str:
    """``text`` (vars.xml) with a new ``set`` of ``name`` before ``</include>``."""
    line = f'  <X-PRE-PROCESS cmd="set" data="{name}={value}"/>\n'
    if "</include>" not in text:
        raise KitError("freeswitch_conf/vars.xml: no </include>")
    return text.replace("</include>", line + "</include>", 1)


def build_overlay(root: Path, phone: str, conf_dir: Path = REPO / "freeswitch_conf") -> Path:
    """Copy the shipped configuration under ``root`` with the load overlay applied; the conf folder."""
    conf = root / "conf"
    dialplans = root / "dialplans"
    shutil.copytree(conf_dir, conf)
    shutil.copytree(conf_dir.parent / "dialplans", dialplans)
    text = (conf / "vars.xml").read_text(encoding="utf-8")
    for name, value in LOAD_VARS.items():
        text = set_var(text, name, value)
    text = set_var(text, "hotline_dialplan_dir", str(dialplans))
    text = add_var(text, "load_phone", phone)
    text = add_var(text, "load_baseline_number", BASELINE_NUMBER)
    (conf / "vars.xml").write_text(text, encoding="utf-8")
    public = (dialplans / "public.xml").read_text(encoding="utf-8")
    if public.count("</context>") != 1:
        raise KitError("dialplans/public.xml: expected one </context> to add the baseline's route to")
    (dialplans / "public.xml").write_text(public.replace("</context>", BASELINE_ROUTE + "  </context>"), "utf-8")
    shutil.copy(HERE / "overlay" / "load.xml", dialplans / "load.xml")
    return conf


def vars_value(conf: Path, name: str) -> str:
    """A value set in ``conf``/vars.xml."""
    match = re.search(rf'cmd="set" data="{re.escape(name)}=([^"]*)"', (conf / "vars.xml").read_text("utf-8"))
    if not match:
        raise KitError(f"{conf / 'vars.xml'}: does not set {name}")
    return match.group(1)


def vars_port(conf: Path, name: str) -> int:
    """The port in ``conf``/vars.xml's ``name`` (a bare port, or ``host:port``)."""
    value = vars_value(conf, name)
    port = value.rsplit(":", 1)[-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise KitError(f"{conf / 'vars.xml'}: {name}={value!r} is not a port")
    return int(port)


@dataclass(frozen=True)
class Ports:
    """The ports a FreeSWITCH booted on a conf folder takes, as its vars.xml sets them: the event
    socket (TCP), SIP (UDP) and the hotline socket its dialplan hands calls to (TCP)."""

    esl: int
    sip: int
    hotline: int

    @classmethod
    def of(cls, conf: Path) -> Ports:
        return cls(vars_port(conf, "esl_listen_port"), vars_port(conf, "sip_port"), vars_port(conf, "hotline_socket"))

    def busy(self) -> list[int]:
        """The ones already taken on ``HOST`` (another FreeSWITCH, a test run, the load kit)."""
        taken = [port for port in (self.esl, self.hotline) if accepting(port)]
        return taken + ([self.sip] if udp_busy(self.sip) else [])


def accepting(port: int) -> bool:
    """True when something listens on ``HOST``:``port`` (TCP)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def udp_busy(port: int) -> bool:
    """True when ``HOST``:``port`` (UDP) is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def launch(binary: str, conf: Path, root: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``binary`` on the conf folder ``conf``, every writable folder under ``root``, its
    console output in ``log``; does not wait (see :func:`wait_for`)."""
    args = [binary, "-nonat", "-nf", "-nc", "-conf", str(conf)]
    for name in WRITABLE_DIRS:
        (root / name).mkdir(exist_ok=True)
        args += [f"-{name}", str(root / name)]
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], deadline: float, what: str) -> None:
    """Poll ``check`` until it is true; KitError when FreeSWITCH exits or at ``deadline`` (monotonic)."""
    while not check():
        try:
            code: int | None = proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            raise KitError(f"freeswitch exited with {code} while waiting for {what}")
        if time.monotonic() > deadline:
            raise KitError(f"timed out waiting for {what}")


def sofia_running(esl_api: Callable[[str], str], profile: str = "internal") -> bool:
    """True when ``sofia status`` (through ``esl_api``) shows the SIP profile RUNNING."""
    return bool(re.search(rf"{re.escape(profile)}\s+profile\s.*RUNNING", esl_api("sofia status")))


class Esl:
    """A blocking inbound Event Socket connection for ``api`` commands (no events)."""

    def __init__(self, port: int, password: str, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buffer = b""
        self._frame()  # auth/request
        self.sock.sendall(f"auth {password}\n\n".encode())
        reply = self._frame()[0].get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise KitError(f"FreeSWITCH refused the ESL password: {reply}")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise KitError("FreeSWITCH closed the event socket")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _frame(self) -> tuple[dict[str, str], str]:
        head = self._read_until(b"\n\n").decode("utf-8", "replace")
        headers = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        length = int(headers.get("Content-Length", "0"))
        while len(self.buffer) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise KitError("FreeSWITCH closed the event socket")
            self.buffer += chunk
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return headers, body.decode("utf-8", "replace")

    def api(self, command: str) -> str:
        """The body of ``api <command>``."""
        self.sock.sendall(f"api {command}\n\n".encode())
        while True:
            headers, body = self._frame()
            if headers.get("Content-Type") == "api/response":
                return body

    def close(self) -> None:
        self.sock.close()


class FreeSwitch:
    """FreeSWITCH booted on an overlay conf folder; every writable folder under ``root``."""

    def __init__(self, binary: str, conf: Path, root: Path, boot_seconds: float = 60.0) -> None:
        self.conf = conf
        self.ports = Ports.of(conf)
        self.esl_port = self.ports.esl
        self.password = vars_value(conf, "esl_password")
        busy = self.ports.busy()
        if busy:
            raise KitError(f"ports already in use on {HOST}: {busy} (another FreeSWITCH or test run?)")
        self.log = root / "freeswitch.stdout.txt"
        self.proc = launch(binary, conf, root, self.log)
        deadline = time.monotonic() + boot_seconds
        try:
            wait_for(lambda: accepting(self.esl_port), self.proc, deadline, "the event socket")
            self.esl = Esl(self.esl_port, self.password)
            wait_for(lambda: sofia_running(self.esl.api), self.proc, deadline, "the SIP profile 'internal'")
        except KitError as error:
            self.stop()
            raise KitError(f"{error}; see {self.log}") from None

    def channels(self) -> int:
        """Channels FreeSWITCH holds now (``show channels count``)."""
        text = self.esl.api("show channels count")
        match = re.search(r"(\d+) total", text)
        if not match:
            raise KitError(f"unexpected reply to show channels count: {text.strip()[:80]}")
        return int(match.group(1))

    def channel_apps(self) -> dict[str, int]:
        """Channels by their current application (``socket``, ``park``, ``playback``...)."""
        counts: dict[str, int] = {}
        for line in self.esl.api("show channels as delim |").splitlines()[1:]:
            fields = line.split("|")
            if len(fields) > 10:
                app = fields[10] or "-"
                counts[app] = counts.get(app, 0) + 1
        return counts

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the freeswitch process, from /proc."""
        return process_cpu(self.proc.pid)

    def stop(self) -> None:
        """Shut FreeSWITCH down (fsctl shutdown, then terminate, then kill)."""
        if self.proc.poll() is None:
            try:
                self.esl.api("fsctl shutdown")
            except (AttributeError, OSError, KitError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the full line)
    return ticks / _CLOCK_TICKS


class CallWatch(threading.Thread):
    """Follows the load callers' channels on an event connection of its own (CHANNEL_CREATE, _BRIDGE).

    A caller is an inbound channel whose caller ID number starts with ``prefix`` (the SIPp callers'
    From). ``bridged`` holds the callers that were bridged to anything (an agent leg): the kit's
    "reached an agent", counted the same way for the baseline and for hotline.
    """

    def __init__(self, port: int, password: str, prefix: str = "1390") -> None:
        super().__init__(daemon=True, name="call-watch")
        self.esl = Esl(port, password)
        self.prefix = prefix
        self.lock = threading.Lock()
        self.callers: dict[str, float] = {}  # caller channel UUID -> created (monotonic)
        self.bridged: dict[str, float] = {}  # caller channel UUID -> first bridge (monotonic)
        self.esl.sock.sendall(b"event plain CHANNEL_CREATE CHANNEL_BRIDGE\n\n")
        self.stopped = False

    def run(self) -> None:
        self.esl.sock.settimeout(None)
        try:
            while not self.stopped:
                headers, body = self.esl._frame()
                if headers.get("Content-Type") == "text/event-plain":
                    self._event(dict(line.split(": ", 1) for line in body.splitlines() if ": " in line))
        except (OSError, KitError):
            return

    def _event(self, event: dict[str, str]) -> None:
        name = event.get("Event-Name")
        now = time.monotonic()
        with self.lock:
            if name == "CHANNEL_CREATE":
                number = unquote(event.get("Caller-Caller-ID-Number", ""))
                if event.get("Call-Direction") == "inbound" and number.startswith(self.prefix):
                    self.callers[event.get("Unique-ID", "")] = now
            elif name == "CHANNEL_BRIDGE":
                for key in ("Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Unique-ID"):
                    uuid = event.get(key, "")
                    if uuid in self.callers and uuid not in self.bridged:
                        self.bridged[uuid] = now

    def reset(self) -> None:
        with self.lock:
            self.callers.clear()
            self.bridged.clear()

    def counts(self) -> tuple[int, int]:
        """(caller channels seen, callers bridged) since the last reset."""
        with self.lock:
            return len(self.callers), len(self.bridged)

    def stop(self) -> None:
        self.stopped = True
        self.esl.close()
