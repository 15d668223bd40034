"""Applications on a caller's channel, driven by the caller's script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.emulator import Caller, Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.001)
    yield emulator
    emulator.stop()


def complete(emu: Emulator, app: str) -> dict[str, str]:
    return emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == app).headers


def test_play_and_get_digits_retries_invalid_input_then_accepts(emu: Emulator) -> None:
    emu.dialplan["1"] = [("answer", ""), ("play_and_get_digits", r"1 1 3 3000 # p.wav bad.wav pick [12] 1000")]
    emu.place_call(Caller("555", script=["7", "noinput", "2"]), "1")
    done = complete(emu, "play_and_get_digits")
    assert done["variable_pick"] == "2"
    played = [e.get("Application-Data") for e in emu.events if e.name == "CHANNEL_EXECUTE"]
    assert played == ["", r"1 1 3 3000 # p.wav bad.wav pick [12] 1000"]
    digits = [e.get("DTMF-Digit") for e in emu.events if e.name == "DTMF"]
    assert digits == ["7", "2"]


def test_read_stops_at_the_terminator(emu: Emulator) -> None:
    emu.dialplan["1"] = [("read", "1 6 p.wav acct 3000 #")]
    emu.place_call(Caller("555", script=["12#"]), "1")
    assert complete(emu, "read")["variable_acct"] == "12"


def test_detect_speech_reports_noinput(emu: Emulator) -> None:
    emu.dialplan["1"] = [("answer", ""), ("detect_speech", "unimrcp g.xml menu"), ("sleep", "2000")]
    emu.place_call(Caller("555", script=["noinput"]), "1")
    speech = emu.wait_for(lambda e: e.name == "DETECTED_SPEECH")
    assert "<noinput/>" in speech.body


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("say:billing", '<input mode="speech">billing</input>'),
        ("2", '<input mode="dtmf">2</input>'),
        ("noinput", "<noinput/>"),
    ],
)
def test_play_and_detect_speech_sets_the_nlsml_result(emu: Emulator, answer: str, expected: str) -> None:
    emu.dialplan["1"] = [("answer", ""), ("play_and_detect_speech", "menu.wav detect:pocketsphinx menu")]
    emu.place_call(Caller("555", script=[answer]), "1")
    assert expected in complete(emu, "play_and_detect_speech")["variable_detect_speech_result"]


def test_set_export_unset_record_session_and_hangup_cause(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    emu.dialplan["1"] = [
        ("set", "a=1"),
        ("export", "b=2"),
        ("unset", "a"),
        ("record_session", str(path)),
        ("hangup", "USER_BUSY"),
    ]
    uuid = emu.place_call(Caller("555"), "1")
    end = emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == uuid)
    assert (end.variable("a", "-"), end.variable("b"), end.get("Hangup-Cause")) == ("-", "2", "USER_BUSY")
    stop = emu.wait_for(lambda e: e.name == "RECORD_STOP")
    assert stop.get("Record-File-Path") == str(path)
    assert path.exists()


def test_unknown_number_is_refused(emu: Emulator) -> None:
    uuid = emu.place_call(Caller("555"), "nowhere")
    end = emu.wait_for(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.uuid == uuid)
    assert end.get("Hangup-Cause") == "NO_ROUTE_DESTINATION"


def test_playback_of_an_absolute_file_that_is_not_there_is_file_not_found_at_once(emu: Emulator, tmp_path) -> None:
    """mod_dptools' playback sets FILE NOT FOUND when switch_ivr_play_file cannot open the file."""
    there = tmp_path / "there.wav"
    there.write_bytes(b"RIFF")
    emu.dialplan["1"] = [("answer", ""), ("playback", str(tmp_path / "missing.wav")), ("playback", str(there))]
    emu.place_call(Caller("555"), "1")
    done = {
        path: emu.wait_for(lambda e, p=path: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application-Data") == p)
        for path in (str(tmp_path / "missing.wav"), str(there))
    }
    assert [e.get("Application-Response") for e in done.values()] == ["FILE NOT FOUND", "FILE PLAYED"]


def test_playback_reads_keys_as_dtmf_events_and_stops_at_a_terminator(emu: Emulator) -> None:
    emu.dialplan["1"] = [("answer", ""), ("set", "playback_terminators=#"), ("playback", "local_stream://moh")]
    uuid = emu.place_call(Caller("555"), "1")
    emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE" and e.get("Application") == "playback")
    emu.send_dtmf(uuid, "1")
    assert emu.wait_for(lambda e: e.name == "DTMF").get("DTMF-Digit") == "1"  # heard while the music plays
    emu.send_dtmf(uuid, "#")
    assert complete(emu, "playback")["variable_playback_terminator_used"] == "#"


def test_playback_timeout_sec_ends_endless_music_as_freeswitch_answers(emu: Emulator) -> None:
    emu.dialplan["7000"] = [("answer", ""), ("set", "playback_timeout_sec=5"), ("playback", "local_stream://moh")]
    emu.place_call(Caller("100"), "7000")
    assert complete(emu, "playback")["Application-Response"] == "PLAYBACK ERROR"  # as switch_ivr_play_file


def test_execute_extension_hunts_with_the_channels_variables_now(emu: Emulator) -> None:
    """A dict dialplan has no conditions: execute_extension runs the named entry, then the caller's own."""
    emu.dialplan["side"] = [("set", "side_ran=true")]
    emu.dialplan["7001"] = [("answer", ""), ("execute_extension", "side XML default"), ("set", "after=true")]
    emu.place_call(Caller("100"), "7001")
    done = emu.wait_for(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application-Data") == "after=true")
    assert done.get("variable_side_ran") == "true"
