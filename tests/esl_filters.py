"""The ESL ``filter`` rule as observed on the wire, the same cases for the emulator and a real FreeSWITCH.

A listener connection sets a case's filters and subscribes to BACKGROUND_JOB; a second connection (no
filter) runs ``bgapi status`` jobs with Job-UUIDs the test chose (alpha, beta, gamma), then, once it has
seen them all fire, a ``bgapi version`` sentinel that the listener's last filter lets through. When the
sentinel reaches the listener, every job event was already queued to it before: what it got is what the
filters let through.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from gevent.event import Event as Flag

from engine.esl import codec
from engine.transport import Connection, InboundClient

Ids = dict[str, str]
#: (what it shows, the filters given the run's ids, the jobs that pass)
CASES: list[tuple[str, Callable[[Ids], list[tuple[str, str]]], set[str]]] = [
    ("one keep filter", lambda i: [("Job-UUID", i["alpha"])], {"alpha"}),
    ("keep filters are or-ed", lambda i: [("Job-UUID", i["alpha"]), ("Job-UUID", i["beta"])], {"alpha", "beta"}),
    ("header name and value without case", lambda i: [("job-uuid", i["alpha"].upper())], {"alpha"}),
    ("a header the event lacks is skipped", lambda i: [("Unique-ID", i["alpha"]), ("Job-UUID", i["beta"])], {"beta"}),
    (
        "a drop filter after a keep match drops",
        lambda i: [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", "-" + i["alpha"])],
        {"beta", "gamma"},
    ),
    (
        "a drop filter before the keep filter drops",
        lambda i: [("Job-UUID", "-" + i["alpha"]), ("Event-Name", "BACKGROUND_JOB")],
        {"beta", "gamma"},
    ),
    ("a drop value without case", lambda i: [("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "-STATUS")], set()),
    ("only drop filters: nothing passes", lambda i: [("Job-UUID", "-" + i["alpha"])], set()),
    ("/regex/ searches", lambda i: [("Job-UUID", f"/^(alpha|gamma)-{i['nonce']}$/")], {"alpha", "gamma"}),
    ("/regex/i ignores case", lambda i: [("Job-UUID", f"/^ALPHA-{i['nonce']}$/i")], {"alpha"}),
    ("a regex without its closing slash matches nothing", lambda i: [("Job-UUID", "/alpha")], set()),
    ("+/regex/ is compared as text", lambda i: [("Job-UUID", "+/alpha/")], set()),
]


def filtered_jobs(host: str, port: int, password: str, filters: list[tuple[str, str]], ids: Ids) -> set[str]:
    """Which of ``ids``' jobs (alpha, beta, gamma) a connection with ``filters`` receives."""
    sentinel = f"sentinel-{ids['nonce']}"
    listener = InboundClient(host, port, password, ["BACKGROUND_JOB"], filters=[*filters, ("Job-UUID", sentinel)])
    runner = InboundClient(host, port, password, ["BACKGROUND_JOB"])
    got: set[str] = set()
    fired: set[str] = set()
    sentinel_seen, all_fired = Flag(), Flag()
    names = {job: name for name, job in ids.items() if name != "nonce"}

    def on_listener(event: codec.Event) -> None:
        job = event.get("Job-UUID")
        if job == sentinel:
            sentinel_seen.set()
        elif job in names:
            got.add(names[job])

    def on_runner(event: codec.Event) -> None:
        if event.get("Job-UUID") in names:
            fired.add(event.get("Job-UUID"))
            if len(fired) == len(names):
                all_fired.set()

    listener.on_event("BACKGROUND_JOB", on_listener)
    runner.on_event("BACKGROUND_JOB", on_runner)
    conns: list[Connection] = []
    try:
        conns.append(listener.connect_once())
        conns.append(runner.connect_once())
        for job in names:
            assert conns[1].send_frame(codec.bgapi("status", job_uuid=job)).ok
        assert all_fired.wait(10), f"jobs fired: {fired}"
        assert conns[1].send_frame(codec.bgapi("version", job_uuid=sentinel)).ok
        assert sentinel_seen.wait(10), "the sentinel job never reached the filtered connection"
    finally:
        for conn in conns:
            conn.close()
    return got


def new_ids() -> Ids:
    nonce = uuid.uuid4().hex[:8]
    return {"nonce": nonce, **{name: f"{name}-{nonce}" for name in ("alpha", "beta", "gamma")}}
