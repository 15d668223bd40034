"""The ordered database writer: order, batching, the journal (full queue, outage, restart), refused records."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
import pytest
from gevent import monkey
from gevent.event import AsyncResult
from sqlalchemy import event, func, select

from engine.metrics import Metrics
from engine.store import agent_states, agents
from engine.store.calls import CallRecord
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.models import Call, Interaction
from engine.store.segment_models import CallSegment
from engine.store.segments import SegmentRecord
from engine.store.write_records import AgentStateWrite, CallWrite
from engine.store.writer import JOURNAL, MAX_LINE, REJECTED, Writer
from tests.acd_rig import wait_until
from tests.db_outage import Outage

pytestmark = pytest.mark.db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATES = ["ready", "reserved", "on_call", "wrap_up", "break"]


class Db:
    """The database under test, its engine, the outage switch and a commit counter."""

    def __init__(self, url: str) -> None:
        upgrade(url)
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)
        self.outage = Outage(self.engine)
        self.commits = 0
        event.listen(self.engine, "commit", self._count)
        with self.sessions.begin() as s:
            agents.create_agent(s, "1001", name="Grace", contact="user/1001")

    def _count(self, _conn: object) -> None:
        self.commits += 1

    def states(self) -> list[tuple[str, datetime]]:
        with self.sessions() as s:
            return [(c.state, c.at) for c in agent_states.list_agent_states(s, "1001")]


STARTED: list[Writer] = []


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    d = Db(db_url)
    yield d
    while STARTED:  # a failed test leaves no writer running into the next
        STARTED.pop().stop(timeout=0)
    d.engine.dispose()


def writer(db: Db, data_dir: Path, metrics: Metrics | None = None, **options: object) -> Writer:
    w = Writer(db.sessions, data_dir, metrics or Metrics(), backoff=(0.01, 0.05), **options)  # type: ignore[arg-type]
    w.start()
    STARTED.append(w)
    return w


def state(n: int, agent: str = "1001") -> AgentStateWrite:
    return AgentStateWrite(agent_id=agent, state=STATES[n % len(STATES)], at=T0 + timedelta(seconds=n))


def expected(n: int) -> list[tuple[str, datetime]]:
    return [(STATES[i % len(STATES)], T0 + timedelta(seconds=i)) for i in range(n)]


def as_utc(rows: list[tuple[str, datetime]]) -> list[tuple[str, datetime]]:
    return [(s, at if at.tzinfo else at.replace(tzinfo=UTC)) for s, at in rows]


def call(uuid: str) -> CallWrite:
    record = CallRecord(
        uuid=uuid, caller_number="13900139000", destination="4000", created_at=T0, ended_at=T0 + timedelta(seconds=60),
        outcome="answered", agent_id="1001", bridged_at=T0 + timedelta(seconds=10),
    )  # fmt: skip
    part = SegmentRecord(
        agent_id="1001", how="answered", started_at=T0 + timedelta(seconds=10), ended_at=T0 + timedelta(seconds=60),
        ended_by="hangup",
    )  # fmt: skip
    return CallWrite(record=record, segments=[part])


def test_records_are_written_in_the_order_submitted_in_one_transaction(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path)
    before = db.commits
    for n in range(100):  # submit never yields: the writer finds all 100 queued
        w.submit(state(n))
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(100)
    assert db.commits - before == 1
    w.stop()


def test_records_arriving_while_the_writer_lingers_share_its_transaction(db: Db, tmp_path: Path) -> None:
    """A call's records come one by one over a few milliseconds: with ``linger`` they are committed together
    (here the linger is long, and ``wait_idle`` cuts it short: nobody waiting for the queue waits it out)."""
    commits = []
    for linger in (0.0, 30.0):
        w = writer(db, tmp_path / str(linger), linger=linger)
        before = db.commits
        for n in range(5):
            w.submit(state(n))
            gevent.idle()  # the writer takes what is queued before the next record comes
        assert w.wait_idle(10)
        commits.append(db.commits - before)
        w.stop()
    assert commits[0] > 1 and commits[1] == 1, commits
    assert sorted(as_utc(db.states())) == sorted(expected(5) * 2)


def test_a_lingering_record_is_written_with_nobody_waiting_for_it(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path, linger=0.05)
    written = AsyncResult()
    w.submit(state(0), done=lambda: written.set(True))
    assert written.get(timeout=10)
    w.stop()


def test_done_runs_on_the_loop_once_the_row_is_committed(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path)
    seen: list[int] = []

    def done() -> None:
        with db.sessions() as s:
            seen.append(s.scalar(select(func.count()).select_from(Call).where(Call.uuid == "c-1")))

    w.submit(call("c-1"), done=done)
    assert w.wait_idle(10)
    assert seen == [1]
    w.stop()


def test_a_full_queue_spills_to_the_fsynced_journal_and_keeps_the_order(db: Db, tmp_path: Path) -> None:
    metrics = Metrics()
    db.outage.down = True
    w = writer(db, tmp_path, metrics, max_queue=5)
    for n in range(12):
        w.submit(state(n))
    journal = tmp_path / JOURNAL
    wait_until(lambda: journal.exists() and journal.read_bytes().count(b"\n") == 12)
    assert metrics.value("hotline_db_write_queue_depth") == 0
    assert metrics.value("hotline_db_journal_depth") == 12
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(x["record"]["state"], x["record"]["at"]) for x in lines] == [
        (s, at.isoformat().replace("+00:00", "Z")) for s, at in expected(12)
    ]
    db.outage.down = False
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(12)
    assert journal.read_bytes() == b""  # drained: emptied
    assert metrics.value("hotline_db_journal_depth") == 0
    w.stop()


def test_an_outage_keeps_every_record_retries_and_writes_them_in_order_when_the_database_returns(
    db: Db, tmp_path: Path
) -> None:
    metrics = Metrics()
    w = writer(db, tmp_path, metrics)
    w.submit(state(0))
    assert w.wait_idle(10)
    db.outage.down = True
    for n in range(1, 30):
        w.submit(state(n))
    wait_until(lambda: metrics.value("hotline_db_write_retries_total") >= 3)
    assert metrics.value("hotline_db_up") == 0
    assert metrics.value("hotline_db_write_failures_total") >= 3
    assert w.depth == 29
    db.outage.down = False
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(30)
    assert metrics.value("hotline_db_up") == 1
    assert metrics.value("hotline_db_writes_total", kind="agent_state") == 30
    w.stop()


def test_records_journalled_during_an_outage_survive_a_restart_and_are_replayed_first(db: Db, tmp_path: Path) -> None:
    db.outage.down = True
    first = writer(db, tmp_path)
    for n in range(20):
        first.submit(state(n))
    first.submit(call("c-1"))
    first.stop()  # the engine stops while the database is still down
    assert (tmp_path / JOURNAL).read_bytes().count(b"\n") == 21

    db.outage.down = False
    metrics = Metrics()
    second = Writer(db.sessions, tmp_path, metrics)
    second.submit(state(20))  # queued before start: behind the journal
    second.start()
    STARTED.append(second)
    assert second.wait_idle(10)
    assert as_utc(db.states()) == expected(21)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interaction).where(Interaction.call_uuid == "c-1")) == 1
        assert s.scalar(select(func.count()).select_from(CallSegment).where(CallSegment.call_uuid == "c-1")) == 1
    second.stop()


def test_a_journal_replayed_twice_does_not_record_a_call_twice(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path)
    w.submit(call("c-1"))
    w.submit(call("c-1"))  # as after a crash between the commit and the journal's offset
    assert w.wait_idle(10)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
    w.stop()


def test_a_refused_record_is_set_aside_counted_and_does_not_hold_up_the_queue(db: Db, tmp_path: Path) -> None:
    metrics = Metrics()
    w = writer(db, tmp_path, metrics)
    w.submit(state(0))
    w.submit(state(1, agent="nobody"))  # no such agent: the database will never take it
    w.submit(state(2))
    assert w.wait_idle(10)
    assert as_utc(db.states()) == [expected(3)[0], expected(3)[2]]
    assert metrics.value("hotline_db_write_rejected_total", kind="agent_state") == 1
    (aside,) = [json.loads(line) for line in (tmp_path / REJECTED).read_text().splitlines()]
    assert aside["record"].find('"agent_id":"nobody"') > 0 and "nobody" in aside["error"]
    w.stop()


def test_a_journal_line_that_is_no_record_is_named_by_file_and_line_and_the_rest_replayed(
    db: Db, tmp_path: Path
) -> None:
    good = Writer(db.sessions, tmp_path / "other", Metrics())
    good.submit(state(0))
    good.submit(state(1))
    good.stop()  # never started: both journalled
    valid = (tmp_path / "other" / JOURNAL).read_bytes().splitlines(keepends=True)
    not_a_record = b'{"id": "x", "record": {"kind": "agent_state"}}\n'
    (tmp_path / JOURNAL).write_bytes(valid[0] + not_a_record + valid[1] + b'{"id"')
    metrics = Metrics()
    w = writer(db, tmp_path, metrics)
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(2)
    aside = [json.loads(line) for line in (tmp_path / REJECTED).read_text().splitlines()]
    assert [a["what"] for a in aside] == [f"{tmp_path / JOURNAL}:2", f"{tmp_path / JOURNAL}:4"]  # torn last line too
    assert "agent_id" in aside[0]["error"]
    assert metrics.value("hotline_db_write_rejected_total", kind="journal_line") == 2
    w.stop()


def test_records_submitted_after_stop_go_to_the_journal(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path)
    w.stop()
    w.submit(state(0))
    again = writer(db, tmp_path)
    assert again.wait_idle(10)
    assert as_utc(db.states()) == expected(1)
    again.stop()


def test_a_journal_line_longer_than_any_record_is_set_aside_and_the_next_replayed(db: Db, tmp_path: Path) -> None:
    source = Writer(db.sessions, tmp_path / "other", Metrics())
    source.submit(state(0))
    source.stop()  # never started: journalled
    assert (tmp_path / "other" / JOURNAL).stat().st_mode & 0o777 == 0o600  # it holds callers' data
    valid = (tmp_path / "other" / JOURNAL).read_bytes()
    (tmp_path / JOURNAL).write_bytes(b"x" * (MAX_LINE + 10) + b"\n" + valid)
    metrics = Metrics()
    w = writer(db, tmp_path, metrics)
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(1)
    (aside,) = [json.loads(line) for line in (tmp_path / REJECTED).read_text().splitlines()]
    assert aside["what"] == f"{tmp_path / JOURNAL}:1" and "longer than" in aside["error"]
    assert len(aside["record"]) <= 200


def test_the_queue_filling_while_a_batch_is_written_keeps_that_batch_once_and_first(db: Db, tmp_path: Path) -> None:
    release = monkey.get_original("threading", "Event")()  # the writer's thread waits on it, not a greenlet
    entered: list[bool] = []

    def hold(*_: object) -> None:
        if not entered:
            entered.append(True)
            release.wait(10)

    metrics = Metrics()
    w = writer(db, tmp_path, metrics, max_queue=3)
    event.listen(db.engine, "before_cursor_execute", hold)
    for n in range(3):
        w.submit(state(n))
    wait_until(lambda: entered, what="the first batch in the writer's thread")
    for n in range(3, 8):  # the queue is full: these and the rest go to the journal
        w.submit(state(n))
    release.set()
    assert w.wait_idle(10)
    assert as_utc(db.states()) == expected(8)
    assert metrics.registry.get_sample_value("hotline_greenlet_restarts_total", {"name": "db_writer"}) is None


def test_written_records_are_not_kept_alive_while_the_writer_waits_for_more(db: Db, tmp_path: Path) -> None:
    """A quiet engine holds none of the calls it has written (callers' numbers; the soak's rest)."""

    def alive() -> int:  # other tests' leftovers in this process count the same before and after
        gc.collect()
        return sum(isinstance(o, CallWrite | CallRecord) for o in gc.get_objects())

    w = writer(db, tmp_path)
    before = alive()
    for n in range(50):
        w.submit(call(f"c-{n}"))
    assert w.wait_idle(10)
    assert alive() == before
    w.stop()


def test_a_batch_is_written_with_a_few_statements_whatever_its_size(db: Db, tmp_path: Path) -> None:
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    w = writer(db, tmp_path)
    for n in range(60):  # submit never yields: one batch of 120 records
        w.submit(state(n))
        w.submit(call(f"c-{n}"))
    assert w.wait_idle(10)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(statements) <= 10, statements  # stored calls, agents, and one INSERT per table
    assert len(inserts) == 4
    with db.sessions() as s:
        for model in (Call, Interaction, CallSegment):
            assert s.scalar(select(func.count()).select_from(model)) == 60
    assert as_utc(db.states()) == expected(60)
    w.stop()


def test_an_interaction_whose_customer_was_deleted_is_stored_without_one(db: Db, tmp_path: Path) -> None:
    w = writer(db, tmp_path)
    gone = call("c-1")
    w.submit(CallWrite(record=gone.record, segments=gone.segments, customer_id=4242))  # no such customer
    assert w.wait_idle(10)
    with db.sessions() as s:
        (interaction,) = s.scalars(select(Interaction))
        assert interaction.call_uuid == "c-1" and interaction.customer_id is None
    w.stop()
