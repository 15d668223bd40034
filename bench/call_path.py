"""Engine CPU per routed call, over real TCP, with the FreeSWITCH emulator in a separate process.

Each call: answer, the main IVR flow (greeting, CRM lookup, a menu answered by key), queue,
offer (originate to the agent's phone), bridge, talk, hang-up, CDR + interaction written.
The figure is hotline's own process CPU time (the emulator's is not counted) divided by calls.
It also prints the bridges that did not form and the applications (hold music) that played inside a
bridge, over the agent: both should be 0.

Calls are placed at CPS calls per second (default 30, the goal's rate of issue 15): a burst faster
than the engine's admission limits would be turned away to the dialplan's fallback and never recorded.
The ESL commands the engine sent per call are printed too (from its latency histogram); with
``HOTLINE_COUNT_EVENTS=1`` also the events it read per call, by name and connection (this costs a little
CPU); with ``HOTLINE_PROFILE=<file>`` the measured part runs under cProfile (written to ``<file>``).

Usage: python bench/call_path.py [CALLS] [AGENTS] [CPS]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import cProfile
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
from gevent.queue import Empty, Queue

from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, queue_settings, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.transport.connection import Connection

EMULATOR = """
import sys, json, gevent
from engine.emulator import Emulator, Phone, Caller
def line():  # read stdin in a thread so the emulator keeps serving meanwhile
    return gevent.get_hub().threadpool.apply(sys.stdin.readline)
emu = Emulator(password=sys.argv[1], time_scale=0.002)
port = emu.start()
for n in range(int(sys.argv[2])):
    emu.phones[str(1001 + n)] = Phone(str(1001 + n), answer_delay=1.0)
print(json.dumps({"port": port}), flush=True)
socket_port = int(line())
emu.dialplan["4000"] = [("socket", f"127.0.0.1:{socket_port} async full")]
calls, cps = (float(x) for x in line().split())
for n in range(int(calls)):
    emu.place_call(Caller(f"1390000{n:04d}", script=["2"], talk_seconds=20), "4000")
    gevent.sleep(1 / cps)
line()
print(json.dumps({"media_in_bridge": len(emu.switch.media_in_bridge)}), flush=True)
"""


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_agents = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    cps = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    events = count_events() if os.environ.get("HOTLINE_COUNT_EVENTS") else None
    profile = cProfile.Profile() if os.environ.get("HOTLINE_PROFILE") else None
    password = secrets.token_hex(8)
    emulator = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, password, str(n_agents)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    fs_port = json.loads(emulator.stdout.readline())["port"]
    data = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    config = load_config(
        None, {"data_dir": str(data), "freeswitch": {"port": fs_port, "password": password},
               "socket": {"port": 0}, "http": {"port": 0}},
    )  # fmt: skip
    upgrade(config.db_url())
    with session_factory(make_engine(config.db_url())).begin() as s:
        for name in ("sales", "support", "billing", "vip"):
            skills.create_skill(s, name)
            queues.create_queue(s, name, wrap_up_seconds=0, required_skills={name: 1})
            # the emulator scales the ring timeout too (20 s -> 40 ms): a CPU-starved emulator then fails offers
            # NO_ANSWER and the agents go on break; 600 s (1.2 s scaled) keeps the figure about the engine
            queue_settings.set_settings(s, name, ring_timeout_seconds=600)
        for n in range(n_agents):
            agents.create_agent(s, str(1001 + n), name=f"a{n}", contact=f"user/{1001 + n}", skills={"support": 5})
    opening = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(config.calls.timezone))
    engine = Hotline(config, flow_clock=lambda: opening)
    ports = engine.start(wait_for_freeswitch=10)
    for n in range(n_agents):
        engine.backend.agent_action(str(1001 + n), "login", None)
    done: Queue = Queue()
    engine.call_recorded.append(done.put)
    engine.tts.render("warm", "en-GB")  # espeak-ng runs once per distinct prompt; keep it out of the figure
    sent_before = commands_sent(engine)
    if events is not None:
        events.clear()
    if profile is not None:
        profile.enable()
    started_cpu, started_wall = time.process_time(), time.monotonic()
    emulator.stdin.write(f"{ports.socket}\n{calls} {cps}\n")
    emulator.stdin.flush()
    outcomes: dict[str, int] = {}
    for n in range(calls):
        try:
            trace = done.get(timeout=60)
        except Empty:
            agents_by_state = {str(k): v for k, v in engine.acd.acd.agent_counts().items()}
            sys.exit(
                f"only {n} of {calls} calls recorded; live calls: {len(engine.outbound.active)}, "
                f"waiting: {engine.acd.acd.queue_status('support', engine.acd.clock()).waiting}, "
                f"agents: {agents_by_state}"
            )
        outcomes[trace.outcome] = outcomes.get(trace.outcome, 0) + 1
    cpu, wall = time.process_time() - started_cpu, time.monotonic() - started_wall
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["HOTLINE_PROFILE"])
    sent = {verb: n - sent_before.get(verb, 0) for verb, n in commands_sent(engine).items()}
    emulator.stdin.write("\n")
    emulator.stdin.flush()
    heard = json.loads(emulator.stdout.readline())["media_in_bridge"]
    engine.stop()
    emulator.wait(timeout=10)
    gevent.sleep(0)
    failures = engine.metrics.bridge_failures.collect()
    failed = sum(s.value for m in failures for s in m.samples if s.name.endswith("_total"))
    print(f"calls: {calls}, agents: {n_agents}, outcomes: {outcomes}")
    print(f"bridges that did not form: {failed:.0f}   applications played inside a bridge: {heard}")
    print(f"engine CPU per call: {1000 * cpu / calls:.2f} ms   wall: {wall:.1f} s   calls/s: {calls / wall:.1f}")
    print(f"engine CPU per second of wall time: {100 * cpu / wall:.0f} %   offered: {cps:g} calls/s")
    per_call = ", ".join(f"{verb} {n / calls:.2f}" for verb, n in sorted(sent.items(), key=lambda i: -i[1]) if n)
    print(f"ESL commands per call: {sum(sent.values()) / calls:.2f} ({per_call})")
    if events is not None:
        per_call = ", ".join(f"{key} {n / calls:.2f}" for key, n in events.most_common())
        print(f"ESL events read per call: {sum(events.values()) / calls:.2f} ({per_call})")


def commands_sent(engine: Hotline) -> dict[str, float]:
    """Commands answered so far, by verb (the ESL latency histogram's counts)."""
    return {
        sample.labels["command"]: sample.value
        for metric in engine.metrics.esl_latency.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
    }


def count_events() -> Counter:
    """Count every event the engine's connections read, by connection kind and event name."""
    seen: Counter = Counter()
    match = Connection._match

    def counted(self: Connection, event: object) -> None:
        seen[f"{self.name.split('@')[0].split(' ')[0]}:{event.name}"] += 1  # type: ignore[attr-defined]
        match(self, event)  # type: ignore[arg-type]

    Connection._match = counted  # type: ignore[method-assign]
    return seen


if __name__ == "__main__":
    main()
