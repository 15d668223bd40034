"""The IVR executor on a call's own outbound socket, against a scripted FreeSWITCH: the applications it
executes, what it reads back from their completions, and what happens when FreeSWITCH refuses, the
channel goes, or nothing answers."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.model import Speech
from engine.ivr import actions as a
from engine.metrics import Metrics
from engine.runtime import ivr_executor
from engine.runtime.ivr_executor import IvrExecutor, parse_nlsml
from engine.transport import ChannelGone, CommandFailed, CommandTimeout
from tests.switch_peer import GONE, SILENT, Switch, switch

CALL = "3f1c2a9e-0b7d-4c55-9a61-2f4e8d1b7c30"


class Tts:
    """A TTS provider that says which file it rendered each text to."""

    def __init__(self) -> None:
        self.rendered: list[tuple[str, str, str | None]] = []

    def render(self, text: str, language: str, voice: str | None = None) -> str:
        self.rendered.append((text, language, voice))
        return f"/tts/{len(self.rendered)}.wav"


@pytest.fixture
def fs() -> Iterator[Switch]:
    with switch() as peer:
        yield peer


def executor(fs: Switch, tmp_path: Path, *, asr: str = "none", lookup=None) -> tuple[IvrExecutor, Tts]:
    call = fs.outbound_call({"Unique-ID": CALL, "Caller-Caller-ID-Number": "07700900123"})
    tts = Tts()
    speech = Speech(asr=asr, asr_engine="unimrcp:mrcp1")
    run = IvrExecutor(
        call, tts, lookup or (lambda kind, key: {}), tmp_path / "rec", speech, tmp_path / "fax", "loopback/{number}"
    )
    return run, tts


def executed(fs: Switch) -> list[str]:
    return fs.sent("execute ")


def test_play_and_say_are_played_in_order_with_text_rendered_by_tts(fs, tmp_path) -> None:
    run, tts = executor(fs, tmp_path)
    assert run.perform(a.Play(("ivr/welcome.wav", "tone_stream://%(100,0,440)"))) == a.PlayResult()
    assert run.perform(a.Say("Your balance is low", "en-US", "anna")) == a.PlayResult()
    assert run.perform(a.Say("4021", say_as="digits")) == a.PlayResult()
    assert executed(fs) == [
        "execute playback ivr/welcome.wav",
        "execute playback tone_stream://%(100,0,440)",
        "execute playback /tts/1.wav",
        "execute playback /tts/2.wav",
    ]
    assert tts.rendered == [("Your balance is low", "en-US", "anna"), ("4 0 2 1", "en-GB", None)]


def test_collect_digits_asks_play_and_get_digits_once_and_reads_back_the_variable_it_named(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    # FreeSWITCH stores the digits in the variable named in the 8th argument: answer in that one.
    fs.on_execute("play_and_get_digits", lambda arg: {arg.split()[7]: "4021", "read_terminator_used": "#"})
    prompts = (a.Play(("ivr/enter.wav",)), a.Say("then hash"))
    result = run.perform(a.CollectDigits(prompts, 1, 6, 5000, 2000, "#"))
    assert result == a.DigitsResult("4021", "#")
    [line] = executed(fs)
    args = line.removeprefix("execute play_and_get_digits ").split(" ")
    # min max tries timeout terminators prompt invalid-prompt var regex digit-timeout (mod_dptools order)
    assert args[:5] == ["1", "6", "1", "5000", "#"]
    assert args[5] == "file_string://ivr/enter.wav!/tts/1.wav"
    assert args[9] == "2000"
    assert re.fullmatch(args[8], "*12#") and re.fullmatch(args[8], "0A9")


def test_collect_with_no_prompt_and_no_terminator_and_nothing_keyed(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    fs.on_execute("play_and_get_digits", {})  # timed out: FreeSWITCH sets nothing
    assert run.perform(a.CollectDigits((), 4, 4, 3000, 1000, "")) == a.DigitsResult("", None)
    args = executed(fs)[0].split(" ")[2:]
    assert args[4] == "none" and args[5].startswith("silence_stream://")


def test_a_refused_application_is_an_error_naming_it(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    fs.on_execute("playback", "-ERR no such channel")
    with pytest.raises(CommandFailed, match="playback: -ERR no such channel"):
        run.perform(a.Play(("ivr/welcome.wav", "ivr/menu.wav")))
    assert executed(fs) == ["execute playback ivr/welcome.wav"]  # the second file is not attempted


@pytest.mark.parametrize(("response", "reason"), [("FILE NOT FOUND", "not_found"), ("PLAYBACK ERROR", "error")])
def test_a_prompt_freeswitch_cannot_play_is_logged_counted_and_ends_only_the_step(
    fs, tmp_path, caplog, response, reason
) -> None:
    """Issue 17: a prompt FreeSWITCH could not open hung up the call with nothing in hotline's log."""
    metrics = Metrics()
    call = fs.outbound_call({"Unique-ID": CALL})
    run = IvrExecutor(
        call, Tts(), lambda kind, key: {}, tmp_path / "rec", Speech(), tmp_path / "fax", "loopback/{number}", metrics
    )
    fs.on_execute("playback", lambda arg: {"Application-Response": response} if arg == "/missing.wav" else {})
    with caplog.at_level(logging.WARNING, logger="engine.runtime.ivr_executor"):
        assert run.perform(a.Play(("/missing.wav", "ivr/next.wav"))) == a.PlayResult()
    assert executed(fs) == ["execute playback /missing.wav", "execute playback ivr/next.wav"]
    expected = f"call {CALL}: FreeSWITCH could not play /missing.wav ({response})"
    assert [r.getMessage() for r in caplog.records] == [expected]
    assert metrics.registry.get_sample_value("hotline_prompts_unplayed_total", {"reason": reason}) == 1.0


