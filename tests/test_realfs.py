"""Boot a real FreeSWITCH with freeswitch_conf/ unchanged and talk to it over the Event Socket
with hotline's own transport."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from gevent.queue import Queue

from engine.esl import codec
from engine.metrics import Metrics
from engine.runtime.admission import Admission, Limits, Load
from engine.transport import AuthenticationFailed, Connection, InboundClient, OutboundServer
from tests.esl_filters import CASES, filtered_jobs, new_ids
from tests.real_freeswitch import BOOT_SECONDS, CONF_DIR, ESL_PORT, HOST, esl_connect, poll, vars_value

pytestmark = pytest.mark.realfs


@pytest.fixture
def esl(freeswitch: subprocess.Popen[bytes]) -> Iterator[Connection]:
    client = esl_connect()
    yield client
    client.close()


def test_wrong_password_is_refused(freeswitch: subprocess.Popen[bytes]) -> None:
    client = InboundClient(HOST, ESL_PORT, "ClueCon", ["BACKGROUND_JOB"])
    with pytest.raises(AuthenticationFailed, match=r"refused the event-socket password \(-ERR invalid\)"):
        client.connect_once()


def test_status_is_up(esl: Connection) -> None:
    assert "UP" in esl.api("status")


def test_internal_profile_runs_on_loopback(esl: Connection, freeswitch: subprocess.Popen[bytes]) -> None:
    def running() -> bool:
        return bool(re.search(r"internal\s+profile\s+\S+\s+RUNNING", esl.api("sofia status")))

    poll(running, time.monotonic() + BOOT_SECONDS, freeswitch, "sofia profile internal RUNNING")
    info = esl.api("sofia xmlstatus profile internal")
    profile_info = ET.fromstring(info).find("profile-info")
    assert profile_info is not None
    assert profile_info.findtext("sip-ip") == HOST
    assert profile_info.findtext("rtp-ip") == HOST


def test_all_configured_modules_loaded(esl: Connection) -> None:
    tree = ET.parse(CONF_DIR / "autoload_configs" / "modules.conf.xml")
    for load in tree.iter("load"):
        module = load.get("module", "")
        assert esl.api(f"module_exists {module}").strip() == "true", module


def test_hotline_unreachable_falls_back_to_voicemail(esl: Connection) -> None:
    """With nothing on the hotline socket, a caller still reaches voicemail and leaves a message."""
    number, box = vars_value("hotline_number"), vars_value("hotline_voicemail_box")
    mailbox = f"{box}@{vars_value('domain')}"
    watcher = esl_connect(("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "RECORD_START", "CHANNEL_HANGUP_COMPLETE"))
    events: Queue = Queue()
    watcher.register_handle("*", events.put)
    executed: list[str] = []
    played: dict[str, str] = {}  # file -> FreeSWITCH's playback result
    try:
        caller = "{origination_caller_id_number=5550100}"
        reply = esl.api(f"originate {caller}loopback/{number}/default &park()")
        assert reply.startswith("+OK"), reply
        caller_uuid = reply.split()[1]
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"fallback did not finish within 60 s, ran {executed}"
            event = events.get(timeout=max(0.0, deadline - time.monotonic())).headers
            if not event.get("Channel-Name", "").endswith(f"{number}-b"):
                continue
            name = event.get("Event-Name")
            if name == "CHANNEL_EXECUTE":
                executed.append(event.get("Application", ""))
            elif name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application") == "playback":
                played[event.get("Application-Data", "")] = event.get("Application-Response", "")
            elif name == "RECORD_START":
                # the caller "speaks" for a few seconds, then falls silent: voicemail keeps it
                esl.api(f"uuid_broadcast {caller_uuid} tone_stream://%(4000,0,440) aleg")
            elif name == "CHANNEL_HANGUP_COMPLETE":
                break
    finally:
        watcher.close()
        esl.api("hupall NORMAL_CLEARING")
    assert executed[:2] == ["set", "socket"]  # the hang-up hook (engine/runtime/ended_calls.py), then the socket
    assert executed.index("answer") < executed.index("playback") < executed.index("bridge")
    assert "speak" not in executed  # the messages were rendered once (scripts/render_prompts.sh)
    prompts = CONF_DIR / "prompts"
    assert played[f"{prompts}/fallback.wav"] == played[f"{prompts}/voicemail.wav"] == "FILE PLAYED", played
    assert executed.index("bridge") < executed.index("voicemail")
    messages = esl.api(f"vm_list {mailbox}").splitlines()
    # vm_list fields: created:read:user:domain:folder:path:uuid:cid_name:cid_number:seconds
    assert any(line.split(":")[8] == "5550100" for line in messages if line.count(":") == 9), messages


@pytest.mark.parametrize(("what", "filters", "expected"), CASES, ids=[case[0] for case in CASES])
def test_event_filters_as_the_emulator_models_them(
    freeswitch: subprocess.Popen[bytes], what, filters, expected
) -> None:
    """The emulator's filter rule (tests/test_emulator_connection.py) is FreeSWITCH's."""
    ids = new_ids()
    assert filtered_jobs(HOST, ESL_PORT, vars_value("esl_password"), filters(ids), ids) == expected, what


def test_filter_and_nixevent_replies(esl: Connection) -> None:
    """The replies the emulator and tests/test_transport_outbound.py's scripted peer give."""
    assert esl.send_frame(codec.command("nixevent CHANNEL_STATE TALK")).reply_text == "+OK events nixed"
    assert esl.send_frame(codec.event_filter("Job-UUID", "a")).reply_text == "+OK filter added. [Job-UUID]=[a]"
    assert esl.send_frame(codec.command("filter Job-UUID")).reply_text == "-ERR invalid syntax"
    assert (
        esl.send_frame(codec.command("filter delete job-uuid a")).reply_text == "+OK filter deleted. [job-uuid][a]"
    )  # sic: no "=" (FreeSWITCH 1.11.1)


