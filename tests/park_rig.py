"""Engines that die: hotline as a subprocess (``hotline run``, killed with SIGKILL or stopped with SIGTERM)
or in-process, on the emulator running the shipped dialplans/default.xml (its park and fallback as they are)."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.config import load_config
from engine.emulator import Emulator
from engine.runtime.hotline import Hotline
from engine.store import agents, queues, skills
from tests.acd_rig import wait_until
from tests.hotline_rig import MONDAY_MORNING, seed

REPO = Path(__file__).resolve().parent.parent
DIALPLAN = REPO / "dialplans" / "default.xml"
TIME_SCALE = 0.1  # the emulator's media and the dialplan's park timer run 10x faster
FLOW = """\
flow: main
nodes:
  pick:
    menu: "Press 1 for sales, 2 if it is urgent."
    choices:
      - key: 1
        goto: normal
      - key: 2
        goto: urgent
    on_failure: normal
  normal:
    queue: sales
  urgent:
    queue: sales
    priority: 5
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ParkRig:
    tmp: Path
    db_url: str
    emulator: Emulator
    settings: dict[str, Any]
    agent_token: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    engines: list[Hotline] = field(default_factory=list)

    @property
    def http_port(self) -> int:
        return int(self.settings["http"]["port"])

    def spawn(self) -> subprocess.Popen[bytes]:
        """``hotline run`` in its own process; returns once its HTTP API answers."""
        path = self.tmp / "hotline.yaml"
        path.write_text(yaml.safe_dump(self.settings))
        log = (self.tmp / f"engine-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "cli.py"), "--config", str(path), "run"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        self.procs.append(proc)
        wait_until(lambda: proc.poll() is not None or self.http_up(), timeout=60, what="hotline's HTTP API")
        assert proc.poll() is None, (self.tmp / f"engine-{len(self.procs) - 1}.log").read_text()[-3000:]
        return proc

    def start_in_process(self) -> Hotline:
        engine = Hotline(load_config(None, self.settings), flow_clock=lambda: MONDAY_MORNING)
        self.engines.append(engine)
        engine.start(wait_for_freeswitch=5)
        return engine

    def http_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=1):
                return True
        except urllib.error.HTTPError:  # an answer, whatever it says
            return True
        except (OSError, urllib.error.URLError):
            return False

    def login(self, agent_id: str = "1001") -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/agents/{agent_id}/login", data=b"", method="POST",
            headers={"Authorization": f"Bearer {self.agent_token}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def var(self, uuid: str, name: str) -> str | None:
        ch = self.emulator.channels.get(uuid)
        return None if ch is None else ch.variables.get(name)

    def executed(self, uuid: str) -> list[str]:
        """The applications the channel ran, in order (CHANNEL_EXECUTE events)."""
        return [
            e.get("Application", "") for e in self.emulator.events if e.name == "CHANNEL_EXECUTE" and e.uuid == uuid
        ]


@contextmanager
def park_rig(
    tmp_path: Path, db_url: str, *, reclaim_seconds: int = 600, continuity: dict[str, Any] | None = None
) -> Iterator[ParkRig]:
    """Queue ``sales`` (agent 1001, phone answering), the flow above, the emulator on the shipped
    dialplan with ``hotline_reclaim_seconds`` set; nothing started yet."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW)

    def fill(s: Any) -> None:
        skills.create_skill(s, "sales")
        queues.create_queue(s, "sales", required_skills={"sales": 1}, wrap_up_seconds=0)
        agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"sales": 5})

    seed(db_url, fill)
    password, socket_port = secrets.token_hex(8), free_port()
    emulator = Emulator(
        password=password, time_scale=TIME_SCALE, dialplan_xml=DIALPLAN,
        variables={"hotline_socket": f"127.0.0.1:{socket_port}", "hotline_reclaim_seconds": str(reclaim_seconds)},
    )  # fmt: skip
    fs_port = emulator.start()
    token = secrets.token_hex(16)
    settings = {
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "flows_dir": str(flows),
        "freeswitch": {"port": fs_port, "password": password, "reconnect_max_seconds": 0.2},
        "socket": {"port": socket_port},
        "http": {"port": free_port()},
        "tokens": {token: {"role": "agent", "agent": "1001"}},
        "calls": {"timezone": "Asia/Shanghai"},
        "continuity": {"hold_chunk_seconds": 10, "reclaim_scan_seconds": 0.5, **(continuity or {})},
    }
    rig = ParkRig(tmp_path, db_url, emulator, settings, token)
    try:
        yield rig
    finally:
        for proc in rig.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        for engine in rig.engines:
            engine.stop()
        emulator.stop()
