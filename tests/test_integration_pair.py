"""An active/standby pair of `hotline run` processes on one PostgreSQL database (engine/runtime/leadership.py).

Two real processes, each with its own ports and data folder, sharing the test's database: the first
leads (its socket for calls listens), the second waits as the standby (its socket does not). When the
leader is killed (-9) the standby takes over; when the leader loses its lock session it stops taking
calls at once and exits 75, and the standby takes over: never two leaders. No FreeSWITCH is needed
(the engine retries its ESL connection in the background). Waits poll a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.runtime.leadership import LOCK_KEY
from engine.store.db import make_engine
from engine.store.migrate import upgrade
from tests.switch_peer import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.db]

REPO = Path(__file__).resolve().parent.parent
FLOW = "flow: main\nnodes:\n  hello:\n    say: Hello.\n    next: bye\n  bye:\n    hangup: NORMAL_CLEARING\n"
START_SECONDS = 90.0  # a loaded machine: bounds a failure only


@pytest.fixture
def pg_url(db_url: str) -> str:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("needs HOTLINE_TEST_DATABASE_URL pointing at PostgreSQL")
    upgrade(db_url)
    return db_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class Engine:
    """One `hotline run` process with its own config, ports and log."""

    def __init__(self, root: Path, name: str, db_url: str) -> None:
        self.dir = root / name
        (self.dir / "flows").mkdir(parents=True)
        (self.dir / "flows" / "main.yaml").write_text(FLOW)
        self.socket_port = free_port()
        config = {
            "data_dir": str(self.dir / "var"),
            "database_url": db_url,
            "flows_dir": str(self.dir / "flows"),
            "freeswitch": {"port": free_port(), "password": "unused-in-this-test"},
            "socket": {"port": self.socket_port},
            "http": {"port": free_port()},
        }
        (self.dir / "hotline.yaml").write_text(yaml.safe_dump(config))
        self.log = self.dir / "log.txt"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "cli.py"), "--config", str(self.dir / "hotline.yaml"), "run"],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def serving(self) -> bool:
        return accepting(self.socket_port)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    first, second = Engine(tmp_path, "a", pg_url), Engine(tmp_path, "b", pg_url)
    try:
        first.start()
        wait_until(lambda: first.serving() or first.proc.poll() is not None, START_SECONDS, "the first process")
        assert first.serving(), first.tail()
        second.start()
        wait_until(lambda: second.said("standby, waiting"), START_SECONDS, "the second process standing by")
        assert not second.serving() and first.said("this process is the leader")
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_kill_9_the_leader_and_the_standby_serves(pair: tuple[Engine, Engine]) -> None:
    leader, standby = pair
    assert leader.proc is not None
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(standby.serving, START_SECONDS, "the standby serving")
    print(f"standby serving {time.monotonic() - killed:.2f} s after the leader's kill -9")
    assert standby.said("this process is the leader")


def test_a_leader_that_loses_its_lock_session_stops_taking_calls_and_exits_75(pair: tuple[Engine, Engine]) -> None:
    leader, standby = pair
    assert leader.proc is not None
    url = yaml.safe_load((leader.dir / "hotline.yaml").read_text())["database_url"]
    admin = make_engine(url)
    try:
        with admin.begin() as c:  # the lock session's server side ends, as when the network is cut
            c.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"),
                {"k": LOCK_KEY},
            )
    finally:
        admin.dispose()
    assert leader.proc.wait(timeout=START_SECONDS) == 75
    assert leader.said("leadership lost")
    wait_until(standby.serving, START_SECONDS, "the standby serving")
    assert standby.said("this process is the leader")
