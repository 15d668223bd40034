"""Per-call state returns to rest: after rounds of calls through the emulator (answered, rejected by a
phone, given up in the queue or while an agent's phone rings), every table reachable from the engine
and every live object of hotline's own classes is back at its size after the warm-up round.

The walker is bench/soak.py's, so the soak and this test look at the same tables. The few tables that
are bounded by time or by a fixed set, not by calls, are named here with their bound.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import gevent
import pytest

from bench.soak import engine_objects, holders, table_sizes
from engine.acd.gone import GONE_MEMORY
from engine.acd.states import AgentState
from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, wait_until
from tests.hotline_rig import HOTLINE_NUMBER, Rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

AGENTS = {"1001": {"sales": 5}, "1002": {"sales": 5}, "1003": {"sales": 5}}
ROUND = 12  # calls per round

# Bounded by time or by a fixed set, not by calls (docs/performance.md, "Soak"), by the end of their path in
# the walk. Their size at the end of a round depends on when it ended; each is checked against a bound here
# and its time bound in its own test.
BOUNDED = {
    # state changes within metrics.occupancy_window_seconds (900 s) per agent: tests/test_acd_occupancy.py
    "<AgentMetrics>.history._changes[*]": 8 * 4 * ROUND,
    # all-time seconds per agent state: one entry per state
    "<AgentMetrics>.history._closed": len(AgentState),
    # legs let go of in the last 300 s: tests/test_runtime_orphans.py
    ".orphans._legs": 8 * 4 * ROUND,
    # dead timers dropped once the heap outgrows 256 + 4 per live agent, call and offer: tests/test_acd_core.py
    "acd._timers": 256 + 4 * len(AGENTS),
    # one sticky screen pop per agent, replaced by the next call's: its fields
    "hub.current[*].data[*]": 40 * len(AGENTS),
    # callers gone, never offered again: the last GONE_MEMORY ids
    "acd._gone._ids": GONE_MEMORY,
}
LABEL_SETS = 8
"""Metric children (label sets) a path first taken after the warm-up may add to one metric (e.g. an ESL
timeout on a loaded machine): far fewer than the calls placed, so a label per call still fails."""


def place_round(rig: Rig, serial: int) -> int:
    """A burst of ROUND callers, more than the agents can take at once: most are answered and talk a
    moment, a third give up (in the queue, or while the slow phone rings); one phone rejects its offers."""
    for n in range(ROUND):
        patience = 60.0 if n % 3 == 2 else None  # seconds before the emulator's time scale (x 0.01)
        caller = Caller(f"1390000{serial + n:04d}", script=["1"], talk_seconds=100, patience_seconds=patience)
        rig.emulator.place_call(caller, HOTLINE_NUMBER)
    return serial + ROUND


def lost(rig: Rig) -> int:
    """Calls that never reached a call session (no CDR): gone before the socket handshake, or refused."""
    metrics = rig.engine.metrics
    families = [*metrics.handshake_failures.collect(), *metrics.outbound_refused.collect()]
    return int(sum(s.value for m in families for s in m.samples if s.name.endswith("_total")))


def at_rest(rig: Rig, recorded: Counter[str], placed: int) -> bool:
    """Every call placed has ended and been written; no channel is left; every agent is ready again (an agent
    the ACD put on break after unanswered offers is made ready, as a supervisor would)."""
    engine = rig.engine
    while not rig.recorded.empty():
        recorded[rig.recorded.get().outcome] += 1
    for agent in AGENTS:
        if engine.acd.agent_state(agent) is AgentState.BREAK:
            engine.backend.agent_action(agent, "ready", None)
    return (
        sum(recorded.values()) + lost(rig) == placed
        and not rig.emulator.switch.channels
        and not engine.outbound.active
        and not engine.acd.acd.call_ids()
        and engine.writer.depth == 0
        and all(engine.acd.agent_state(agent) is AgentState.READY for agent in AGENTS)
    )


def captured_logs_as_text() -> None:
    """pytest keeps the test's log records; a record's arguments (an exception, say) hold its traceback's
    frames and so a finished call session: keep the records' text and drop those references (a production
    handler writes a record and lets it go)."""
    for handler in logging.getLogger().handlers:
        for record in getattr(handler, "records", ()):
            record.msg, record.args = record.getMessage(), None
            if record.exc_info:
                record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
                record.exc_info = None


def wait_for_rest(rest: Counter[str], timeout: float) -> dict[str, tuple[int, int]]:
    """The live ``engine.*`` objects (but metric children) more numerous than at ``rest``: polled until none
    are or ``timeout`` passes (a full collection each time, so not every few milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        captured_logs_as_text()
        now = engine_objects()  # fewer than at rest is no leak (another test's engine finishing, say)
        left = {kind: (rest[kind], now[kind]) for kind in now if now[kind] > rest[kind] and ".metrics." not in kind}
        if not left or time.monotonic() > deadline:
            return left
        gevent.sleep(0.2)


def grown(before: Counter[str], after: Counter[str]) -> dict[str, tuple[int, int]]:
    return {key: (before[key], after[key]) for key in {*before, *after} if before[key] != after[key]}


def test_every_per_call_table_and_engine_object_returns_to_rest(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, AGENTS, {"sales": {"ring_timeout_seconds": 3}}) as rig:
        rig.emulator.switch.keep_log = False  # the emulator's own history of commands and events: not hotline's
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=1)
        rig.emulator.phones["1002"] = Phone("1002", answer_delay=100)  # rings long: callers give up meanwhile
        rig.emulator.phones["1003"] = Phone("1003", answer_delay=1, behaviour="reject")
        for agent in AGENTS:
            rig.ready(agent)
        recorded: Counter[str] = Counter()
        placed = 0
        for n in range(4):  # the first round is the warm-up: metric label sets, compiled statements, sticky pops
            placed = place_round(rig, placed)
            wait_until(lambda placed=placed: at_rest(rig, recorded, placed), 60, f"round {n} to end")
            if n == 0:
                captured_logs_as_text()
                rest_tables, rest_objects = table_sizes(rig.engine), engine_objects()
        tables = table_sizes(rig.engine)

        assert recorded["answered"] and recorded["abandoned"], recorded  # the round took both paths
        changed: dict[str, Any] = grown(rest_tables, tables)
        labels = {path for path in changed if path.startswith("hotline.metrics.")}
        bounded = {path: bound for path in tables for end, bound in BOUNDED.items() if path.endswith(end)}
        assert {path: sizes for path, sizes in changed.items() if path not in bounded.keys() | labels} == {}
        assert len(bounded) >= len(BOUNDED)  # each bounded table was found by the walk
        over = {path: tables[path] for path, bound in bounded.items() if tables[path] > bound}
        # a metric's children (label sets) are counted by its `_metrics` table; what each child holds (a
        # histogram's buckets) grows with them by a fixed size per child, so it is not counted again
        label_tables = {path for path in labels if path.endswith("._metrics")}
        assert label_tables or not labels, labels  # the walk finds the tables of label sets themselves
        over |= {path: changed[path] for path in label_tables if tables[path] - rest_tables[path] > LABEL_SETS}
        assert over == {}, f"over their bounds: {over}"
        # a session's greenlet may still be finishing on a loaded machine: wait for its objects to go
        leftovers = wait_for_rest(rest_objects, timeout=30)
        assert leftovers == {}, f"engine objects left behind (at rest, now): {leftovers}; {holders('CallSession')}"
        children = {kind: n for kind, n in grown(rest_objects, engine_objects()).items() if ".metrics." in kind}
        assert all(now - rest <= LABEL_SETS for rest, now in children.values()), children