def test_the_caller_hanging_up_mid_prompt_ends_the_step_with_channel_gone(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    fs.on_execute("play_and_get_digits", GONE)
    with pytest.raises(ChannelGone, match="hung up"):
        run.perform(a.CollectDigits((a.Play(("ivr/menu.wav",)),), 1, 1, 5000, 2000, "#"))


def test_a_step_freeswitch_never_completes_times_out(fs, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ivr_executor, "STEP_TIMEOUT_MARGIN", 0.1)  # the margin over the step's own timeout
    run, _ = executor(fs, tmp_path, asr="detect_speech")
    fs.on_execute("play_and_detect_speech", SILENT)
    with pytest.raises(CommandTimeout, match="play_and_detect_speech did not complete"):
        run.perform(a.Recognise((a.Play(("ivr/ask.wav",)),), None, "en-GB", 100, ("sales",)))


NLSML = (
    '<?xml version="1.0"?><result><interpretation grammar="g" confidence="{c}">'
    '<input mode="{mode}">{text}</input></interpretation></result>'
)


def test_recognise_uses_the_configured_asr_engine_and_reads_the_nlsml_result(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path, asr="detect_speech")
    fs.on_execute("play_and_detect_speech", {"detect_speech_result": NLSML.format(c=87, mode="speech", text="sales")})
    result = run.perform(a.Recognise((a.Play(("ivr/ask.wav",)),), None, "en-GB", 4000, ("sales", "billing")))
    assert result == a.SpeechResult("sales", 0.87)
    assert executed(fs) == [
        "execute play_and_detect_speech ivr/ask.wav detect:unimrcp:mrcp1 hotline_keywords:sales,billing"
    ]


def test_keys_during_recognition_count_only_where_keys_are_accepted(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path, asr="detect_speech")
    fs.on_execute("play_and_detect_speech", {"detect_speech_result": NLSML.format(c=100, mode="dtmf", text="2")})
    keys_ok = a.Recognise((), "menu.gram", "en-GB", 4000, dtmf_digits=1)
    assert run.perform(keys_ok) == a.DigitsResult("2")
    assert run.perform(a.Recognise((), "menu.gram", "en-GB", 4000)) == a.SpeechResult("", 0.0)
    assert executed(fs)[0] == "execute play_and_detect_speech silence_stream://250 detect:unimrcp:mrcp1 menu.gram"


def test_without_asr_recognise_collects_keys_or_only_plays_the_prompt(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path, asr="none")
    fs.on_execute("play_and_get_digits", lambda arg: {arg.split()[7]: "3"})
    assert run.perform(a.Recognise((a.Play(("ivr/ask.wav",)),), None, "en-GB", 4000, dtmf_digits=2)) == (
        a.DigitsResult("3", None)
    )
    assert run.perform(a.Recognise((a.Play(("ivr/ask.wav",)),), None, "en-GB", 4000)) == a.SpeechResult("", 0.0)
    assert [line.split(" ")[1] for line in executed(fs)] == ["play_and_get_digits", "playback"]
    assert executed(fs)[0].split(" ")[2:4] == ["1", "2"]  # one to dtmf_digits keys


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("", a.SpeechResult("", 0.0)),
        ("<result><interpretation", a.SpeechResult("", 0.0)),  # not XML: heard nothing usable
        ("<result/>", a.SpeechResult("", 0.0)),
        (NLSML.format(c="0.4", mode="speech", text=" billing "), a.SpeechResult("billing", 0.4)),
    ],
    ids=["empty", "broken-xml", "no-interpretation", "fraction-confidence"],
)
def test_speech_results_freeswitch_may_send(fs, tmp_path, result, expected) -> None:
    run, _ = executor(fs, tmp_path, asr="detect_speech")
    fs.on_execute("play_and_detect_speech", {"detect_speech_result": result})
    assert run.perform(a.Recognise((), None, "en-GB", 4000, ("billing",))) == expected
    assert parse_nlsml(result) == expected


