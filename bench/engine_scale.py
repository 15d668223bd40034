"""Event-loop lag of the whole engine at scale, with the FreeSWITCH emulator in a separate process.

Set-up: 5,000 agents logged in (skill ``sales``), 2,000 callers placed through the emulator who choose
``support`` in the main IVR flow and wait there (nobody staffs it; they never give up). Then, for
``SECONDS``: a progressive campaign into ``sales`` (at most ``CAMPAIGN`` lines, 5 dials a second; the
people it reaches talk 20 s to an agent; 0: no campaign), ``/metrics`` scraped over HTTP every 5 s and
20 agent actions per second over HTTP (break, then ready again; refused for an agent on a campaign
call), while a greenlet sleeps 10 ms in a loop and records how late it wakes.
Prints the lag's p50/p99/max and the latency of the scrapes and actions.

Usage: python bench/engine_scale.py [AGENTS] [CALLERS] [SECONDS] [CAMPAIGN]
(``HOTLINE_PROFILE=FILE`` writes a cProfile of the measured seconds to FILE.)
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import cProfile
import http.client
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

from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

EMULATOR = """
import sys, json, gevent
from engine.emulator import Emulator, Caller, CalledParty, Phone
def line():  # read stdin in a thread so the emulator keeps serving meanwhile
    return gevent.get_hub().threadpool.apply(sys.stdin.readline)
emu = Emulator(password=sys.argv[1], keep_log=False)
for n in range(int(sys.argv[2])):
    emu.phones[f"a{n}"] = Phone(f"a{n}", answer_delay=0.2)
for n in range(int(sys.argv[3])):
    number = f"+44207946{n:04d}"
    emu.parties[number] = CalledParty(
        number, "live", answer_delay=2.0, talk_seconds=20, patience_seconds=60, amd_seconds=0.5
    )
print(json.dumps({"port": emu.start()}), flush=True)
emu.dialplan["4000"] = [("socket", f"127.0.0.1:{int(line())} async full")]
for n in range(int(line())):
    emu.place_call(Caller(f"1390{n:07d}", script=["2"]), "4000")  # 2: support; no patience
    gevent.sleep(0.005)
