"""api commands over a real socket: originate results, uuid_* control, show, eavesdrop."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.emulator import Emulator, Phone
from tests.test_emulator_fidelity import Client


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.01)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Client]:
    client = Client.connect(emu.port)
    client.login()
    yield client
    client.close()


def call(client: Client, cmd: str) -> str:
    return client.command(f"api {cmd}\n\n").body


@pytest.mark.parametrize(
    ("phone", "result"),
    [
        (Phone("1", behaviour="busy", answer_delay=0.1), "-ERR USER_BUSY\n"),
        (Phone("1", behaviour="reject", answer_delay=0.1), "-ERR CALL_REJECTED\n"),
        (Phone("1", behaviour="no_answer"), "-ERR NO_ANSWER\n"),
        (Phone("1", behaviour="unregistered"), "-ERR USER_NOT_REGISTERED\n"),
    ],
)
def test_originate_failures(emu: Emulator, api: Client, phone: Phone, result: str) -> None:
    emu.phones["1"] = phone
    timeout = 5 if phone.behaviour == "no_answer" else 300  # a phone's own answer must win the race on a busy machine
    assert call(api, f"originate {{originate_timeout={timeout}}}user/1 &park()") == result


def test_originate_error_endpoint_and_unknown_user(api: Client) -> None:
    assert call(api, "originate error/user_busy &park()") == "-ERR USER_BUSY\n"
    assert call(api, "originate user/nobody &park()") == "-ERR USER_NOT_REGISTERED\n"


def test_originate_to_a_phone_then_control_it(emu: Emulator, api: Client) -> None:
    emu.phones["1001"] = Phone("1001", answer_delay=1)
    assert call(api, "originate {origination_uuid=u-1,agent=yes}user/1001 &park()") == "+OK u-1\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "u-1")
    assert call(api, "uuid_exists u-1") == "true"
    assert call(api, "uuid_getvar u-1 agent") == "yes"
    assert call(api, "uuid_getvar u-1 unset_thing") == "_undef_"
    assert call(api, "uuid_setvar u-1 agent") == "+OK\n"
    assert call(api, "uuid_getvar u-1 agent") == "_undef_"
    rows = json.loads(call(api, "show channels as json"))
    assert rows["row_count"] == 1
    assert rows["rows"][0]["uuid"] == "u-1"
    assert rows["rows"][0]["name"] == "sofia/internal/1001@127.0.0.1"
    assert call(api, "uuid_hold u-1") == "+OK Success\n"
    assert emu.channels["u-1"].callstate == "HELD"
    assert call(api, "uuid_hold u-1") == "-ERR Operation failed\n"  # already held
    assert call(api, "uuid_hold off u-1") == "+OK Success\n"
    assert emu.channels["u-1"].callstate == "UNHELD"
    assert call(api, "uuid_hold off u-1") == "-ERR Operation failed\n"  # not held
    assert call(api, "uuid_hold toggle u-1") == "+OK Success\n"
    assert call(api, "uuid_hold toggle u-1") == "+OK Success\n"
    assert [e.name for e in emu.events if e.name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD")] == [
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
    ]
    assert call(api, "uuid_hold no-such-uuid") == "+OK Success\n"  # switch_ivr_hold_uuid finds nothing: success
    assert call(api, "uuid_hold") == "-USAGE: [off|toggle] <uuid> [<display>]\n-ERR Operation failed\n"
    with pytest.raises(ValueError, match="not a live SIP channel"):
        emu.press_hold("no-such-uuid")
    assert call(api, "uuid_broadcast u-1 hello.wav") == "+OK Message sent\n"
    done = emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "playback")
    assert done.get("Application-Response") == "FILE PLAYED"
    assert call(api, "uuid_kill u-1 CALL_REJECTED") == "+OK\n"
    end = emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == "u-1")
    assert end.get("Hangup-Cause") == "CALL_REJECTED"
    assert end.variable("hangup_cause_q850") == "21"
    assert call(api, "uuid_kill u-1") == "-ERR No such channel!\n"


def test_uuid_break_ends_music_on_hold_and_transfer_runs_the_dialplan(emu: Emulator, api: Client) -> None:
    emu.dialplan["moh"] = [("answer", ""), ("playback", "local_stream://moh"), ("park", "")]
    call(api, "originate {origination_uuid=m-1}loopback/moh &park()")
    b_leg = emu.channels["m-1"].loopback_peer
    assert b_leg is not None
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.get("Application") == "playback")
    assert call(api, f"uuid_break {b_leg.uuid}") == "+OK\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == b_leg.uuid)
    assert call(api, f"uuid_transfer {b_leg.uuid} 9999") == "+OK\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == b_leg.uuid and e.get("Application") == "hangup")
    emu.wait_until(lambda: not emu.channels)


def test_eavesdrop_follows_the_target_and_reports_mode_changes(emu: Emulator, api: Client) -> None:
    emu.phones["9000"] = Phone("9000", answer_delay=0.1)
    call(api, "originate {origination_uuid=t-1}loopback/park_me &park()")
    assert call(api, "originate {origination_uuid=s-1}user/9000 &eavesdrop(t-1)").startswith("+OK s-1")
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.get("Application") == "eavesdrop")
    emu.send_dtmf("s-1", "2")
    mode = emu.wait_for(lambda e: e.name == "CUSTOM" and e.get("Event-Subclass") == "eavesdrop::mode")
    assert mode.get("Eavesdrop-Mode") == "whisper_b"
    call(api, "uuid_kill t-1")
    done = emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "eavesdrop")
    assert done.uuid == "s-1"


def test_uuid_bridge_and_show_calls(emu: Emulator, api: Client) -> None:
    for n in ("1", "2"):
        call(api, f"originate {{origination_uuid=p-{n}}}loopback/park_me &park()")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "p-2")
    assert call(api, "uuid_bridge p-1 p-2") == "+OK p-2\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_BRIDGE")
    calls = json.loads(call(api, "show calls as json"))
    # as FreeSWITCH 1.11 lists them (seen on the real one): every channel but a bridge's B side, an unbridged
    # one with empty b_* columns: the bridged pair and the two loopback B legs
    pairs = sorted((r["uuid"], r["b_uuid"]) for r in calls["rows"])
    b_legs = sorted(emu.channels[u].variables["other_loopback_leg_uuid"] for u in ("p-1", "p-2"))
    assert calls["row_count"] == 3 and pairs == sorted([("p-1", "p-2"), (b_legs[0], ""), (b_legs[1], "")])
    assert call(api, "hupall") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    emu.wait_until(lambda: not emu.channels)


def test_uuid_bridge_takes_bridged_channels_out_of_their_bridges(emu: Emulator, api: Client) -> None:
    for n in ("1", "2", "3"):
        call(api, f"originate {{origination_uuid=r-{n}}}loopback/park_me &park()")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "r-3")
    assert call(api, "uuid_bridge r-1 r-2") == "+OK r-2\n"
    emu.wait_until(lambda: emu.channels["r-2"].bridged_to is emu.channels["r-1"])
    assert call(api, "uuid_bridge r-3 r-2") == "+OK r-2\n"
    emu.wait_until(lambda: emu.channels["r-2"].bridged_to is emu.channels["r-3"])
    emu.wait_until(lambda: "r-1" not in emu.channels)  # left behind, it hangs up (as FreeSWITCH 1.10.12 does)


def test_uuid_park_leaves_the_bridge_and_both_legs_live(emu: Emulator, api: Client) -> None:
    for n in ("1", "2"):
        call(api, f"originate {{origination_uuid=k-{n}}}loopback/park_me &park()")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "k-2")
    call(api, "uuid_bridge k-1 k-2")
    emu.wait_for(lambda e: e.name == "CHANNEL_BRIDGE")
    call(api, "uuid_setvar k-1 park_after_bridge true")  # left behind, k-1 would hang up without it
    assert call(api, "uuid_park k-2") == "+OK\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_UNBRIDGE" and e.uuid == "k-1")
    assert all(emu.channels[f"k-{n}"].alive and emu.channels[f"k-{n}"].bridged_to is None for n in ("1", "2"))
    assert call(api, "uuid_park nope") == "-ERR No such channel!\n"  # as FreeSWITCH 1.10.12 answers
    assert call(api, "uuid_park") == "-ERR No such channel!\n"


def test_uuid_break_all_drops_queued_applications(emu: Emulator, api: Client) -> None:
    call(api, "originate {origination_uuid=q-1}loopback/park_me &park()")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "q-1")
    call(api, "uuid_broadcast q-1 local_stream://moh")
    call(api, "uuid_broadcast q-1 local_stream://moh")
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == "q-1")
    assert call(api, "uuid_break q-1 all") == "+OK\n"
    call(api, "uuid_broadcast q-1 silence_stream://10")
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.get("Application-Data") == "silence_stream://10")
    started = [e for e in emu.switch.log if e.name == "CHANNEL_EXECUTE" and e.get("Application") == "playback"]
    assert [e.get("Application-Data") for e in started] == ["local_stream://moh", "silence_stream://10"]


def test_uuid_bridge_does_not_wait_behind_queued_applications_which_then_play_inside_it(
    emu: Emulator, api: Client
) -> None:
    for n in ("1", "2"):
        call(api, f"originate {{origination_uuid=w-{n}}}loopback/park_me &park()")
    emu.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.uuid == "w-2")
    call(api, "uuid_broadcast w-1 local_stream://moh")  # playing
    call(api, "uuid_broadcast w-1 local_stream://moh")  # queued behind it: endless too
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == "w-1")
    assert call(api, "uuid_bridge w-1 w-2") == "+OK w-2\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_BRIDGE" and e.uuid == "w-1")  # at once, as FreeSWITCH's state change
    emu.wait_until(lambda: emu.switch.media_in_bridge == [("w-1", "playback")])  # over w-2, as FreeSWITCH does
    mark = len(emu.switch.log)
    assert call(api, "uuid_break w-1 all") == "+OK\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.uuid == "w-1", since=mark)
    assert emu.channels["w-1"].bridged_to is emu.channels["w-2"]  # the music stopped, the bridge stays


def test_uuid_setvar_multi_sets_and_unsets_and_uuid_dump_shows_the_channel(emu: Emulator, api: Client) -> None:
    """mod_commands: ``;``-separated, each split at its first ``=`` (no ``=``: unset), ``+OK`` once any was
    set; ``uuid_dump <uuid> json`` is the channel's CHANNEL_DATA with its ``variable_*`` headers."""
    emu.phones["1001"] = Phone("1001", answer_delay=0.01)
    leg = call(api, "originate user/1001 &park()").split()[1]
    assert call(api, f"uuid_setvar {leg} doomed yes") == "+OK\n"
    assert call(api, f"uuid_setvar_multi {leg} hotline_queue=support;hotline_at=1.5=x;doomed") == "+OK\n"
    dump = json.loads(call(api, f"uuid_dump {leg} json"))
    assert (dump["Event-Name"], dump["Unique-ID"], dump["Channel-Name"]) == (
        "CHANNEL_DATA", leg, f"sofia/internal/1001@{emu.switch.ipv4}",
    )  # fmt: skip
    assert (dump["variable_hotline_queue"], dump["variable_hotline_at"]) == ("support", "1.5=x")
    assert "variable_doomed" not in dump
    assert (dump["variable_dialed_user"], dump["variable_dialed_domain"]) == ("1001", emu.switch.ipv4)
    plain = call(api, f"uuid_dump {leg}")
    assert "variable_hotline_at: 1.5%3Dx\n" in plain and "Event-Name: CHANNEL_DATA\n" in plain


