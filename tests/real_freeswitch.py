"""A real FreeSWITCH, booted with freeswitch_conf/ unchanged, for tests marked ``realfs``.

Skipped unless a ``freeswitch`` binary is on PATH or named by HOTLINE_FREESWITCH_BIN.
Every writable folder (log, db, run, storage, ...) is a temporary one; the configuration is read
straight from the repository, and so are its ports (vars.xml). Boot and ports share bench/load/switch.py's
helpers with the load kit. Waits poll with a deadline; none sleeps blindly. Tests talk to it
with hotline's own transport (engine.transport), so these are also the transport's real-peer tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bench.load import switch
from bench.load.switch import HOST, KitError, Ports, accepting
from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, customers, queues, skills
from engine.transport import Connection, ESLError, InboundClient
from tests.hotline_rig import seed

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "freeswitch_conf"
PORTS = Ports.of(CONF_DIR)
"""The event socket, SIP and hotline socket ports, as freeswitch_conf/vars.xml sets them."""
ESL_PORT = PORTS.esl
BOOT_SECONDS = 30.0
LOCK_FILE = Path(os.environ.get("TMPDIR", "/tmp")) / "hotline-realfs.lock"


def vars_value(name: str) -> str:
    """A value set in freeswitch_conf/vars.xml."""
    return switch.vars_value(CONF_DIR, name)


def freeswitch_binary() -> str | None:
    return os.environ.get("HOTLINE_FREESWITCH_BIN") or shutil.which("freeswitch")


def poll(check: Callable[[], bool], deadline: float, proc: subprocess.Popen[bytes], what: str) -> None:
    """Call ``check`` until it is true; fail the test at ``deadline`` or when FreeSWITCH exits."""
    try:
        switch.wait_for(check, proc, deadline, what)
    except KitError as error:
        pytest.fail(str(error))


def esl_connect(events: tuple[str, ...] = ()) -> Connection:
    """An authenticated control connection through hotline's transport (events in json)."""
    client = InboundClient(HOST, ESL_PORT, vars_value("esl_password"), list(events) or ["BACKGROUND_JOB"])
    return client.connect_once()


@pytest.fixture(scope="module")
def freeswitch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    binary = freeswitch_binary()
    if binary is None:
        pytest.skip("no freeswitch binary on PATH and HOTLINE_FREESWITCH_BIN is not set")
    with machine_lock():
        yield from _booted(binary, tmp_path_factory)


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """One real FreeSWITCH of the tests at a time on this machine: two suites run at once (issue 13's loaded
    runs) would otherwise both find the fixed ports free and talk to each other's switch."""
    with open(LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


def _booted(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    busy = PORTS.busy()
    if busy:
        pytest.skip(f"ports already in use on {HOST} (freeswitch_conf/vars.xml): {busy}")
    root = tmp_path_factory.mktemp("fs")
    proc = switch.launch(binary, CONF_DIR, root, root / "stdout.txt")
    try:
        poll(lambda: accepting(ESL_PORT), time.monotonic() + BOOT_SECONDS, proc, "the event socket")
        yield proc
    finally:
        if proc.poll() is None:
            try:
                esl_connect().api("fsctl shutdown")
            except (OSError, ESLError):
                proc.terminate()
            try:
                proc.wait(timeout=BOOT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(autouse=True)
def hung_up_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the real FreeSWITCH (and after its engine stopped: this fixture is set up first),
    every channel is hung up and gone before the next test: a call one test leaves, even when it fails,
    would be adopted or reclaimed by the next test's engine on the module's shared switch."""
    yield
    if "freeswitch" not in request.fixturenames:
        return
    proc = request.getfixturevalue("freeswitch")
    if proc.poll() is not None:
        return
    control = esl_connect()
    try:
        control.api("hupall", "NORMAL_CLEARING")
        poll(lambda: live_sessions(control) == 0, time.monotonic() + BOOT_SECONDS, proc, "every channel hung up")
    finally:
        control.close()


def live_sessions(control: Connection) -> int:
    """FreeSWITCH's count of sessions now (``status``: "N session(s) - peak ..."), kept in memory; ``show
    channels count`` reads the core database, which FreeSWITCH writes behind the calls."""
    found = re.search(r"^(\d+) session\(s\) - peak", control.api("status"), re.MULTILINE)
    if found is None:
        raise ESLError("no 'session(s) - peak' line in FreeSWITCH's status")
    return int(found.group(1))


def seed_one_agent(db_url: str, contact: str, caller: str) -> None:
    """The four standard queues, agent 1001 (support 7) reached at ``contact``, and a known customer."""

    def fill(s: Any) -> None:
        for name in ("sales", "support", "billing", "vip"):
            skills.create_skill(s, name)
            queues.create_queue(s, name, required_skills={name: 1})
        agents.create_agent(s, "1001", name="Grace", contact=contact, skills={"support": 7})
        customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[caller])

    seed(db_url, fill)


@contextlib.contextmanager
def hotline_on(data_dir: Path, db_url: str, overrides: dict[str, Any] | None = None) -> Iterator[Hotline]:
    """hotline started against the real FreeSWITCH (its socket and password from vars.xml), the flows'
    clock a Monday 10:00 (open hours); stopped on exit."""
    host, port = vars_value("hotline_socket").split(":")
    config = load_config(
        None,
        {
            "data_dir": str(data_dir),
            "database_url": db_url,
            "freeswitch": {"password": vars_value("esl_password")},
            "socket": {"host": host, "port": int(port)},
            "http": {"port": 0},
            **(overrides or {}),
        },
    )
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(config.calls.timezone))
    hotline = Hotline(config, flow_clock=lambda: monday)
    hotline.start(wait_for_freeswitch=10)
    try:
        yield hotline
    finally:
        hotline.stop()
