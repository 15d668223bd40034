"""engine.emulator.xml_dialplan: the shipped dialplans/default.xml hunted as mod_dialplan_xml does."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.emulator.xml_dialplan import XmlDialplan, expand, read_vars

REPO = Path(__file__).resolve().parent.parent
VARS = REPO / "freeswitch_conf" / "vars.xml"
DEFAULT = REPO / "dialplans" / "default.xml"


@pytest.fixture
def plan() -> XmlDialplan:
    return XmlDialplan(DEFAULT, VARS, {"hotline_socket": "127.0.0.1:1234"})


def test_vars_are_read_and_overridden() -> None:
    values = read_vars(VARS, {"hotline_reclaim_seconds": "9"})
    assert values["hotline_number"] == "4000" and values["hotline_reclaim_seconds"] == "9"
    assert read_vars(VARS)["hotline_reclaim_seconds"] == "30"


def test_the_hotline_number_hands_over_then_tries_the_park_then_falls_back(plan: XmlDialplan) -> None:
    steps = plan.hunt("4000", {})
    assert steps is not None
    apps = [app for app, _ in steps]
    assert steps[0][0] == "set" and steps[0][1].startswith("api_hangup_hook=hash insert/hotline_ended/${uuid}/v1,")
    assert steps[1] == ("socket", "127.0.0.1:1234 async full")
    assert steps[2] == ("execute_extension", "hotline_standby XML default")
    assert steps[3] == ("execute_extension", "hotline_park XML default")
    assert steps[4] == ("set", "hotline_fallback=true")
    assert apps.index("bridge") < apps.index("voicemail")


@pytest.mark.parametrize(
    ("variables", "parked"),
    [
        ({}, False),  # the engine never took the call: no place, no park
        ({"hotline_queue": "sales"}, True),  # the global timer (30 s)
        ({"hotline_queue": "sales", "hotline_reclaim_seconds": "0"}, False),  # a drain without a park
        ({"hotline_queue": "sales", "hotline_reclaim_seconds": "1"}, False),  # FreeSWITCH ignores a 1 s timeout
        ({"hotline_queue": "sales x"}, False),
        ({"hotline_queue": "sales", "hotline_agent": "1001"}, False),  # an agent had them: not a waiting caller
    ],
)
def test_the_park_matches_only_a_queued_caller_with_a_timer(
    plan: XmlDialplan, variables: dict[str, str], parked: bool
) -> None:
    steps = plan.hunt("hotline_park", variables)
    assert (steps is not None) is parked
    if steps is not None:
        timer = variables.get("hotline_reclaim_seconds", "30")
        assert ("set", f"playback_timeout_sec={timer}") in steps
        assert ("playback", "local_stream://moh") in steps


@pytest.mark.parametrize(
    ("overrides", "variables", "socket"),
    [
        ({}, {}, None),  # one engine (the shipped empty hotline_standby_socket): nothing to try
        ({"hotline_standby_socket": "10.0.0.2:8084"}, {}, "10.0.0.2:8084 async full"),
        ({"hotline_standby_socket": "10.0.0.2:8084"}, {"hotline_queue": "sales"}, None),  # queued: park instead
        ({"hotline_standby_socket": "10.0.0.2:8084"}, {"hotline_agent": "1001"}, None),  # answered: never again
        ({"hotline_standby_socket": "10.0.0.2"}, {}, None),  # no port: not an address
    ],
)
def test_the_standby_socket_is_tried_only_for_a_call_the_first_engine_never_queued(
    overrides: dict[str, str], variables: dict[str, str], socket: str | None
) -> None:
    plan = XmlDialplan(DEFAULT, VARS, {"hotline_socket": "127.0.0.1:1234", **overrides})
    steps = plan.hunt("hotline_standby", variables)
    assert steps == (None if socket is None else [("socket", socket)])


def test_unknown_destinations_find_nothing(plan: XmlDialplan) -> None:
    assert plan.hunt("12345", {}) is None
    assert plan.hunt("9999", {})[0] == ("answer", "")


def test_expand_reads_the_channel_then_the_globals() -> None:
    assert expand("${a}-${b}-${c}", {"a": "1"}, {"a": "x", "b": "2"}) == "1-2-"



def test_a_backslashed_dollar_expands_nothing_and_a_double_backslash_is_one() -> None:
    r"""switch_channel_expand_variables: the dialplan's ``set`` expands its data twice (the application's
    argument, then mod_dptools' base_set), so ``\\\${x}`` in the XML leaves ``${x}`` on the channel."""
    once = expand(r"${u}/\\\${q}", {"u": "U", "q": "Q"}, {})
    assert once == r"U/\${q}"
    assert expand(once, {"q": "Q"}, {}) == "U/${q}"
    assert expand("U/${q}", {"q": "Q"}, {}) == "U/Q"