def test_uuid_setvar_multi_and_uuid_dump_refuse_what_mod_commands_refuses(api: Client) -> None:
    usage = "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
    assert call(api, "uuid_setvar_multi") == usage
    assert call(api, "uuid_setvar_multi nosuch a=1") == "-ERR No such channel!\n" + usage
    assert call(api, "uuid_dump nosuch json") == "-ERR No such channel!\n"


def test_uuid_setvar_multi_sets_and_unsets(emu: Emulator, api: Client) -> None:
    emu.dialplan["quiet"] = [("answer", ""), ("park", "")]
    call(api, "originate {origination_uuid=v-1}loopback/quiet &park()")
    assert call(api, "uuid_setvar_multi v-1 hotline_queue=sales;hotline_priority=5") == "+OK\n"
    assert call(api, "uuid_getvar v-1 hotline_priority") == "5"
    assert call(api, "uuid_setvar_multi v-1 hotline_priority=") == "+OK\n"
    assert call(api, "uuid_getvar v-1 hotline_priority") == "_undef_"
    assert call(api, "uuid_setvar_multi nosuch a=b").startswith("-ERR")


def test_uuid_transfer_leaves_the_extension_a_channel_is_running(emu: Emulator, api: Client) -> None:
    """FreeSWITCH's CF_TRANSFER: the application playing ends, the rest of the extension never runs."""
    emu.dialplan["hold"] = [("answer", ""), ("playback", "local_stream://moh"), ("set", "not_reached=true")]
    call(api, "originate {origination_uuid=t-1}loopback/hold &park()")
    b_leg = emu.channels["t-1"].loopback_peer
    assert b_leg is not None
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == b_leg.uuid and e.get("Application") == "playback")
    assert call(api, f"uuid_transfer {b_leg.uuid} 9999") == "+OK\n"
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == b_leg.uuid and e.get("Application") == "hangup")
    assert "not_reached" not in b_leg.variables