def test_a_call_turned_away_by_admission_runs_the_fallback(esl: Connection) -> None:
    """Closing the outbound socket before the handshake, after ``resume``, hands the call back to the dialplan's
    fallback (without ``resume`` FreeSWITCH 1.11.1 leaves the caller parked in ``socket``)."""
    number = vars_value("hotline_number")
    host, port = vars_value("hotline_socket").split(":")
    metrics = Metrics()
    behind = Admission(lambda: Load(9.0, 0, 0, 0.0), Limits(0.5, 50, 200, 2.0), metrics)  # a loop 9 s late
    server = OutboundServer(host, int(port), lambda call: None, metrics=metrics, admit=behind)
    server.start()
    watcher = esl_connect(("CHANNEL_EXECUTE",))
    events: Queue = Queue()
    watcher.register_handle("*", events.put)
    try:
        caller = "{origination_caller_id_number=5550101}"
        esl.send_frame(codec.bgapi("originate", f"{caller}loopback/{number}/default", "&park()"))
        deadline, executed = time.monotonic() + 20, []
        while ("set", "hotline_fallback=true") not in executed:
            assert time.monotonic() < deadline, f"no fallback within 20 s; ran {executed}"
            event = events.get(timeout=max(0.0, deadline - time.monotonic())).headers
            if event.get("Channel-Name", "").endswith(f"{number}-b"):
                executed.append((event.get("Application", ""), event.get("Application-Data", "")))
    finally:
        watcher.close()
        esl.api("hupall NORMAL_CLEARING")
        server.stop()
    assert [app for app, _ in executed[:2]] == ["set", "socket"]  # the hang-up hook, then the socket
    assert metrics.value("hotline_calls_turned_away_total", reason="loop_lag") == 1


def test_park_timeout_hangs_up_a_parked_leg_nobody_took(esl: Connection) -> None:
    """What every offer leg relies on (engine/runtime/acd_shell.py): FreeSWITCH itself hangs up an answered
    leg left in park, with the cause given; a leg without it stays. The emulator does the same
    (tests/test_emulator_originate.py)."""
    watcher = esl_connect(("CHANNEL_HANGUP_COMPLETE",))
    ended: Queue = Queue()
    watcher.register_handle("CHANNEL_HANGUP_COMPLETE", ended.put)
    timed, kept = (str(uuid.uuid4()) for _ in range(2))
    try:
        for leg, extra in ((timed, ",park_timeout=1:ALLOTTED_TIMEOUT"), (kept, "")):
            reply = esl.api(f"originate {{origination_uuid={leg}{extra}}}loopback/9999/default &park()")
            assert reply.startswith("+OK"), reply
        event = ended.get(timeout=10)
        while event.uuid != timed:
            event = ended.get(timeout=10)
        assert event.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"
        assert esl.api(f"uuid_exists {kept}").strip() == "true"
    finally:
        esl.api(f"uuid_kill {kept}")
        watcher.close()
