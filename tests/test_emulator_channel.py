"""A channel on its own: header building, state numbers, hangup sequence, CDR variables."""

from __future__ import annotations

from engine.emulator.channel import Channel
from engine.emulator.switch import Switch


def make(switch: Switch, **kw: str) -> Channel:
    return Channel(switch, name="loopback/1-b", direction="inbound", destination="1", cid_number="555", **kw)


def names(switch: Switch) -> list[tuple[str, str, str]]:
    return [(e.name, e.get("Channel-State"), e.get("Channel-State-Number")) for e in switch.log]


def test_init_answer_hangup_fire_freeswitchs_sequence() -> None:
    switch = Switch(time_scale=0.001)
    switch.apps["answer"] = lambda ch, _: ch.answer()
    ch = make(switch)
    ch.init(ring=True)
    ch.start([("answer", "")])
    ch.gone.wait(2)
    assert [(n, s) for n, s, _ in names(switch)] == [
        ("CHANNEL_STATE", "CS_INIT"),
        ("CHANNEL_CREATE", "CS_INIT"),
        ("CHANNEL_CALLSTATE", "CS_ROUTING"),
        ("CHANNEL_STATE", "CS_ROUTING"),
        ("CHANNEL_STATE", "CS_EXECUTE"),
        ("CHANNEL_EXECUTE", "CS_EXECUTE"),
        ("CHANNEL_ANSWER", "CS_EXECUTE"),
        ("CHANNEL_CALLSTATE", "CS_EXECUTE"),
        ("CHANNEL_EXECUTE_COMPLETE", "CS_EXECUTE"),
        ("CHANNEL_HANGUP", "CS_EXECUTE"),
        ("CHANNEL_STATE", "CS_HANGUP"),
        ("CHANNEL_CALLSTATE", "CS_HANGUP"),
        ("CHANNEL_STATE", "CS_REPORTING"),
        ("CHANNEL_HANGUP_COMPLETE", "CS_REPORTING"),
        ("CHANNEL_DESTROY", "CS_REPORTING"),
        ("CHANNEL_STATE", "CS_DESTROY"),
    ]
    create = switch.log[1]
    assert create.get("Channel-State-Number") == "2"  # the target state, while Channel-State is the running one
    hangup = next(e for e in switch.log if e.name == "CHANNEL_HANGUP")
    assert hangup.get("Channel-State-Number") == "10"
    complete = next(e for e in switch.log if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert [k for k, _ in complete.pairs].count("Hangup-Cause") == 2
    for var in ("duration", "billsec", "mduration", "billmsec", "answer_epoch", "end_uepoch", "hangup_cause_q850"):
        assert complete.variable(var) != "", var
    assert ch.uuid not in switch.channels


def test_variables_follow_channel_data_and_event_specific_headers_come_last() -> None:
    switch = Switch()
    ch = make(switch, variables={"hotline_flow": "main"})
    event = ch.event("CHANNEL_EXECUTE", tail=[("Application", "x"), ("Application-UUID", "u")])
    keys = [k for k, _ in event.pairs]
    assert keys[-2:] == ["Application", "Application-UUID"]
    assert keys.index("Caller-Privacy-Hide-Number") < keys.index("variable_hotline_flow") < keys.index("Application")
    assert "variable_direction" not in [k for k, _ in ch.event("CHANNEL_STATE").pairs]


def test_unknown_application_hangs_up_with_destination_out_of_order() -> None:
    switch = Switch()
    ch = make(switch)
    ch.execute("no_such_app", "x")
    assert ch.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert "CHANNEL_EXECUTE" not in [e.name for e in switch.log]


def test_hold_of_a_sip_leg_fires_callstate_then_channel_hold_with_freeswitchs_times() -> None:
    switch = Switch(time_scale=0.001)
    ch = make(switch, source="mod_sofia")
    ch.answer()
    start = len(switch.log)
    assert ch.hold() is True
    assert ch.hold() is False  # switch_ivr_hold: "Call is already on hold"
    switch.advance(30)
    assert ch.unhold() is True
    assert ch.unhold() is False
    events = switch.log[start:]
    assert [(e.name, e.get("Channel-Call-State")) for e in events] == [
        ("CHANNEL_CALLSTATE", "HELD"),
        ("CHANNEL_HOLD", "HELD"),
        ("CHANNEL_CALLSTATE", "UNHELD"),
        ("CHANNEL_UNHOLD", "UNHELD"),
    ]
    held, unheld = events[1], events[3]
    assert (held.get("Event-Calling-Function"), unheld.get("Event-Calling-Function")) == (
        "switch_ivr_hold",
        "switch_ivr_unhold",
    )
    assert 0 < int(held.get("Caller-Channel-Last-Hold")) <= int(held.get("Event-Date-Timestamp"))
    assert held.variable("uuid") == ch.uuid  # CHANNEL_HOLD carries the channel's variables
    span = int(unheld.get("Event-Date-Timestamp")) - int(held.get("Event-Date-Timestamp"))
    assert 30_000_000 <= span < 31_000_000
    assert 30_000_000 <= int(unheld.get("Caller-Channel-Hold-Accum")) < 31_000_000


def test_a_non_sip_leg_never_becomes_held_and_a_phone_hold_is_marked_once() -> None:
    switch = Switch(time_scale=0.001)
    loop = make(switch)
    loop.answer()
    start = len(switch.log)
    assert loop.hold() is True and loop.hold() is True  # CHANNEL_HOLD each time, callstate unchanged
    assert loop.unhold() is False
    assert [(e.name, e.get("Channel-Call-State")) for e in switch.log[start:]] == [
        ("CHANNEL_HOLD", "ACTIVE"),
        ("CHANNEL_HOLD", "ACTIVE"),
    ]
    phone = make(switch, source="mod_sofia")
    phone.answer()
    start = len(switch.log)
    phone.mark_hold(True)
    phone.mark_hold(True)  # the re-INVITE repeated: nothing new
    phone.mark_hold(False)
    assert [(e.name, e.get("Event-Calling-Function")) for e in switch.log[start:]] == [
        ("CHANNEL_CALLSTATE", "switch_channel_perform_set_callstate"),
        ("CHANNEL_HOLD", "switch_channel_mark_hold"),
        ("CHANNEL_CALLSTATE", "switch_channel_perform_set_callstate"),
        ("CHANNEL_UNHOLD", "switch_channel_mark_hold"),
    ]
