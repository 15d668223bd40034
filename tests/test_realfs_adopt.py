"""Adoption on a real FreeSWITCH: an engine process killed (SIGKILL) while a caller talks to an agent;
a new engine adopts the call from FreeSWITCH's channels and records it once when it ends.

A loopback caller dials 4000; the first engine's flow queues them for support at once (its own process runs on
the real clock: the shipped flow's opening hours would turn the caller away outside them). Agent 1001's
"phone" is ``loopback/9999/default`` (answers, plays a tone). Checks that real FreeSWITCH keeps the variables
``uuid_setvar_multi`` wrote on the caller and the originate's ``{...}`` set on the agent's leg, and lists
the pair in ``show calls as json`` as the emulator does.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gevent.queue import Queue

from engine.transport import CommandFailed, Connection, ESLError
from tests.real_freeswitch import REPO, esl_connect, hotline_on, seed_one_agent, vars_value

pytestmark = [pytest.mark.realfs, pytest.mark.db]

CALLER = "13900139000"
FLOW = "flow: main\nnodes:\n  wait:\n    queue: support\n"  # no opening hours: the same at any time of day
WAIT = 30.0


def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := _try(check)):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)  # the poll interval of a bounded wait on the condition
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def situation(control: Any, uuid: str) -> dict[str, Any]:
    """What FreeSWITCH says of a channel, for a failure's message: its state, application, other leg and
    hotline's variables, and the bridged pairs ``show calls`` lists."""
    try:
        dump = json.loads(control.api("uuid_dump", uuid, "json"))
        calls = json.loads(control.api("show", "calls", "as", "json")).get("rows", [])
    except (ESLError, ValueError) as exc:
        return {"error": str(exc)}
    keys = ("Channel-State", "Channel-Call-State", "Other-Leg-Unique-ID", "variable_current_application")
    found = {k: dump.get(k) for k in keys} | {k: v for k, v in dump.items() if k.startswith("variable_hotline")}
    return found | {"calls": [(r.get("uuid"), r.get("b_uuid")) for r in calls]}


def realm_empty(control: Connection) -> bool:
    """``hash_dump db hotline_ended`` has no output: FreeSWITCH answers an api with none "-ERR no reply"."""
    try:
        return not control.api("hash_dump", "db", "hotline_ended").strip()
    except CommandFailed as exc:
        return "no reply" in str(exc)


def _try(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except (ESLError, OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def killed_while_talking(tmp_path: Path, db_url: str) -> Iterator[tuple[Connection, str, str]]:
    """A first engine (its own process) bridges a loopback caller to agent 1001, then is killed (SIGKILL):
    (a control connection, the caller's A leg, the call) with the call still up on FreeSWITCH."""
    seed_one_agent(db_url, "loopback/9999/default", CALLER)
    host, port = vars_value("hotline_socket").split(":")
    admin = "a" * 32
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW)
    config = tmp_path / "hotline.yaml"
    config.write_text(
        json.dumps(
            {
                "data_dir": str(tmp_path / "first"),
                "flows_dir": str(flows),
                "database_url": db_url,
                "freeswitch": {"password": vars_value("esl_password")},
                "socket": {"host": host, "port": int(port)},
                "http": {"port": free_port()},
                "tokens": {admin: {"role": "admin"}},
            }
        )
    )
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "--config", str(config), "run", "--wait", "20"],
        stdout=log, stderr=log, cwd=REPO,
    )  # fmt: skip
    control = esl_connect()
    try:
        until(lambda: "hotline up" in (tmp_path / "first.log").read_text(errors="replace"), "the first engine")
        login = subprocess.run(  # as an operator would, through the engine's API
            [sys.executable, str(REPO / "cli.py"), "--config", str(config), "--token", admin, "agent", "login", "1001"],
            cwd=REPO, capture_output=True, text=True, check=False, timeout=WAIT,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        a_leg = control.api(
            "originate", f"{{origination_caller_id_number={CALLER}}}loopback/4000/default", "&park()", timeout=30
        ).split()[1]

        def marked_caller() -> str | None:
            rows = json.loads(control.api("show", "calls", "as", "json")).get("rows", [])
            for uuid in [u for r in rows for u in (r["uuid"], r["b_uuid"]) if u]:  # unbridged: b_uuid ''
                if control.api("uuid_getvar", uuid, "hotline_call_id").strip() == uuid:
                    return uuid
            return None

        call_id = until(marked_caller, "a caller bridged to the agent, with the adoption variables")
        until(lambda: control.api("uuid_getvar", call_id, "hotline_agent").strip() == "1001", "the variables")
        # the agent's leg has its own since its originate's {...} (no command after the bridge)
        agent_leg = control.api("uuid_getvar", call_id, "bridge_to").strip()
        leg_vars = [control.api("uuid_getvar", agent_leg, v).strip() for v in ("hotline_agent", "hotline_call_id")]
        assert leg_vars == ["1001", call_id], (agent_leg, leg_vars)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=WAIT)
        yield control, a_leg, call_id
    finally:
        control.close()
        if first.poll() is None:
            first.kill()
            first.wait(timeout=WAIT)


def test_a_call_outlives_a_killed_engine_and_is_adopted_on_real_freeswitch(
    freeswitch: subprocess.Popen[bytes], tmp_path: Path, db_url: str
) -> None:
    with (
        killed_while_talking(tmp_path, db_url) as (control, a_leg, call_id),
        hotline_on(tmp_path / "second", db_url) as engine,
    ):
        recorded: Queue = Queue()
        engine.call_recorded.append(recorded.put)
        outcome = engine.adoption.done.get(timeout=WAIT)
        assert outcome.adopted == [call_id], (outcome, situation(control, call_id))
        assert engine.acd.agent_state("1001") == "on_call"
        control.api("uuid_kill", a_leg)
        trace = recorded.get(timeout=WAIT)
        assert (trace.uuid, trace.agent_id, trace.queue, trace.outcome) == (call_id, "1001", "support", "answered")
        assert trace.hangup_cause == "NORMAL_CLEARING"
        assert engine.backend.call_record(call_id)["segments"][0]["agent"] == "1001"


def test_a_call_that_ends_while_no_engine_runs_is_recorded_from_freeswitchs_hash_on_real_freeswitch(
    freeswitch: subprocess.Popen[bytes], tmp_path: Path, db_url: str
) -> None:
    """The dialplan's api_hangup_hook (dialplans/default.xml): FreeSWITCH keeps the call's variables, end time
    and cause in mod_hash when the caller hangs up; the next engine records the call from them."""
    with killed_while_talking(tmp_path, db_url) as (control, a_leg, call_id):
        control.api("uuid_kill", a_leg)
        until(lambda: control.api("uuid_exists", call_id).strip() == "false", "the caller gone")
        kept = until(lambda: control.api("hash", f"select/hotline_ended/{call_id}"), "FreeSWITCH's entry")
        assert kept.startswith("v1,support,")
        overrides = {"continuity": {"ended_grace_seconds": 0}}
        with hotline_on(tmp_path / "second", db_url, overrides) as engine:
            cdr = until(lambda: engine.backend.call_record(call_id), "the call recorded from FreeSWITCH's hash")
            assert (cdr["outcome"], cdr["agent"], cdr["queue"], cdr["caller"]) == (
                "answered",
                "1001",
                "support",
                CALLER,
            )
            assert cdr["hangup_cause"] == "NORMAL_CLEARING"
            assert [s["agent"] for s in cdr["segments"]] == ["1001"]
            until(lambda: realm_empty(control), "the entry deleted")
