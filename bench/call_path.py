"""Engine CPU per routed call, over real TCP, with the FreeSWITCH emulator in a separate process.

Each call: answer, the main IVR flow (greeting, CRM lookup, a menu answered by key), queue,
offer (originate to the agent's phone), bridge, talk, hang-up, CDR + interaction written.
The figure is hotline's own process CPU time (the emulator's is not counted) divided by calls.
It also prints the bridges that did not form and the applications (hold music) that played inside a
bridge, over the agent: both should be 0.

Usage: python bench/call_path.py [CALLS] [AGENTS]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
from gevent.queue import Queue

from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

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
calls = int(line())
for n in range(calls):
    emu.place_call(Caller(f"1390000{n:04d}", script=["2"], talk_seconds=20), "4000")
    gevent.sleep(0.002)
line()
print(json.dumps({"media_in_bridge": len(emu.switch.media_in_bridge)}), flush=True)
"""


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_agents = int(sys.argv[2]) if len(sys.argv) > 2 else 20
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
    started_cpu, started_wall = time.process_time(), time.monotonic()
    emulator.stdin.write(f"{ports.socket}\n{calls}\n")
    emulator.stdin.flush()
    outcomes: dict[str, int] = {}
    for _ in range(calls):
        trace = done.get(timeout=120)
        outcomes[trace.outcome] = outcomes.get(trace.outcome, 0) + 1
    cpu, wall = time.process_time() - started_cpu, time.monotonic() - started_wall
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
    print(f"engine CPU per second of wall time: {100 * cpu / wall:.0f} %")


if __name__ == "__main__":
    main()