def test_record_beeps_then_records_into_the_recordings_dir_under_a_safe_name(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    fs.on_execute("record", {"record_seconds": "7.5"})
    result = run.perform(a.Record("../../etc/passwd msg", 60, 200, 3))
    beep, record = executed(fs)
    assert beep.startswith("execute playback tone_stream://")
    path, *limits = record.removeprefix("execute record ").split(" ")
    assert limits == ["60", "200", "3"]
    assert Path(path).parent == tmp_path / "rec" and Path(path).parent.is_dir()
    assert "/" not in Path(path).name.removesuffix(".wav") and CALL in Path(path).name
    assert result == a.RecordResult(path, 7.5)


def test_record_without_beep_and_no_length_reported(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    result = run.perform(a.Record("voicemail", 30, 200, 3, beep=False))
    assert [line.split(" ")[1] for line in executed(fs)] == ["record"]
    assert result.seconds == 0.0


def test_lookup_asks_the_crm_in_process_and_sends_nothing(fs, tmp_path) -> None:
    asked: list[tuple[str, str]] = []
    run, _ = executor(fs, tmp_path, lookup=lambda kind, key: asked.append((kind, key)) or {"name": "Ada"})
    assert run.perform(a.Lookup("customer", "07700900123")) == a.LookupResult({"name": "Ada"})
    assert asked == [("customer", "07700900123")]
    assert fs.commands == []


def test_fax_on_this_line_reports_spandsps_success_variable(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    fs.on_execute("txfax", {"fax_success": "1"})
    assert run.perform(a.SendFax("price-list.tif", None)) == a.FaxResult(True)
    fs.on_execute("txfax", {"fax_success": "0", "fax_result_text": "No answer"})
    assert run.perform(a.SendFax("price-list.tif", None)) == a.FaxResult(False)
    assert executed(fs) == [f"execute txfax {tmp_path / 'fax' / 'price-list.tif'}"] * 2


def test_fax_to_a_number_originates_a_new_call_that_sends_the_document(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    assert run.perform(a.SendFax("price-list.tif", "0161 496 0000")) == a.FaxResult(True)
    [line] = fs.sent("bgapi originate")
    assert line.endswith(f"loopback/01614960000 &txfax({tmp_path / 'fax' / 'price-list.tif'})")
    fs.on("bgapi originate", "-ERR NO_ANSWER\n")
    assert run.perform(a.SendFax("price-list.tif", "01614960000")) == a.FaxResult(False)


@pytest.mark.parametrize(
    ("document", "number"),
    [("../../etc/passwd", None), ("/etc/shadow", "123"), ("a b.tif", None), ("ok.tif", "12;drop"), ("ok.tif", "1}x")],
)
def test_a_fax_document_or_number_from_caller_input_that_is_unsafe_is_refused_before_anything_is_sent(
    fs, tmp_path, document, number
) -> None:
    run, _ = executor(fs, tmp_path)
    assert run.perform(a.SendFax(document, number)) == a.FaxResult(False)
    assert fs.commands == []


def test_an_action_the_executor_does_not_perform_is_a_type_error(fs, tmp_path) -> None:
    run, _ = executor(fs, tmp_path)
    with pytest.raises(TypeError, match="not an action the executor performs"):
        run.perform(a.Hangup())  # type: ignore[arg-type]
    assert fs.commands == []


def test_a_lookup_the_session_already_made_is_answered_without_asking_the_crm_again(fs, tmp_path) -> None:
    asked: list[tuple[str, str]] = []
    run, _ = executor(fs, tmp_path, lookup=lambda kind, key: asked.append((kind, key)) or {"name": "Bob"})
    known = {"name": "Ada", "tier": "vip"}
    run.remember("customer", "07700900123", known)
    found = run.perform(a.Lookup("customer", "07700900123"))
    assert found == a.LookupResult({"name": "Ada", "tier": "vip"}) and found.data is not known  # a copy
    assert run.perform(a.Lookup("customer", "07700900999")) == a.LookupResult({"name": "Bob"})  # another key
    assert run.perform(a.Lookup("open_tickets", "07700900123")) == a.LookupResult({"name": "Bob"})  # another kind
    assert asked == [("customer", "07700900999"), ("open_tickets", "07700900123")]
    assert fs.commands == []
