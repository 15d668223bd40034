"""The dial grammar (engine/esl/dialstring.py) and the frame builders under it (engine/esl/codec.py).

The properties read what hotline sends back the way FreeSWITCH reads it: the emulator's command
parser (built to FreeSWITCH's mod_event_socket rules) for frames, and an independent reading of
``originate``'s ``{var=value,...}endpoint`` syntax (switch_event_create_brackets: variables split at
``,``, the endpoint list split at ``,``/``|``/``:_:``). For any text in any place, either nothing is
built (UnsafeValue) or exactly one command comes out, carrying the text only where it was put.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.esl import codec, dialstring
from engine.esl.codec import UnsafeValue

# Text with the characters an attacker reaches for over-represented: line breaks, NUL, the brackets,
# separators and expansions of FreeSWITCH's dial strings.
HOSTILE = st.text(
    alphabet=st.one_of(st.sampled_from(list("\r\n\x00 ,|{}[]<>&()$:_^'\"\\=@/+*#.-")), st.characters()),
    max_size=40,
)
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True)


def not_utf8(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def one_command(data: bytes) -> codec.Command:
    parsed = codec.CommandParser().feed(data)
    assert len(parsed) == 1 and isinstance(parsed[0], codec.Command), parsed
    return parsed[0]


def read_originate(arg: str) -> tuple[dict[str, str], list[str], str]:
    """``{a=b,c=d}endpoint`` as FreeSWITCH splits it: (variables, endpoints, rest)."""
    m = re.fullmatch(r"\{([^{}]*)\}(.*)", arg)
    assert m, arg
    variables = dict(pair.split("=", 1) for pair in m.group(1).split(",")) if m.group(1) else {}
    endpoints = re.split(r",|\||:_:", m.group(2))
    return variables, endpoints, m.group(2)


# ---- frames ------------------------------------------------------------------------------------


@PROPERTY
@given(HOSTILE)
def test_an_api_argument_is_one_word_of_one_command_or_nothing(text: str) -> None:
    try:
        data = codec.api("uuid_kill", text)
    except UnsafeValue:
        assert not text or re.search(r"\s|[\x00-\x1f\x7f]", text) or not_utf8(text)
        return
    assert one_command(data).line == f"api uuid_kill {text}"
    assert data.count(b"\n\n") == 1 and data.endswith(b"\n\n")


@PROPERTY
@given(HOSTILE)
def test_a_header_value_stays_in_its_header(value: str) -> None:
    try:
        data = codec.execute("transfer", value, event_uuid="e-1", uuid="c-1")
    except UnsafeValue:
        assert re.search(r"[\r\n\x00]", value) or not_utf8(value)
        return
    sent = one_command(data)
    assert sent.line == "sendmsg c-1" and sent.body == ""
    names = ["call-command", "execute-app-name", *(["execute-app-arg"] if value else []), "Event-UUID"]
    assert [name for name, _ in sent.pairs] == names
    assert (sent.headers["execute-app-name"], sent.headers["Event-UUID"]) == ("transfer", "e-1")
    if value and "%" not in value:  # the emulator URL-decodes values with %, as a reader may
        assert sent.headers["execute-app-arg"] == value


@pytest.mark.parametrize(
    "build",
    [
        lambda: codec.api("uuid_transfer", "u-1", "123\n\napi hupall"),
        lambda: codec.api("status\n\napi hupall"),
        lambda: codec.bgapi("originate", "user/1009\r\n\r\nbgapi system touch /tmp/x", "&park()"),
        lambda: codec.command("sendmsg u-1", {"call-command": "execute", "execute-app-arg": "x\n\napi hupall"}),
        lambda: codec.command("sendmsg u-1", {"Bad Name": "x"}),
        lambda: codec.command("sendmsg u-1", {"x\nContent-Length": "1"}),
        lambda: codec.execute("playback", "a\x00b", event_uuid="e-1"),
        lambda: codec.hangup("NORMAL_CLEARING\n\napi hupall", uuid="u-1"),
        lambda: codec.hangup("NORMAL_CLEARING", uuid="u-1 x"),
        lambda: codec.auth("ClueCon\n\napi hupall"),
        lambda: codec.api("uuid_kill", 7),  # type: ignore[arg-type]
    ],
)
def test_every_builder_refuses_a_value_that_would_add_a_command(build) -> None:
    with pytest.raises(UnsafeValue):
        build()


def test_a_command_built_from_parts_reads_as_sent() -> None:
    assert codec.api("uuid_hold", "off", "u-1") == b"api uuid_hold off u-1\n\n"
    assert codec.bgapi("originate", "{a=1}user/1001", "&park()", job_uuid="j") == (
        b"bgapi originate {a=1}user/1001 &park()\nJob-UUID: j\n\n"
    )
    assert codec.api("status") == b"api status\n\n"  # one word: no arguments to check


# ---- the grammar -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "user/1009",
        "user/1009@example.com",
        "sofia/gateway/trunk/+8613800138000",
        "sofia/internal/1001@10.0.0.1:5060",
        "sofia/internal/sip:1001@host",
        "loopback/9999",
        "loopback/9999/default",
    ],
)
def test_endpoints_hotline_rings(value: str) -> None:
    assert dialstring.endpoint(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "user/1009,user/1001",  # a second endpoint
        "user/1009|sofia/gateway/x/1",  # a failover endpoint
        "user/1009:_:user/1001",  # an enterprise originate
        "{execute_on_answer=hupall}user/1009",  # a channel variable
        "[execute_on_answer=hupall]user/1009",
        "<execute_on_answer=hupall>user/1009",
        "user/${system(touch /tmp/x)}",  # an expansion
        "user/1009 &system(touch)",  # another argument and an application
        "user/1009\n\napi hupall",
        "error/USER_BUSY",  # an endpoint type hotline never rings
        "",
    ],
)
def test_endpoints_that_add_anything_are_refused(value: str) -> None:
    with pytest.raises(UnsafeValue, match="contact"):
        dialstring.endpoint(value)


@pytest.mark.parametrize("value", ["123", "+8613800138000", "*97", "#1"])
def test_numbers(value: str) -> None:
    assert dialstring.number(value) == value


@pytest.mark.parametrize("value", ["", "12 3", "123,456", "1" * 33, "١٢٣", "123\n", "abc", "+", None, 123])
def test_not_numbers(value: object) -> None:
    with pytest.raises(UnsafeValue, match="number"):
        dialstring.number(value)


def test_a_typed_number_loses_only_its_separators() -> None:
    assert dialstring.typed_number("(010) 1234-5678") == "01012345678"
    with pytest.raises(UnsafeValue):
        dialstring.typed_number("010,1234")


def test_targets_by_kind() -> None:
    assert dialstring.target("number:+861380013800") == ("number", "+861380013800")
    assert dialstring.target("queue:support") == ("queue", "support")
    assert dialstring.target("agent:1002") == ("agent", "1002")
    for bad in ("number:123\n\napi hupall", "number:123 XML public", "agent:1002,user/1", "pigeon:1", "number:"):
        with pytest.raises(UnsafeValue, match="target"):
            dialstring.target(bad)
    with pytest.raises(UnsafeValue, match="use agent:ID, queue:NAME or number:N"):
        dialstring.target("flow:main", "target", ("agent", "queue", "number"))


def test_a_template_filled_with_a_checked_number() -> None:
    assert dialstring.from_template("sofia/gateway/trunk/{number}", "123") == "sofia/gateway/trunk/123"
    with pytest.raises(UnsafeValue, match="number"):
        dialstring.from_template("sofia/gateway/trunk/{number}", "123,user/1009")


def test_caller_ids_from_the_network_are_made_safe_not_refused() -> None:
    assert dialstring.caller_id("+8613800138000") == "+8613800138000"
    assert dialstring.caller_id("1,execute_on_answer=hupall}") == "1_execute_on_answer_hupall_"
    assert dialstring.caller_id("") == "unknown"


@PROPERTY
@given(HOSTILE, HOSTILE, HOSTILE)
def test_an_originate_carries_each_value_only_where_it_was_put(value: str, contact: str, caller: str) -> None:
    variables = {"origination_uuid": "leg-1", "hotline_call": value, "origination_caller_id_number": caller}
    try:
        cmd, dial, app = dialstring.originate(variables, contact, "park")
        data = codec.bgapi(cmd, dial, app, job_uuid="j-1")
    except UnsafeValue:
        return
    sent = one_command(data)
    words = sent.line.split(" ")
    assert words[:2] == ["bgapi", "originate"] and len(words) == 4 and words[3] == "&park()"
    got, endpoints, rest = read_originate(words[2])
    assert got == {"hotline_leg": "true", **variables} and endpoints == [contact] and rest == contact
    assert "$" not in data.decode() and "[" not in data.decode()


@PROPERTY
@given(HOSTILE)
def test_a_caller_id_always_fits_in_a_variable(caller: str) -> None:
    safe = dialstring.caller_id(caller)
    dial = dialstring.originate({"origination_caller_id_number": safe}, "user/1001", "park")[1]
    assert read_originate(dial)[0] == {"origination_caller_id_number": safe, "hotline_leg": "true"}


def test_a_bridge_inside_an_originate() -> None:
    app, arg = dialstring.bridge_to({"origination_uuid": "p-1"}, "sofia/gateway/trunk/123")
    assert dialstring.originate({"origination_uuid": "a-1"}, "user/1001", app, arg) == (
        "originate",
        "{origination_uuid=a-1,hotline_leg=true}user/1001",
        "&bridge({origination_uuid=p-1,hotline_leg=true}sofia/gateway/trunk/123)",
    )
    with pytest.raises(UnsafeValue):
        dialstring.application("conference", "room)&system(x")


def test_the_engine_builds_commands_only_from_parts() -> None:
    """No module outside the codec and the emulator formats a command line itself: an f-string
    passed to ``api``/``bgapi``, or an ``originate`` written by hand, would skip every check above."""
    root = Path(__file__).parents[1] / "engine"
    by_hand = re.compile(r"\.(?:bg)?api\(\s*f[\"']|[\"']originate \{")
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        if "emulator" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if by_hand.search(line)
    ]
    assert found == []
