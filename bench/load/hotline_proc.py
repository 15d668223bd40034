"""hotline for the load kit: its own process (``hotline run``), its own data folder and SQLite database.

``start_hotline`` writes a config for the overlay's switch (the load flow on the hotline number, the
overlay's socket and ESL port), seeds queue "load" (no wrap-up) and ``agents`` agents whose contact is
the SIPp phone, starts the engine, and logs every agent in through the HTTP API. The kit reads the
engine's CPU from /proc, its ``/metrics`` over HTTP, and its CDRs from its database.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bench.load.switch import HOST, REPO, KitError, process_cpu, vars_value

FLOWS = Path(__file__).resolve().parent / "flows"
QUEUE = "load"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def agent_ids(count: int) -> list[str]:
    return [f"a{n:04d}" for n in range(1, count + 1)]


def seed(db_url: str, agents: int, phone: str) -> None:
    """Schema, skill and queue "load" (no wrap-up), and ``agents`` agents reached at the SIPp ``phone``."""
    from engine.store import agents as agent_store
    from engine.store import queues, skills
    from engine.store.db import make_engine, session_factory
    from engine.store.migrate import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        skills.create_skill(s, QUEUE)
        queues.create_queue(s, QUEUE, required_skills={QUEUE: 1}, wrap_up_seconds=0)
        for agent in agent_ids(agents):
            contact = f"sofia/internal/sip:{agent}@{phone}"
            agent_store.create_agent(s, agent, name=f"Load {agent}", contact=contact, skills={QUEUE: 5})
    engine.dispose()


class HotlineProc:
    """``hotline run`` against the overlay's switch, with ``agents`` agents logged in."""

    def __init__(
        self, folder: Path, conf: Path, agents: int, phone: str, boot_seconds: float = 60.0,
        settings: Sequence[tuple[tuple[str, ...], object]] = (),
    ) -> None:  # fmt: skip
        """``settings``: (path, value) pairs set in the config on top of the kit's (``--set``)."""
        self.folder = folder
        self.db_url = f"sqlite:///{folder / 'hotline.db'}"
        self.http_port = free_port()
        self.token = secrets.token_hex(16)
        host, port = vars_value(conf, "hotline_socket").split(":")
        config = {
            "data_dir": str(folder),
            "database_url": self.db_url,
            "flows_dir": str(FLOWS),
            "freeswitch": {
                "host": HOST,
                "port": int(vars_value(conf, "esl_listen_port")),
                "password": vars_value(conf, "esl_password"),
            },
            "socket": {"host": host, "port": int(port)},
            "http": {"host": HOST, "port": self.http_port},
            "calls": {"default_flow": "load", "numbers": {vars_value(conf, "hotline_number"): "load"}},
            "tokens": {self.token: {"role": "admin"}},
            "log_level": "INFO",
        }
        for path, value in settings:
            section = config
            for part in path[:-1]:
                section = section.setdefault(part, {})
            section[path[-1]] = value
        config_file = folder / "hotline.yaml"
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        seed(self.db_url, agents, phone)
        self.log = folder / "hotline.log"
        self.args = [sys.executable, str(REPO / "cli.py"), "--config", str(config_file), "run", "--wait", "30"]
        self.boot_seconds = boot_seconds
        self.restart()
        for agent in agent_ids(agents):
            self.api("POST", f"/api/agents/{agent}/login", {})

    def restart(self) -> None:
        """Start ``hotline run`` (again: same config, database and data folder; its log appended) and wait
        until it serves /metrics. After a kill, the new engine restores agents and adopts calls by itself."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO
            )
        deadline = time.monotonic() + self.boot_seconds
        while True:
            try:
                self.metrics_text()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise KitError(f"hotline exited with {self.proc.returncode} at start; see {self.log}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    late = f"hotline did not serve /metrics in {self.boot_seconds:g} s; see {self.log}"
                    raise KitError(late) from None
                time.sleep(0.3)  # the poll interval of a bounded wait for the engine's HTTP port

    def kill(self) -> None:
        """SIGKILL: the engine dies at once, as in a crash (nothing drained, nothing flushed)."""
        self.proc.kill()
        self.proc.wait()

    def api(self, method: str, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{HOST}:{self.http_port}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read() or b"null")

    def metrics_text(self) -> str:
        request = urllib.request.Request(f"http://{HOST}:{self.http_port}/metrics")
        request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.read().decode()

    def cpu_seconds(self) -> float:
        return process_cpu(self.proc.pid)

    def cdrs_since(self, since: datetime) -> Counter[str]:
        """CDRs (the ``calls`` table) created at or after ``since`` (aware), by outcome."""
        from sqlalchemy import func, select

        from engine.store.db import make_engine
        from engine.store.models import Call

        engine = make_engine(self.db_url)
        try:
            with engine.connect() as db:
                rows = db.execute(
                    select(Call.outcome, func.count()).where(Call.created_at >= since).group_by(Call.outcome)
                )
                return Counter({str(getattr(outcome, "value", outcome)): n for outcome, n in rows})
        finally:
            engine.dispose()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