line()
"""
TICK = 0.010
CONTACTS = 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def lag_probe(lags: list[float]) -> None:
    """Sleep 10 ms at a time; record how late each wake-up is (ms)."""
    while True:
        start = time.perf_counter()
        gevent.sleep(TICK)
        lags.append(1000 * (time.perf_counter() - start - TICK))


def request(port: int, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, 1000 * (time.perf_counter() - started)


def start_campaign(port: int, token: str, lines: int) -> None:
    """A progressive campaign into sales, over the HTTP API (docs/outbound.md)."""
    body = {
        "name": "scale",
        "caller_id": "+442079460000",
        "queue": "sales",
        "compliance": {"window": {"start": "00:00", "end": "23:59:59"}},
        "dial_params": {"max_channels": lines, "calls_per_second": 5},
    }
    csv = "phone,name\n" + "".join(f"+44207946{n:04d},c{n}\n" for n in range(CONTACTS))
    for path, payload in (("/api/campaigns", body), ("/api/campaigns/scale/contacts", {"csv": csv})):
        status, _ = request(port, token, "POST", path, payload)
        assert status == 200, (path, status)
    assert request(port, token, "POST", "/api/campaigns/scale/start")[0] == 200


def main() -> None:
    n_agents = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    n_callers = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    lines = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    password, token = secrets.token_hex(8), secrets.token_hex(16)
    emulator = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, password, str(n_agents), str(CONTACTS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    fs_port = json.loads(emulator.stdout.readline())["port"]
    data = Path(tempfile.mkdtemp(prefix="hotline-scale-"))
    config = load_config(
        None, {"data_dir": str(data), "freeswitch": {"port": fs_port, "password": password},
               "socket": {"port": 0}, "http": {"port": 0}, "tokens": {token: {"role": "admin"}}},
    )  # fmt: skip
    upgrade(config.db_url())
    started = time.perf_counter()
    with session_factory(make_engine(config.db_url())).begin() as s:
        for name in ("sales", "support", "billing", "vip"):
            skills.create_skill(s, name)
            queues.create_queue(s, name, wrap_up_seconds=0, required_skills={name: 1})
        for n in range(n_agents):
            agents.create_agent(s, f"a{n}", name=f"a{n}", contact=f"user/a{n}", skills={"sales": 5})
    opening = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(config.calls.timezone))
    engine = Hotline(config, flow_clock=lambda: opening)
    ports = engine.start(wait_for_freeswitch=10)
    core = engine.acd.acd
    for n in range(n_agents):  # straight to the ACD: the set-up is not what is measured
        engine.acd.apply(lambda t, a=f"a{n}": core.agent_login(a, t))
    engine.tts.render("warm", "en-GB")
    emulator.stdin.write(f"{ports.socket}\n{n_callers}\n")
    emulator.stdin.flush()
    waiting, progress = 0, time.monotonic()
    while waiting < n_callers and time.monotonic() - progress < 60:  # callers refused on a loaded machine
        gevent.sleep(0.5)
        now_waiting = core.queue_status("support", engine.acd.clock()).waiting
        if now_waiting > waiting:
            waiting, progress = now_waiting, time.monotonic()
    print(f"set-up: {n_agents} agents ready, {waiting} callers waiting ({time.perf_counter() - started:.0f} s)")

    attempts: list = []
    if lines:
        start_campaign(ports.http, token, lines)
    lags: list[float] = []
    scrapes: list[float] = []
    actions: list[float] = []
    errors: list[int] = []
    refused = [0]

    def scraper() -> None:
        while True:
            status, ms = request(ports.http, token, "GET", "/metrics")
            scrapes.append(ms)
            if status != 200:
                errors.append(status)
            gevent.sleep(5.0)

    def actor() -> None:
        n = 0
        while True:
            agent = f"a{(n // 2) % n_agents}"
            body, path = ({"reason": "lunch"}, "break") if n % 2 == 0 else ({}, "ready")
            status, ms = request(ports.http, token, "POST", f"/api/agents/{agent}/{path}", body)
            actions.append(ms)
            if status == 409:  # the agent is on a campaign call (or rung for one): refused, as the API says
                refused[0] += 1
            elif status != 200:
                errors.append(status)
            n += 1
            gevent.sleep(max(0.0, 0.05 - ms / 1000))  # 20 per second

    workers = [gevent.spawn(lag_probe, lags), gevent.spawn(scraper), gevent.spawn(actor)]
    profile = cProfile.Profile() if os.environ.get("HOTLINE_PROFILE") else None
    if profile:
        profile.enable()
    engine.campaigns.services.attempt_recorded.append(attempts.append)
    cpu = time.process_time()
    gevent.sleep(seconds)
    cpu = time.process_time() - cpu
    if profile:
        profile.disable()
        profile.dump_stats(os.environ["HOTLINE_PROFILE"])
    gevent.killall(workers)
    emulator.stdin.write("\n")
    emulator.stdin.flush()
    engine.stop()
    emulator.kill()
    emulator.wait(timeout=10)
    print(f"measured {seconds:.0f} s: engine CPU {100 * cpu / seconds:.0f} %, errors: {errors or 'none'}")
    outcomes = Counter(str(a.result.outcome) for a in attempts)
    print(f"campaign: {lines} lines, attempts ended while measured: {dict(outcomes) or 'none'}")
    print(f"agent actions refused (the agent was on a campaign call): {refused[0]}")
    print(
        f"event-loop lag (ms): p50 {percentile(lags, 0.5):.2f}  p99 {percentile(lags, 0.99):.2f}  "
        f"max {max(lags):.1f}  ({len(lags)} wake-ups)"
    )
    print(f"/metrics scrape (ms): p50 {percentile(scrapes, 0.5):.1f}  max {max(scrapes):.1f}  ({len(scrapes)})")
    print(f"  each scrape (ms): {' '.join(f'{ms:.0f}' for ms in scrapes)}")
    print(
        f"agent action (ms): p50 {percentile(actions, 0.5):.1f}  p99 {percentile(actions, 0.99):.1f}  ({len(actions)})"
    )


if __name__ == "__main__":
    main()
