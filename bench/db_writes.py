"""Event-loop lag while the engine writes agent-state rows: on the loop (as before issue 15) or through the
write queue (engine/store/writer.py), on SQLite (``synchronous=NORMAL``, as the engine runs it).

A greenlet submits ``RATE`` state changes a second for ``SECONDS`` seconds while another sleeps 5 ms at a
time and records how late it wakes. Prints, per mode: the lag's p50/p99/max, the process CPU per write and
the transactions committed.

Usage: python bench/db_writes.py [RATE] [SECONDS] [DATABASE_URL]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import gevent
from sqlalchemy import event

from engine.metrics import Metrics
from engine.store import agent_states, agents
from engine.store.db import default_url, make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.write_records import AgentStateWrite
from engine.store.writer import Writer

TICK = 0.005


def run(mode: str, url: str, rate: int, seconds: float) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    commits = [0]
    event.listen(engine, "commit", lambda _c: commits.__setitem__(0, commits[0] + 1))
    writer = Writer(sessions, Path(tempfile.mkdtemp(prefix="hotline-bench-")), Metrics())
    writer.start()
    lags: list[float] = []

    def probe() -> None:
        while True:
            start = time.perf_counter()
            gevent.sleep(TICK)
            lags.append(1000 * (time.perf_counter() - start - TICK))

    def write(n: int) -> None:
        at = datetime.now(UTC)
        state = "ready" if n % 2 else "break"
        if mode == "on the loop":
            with sessions.begin() as s:
                agent_states.append_agent_state(s, "1001", state, at=at)
        else:
            writer.submit(AgentStateWrite(agent_id="1001", state=state, at=at))

    watcher = gevent.spawn(probe)
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(int(rate * seconds)):
        write(n)
        gevent.sleep(max(0.0, wall + (n + 1) / rate - time.perf_counter()))  # the submission schedule
    writer.wait_idle(60)
    cpu = time.process_time() - cpu
    watcher.kill()
    writer.stop()
    engine.dispose()
    lags.sort()
    p = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
    writes = int(rate * seconds)
    print(
        f"{mode:>12}: loop lag p50 {p(0.5):.2f} ms  p99 {p(0.99):.2f} ms  max {lags[-1]:.2f} ms; "
        f"CPU {1000 * cpu / writes:.3f} ms per write; {commits[0]} transactions for {writes} writes"
    )


def main() -> None:
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    url = sys.argv[3] if len(sys.argv) > 3 else default_url(tempfile.mkdtemp(prefix="hotline-bench-"))
    upgrade(url)
    with session_factory(make_engine(url)).begin() as s:
        if not any(a.id == "1001" for a in agents.list_agents(s)):
            agents.create_agent(s, "1001", name="bench", contact="user/1001")
    for mode in ("on the loop", "write queue", "on the loop", "write queue"):
        run(mode, url, rate, seconds)


if __name__ == "__main__":
    main()
