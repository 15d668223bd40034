"""Re-record the ESL transcripts of ``tests/transcripts/`` from the installed FreeSWITCH.

    python -m tests.record_transcripts OUT_DIR [--freeswitch BINARY]

Boots the installed ``freeswitch`` (never builds one) on a copy of ``freeswitch_conf/`` and
``dialplans/`` with a recording overlay: the event-socket password ``ClueCon`` (the public default the
transcripts were recorded with), SIP calls without authentication, and three extensions in both
contexts: ``9999`` (answer, a 2 s tone, hang up), ``8888`` (``socket`` to the hotline socket of
vars.xml, where this recorder listens) and ``park_me`` (answer, park). Ports come from vars.xml
(:class:`bench.load.switch.Ports`), so run it where they are free, e.g. in a private network namespace:
``unshare -n sh -c 'ip link set lo up && .venv/bin/python -m tests.record_transcripts /tmp/esl'``.

Each scenario of tests/transcripts/README.md is played again and written to ``OUT_DIR`` in the same
format: one JSON object a line, ``{"dir": "send"|"recv", "t": seconds, "frame": "..."}``, a ``recv``
frame being one whole frame (headers, blank line, body). Scenario 09 needs ``sipp`` on PATH; the
``speak`` step of 06 uses mod_flite when loaded, else the shipped mod_tts_commandline. Check the new
files (``HOTLINE_ESL_TRANSCRIPTS=OUT_DIR pytest tests/test_emulator_fidelity.py``) before copying them
into tests/transcripts/, and update its README's version line.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.load import switch as fs
from bench.load.switch import HOST, KitError, Ports

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "ClueCon"
EVENTS_04 = (
    "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_CALLSTATE "
    "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PARK CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB"
)
EXTENSIONS = """
    <extension name="recorder_tone">
      <condition field="destination_number" expression="^9999$">
        <action application="answer"/>
        <action application="playback" data="tone_stream://%(2000,0,440)"/>
        <action application="hangup"/>
      </condition>
    </extension>
    <extension name="recorder_socket">
      <condition field="destination_number" expression="^8888$">
        <action application="socket" data="$${hotline_socket} async full"/>
      </condition>
    </extension>
    <extension name="recorder_park">
      <condition field="destination_number" expression="^park_me$">
        <action application="answer"/>
        <action application="park"/>
      </condition>
    </extension>
"""


class Tap:
    """One ESL connection, every frame sent and received kept with its time since the connection opened."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.start = sock, time.monotonic()
        self.lines: list[dict[str, object]] = []
        self.frames: list[str] = []
        self.closed = threading.Event()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def inbound(cls, port: int, password: str = PASSWORD) -> Tap:
        tap = cls(socket.create_connection((HOST, port), timeout=30))
        tap.wait(lambda f: "auth/request" in f)
        tap.send(f"auth {password}\n\n")
        return tap

    def _log(self, direction: str, frame: str) -> None:
        self.lines.append({"dir": direction, "t": round(time.monotonic() - self.start, 3), "frame": frame})

    def send(self, frame: str) -> None:
        with self._cond:
            self._log("send", frame)
        self.sock.sendall(frame.encode())

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                while (end := buffer.find(b"\n\n")) < 0:
                    if not (chunk := self.sock.recv(65536)):
                        return
                    buffer += chunk
                head = buffer[: end + 2]
                length = int(m.group(1)) if (m := re.search(rb"Content-Length: (\d+)", head)) else 0
                while len(buffer) < end + 2 + length:
                    if not (chunk := self.sock.recv(65536)):
                        return
                    buffer += chunk
                frame, buffer = buffer[: end + 2 + length].decode(), buffer[end + 2 + length :]
                with self._cond:
                    self._log("recv", frame)
                    self.frames.append(frame)
                    self._cond.notify_all()
        except OSError:
            return
        finally:
            self.closed.set()
            with self._cond:
                self._cond.notify_all()

    def wait(self, match: Callable[[str], bool], timeout: float = 30.0, after: int = 0) -> str:
        """The first received frame (from index ``after``) for which ``match`` is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((f for f in self.frames[after:] if match(f)), None)
                if found is not None:
                    return found
                if self.closed.is_set() or time.monotonic() > deadline:
                    raise KitError(f"no frame as expected within {timeout:g} s; last: {self.frames[-1:]!r}")
                self._cond.wait(deadline - time.monotonic())

    def command(self, frame: str) -> str:
        """Send a command and wait for its reply (the next ``command/reply`` or ``api/response``)."""
        mark = len(self.frames)
        self.send(frame)
        return self.wait(lambda f: "Content-Type: command/reply" in f or "Content-Type: api/response" in f, after=mark)

    def at(self, seconds: float) -> None:
        """Wait until ``seconds`` after the connection opened (the recorded pacing)."""
        time.sleep(max(0.0, self.start + seconds - time.monotonic()))

    def execute(self, app: str, arg: str = "", event_uuid: str = "", complete: bool = True) -> None:
        """``sendmsg`` execute; waits for its CHANNEL_EXECUTE_COMPLETE (or the channel's end)."""
        mark = len(self.frames)
        frame = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
        frame += f"execute-app-arg: {arg}\n" if arg else ""
        frame += f"Event-UUID: {event_uuid}\n" if event_uuid else ""
        self.send(frame + "\n")
        if complete:
            done = f"Application: {app}"
            self.wait(lambda f: ("CHANNEL_EXECUTE_COMPLETE" in f and done in f) or "disconnect-notice" in f, after=mark)

    def finish(self, linger: float = 30.0) -> None:
        """Wait for FreeSWITCH to close the connection, then close ours."""
        self.closed.wait(linger)
        self.sock.close()

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(line) + "\n" for line in self.lines), encoding="utf-8")


