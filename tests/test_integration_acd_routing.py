"""ACD routing through the whole call path on the emulator: strategies, escalation, overflow."""

from __future__ import annotations

import pytest

from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, relogin
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

# 1001 is the least skilled, 1002 the most, 1003 logs in first (longest idle).
SKILLS = {"1001": {"sales": 3}, "1002": {"sales": 9}, "1003": {"sales": 5}}
# Answer delays (emulated seconds, 100x faster): 1002 answers first. The ring timeout (20 s) is scaled too; a
# phone due to answer before it does so however late its greenlet runs (engine/emulator/originate.py).
ANSWER = {"1001": 6, "1002": 2, "1003": 12}
# ring_all rings the three at once and the first to answer wins: there the queue rings for 120 s and the others
# answer a second (real) after 1002: margins of 40 and 140 ms each lost once to a loaded machine's scheduling
RACE = {"1001": 100, "1002": 1, "1003": 100}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("longest_idle", ["1003", "1003"]),
        ("most_skilled", ["1002", "1002"]),
        ("skill_weighted", ["1002", "1002"]),
        ("top_down", ["1001", "1001"]),
        ("round_robin", ["1001", "1002"]),
        ("fewest_calls", ["1003", "1001"]),
        ("least_talk_time", ["1003", "1001"]),
        ("ring_all", ["1002", "1002"]),
        ("random", None),
    ],
)
def test_each_strategy_picks_the_expected_agent(tmp_path, db_url, strategy, expected) -> None:
    """Two calls; between them 1001 then 1002 log in again, so 1003 (who took a call) is again the
    longest idle while 1001 has the fewest calls and least talk time."""
    options: dict = {"strategy": strategy}
    if strategy == "ring_all":
        options["ring_timeout_seconds"] = 120
    if expected is None:  # random: 1001 (level 3) is ready but below the queue's level, so must never be drawn
        options["required_skills"] = {"sales": 4}
    with acd_rig(tmp_path, db_url, SKILLS, {"sales": options}) as rig:
        for ext, delay in (RACE if strategy == "ring_all" else ANSWER).items():
            rig.emulator.phones[ext] = Phone(ext, answer_delay=delay)
        for agent in ("1003", "1001", "1002"):
            rig.ready(agent)
        chosen = []
        for _ in range(2):
            rig.emulator.place_call(Caller("13900139000", script=["1"], talk_seconds=20), HOTLINE_NUMBER)
            trace = rig.next_call()
            assert trace.outcome == "answered" and trace.queue == "sales"
            chosen.append(trace.agent_id)
            relogin(rig, "1001")
            relogin(rig, "1002")
        if expected is None:
            assert set(chosen) <= {"1002", "1003"}
        else:
            assert chosen == expected
        assert {rig.engine.acd.agent_state(a) for a in SKILLS} == {"ready"}  # ring_all's losers were released


def test_escalation_lowers_the_level_after_the_wait(tmp_path, db_url) -> None:
    options = {
        "sales": {
            "required_skills": {"sales": 5},
            "escalation": [{"after_seconds": 0.5, "min_level": 1}],
        }
    }
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 2}}, options) as rig:
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        rig.ready("1001")
        rig.emulator.place_call(Caller("13900139000", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert trace.outcome == "answered" and trace.agent_id == "1001"
        assert (trace.offered_at - trace.queued_at).total_seconds() >= 0.5


def test_overflow_to_another_queue_keeps_the_call_in_its_own(tmp_path, db_url) -> None:
    options = {"sales": {"escalation": [{"after_seconds": 0.3, "overflow_queue": "backup"}]}}
    with acd_rig(tmp_path, db_url, {"1002": {"backup": 4}}, options) as rig:
        rig.emulator.phones["1002"] = Phone("1002", answer_delay=1)
        rig.ready("1002")
        rig.emulator.place_call(Caller("13900139000", script=["1"], talk_seconds=10), HOTLINE_NUMBER)
        trace = rig.next_call()
        assert trace.outcome == "answered" and trace.agent_id == "1002" and trace.queue == "sales"
        assert (trace.offered_at - trace.queued_at).total_seconds() >= 0.3
        stats = rig.engine.acd.acd.queue_status("sales", rig.engine.acd.clock()).stats
        assert (stats.arrived, stats.answered) == (1, 1)
