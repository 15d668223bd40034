"""Leadership of an active/standby pair: PostgreSQL's advisory lock on a session of its own.

On PostgreSQL (HOTLINE_TEST_DATABASE_URL) the pair is two ``Leadership`` objects in this process, each
with its own lock session, as two hotline processes have; a leader's death is its session terminated by
the server (what PostgreSQL does when a process dies or its connection is cut). Each test takes a lock
key of its own, so tests running at once on one server never meet.
"""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.metrics import Metrics
from engine.runtime.leadership import Leadership
from engine.store.db import make_engine


def on_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


@pytest.fixture
def key() -> int:
    return random.randrange(1 << 20, 1 << 31)


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not on_postgresql(db_url):
        pytest.skip("needs HOTLINE_TEST_DATABASE_URL pointing at PostgreSQL")
    return db_url


def terminate_holder(url: str, key: int) -> int:
    """Terminate the session that holds ``key`` (as when the leader's process is killed); its pid."""
    admin = make_engine(url)
    try:
        with admin.begin() as c:
            pid = c.execute(
                text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted"), {"k": key}
            ).scalar_one()
            assert c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True
        return pid
    finally:
        admin.dispose()


def test_with_sqlite_the_one_process_always_leads(tmp_path) -> None:
    leadership = Leadership(f"sqlite:///{tmp_path}/h.sqlite3")
    assert leadership.try_acquire() and leadership.is_leader
    assert leadership.acquire() is True
    assert leadership.check() is None and not leadership.lost.ready()


@pytest.mark.db
def test_one_leader_at_a_time_and_a_clean_release_hands_over(pg_url: str, key: int) -> None:
    metrics = Metrics()
    a, b = Leadership(pg_url, key=key, metrics=metrics), Leadership(pg_url, key=key)
    try:
        assert a.try_acquire() is True
        assert metrics.registry.get_sample_value("hotline_leader") == 1.0
        assert b.try_acquire() is False and not b.is_leader
        assert a.check() is None  # still its lock
        a.release()
        assert b.try_acquire() is True and b.is_leader
        assert a.try_acquire() is False
    finally:
        a.release()
        b.release()


@pytest.mark.db
def test_a_leader_whose_session_dies_knows_at_once_and_the_standby_leads_within_5_s(pg_url: str, key: int) -> None:
    metrics = Metrics()
    leader = Leadership(pg_url, key=key, check_seconds=0.5, metrics=metrics)
    standby = Leadership(pg_url, key=key, poll_seconds=0.2)
    try:
        assert leader.try_acquire()
        watcher = leader.watch()
        started = time.monotonic()
        terminate_holder(pg_url, key)
        reason = leader.lost.get(timeout=5)
        assert reason.startswith("the lock session failed")
        assert not leader.is_leader and metrics.registry.get_sample_value("hotline_leader") == 0.0
        watcher.join(timeout=5)
        assert watcher.dead
        assert standby.acquire(lambda: time.monotonic() - started > 5) is True
        assert time.monotonic() - started < 5
        assert leader.try_acquire() is False  # the old leader, back, is now the standby
    finally:
        leader.release()
        standby.release()


@pytest.mark.db
def test_a_standby_gives_up_waiting_when_told_to_stop(pg_url: str, key: int) -> None:
    leader, standby = Leadership(pg_url, key=key), Leadership(pg_url, key=key, poll_seconds=0.05)
    polls = []
    try:
        assert leader.try_acquire()
        assert standby.acquire(lambda: polls.append(1) or len(polls) >= 3) is False
        assert len(polls) == 3 and not standby.is_leader
    finally:
        leader.release()
        standby.release()
