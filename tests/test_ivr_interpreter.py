"""The sans-IO interpreter driven action by action, as a shell would."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.ivr.actions import (
    Callback,
    CollectDigits,
    DigitsResult,
    Done,
    FaxResult,
    Hangup,
    Lookup,
    LookupResult,
    Play,
    PlayResult,
    Queue,
    Recognise,
    Record,
    RecordResult,
    Say,
    SendFax,
    SpeechResult,
)
from engine.ivr.interpreter import MAX_SILENT_STEPS, CallContext, FlowRun
from engine.ivr.loader import parse_flow

MONDAY = datetime(2024, 5, 6, 10, 0)


def run(text: str, **variables: object) -> FlowRun:
    flow, errors = parse_flow(text, "t.yaml")
    assert flow is not None, errors
    return FlowRun(flow, CallContext("+441632960001", "+441632960999", "uuid-1", variables), lambda: MONDAY)


MENU = """
nodes:
  m:
    menu: Press 1 for sales
    choices:
      - {key: 1, words: [sales], goto: sales, set: {dept: sales}}
      - {key: "#", goto: support}
    noinput: [first silence, second silence]
    nomatch: wrong key
    attempts: 4
    on_failure: support
  sales:
    queue: sales
    priority: 3
  support:
    queue: support
"""


def test_menu_emits_recognise_with_keywords_and_dtmf_then_queues() -> None:
    r = run(MENU)
    first = r.start()
    assert isinstance(first, Recognise)
    assert first.keywords == ("sales",) and first.dtmf_digits == 1
    assert first.prompts == (Say("Press 1 for sales", "en-GB", None, "text"),)
    final = r.resume(DigitsResult("1"))
    assert final == Queue("sales", "sales", 3)
    assert r.outcome == "queued" and r.finished and r.variables["dept"] == "sales"


def test_noinput_prompts_escalate_by_count_and_nomatch_counts_separately() -> None:
    r = run(MENU)
    r.start()
    texts = []
    for result in (SpeechResult(""), DigitsResult("9"), SpeechResult("")):
        action = r.resume(result)
        texts.append([p.text for p in action.prompts])
    assert texts == [
        ["first silence", "Press 1 for sales"],
        ["wrong key", "Press 1 for sales"],
        ["second silence", "Press 1 for sales"],
    ]
    assert r.resume(SpeechResult("", 0.0)) == Queue("support", "support", 0)
    assert [t.outcome for t in r.trace][-2] == "noinput 4/4: attempts used up -> support"


def test_speech_below_confidence_is_nomatch_and_keyword_match_is_word_based() -> None:
    r = run(MENU)
    r.start()
    retry = r.resume(SpeechResult("sales", 0.2))
    assert isinstance(retry, Recognise) and retry.prompts[0].text == "wrong key"
    assert isinstance(r.resume(SpeechResult("wholesalesman", 0.9)), Recognise)
    assert r.resume(SpeechResult("I want SALES please", 0.9)) == Queue("sales", "sales", 3)


def test_hash_is_a_menu_key() -> None:
    r = run(MENU)
    r.start()
    assert r.resume(DigitsResult("#")) == Queue("support", "support", 0)


COLLECT = """
nodes:
  ask:
    collect: Key your account
    into: account
    min: 4
    max: 6
    regex: "[0-9]+"
    confirm: ["You keyed", {say: "{account}", as: digits}, "press 1 if right"]
    inter_digit: 2s
    timeout: 7s
    on_failure: agent
  find:
    lookup: customer
    key: "{account}"
    not_found: agent
  hello:
    say: "Hello {customer.name}"
  done:
    end: self_served
  agent:
    queue: support
"""


def test_collect_validates_confirms_and_looks_up() -> None:
    r = run(COLLECT)
    ask = r.start()
    assert ask == CollectDigits((Say("Key your account", "en-GB", None, "text"),), 4, 6, 7000, 2000, "#", "[0-9]+")
    assert isinstance(r.resume(DigitsResult("12", "#")), CollectDigits)  # too short: asked again
    confirm = r.resume(DigitsResult("12345", "#"))
    assert confirm.max_digits == 1
    assert confirm.prompts[1] == Say("12345", "en-GB", None, "digits")
    assert r.resume(DigitsResult("1")) == Lookup("customer", "12345")
    assert r.resume(LookupResult({"name": "Ann"})) == Say("Hello Ann", "en-GB", None, "text")
    assert r.resume(PlayResult()) == Done("self_served")
    assert r.variables["account"] == "12345"


def test_lookup_not_found_branches() -> None:
    r = run(COLLECT)
    r.start()
    r.resume(DigitsResult("1234"))
    r.resume(DigitsResult("1"))
    assert r.resume(LookupResult({})) == Queue("support", "support", 0)


def test_wrong_result_type_and_resume_after_end_are_refused() -> None:
    r = run(COLLECT)
    with pytest.raises(RuntimeError):
        r.resume(PlayResult())
    r.start()
    with pytest.raises(TypeError, match="CollectDigits expects DigitsResult"):
        r.resume(SpeechResult("hello"))
    r.resume(DigitsResult(""))
    r.resume(DigitsResult(""))
    assert r.resume(DigitsResult("")) == Queue("support", "support", 0)
    with pytest.raises(RuntimeError, match="already ended"):
        r.resume(DigitsResult("1"))


SUBFLOW = """
variables: {tries: 0}
nodes:
  hello:
    say: hi
  verify:
    call: pin
  ok:
    branch:
      - if: pin_ok
        goto: welcome
    else: bye
  welcome:
    transfer: agent
    to: "agent-{caller}"
  bye:
    hangup: CALL_REJECTED
