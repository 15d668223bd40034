"""Fault test (issue 16): the emulator and the engine as separate processes; the engine is killed with
SIGKILL while two calls talk and two wait, then started again.

Checked through the paths an operator sees: the engine's HTTP API (agents, queues, CDRs with their
segments), the database (one CDR and one interaction per call) and the switch's own ESL (which phone
holds which call). SQLite, and PostgreSQL when HOTLINE_TEST_DATABASE_URL is set (marker ``db``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.store import agents, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.models import Call, Interaction
from engine.transport import ESLError, InboundClient
from engine.transport.connection import Connection

pytestmark = [pytest.mark.integration, pytest.mark.db]

REPO = Path(__file__).resolve().parent.parent
FLOW = "flow: main\nnodes:\n  wait:\n    queue: support\n"
AGENTS = {"1001": "user/1001", "1002": "user/1002"}
TIMEOUT = 30.0  # a loaded CI machine: generous, but every wait is bounded


def until(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``condition`` until it is truthy (its value), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (OSError, urllib.error.URLError, ValueError, ESLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)  # the poll interval of a bounded wait on the condition above


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """The child processes of one test, each killed (SIGKILL) and reaped in teardown."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.running = logs, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        out = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, str(REPO / "cli.py"), *args], stdout=out, stderr=out, cwd=REPO)
        self.running.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)

    def kill_all(self) -> None:
        for proc in self.running:
            self.kill(proc)


class Switch:
    """The emulator process, seen through its event socket as a test harness would see FreeSWITCH."""

    def __init__(self, port: int, password: str) -> None:
        self.client = InboundClient("127.0.0.1", port, password, ["BACKGROUND_JOB"], timeout=10)
        self.conn: Connection = until(self.client.connect_once, "the emulator's event socket")

    def api(self, *words: str) -> str:
        return self.conn.api(*words, timeout=10)

    def call(self) -> str:
        """A caller dials the hotline (a loopback call, as on a real FreeSWITCH); their channel's uuid."""
        a_leg = self.api("originate", "loopback/4000", "&park()").split()[1]
        return self.api("uuid_getvar", a_leg, "other_loopback_leg_uuid").strip()

    def hangup(self, uuid: str) -> None:
        self.api("uuid_kill", uuid, "NORMAL_CLEARING")

    def pairs(self) -> dict[str, str]:
        """Bridged calls: caller uuid -> the phone (dialed_user) on the other side."""
        rows = json.loads(self.api("show", "calls", "as", "json")).get("rows", [])
        found = {}
        for row in [r for r in rows if r["b_uuid"]]:  # an unbridged channel's row has an empty b_uuid
            for caller, leg in ((row["uuid"], row["b_uuid"]), (row["b_uuid"], row["uuid"])):
                phone = self.api("uuid_getvar", leg, "dialed_user").strip()
                if phone in AGENTS:
                    found[caller] = phone
        return found

    def legs_per_phone(self) -> dict[str, int]:
        rows = json.loads(self.api("show", "channels", "as", "json")).get("rows", [])
        counts = dict.fromkeys(AGENTS, 0)
        for row in rows:
            phone = self.api("uuid_getvar", row["uuid"], "dialed_user").strip()
            if phone in counts:
                counts[phone] += 1
        return counts

    def close(self) -> None:
        self.conn.close()


class Engine:
    """``hotline run`` as an operator starts it, and its HTTP API."""

    def __init__(self, procs: Processes, config: Path, http_port: int, admin: str) -> None:
        self.procs, self.config, self.http_port, self.admin = procs, config, http_port, admin
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = self.procs.start("engine", "--config", str(self.config), "run", "--wait", "20")
        until(lambda: self.api("GET", "/api/agents")[0] == 200, "the engine's HTTP API")

    def kill9(self) -> None:
        assert self.proc is not None
        self.procs.kill(self.proc)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.admin}"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def agent_states(self) -> dict[str, str]:
        return {a["id"]: a["state"] for a in self.api("GET", "/api/agents")[1]}

    def queue(self) -> dict[str, Any]:
        return next(q for q in self.api("GET", "/api/queues")[1] if q["queue"] == "support")

    def cdr(self, call_id: str) -> dict[str, Any] | None:
        status, body = self.api("GET", f"/api/calls/{call_id}")
        return body if status == 200 else None


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Iterator[tuple[Switch, Engine, Callable[[], Any]]]:
    upgrade(db_url)
    db = make_engine(db_url)
    with session_factory(db).begin() as s:
        skills.create_skill(s, "support")
        queues.create_queue(s, "support", required_skills={"support": 1}, wrap_up_seconds=0)
        for agent_id, contact in AGENTS.items():
            agents.create_agent(s, agent_id, name=agent_id, contact=contact, skills={"support": 5})
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW)
    esl, sock, http = free_port(), free_port(), free_port()
    password, admin = secrets.token_hex(8), secrets.token_hex(16)
    config = tmp_path / "hotline.yaml"
    config.write_text(
        json.dumps(
            {
                "data_dir": str(tmp_path / "data"),
                "database_url": db_url,
                "flows_dir": str(flows),
                "freeswitch": {"port": esl, "password": password, "reconnect_max_seconds": 0.5},
                "socket": {"port": sock},
                "http": {"port": http},
                "tokens": {admin: {"role": "admin"}},
            }
        )
    )
    procs = Processes(tmp_path)
    switch = None
    try:
        procs.start(
            "emulator", "emulator", "--esl-port", str(esl), "--password", password,
            "--socket", f"127.0.0.1:{sock}", "--agents", ",".join(AGENTS),
        )  # fmt: skip
        switch = Switch(esl, password)
        yield switch, Engine(procs, config, http, admin), session_factory(db)
    finally:
        if switch is not None:
            switch.close()
        procs.kill_all()
        db.dispose()
        if os.environ.get("HOTLINE_CRASH_LOGS"):  # a failing run's engine and emulator logs, on request
            for log in sorted(tmp_path.glob("*.log")):
                print(log.name, log.read_text(errors="replace")[-4000:], sep="\n")


