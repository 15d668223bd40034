"""Outbound socket sessions driven by simulated callers, and the fallback when hotline is down."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.emulator import Caller, Emulator, Phone
from engine.esl import codec
from tests.test_emulator_fidelity import Client, OutboundListener


@pytest.fixture
def hotline() -> Iterator[OutboundListener]:
    listener = OutboundListener()
    yield listener
    listener.stop()


def run(session: Client, app: str, arg: str = "", uuid: str = "") -> codec.Event:
    """Execute ``app`` and return its CHANNEL_EXECUTE_COMPLETE (matched by Application-UUID)."""
    app_uuid = uuid or f"{app}-{id(session)}-{arg}"[:60]
    assert session.command(codec.execute(app, arg, event_uuid=app_uuid)).reply_text == "+OK"
    frames = session.read_until(
        lambda f: (
            f.content_type == "text/event-plain"
            and codec.parse_event(f).name == "CHANNEL_EXECUTE_COMPLETE"
            and codec.parse_event(f).get("Application-UUID") == app_uuid
        )
    )
    return codec.parse_event(frames[-1])


def test_caller_session_collects_digits_speech_and_bridges_to_an_agent(hotline: OutboundListener) -> None:
    emu = Emulator(time_scale=0.01, dialplan={"100": f"socket 127.0.0.1:{hotline.port} async full"})
    emu.start()
    try:
        emu.phones["1001"] = Phone("1001", answer_delay=0.5)
        uuid = emu.place_call(Caller("13800138000", script=["12#", "say:billing"], talk_seconds=2), "100")
        session = hotline.next()
        data = session.command("connect\n\n")
        assert data.headers["Unique-ID"] == uuid
        assert data.headers["Caller-Caller-ID-Number"] == "13800138000"
        assert session.command("myevents\n\n").reply_text == "+OK Events Enabled"
        assert session.command("linger\n\n").reply_text == "+OK will linger"
        run(session, "answer")
        done = run(session, "play_and_get_digits", r"1 4 3 5000 # prompt.wav invalid.wav choice \d+ 2000")
        assert done.variable("choice") == "12"
        assert session.command(f"api uuid_getvar {uuid} choice\n\n").body == "12"
        run(session, "detect_speech", "unimrcp grammar.xml billing")
        speech = session.read_until(lambda f: "DETECTED_SPEECH" in f.body)
        assert '<input mode="speech">billing</input>' in codec.parse_event(speech[-1]).body
        bridge = run(session, "bridge", "user/1001")
        assert bridge.variable("originate_disposition") == "SUCCESS"
        assert bridge.get("Hangup-Cause") == "NORMAL_CLEARING"  # the bridge ended because the caller left
        leg = next(e for e in emu.events if e.name == "CHANNEL_BRIDGE" and e.uuid == uuid)
        agent = leg.get("Bridge-B-Unique-ID")
        # the caller talks 2 s then hangs up: the agent leg is hung up too, the session is told and lingers
        rest = session.read_until(lambda f: f.content_type == "text/disconnect-notice")
        names = [codec.parse_event(f).name for f in rest if f.content_type == "text/event-plain"]
        assert names[-1] == "CHANNEL_HANGUP_COMPLETE"
        emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == agent)
        assert session.command("api uuid_exists " + uuid + "\n\n").body == "false"
    finally:
        emu.stop()


def test_agent_hanging_up_first_returns_the_caller_to_hotline(hotline: OutboundListener) -> None:
    emu = Emulator(time_scale=0.01, dialplan={"100": f"socket 127.0.0.1:{hotline.port} async full"})
    emu.start()
    try:
        emu.phones["1002"] = Phone("1002", answer_delay=0.1, talk_seconds=1)
        uuid = emu.place_call(Caller("555"), "100")
        session = hotline.next()
        session.command("connect\n\n")
        session.command("myevents\n\n")
        bridge = run(session, "bridge", "user/1002")
        assert bridge.get("Application-Response") == "_none_"
        assert emu.channels[uuid].alive  # hangup_after_bridge defaults to false
        assert run(session, "hangup", "NORMAL_CLEARING").get("Hangup-Cause") == "NORMAL_CLEARING"
        notice = session.read_until(lambda f: f.content_type == "text/disconnect-notice")[-1]
        assert notice.body.startswith("Disconnected")  # no linger: plain notice, then the socket closes
        assert session.closed()
    finally:
        emu.stop()


@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [
        ("busy", "USER_BUSY"),
        ("reject", "CALL_REJECTED"),
        ("unregistered", "USER_NOT_REGISTERED"),
        ("no_answer", "NO_ANSWER"),
    ],
)
def test_bridge_failures_set_originate_disposition(hotline: OutboundListener, behaviour: str, cause: str) -> None:
    emu = Emulator(time_scale=0.01, dialplan={"100": f"socket 127.0.0.1:{hotline.port} async full"})
    emu.start()
    try:
        emu.phones["1003"] = Phone("1003", answer_delay=0.1, behaviour=behaviour)
        emu.place_call(Caller("555"), "100")
        session = hotline.next()
        session.command("connect\n\n")
        session.command("myevents\n\n")
        run(session, "set", "call_timeout=2")
        assert run(session, "bridge", "user/1003").variable("originate_disposition") == cause
    finally:
        emu.stop()


def test_refused_socket_falls_back_to_message_and_voicemail(tmp_path: Path) -> None:
    box = tmp_path / "vm.wav"
    emu = Emulator(
        time_scale=0.01,
        dialplan={"100": "socket 127.0.0.1:1 async full"},
        fallback=[("answer", ""), ("playback", "sorry.wav"), ("record", f"{box} 30")],
    )
    emu.start()
    try:
        uuid = emu.place_call(Caller("555"), "100")
        emu.wait_for(lambda e: e.name == "CHANNEL_DESTROY" and e.uuid == uuid)
        apps = [e.get("Application") for e in emu.events if e.name == "CHANNEL_EXECUTE" and e.uuid == uuid]
        assert apps == ["socket", "answer", "playback", "record"]
        with wave.open(str(box)) as wav:
            assert wav.getnframes() > 0
    finally:
        emu.stop()


def test_patience_runs_out_before_an_agent_answers(hotline: OutboundListener) -> None:
    emu = Emulator(time_scale=0.01, dialplan={"100": [("answer", ""), ("playback", "local_stream://moh")]})
    emu.start()
    try:
        uuid = emu.place_call(Caller("555", patience_seconds=3), "100")
        done = emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "playback")
        assert done.get("Hangup-Cause") == "NORMAL_CLEARING"  # music on hold only ends with the call
        hangup = emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == uuid)
        assert int(hangup.variable("billsec")) == 0  # 3 simulated seconds are 30 ms here
    finally:
        emu.stop()


@pytest.mark.parametrize("resume", [True, False], ids=["resume", "no-resume"])
def test_a_socket_closed_before_taking_the_call_goes_on_only_after_resume(hotline: OutboundListener, resume) -> None:
    """As FreeSWITCH 1.11.1 (tests/test_realfs.py): with ``resume`` the dialplan goes on after ``socket``;
    without it the fallback never runs (FreeSWITCH leaves the caller parked in ``socket``; the emulator
    hangs it up: docs/emulator.md)."""
    fallback = [("set", "hotline_fallback=true"), ("answer", ""), ("hangup", "NORMAL_CLEARING")]
    emu = Emulator(time_scale=0.01, dialplan={"100": [("socket", f"127.0.0.1:{hotline.port} async full"), *fallback]})
    emu.start()
    try:
        uuid = emu.place_call(Caller("13800138000", script=[]), "100")
        session = hotline.next()
        if resume:
            assert session.command("resume\n\n").reply_text == "+OK"
        session.sock.close()
        session.done.set()
        if resume:
            emu.switch.wait_until(lambda: uuid not in emu.channels, timeout=10)
            assert emu.channels == {} and any(e.get("Application-Data") == "hotline_fallback=true" for e in emu.events)
        else:
            emu.switch.wait_until(lambda: uuid not in emu.channels, timeout=10)
            ran = [e.get("Application") for e in emu.events if e.name == "CHANNEL_EXECUTE" and e.uuid == uuid]
            assert ran == ["socket"], ran
    finally:
        emu.stop()
