"""The inbound event socket: auth, subscriptions, filters, bgapi, fault injection."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from engine.emulator import Emulator
from engine.esl import codec
from tests.test_emulator_fidelity import Client


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(password="pw", time_scale=0.01)
    emulator.start()
    yield emulator
    emulator.stop()


def login(emu: Emulator) -> Client:
    client = Client.connect(emu.port)
    client.login("pw")
    return client


def events_until(client: Client, name: str) -> list[codec.Event]:
    frames = client.read_until(lambda f: f.content_type.startswith("text/event") and codec.parse_event(f).name == name)
    return [codec.parse_event(f) for f in frames if f.content_type.startswith("text/event")]


def test_commands_before_auth_are_refused_and_wrong_password_disconnects(emu: Emulator) -> None:
    client = Client.connect(emu.port)
    assert client.read().content_type == "auth/request"
    assert client.command("api status\n\n").reply_text == "-ERR invalid"
    assert client.command(codec.auth("nope")).reply_text == "-ERR invalid"
    assert client.read().content_type == "text/disconnect-notice"
    assert client.closed()


def test_unknown_verb_and_session_only_commands(emu: Emulator) -> None:
    client = login(emu)
    assert client.command("nosuchverb\n\n").reply_text == "-ERR command not found"
    assert client.command("linger\n\n").reply_text == "-ERR not controlling a session"
    assert client.command("event plain\n\n").reply_text == "-ERR no keywords supplied"
    assert client.command("noevents\n\n").reply_text == "-ERR not listening for events"


def test_bgapi_honours_the_clients_job_uuid_and_delivers_the_result(emu: Emulator) -> None:
    client = login(emu)
    client.command(codec.event_subscribe("json", ["BACKGROUND_JOB"]))
    reply = client.command(codec.bgapi("uuid_getvar nope x", job_uuid="job-1"))
    assert reply.reply_text == "+OK Job-UUID: job-1"
    (job,) = events_until(client, "BACKGROUND_JOB")
    assert (job.get("Job-UUID"), job.get("Job-Command"), job.body) == (
        "job-1",
        "uuid_getvar",
        "-ERR No such channel!\n",
    )


def test_filter_nixevent_and_myevents_narrow_the_stream(emu: Emulator) -> None:
    client = login(emu)
    assert client.command("event plain ALL\n\n").reply_text == "+OK event listener enabled plain"
    assert client.command("filter Unique-ID aaaa-1\n\n").reply_text == "+OK filter added. [Unique-ID]=[aaaa-1]"
    assert client.command("nixevent CHANNEL_STATE\n\n").reply_text == "+OK events nixed"
    body = client.command("api originate {origination_uuid=aaaa-1}loopback/park_me &park()\n\n").body
    assert body == "+OK aaaa-1\n"
    client.command("api uuid_kill aaaa-1\n\n")
    got = events_until(client, "CHANNEL_DESTROY")
    assert {e.uuid for e in got} == {"aaaa-1"}
    assert "CHANNEL_STATE" not in {e.name for e in got}
    assert client.command("filter delete all\n\n").reply_text == "+OK filter deleted. [all][(null)]"
    other = login(emu)
    other.command("api originate {origination_uuid=bbbb-2}loopback/park_me &park()\n\n")
    assert other.command("myevents bbbb-2\n\n").reply_text == "+OK Events Enabled"
    other.command("api uuid_kill bbbb-2 USER_BUSY\n\n")
    got = events_until(other, "CHANNEL_HANGUP_COMPLETE")
    assert {e.uuid for e in got} == {"bbbb-2"}
    assert got[-1].get("Hangup-Cause") == "USER_BUSY"


def test_custom_subclasses_are_matched(emu: Emulator) -> None:
    client = login(emu)
    client.command("event plain CUSTOM my::one\n\n")
    emu.switch.fire("CUSTOM", [("Event-Subclass", "my::other")])
    emu.switch.fire("CUSTOM", [("Event-Subclass", "my::one")])
    (event,) = events_until(client, "CUSTOM")
    assert event.get("Event-Subclass") == "my::one"


def test_frozen_api_answers_only_after_thaw(emu: Emulator) -> None:
    client = login(emu)
    emu.freeze_api(True)
    client.send("api status\n\n")
    with pytest.raises(TimeoutError):
        client.read(timeout=0.2)
    emu.freeze_api(False)
    assert client.read().body.startswith("UP ")


def test_drop_connections_and_send_raw(emu: Emulator) -> None:
    client = login(emu)
    emu.send_raw(b"this is no header\n\nContent-Type: text/bogus\n\n")
    assert client.read().content_type == "text/bogus"  # the malformed block came first and was skipped
    emu.drop_connections()
    assert client.closed()
    again = login(emu)
    assert again.command("api uuid_exists x\n\n").body == "false"


def test_restart_gives_a_new_core_uuid_on_the_same_port(emu: Emulator) -> None:
    port, core = emu.port, emu.switch.core_uuid
    assert emu.restart() == port
    assert emu.switch.core_uuid != core
    login(emu).close()
    gevent.idle()
