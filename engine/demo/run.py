"""``hotline demo``: start the emulator and the engine, drive synthetic calls, print progress.

Everything runs in simulated time ``speed`` times faster than the wall clock: the emulator scales
its media and ring times, and the engine's ACD clock runs at the same pace, so wrap-up, ring
timeouts and patience keep their proportions. Flows see a fixed business-hours Monday.
"""

from __future__ import annotations

import logging
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent

from engine.config import load_config
from engine.demo.traffic import Profile, caller, phone, seed_database
from engine.emulator import Emulator
from engine.runtime.hotline import Hotline
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

HOTLINE_NUMBER = "4000"
OUTCOMES = ("answered", "abandoned", "self_served", "voicemail", "transferred", "failed")


@dataclass(frozen=True)
class DemoOptions:
    calls: int = 40
    agents: int = 6
    rate: float = 0.3
    seed: int = 1
    speed: float = 20.0
    data_dir: str | None = None


def _business_clock(speed: float, zone: str):
    start_wall = time.monotonic()
    opening = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(zone))  # a Monday morning
    return lambda: opening + timedelta(seconds=(time.monotonic() - start_wall) * speed)


def run_demo(options: DemoOptions, out=sys.stdout) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rng = random.Random(options.seed)
    data_dir = Path(options.data_dir or tempfile.mkdtemp(prefix="hotline-demo-"))
    password = secrets.token_hex(8)
    emulator = Emulator(password=password, time_scale=1 / options.speed, keep_log=False)  # runs for hours
    fs_port = emulator.start()
    admin = secrets.token_hex(16)
    config = load_config(
        None,
        {
            "data_dir": str(data_dir),
            "freeswitch": {"port": fs_port, "password": password},
            "socket": {"port": 0},
            "http": {"port": 0},
            "tokens": {admin: {"role": "admin"}},
            "speech": {"asr": "detect_speech"},
        },
    )
    upgrade(config.db_url())
    with session_factory(make_engine(config.db_url())).begin() as s:
        agent_ids = seed_database(s, options.agents, config.calls.region, rng)
    profile = Profile()
    for agent_id in agent_ids:
        emulator.phones[agent_id] = phone(agent_id, profile, rng)

    t0 = time.monotonic()
    engine = Hotline(
        config,
        clock=lambda: (time.monotonic() - t0) * options.speed,
        flow_clock=_business_clock(options.speed, config.calls.timezone),
    )
    ports = engine.start(wait_for_freeswitch=10)
    emulator.dialplan[HOTLINE_NUMBER] = [("socket", f"127.0.0.1:{ports.socket} async full")]
    for agent_id in agent_ids:
        engine.backend.agent_action(agent_id, "login", None)
    print(
        f"hotline demo: {options.agents} agents, {options.calls} calls, {options.speed:g}x time; "
        f"metrics: curl -H 'Authorization: Bearer {admin}' http://127.0.0.1:{ports.http}/metrics\n"
        f"data: {data_dir}",
        file=out,
    )
    per_minute = options.rate * options.agents  # simulated calls per simulated minute
    placed = 0
    try:
        while options.calls == 0 or _finished(engine) < options.calls:
            if options.calls == 0 or placed < options.calls:
                emulator.place_call(caller(placed, profile, rng), HOTLINE_NUMBER)
                placed += 1
            gap = rng.expovariate(per_minute / 60.0) / options.speed
            _progress(engine, time.monotonic() - t0, out)
            gevent.sleep(gap)
            if options.calls and placed >= options.calls:
                gevent.sleep(0.5)
    except KeyboardInterrupt:
        print("\ninterrupted", file=out)
    finally:
        _summary(engine, time.monotonic() - t0, options, out)
        engine.stop()
        emulator.stop()
    return 0


def _finished(engine: Hotline) -> int:
    return int(sum(engine.metrics.value("hotline_calls_total", outcome=o) for o in OUTCOMES))


_last_print = [0.0]


def _progress(engine: Hotline, elapsed: float, out) -> None:
    if elapsed - _last_print[0] < 1.0:
        return
    _last_print[0] = elapsed
    m = engine.metrics
    offered = sum(m.value("hotline_queue_offered_total", queue=q["queue"]) for q in engine.backend.queues_view())
    waiting = sum(q["waiting"] for q in engine.backend.queues_view())
    states = {}
    for agent in engine.backend.agents_view():
        states[agent["state"]] = states.get(agent["state"], 0) + 1
    agents = " ".join(f"{k}={v}" for k, v in sorted(states.items()))
    print(
        f"[{elapsed:6.1f}s] queued={offered:.0f} answered={m.value('hotline_calls_total', outcome='answered'):.0f} "
        f"abandoned={m.value('hotline_calls_total', outcome='abandoned'):.0f} waiting={waiting} | agents {agents}",
        file=out,
        flush=True,
    )


def _summary(engine: Hotline, elapsed: float, options: DemoOptions, out) -> None:
    m = engine.metrics
    counts = {o: int(m.value("hotline_calls_total", outcome=o)) for o in OUTCOMES}
    total = sum(counts.values()) or 1
    answered_wait = [
        (
            m.value("hotline_queue_wait_seconds_sum", queue=q["queue"], outcome="answered"),
            m.value("hotline_queue_wait_seconds_count", queue=q["queue"], outcome="answered"),
        )
        for q in engine.backend.queues_view()
    ]
    waits, n = sum(w for w, _ in answered_wait), sum(c for _, c in answered_wait)
    print(f"\nsummary after {elapsed:.1f} s ({elapsed * options.speed / 60:.1f} simulated minutes)", file=out)
    for outcome, count in counts.items():
        print(f"  {outcome:<12} {count:5d}  {100 * count / total:5.1f} %", file=out)
    if n:
        print(f"  average speed of answer: {waits / n:.1f} simulated s over {n:.0f} answered calls", file=out)
    engine.writer.wait_idle(10)  # the last calls' records are written off the loop
    with engine.sessions() as s:
        from sqlalchemy import func, select

        from engine.store.models import Call, Interaction

        cdrs = s.scalar(select(func.count()).select_from(Call))
        interactions = s.scalar(select(func.count()).select_from(Interaction))
    print(f"  call detail records stored: {cdrs}; CRM interactions: {interactions}", file=out)