def test_a_killed_engine_adopts_the_talking_calls_records_them_and_double_books_no_agent(rig) -> None:
    switch, engine, sessions = rig
    engine.start()
    for agent_id in AGENTS:
        assert engine.api("POST", f"/api/agents/{agent_id}/login")[1]["state"] == "ready"
    talking = [switch.call(), switch.call()]
    until(lambda: set(switch.pairs()) == set(talking), "two callers talking to the two agents")
    waiting = [switch.call(), switch.call()]
    until(lambda: engine.queue()["waiting"] == 2, "two callers waiting")
    phone_of = switch.pairs()
    # the call's place and agent are on the caller's channel once it is bridged (what a new engine reads)
    until(
        lambda: all(switch.api("uuid_getvar", c, "hotline_agent").strip() == phone_of[c] for c in talking),
        "the adoption variables on the talking callers' channels",
    )
    killed_at = datetime.now(UTC)

    engine.kill9()
    assert set(switch.pairs()) == set(talking)  # the calls go on without the engine
    engine.start()

    until(lambda: engine.agent_states() == {"1001": "on_call", "1002": "on_call"}, "both agents on_call again")
    # TODO(issue 16 part 2, reclaim): the two `waiting` callers are parked by the dialplan and taken back into
    # the queue in their original order; assert that here (each reaches an agent before `newcomer`).
    assert waiting
    newcomer = switch.call()
    until(lambda: engine.queue()["waiting"] == 1, "the new caller waiting")
    queue = engine.queue()
    assert (queue["talking"], queue["offering"]) == (2, 0), "a new caller was offered to an agent on a call"
    assert switch.legs_per_phone() == {"1001": 1, "1002": 1}

    first, second = talking
    switch.hangup(first)
    cdr = until(lambda: engine.cdr(first), "the first adopted call's CDR")
    assert (cdr["agent"], cdr["queue"], cdr["outcome"], cdr["hangup_cause"]) == (
        phone_of[first], "support", "answered", "NORMAL_CLEARING",
    )  # fmt: skip
    assert datetime.fromisoformat(cdr["bridged_at"]) < killed_at  # the call's own start, not the adoption's
    assert datetime.fromisoformat(cdr["queued_at"]) <= datetime.fromisoformat(cdr["bridged_at"])
    assert [(s["agent"], s["how"]) for s in cdr["segments"]] == [(phone_of[first], "answered")]

    # the freed agent takes the new caller; the other one keeps their adopted call, never offered
    until(lambda: switch.pairs().get(newcomer) == phone_of[first], "the new caller bridged to the freed agent")
    assert switch.pairs()[second] == phone_of[second]
    assert switch.legs_per_phone() == {"1001": 1, "1002": 1}

    for call_id in (second, newcomer):
        switch.hangup(call_id)
        until(lambda c=call_id: engine.cdr(c), f"the CDR of {call_id}")
    assert engine.cdr(second)["agent"] == phone_of[second]
    until(lambda: engine.agent_states() == {"1001": "ready", "1002": "ready"}, "both agents ready again")
    with sessions() as s:  # one CDR and one interaction per call: none lost, none written twice
        for call_id in (first, second, newcomer):
            assert s.scalar(select(func.count()).select_from(Call).where(Call.uuid == call_id)) == 1
            assert s.scalar(select(func.count()).select_from(Interaction).where(Interaction.call_uuid == call_id)) == 1