subflows:
  pin:
    nodes:
      ask:
        collect: Key your PIN
        into: pin
        on_failure: failed
      check:
        set: {pin_ok: "=pin == '1234'"}
        next: back
      failed:
        set: {pin_ok: false}
      back:
        return:
"""


def test_subflow_call_and_return() -> None:
    r = run(SUBFLOW)
    assert isinstance(r.start(), Say)
    assert isinstance(r.resume(PlayResult()), CollectDigits)
    assert r.node == "pin/ask"
    final = r.resume(DigitsResult("1234"))
    assert final.kind == "agent" and final.target == "agent-+441632960001" and r.outcome == "transferred"
    assert [t.node for t in r.trace][-5:] == ["pin/ask", "pin/check", "pin/back", "ok", "welcome"]


@pytest.mark.parametrize("inputs", [["9999"], ["", "", ""]], ids=["wrong-pin", "silence"])
def test_subflow_failure_paths_return_too(inputs: list[str]) -> None:
    r = run(SUBFLOW)
    r.start()
    action = r.resume(PlayResult())
    for digits in inputs:
        action = r.resume(DigitsResult(digits))
    assert action == Hangup("CALL_REJECTED")
    assert r.variables["pin_ok"] is False


def test_branch_on_time_weekday_holiday_and_tier() -> None:
    text = """
holidays: [05-06]
nodes:
  b:
    branch:
      - {holiday: true, goto: closed}
      - {weekday: mon-fri, time: ["22:00-06:00"], goto: night}
      - {tier: [VIP], goto: vip}
    else: closed
  night:
    queue: night
  vip:
    queue: vip
  closed:
    hangup: NORMAL_CLEARING
"""
    assert run(text).start() == Hangup("NORMAL_CLEARING")  # 6 May is a holiday
    flow, _ = parse_flow(text.replace("05-06", "12-25"), "t.yaml")
    at_night = FlowRun(flow, CallContext("1"), lambda: datetime(2024, 5, 7, 23, 30))
    assert at_night.start().queue == "night"
    vip = FlowRun(flow, CallContext("1", variables={"customer": {"tier": "vip"}}), lambda: MONDAY)
    assert vip.start().queue == "vip"


def test_message_records_then_becomes_a_callback_task() -> None:
    r = run("""
nodes:
  m:
    message: [Leave a message, "tone_stream://%(100,0,800)"]
    max_seconds: 60
    silence_seconds: 3
    goodbye: Thanks
    reason: "message from {caller}"
""")
    assert isinstance(r.start(), Say)
    assert r.resume(PlayResult()) == Play(("tone_stream://%(100,0,800)",))
    assert r.resume(PlayResult()) == Record("voicemail/uuid-1", 60, 200, 3, True)
    assert isinstance(r.resume(RecordResult("/rec/1.wav", 12.0)), Say)
    final = r.resume(PlayResult())
    assert final == Callback("+441632960001", "message from +441632960001", "/rec/1.wav", "voicemail")
    assert r.outcome == "voicemail"


def test_fax_and_survey() -> None:
    r = run(
        """
nodes:
  s:
    survey: Rate us
    question: score
  f:
    fax: "doc-{score}.tiff"
    to: "{caller}"
    on_failure: bad
  ok:
    end: self_served
  bad:
    hangup: NORMAL_CLEARING
""",
        agent="1001",
    )
    ask = r.start()
    assert ask.regex == "^[1-5]$"
    assert isinstance(r.resume(DigitsResult("7")), CollectDigits)
    assert r.resume(DigitsResult("4")) == SendFax("doc-4.tiff", "+441632960001")
    assert r.resume(FaxResult(False)) == Hangup("NORMAL_CLEARING")
    assert [(s.question, s.score, s.call_uuid, s.agent) for s in r.survey] == [("score", 4, "uuid-1", "1001")]


def test_abandon_sets_outcome() -> None:
    r = run(MENU)
    r.start()
    r.abandon()
    assert r.outcome == "abandoned" and r.trace[-1].input == "hangup"


def test_runaway_loop_is_cut_off() -> None:
    r = run("""
variables: {n: 0}
nodes:
  a:
    set: {n: "=n + 1"}
    next: a
""")
    assert r.start() == Hangup("NORMAL_TEMPORARY_FAILURE")
    assert r.variables["n"] == MAX_SILENT_STEPS
