"""A running hotline on the FreeSWITCH emulator, over real TCP sockets, for integration tests."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gevent
from gevent.event import AsyncResult
from gevent.queue import Queue

from engine.config import load_config
from engine.emulator import Emulator
from engine.runtime.call_session import CallTrace
from engine.runtime.hotline import Hotline
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

HOTLINE_NUMBER = "4000"
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TIME_SCALE = 0.01  # the emulator's media and ring times run 100x faster


@dataclass
class Rig:
    emulator: Emulator
    engine: Hotline
    http_port: int
    admin: str
    agent_tokens: dict[str, str]
    recorded: Queue = field(default_factory=Queue)

    def api(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def raw(self, method: str, path: str, token: str) -> bytes:
        """A non-JSON response's body (e.g. audio); HTTPError on an error status."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", method=method, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read()

    def ready(self, agent_id: str) -> None:
        token = self.agent_tokens[agent_id]
        assert self.api("POST", f"/api/agents/{agent_id}/login", token)[1]["state"] == "ready"

    def next_call(self, timeout: float = 10) -> CallTrace:
        return self.recorded.get(timeout=timeout)

    def feed(self, agent_id: str) -> Queue:
        """Subscribe to the agent's SSE feed over HTTP; parsed messages arrive on the queue."""
        messages: Queue = Queue()
        connected = AsyncResult()

        def reader() -> None:
            url = f"http://127.0.0.1:{self.http_port}/api/agents/{agent_id}/feed?token={self.agent_tokens[agent_id]}"
            with urllib.request.urlopen(url, timeout=30) as response:
                event: dict[str, Any] = {}
                for raw in response:
                    line = raw.decode().rstrip("\n")
                    if line == ": connected":
                        connected.set(True)
                    elif line.startswith("event: "):
                        event["kind"] = line[7:]
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif not line and event:
                        messages.put(event)
                        event = {}

        gevent.spawn(reader)
        connected.get(timeout=5)
        return messages


def seed(url: str, seeder) -> None:
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        seeder(s)
    engine.dispose()


def start_rig(
    tmp_path: Path,
    db_url: str,
    agents: list[str],
    *,
    flows_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    flow_clock: Callable[[], datetime] = lambda: MONDAY_MORNING,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Rig]:
    """``clock`` drives the ACD's timers (tests.acd_rig.SkipClock lets a test move it on)."""
    password = secrets.token_hex(8)
    emulator = Emulator(password=password, time_scale=TIME_SCALE)
    fs_port = emulator.start()
    admin = secrets.token_hex(16)
    agent_tokens = {agent: secrets.token_hex(16) for agent in agents}
    tokens = {admin: {"role": "admin"}, **{t: {"role": "agent", "agent": a} for a, t in agent_tokens.items()}}
    overrides: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "freeswitch": {"port": fs_port, "password": password, "reconnect_max_seconds": 0.2},
        "socket": {"port": 0},
        "http": {"port": 0},
        "tokens": tokens,
        "speech": {"asr": "detect_speech"},  # the emulator recognises the callers' scripted words
        # admission control has its own tests (tests/test_runtime_admission.py); here a test machine busy with
        # other work (event-loop lag of seconds, replies seconds late) must not turn the test's calls away to a
        # fallback it lacks, nor tests that hold the emulator's api replies
        "admission": {"max_loop_lag_seconds": 60.0, "max_reply_wait_seconds": 60.0},
    }
    if flows_dir is not None:
        overrides["flows_dir"] = str(flows_dir)
    for key, value in (config or {}).items():  # a section given merges into the rig's own
        overrides[key] = {**overrides[key], **value} if isinstance(overrides.get(key), dict) else value
    engine = Hotline(load_config(None, overrides), clock=clock, flow_clock=flow_clock)
    ports = engine.start(wait_for_freeswitch=5)
    emulator.dialplan[HOTLINE_NUMBER] = [("socket", f"127.0.0.1:{ports.socket} async full")]
    rig = Rig(emulator, engine, ports.http, admin, agent_tokens)
    engine.call_recorded.append(rig.recorded.put)
    try:
        yield rig
        # FreeSWITCH plays an application queued on a bridged channel over its partner: hold music there
        # would drown the agent (see engine.runtime.acd_shell); nothing hotline sends may land there
        assert not emulator.switch.media_in_bridge, f"played inside a bridge: {emulator.switch.media_in_bridge}"
    finally:
        if rig.engine is not engine:  # a test restarted the engine: stop the one it left running too, or its
            rig.engine.stop()  # control connection retries forever and finds a later test's emulator on the port
        engine.stop()
        emulator.stop()