class Listener:
    """The hotline socket of vars.xml: accepts FreeSWITCH's outbound-socket connections as Taps."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server((HOST, port))

    def accept(self, timeout: float = 30.0) -> Tap:
        self.server.settimeout(timeout)
        sock, _ = self.server.accept()
        sock.settimeout(None)
        return Tap(sock)


def scenario_01_02(ports: Ports, out: Path) -> None:
    ok = Tap.inbound(ports.esl)
    ok.wait(lambda f: "Reply-Text: +OK accepted" in f)
    ok.send("exit\n\n")
    ok.finish(5)
    ok.write(out / "01_auth_ok.jsonl")
    bad = Tap.inbound(ports.esl, "wrong-password")
    bad.finish(5)
    bad.write(out / "02_auth_bad_password.jsonl")


def scenario_03(ports: Ports, out: Path) -> None:
    tap = Tap.inbound(ports.esl)
    nobody = "00000000-0000-0000-0000-000000000000"
    for second, command in enumerate((
        "api version", "api status", "api show channels as json", "api show calls as json", "api nosuchcommand",
        f"api uuid_kill {nobody}", f"api uuid_getvar {nobody} foo", "api sofia status", "api originate",
        "bgapi status", "nosuchverb",
    )):  # fmt: skip
        tap.at(second)  # as recorded: a command a second
        tap.send(f"{command}\n\n")
    tap.at(11.0)
    tap.send("exit\n\n")
    tap.finish(5)
    tap.write(out / "03_api_commands.jsonl")


def scenario_04(ports: Ports, out: Path, fmt: str) -> None:
    tap = Tap.inbound(ports.esl)
    tap.command(f"event {fmt} {EVENTS_04}\n\n")
    tap.send("bgapi originate {origination_caller_id_number=13800138000,hotline_test=yes}loopback/9999 &park()\n\n")
    tap.at(4.0)  # as recorded: the tone has played, the legs' events are in
    tap.send("api show channels as json\n\n")
    tap.at(5.0)
    tap.send("api hupall NORMAL_CLEARING\n\n")
    tap.at(8.0)
    tap.send("exit\n\n")
    tap.finish(5)
    tap.write(out / f"04_events_{fmt}_originate_loopback.jsonl")


def scenario_06(ports: Ports, out: Path, listener: Listener, speak: str) -> None:
    control = Tap.inbound(ports.esl)
    control.wait(lambda f: "+OK accepted" in f)
    control.send("bgapi originate {origination_caller_id_number=13900139000}loopback/8888 &park()\n\n")
    call = listener.accept()
    for command in ("connect", "myevents", "linger", "event plain DTMF CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE"):
        call.command(f"{command}\n\n")
    data = call.wait(lambda f: "\nUnique-ID: " in f)
    channel = data.split("\nUnique-ID: ", 1)[1].split()[0]
    peer = data.split("variable_other_loopback_leg_uuid: ", 1)[1].split()[0]  # the loopback's other leg
    call.execute("answer", event_uuid="11111111-1111-1111-1111-111111111111")
    call.execute("playback", "tone_stream://%(300,0,440)", "22222222-2222-2222-2222-222222222222")
    call.execute(
        "play_and_get_digits",
        r"1 2 1 4000 # silence_stream://200 silence_stream://200 menu_choice \d+ 1000",
        "33333333-3333-3333-3333-333333333333",
        complete=False,
    )
    control.send(f"api uuid_send_dtmf {peer} 42#\n\n")
    call.wait(lambda f: "CHANNEL_EXECUTE_COMPLETE" in f and "Application: play_and_get_digits" in f)
    call.execute("set", "hotline_flow=main")
    call.execute("speak", f"{speak}|Hello")
    call.execute("record", "/tmp/hotline_rec_test.wav 1 200 1")
    call.execute("nosuch_app", "x")  # FreeSWITCH hangs the channel up (DESTINATION_OUT_OF_ORDER)
    call.send(f"api uuid_getvar {channel} hotline_flow\n\n")
    time.sleep(0.5)
    call.execute("hangup", "NORMAL_CLEARING", complete=False)
    call.finish()
    control.send("exit\n\n")
    control.finish(5)
    call.write(out / "06_outbound_socket_session.jsonl")
    control.write(out / "06_outbound_socket_session_control.jsonl")


def scenario_07(ports: Ports, out: Path, listener: Listener) -> None:
    control = Tap.inbound(ports.esl)
    events = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB"
    control.send(f"event plain {events}\n\n")
    control.send("bgapi originate {origination_caller_id_number=13700137000}loopback/8888 &park()\n\n")
    call = listener.accept()
    for command in ("connect", "myevents", "linger 5"):
        call.command(f"{command}\n\n")
    call.execute("answer")
    call.execute("bridge", "{origination_caller_id_name=agent}loopback/9999", complete=False)
    call.finish()  # the bridged leg's tone ends, the channel hangs up, the lingering socket closes
    time.sleep(1.0)
    control.send("exit\n\n")
    control.finish(5)
    call.write(out / "07_outbound_bridge.jsonl")
    control.write(out / "07_outbound_bridge_control.jsonl")


def scenario_08(ports: Ports, out: Path) -> None:
    tap = Tap.inbound(ports.esl)
    events = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PARK CHANNEL_HANGUP_COMPLETE"
    tap.send(f"event plain {events} BACKGROUND_JOB RECORD_START RECORD_STOP\n\n")
    a, b = "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"
    for second, command in (  # as recorded
        (0.0, f"api originate {{origination_uuid={a},origination_caller_id_number=100}}loopback/park_me &park()"),
        (1.0, f"api originate {{origination_uuid={b},origination_caller_id_number=200}}loopback/park_me &park()"),
        (2.0, f"api uuid_bridge {a} {b}"),
        (3.0, f"api uuid_record {a} start /tmp/hotline_uuid_record.wav"),
        (4.5, f"api uuid_record {a} stop /tmp/hotline_uuid_record.wav"),
        (5.5, f"api uuid_setvar {a} hotline_agent 1001"),
        (5.8, f"api uuid_getvar {a} hotline_agent"),
        (6.1, f"sendmsg {b}\ncall-command: hangup\nhangup-cause: USER_BUSY"),
        (9.1, "api hupall"),
        (11.1, "exit"),
    ):
        tap.at(second)
        tap.send(f"{command}\n\n")
    tap.finish(5)
    tap.write(out / "08_inbound_control_of_parked_calls.jsonl")


def scenario_09(ports: Ports, out: Path, listener: Listener, work: Path) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        print("09_outbound_sip_caller: skipped (no sipp on PATH)", file=sys.stderr)
        return
    args = [sipp, "-sn", "uac", "-s", "8888", f"{HOST}:{ports.sip}", "-m", "1", "-d", "4000", "-i", HOST]
    caller = subprocess.Popen(
        [*args, "-p", "5071", "-nostdin"],
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    call = listener.accept()
    for command in ("connect", "myevents", "linger"):
        call.command(f"{command}\n\n")
    call.execute("answer", event_uuid="44444444-4444-4444-4444-444444444444")
    call.execute("playback", "tone_stream://%(500,0,440)", "55555555-5555-5555-5555-555555555555")
    call.finish()  # the caller's BYE ends it
    caller.wait(30)
    call.write(out / "09_outbound_sip_caller.jsonl")


def overlay(root: Path) -> Path:
    """The shipped configuration copied under ``root`` with the recording overlay; the conf folder."""
    conf, dialplans = root / "conf", root / "dialplans"
    shutil.copytree(REPO / "freeswitch_conf", conf)
    shutil.copytree(REPO / "dialplans", dialplans)
    text = (conf / "vars.xml").read_text(encoding="utf-8")
    for name, value in {
        "esl_password": PASSWORD,
        "sip_auth_calls": "false",
        "hotline_dialplan_dir": str(dialplans),
    }.items():
        text = fs.set_var(text, name, value)
    (conf / "vars.xml").write_text(text, encoding="utf-8")
    for name in ("default", "public"):
        path = dialplans / f"{name}.xml"
        opening = f'<context name="{name}">'
        path.write_text(path.read_text(encoding="utf-8").replace(opening, opening + EXTENSIONS, 1), "utf-8")
    return conf


def record(out: Path, binary: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hotline-record-") as folder:
        root = Path(folder)
        conf = overlay(root)
        ports = Ports.of(conf)
        if busy := ports.busy():
            raise KitError(f"ports in use (vars.xml): {busy}; run in a private network namespace")
        proc = fs.launch(binary, conf, root, root / "freeswitch.stdout.txt")
        try:
            deadline = time.monotonic() + 60
            fs.wait_for(lambda: fs.accepting(ports.esl), proc, deadline, "the event socket")
            esl = fs.Esl(ports.esl, PASSWORD)
            fs.wait_for(lambda: fs.sofia_running(esl.api), proc, deadline, "the SIP profile 'internal'")
            speak = "flite|kal" if esl.api("module_exists mod_flite").strip() == "true" else "tts_commandline|en"
            version = esl.api("version").strip()
            listener = Listener(ports.hotline)
            scenario_01_02(ports, out)
            scenario_03(ports, out)
            for fmt in ("plain", "json"):
                scenario_04(ports, out, fmt)
            scenario_06(ports, out, listener, speak)
            scenario_07(ports, out, listener)
            scenario_08(ports, out)
            scenario_09(ports, out, listener, root)
            print(f"recorded from {version} into {out}")
            esl.api("fsctl shutdown")
        except (KitError, OSError) as error:
            code = proc.poll()
            state = f"exited {code}" if code is not None else "running"
            shutil.copy(root / "log" / "freeswitch.log", out / "freeswitch.log")
            raise KitError(f"{error} (freeswitch {state}; its log: {out / 'freeswitch.log'})") from None
        finally:
            for stop in (lambda: None, proc.terminate, proc.kill):  # after fsctl shutdown: wait, then insist
                stop()
                try:
                    proc.wait(20)
                    break
                except subprocess.TimeoutExpired:
                    continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("out", type=Path, help="folder to write the .jsonl transcripts into")
    parser.add_argument("--freeswitch", default=shutil.which("freeswitch"), help="the installed binary")
    args = parser.parse_args(argv)
    if not args.freeswitch:
        print("record_transcripts: no freeswitch binary on PATH (give --freeswitch)", file=sys.stderr)
        return 2
    try:
        record(args.out, args.freeswitch)
    except (KitError, OSError, subprocess.SubprocessError) as error:
        print(f"record_transcripts: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
