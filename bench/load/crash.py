"""Kill -9 the engine under SIPp load on a real FreeSWITCH, start it again, and count what was lost (issue 16).

One run on a freshly booted FreeSWITCH with the load overlay (bench/load/switch.py): ``--agents`` agents,
fewer than the callers need, so a queue forms; SIPp callers at ``--rate`` for ``--seconds``, each staying
30 s after keying 1 (waiting in queue, then talking). ``--kill-at`` seconds in, hotline is killed with
SIGKILL and started again at once on the same database and data folder. Once every caller has ended and
``--settle`` seconds more, it prints:

- at the kill: callers waiting and talking (hotline's /metrics just before it);
- callers cut off (SIPp counts a call the switch hung up as failed), callers who reached an agent, CDRs by
  outcome, and **records lost**: callers bridged to an agent with no answered CDR;
- what the new engine did: calls adopted, parked callers taken back, agents restored (its log), and how
  long it took to serve again;
- **agents double-booked**: an agent whose answered CDRs overlap in time (two callers at once);
- channels FreeSWITCH still holds, and callers that reached the dialplan's fallback (its log).

Run from the repository root (needs ``freeswitch`` and ``sipp``; sends to 127.0.0.1 only):

    .venv/bin/python -m bench.load.crash --rate 2 --seconds 60 --kill-at 35 --agents 20
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.load import sipp
from bench.load.hotline_proc import HotlineProc
from bench.load.run import CALLER_PORT, PHONE, PHONE_PORT, binaries
from bench.load.switch import CallWatch, FreeSwitch, KitError, build_overlay, vars_value

STAY_MS = 30_000


def gauge_total(text: str, name: str, label: str | None = None) -> dict[str, float]:
    """A gauge family's samples from a /metrics text, summed by ``label`` ('' when None)."""
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                found[sample.labels.get(label, "") if label else ""] += sample.value
    return dict(found)


def double_booked(db_url: str, since: datetime) -> list[str]:
    """Agents with two answered CDRs whose [bridged, ended] spans overlap (two callers at once)."""
    from sqlalchemy import select

    from engine.store.db import make_engine
    from engine.store.models import Call

    engine = make_engine(db_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(Call.agent_id, Call.bridged_at, Call.ended_at).where(
                    Call.created_at >= since, Call.agent_id.is_not(None), Call.bridged_at.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for agent, bridged, ended in rows:
        spans.setdefault(agent, []).append((bridged, ended))
    overlapping = []
    for agent, agent_spans in sorted(spans.items()):
        agent_spans.sort()
        if any(nxt[0] < cur[1] for cur, nxt in itertools.pairwise(agent_spans)):
            overlapping.append(agent)
    return overlapping


def answered_uuids(db_url: str, since: datetime) -> set[str]:
    from sqlalchemy import select

    from engine.store.db import make_engine
    from engine.store.models import Call

    engine = make_engine(db_url)
    try:
        with engine.connect() as db:
            rows = db.execute(select(Call.uuid).where(Call.created_at >= since, Call.bridged_at.is_not(None)))
            return {str(uuid) for (uuid,) in rows}
    finally:
        engine.dispose()


def engine_said(log: Path, offset: int) -> dict[str, str]:
    """What the restarted engine logged about adoption and reclaim (after ``offset``)."""
    text = log.read_bytes()[offset:].decode("utf-8", "replace")
    adoption = re.findall(r"adoption: (\d+) calls adopted, (\d+) agents engaged.*?, (\d+) agents restored", text)
    return {
        "adoption": "; ".join(f"{a} calls adopted, {b} agents engaged, {c} restored" for a, b, c in adoption) or "-",
        "reclaimed": str(len(re.findall(r"parked caller \S+: back to queue", text))),
        "not reclaimed": str(len(re.findall(r"did not come back|not reclaimed|transfer failed", text))),
        "errors": str(len(re.findall(r"\b(ERROR|CRITICAL|Traceback)\b", text))),
    }


def run(args: argparse.Namespace, freeswitch: str, sipp_bin: str, folder: Path) -> dict[str, object]:
    conf = build_overlay(folder, PHONE)
    fs = FreeSwitch(freeswitch, conf, folder)
    watch = hotline = phone = callers = None
    try:
        watch = CallWatch(fs.esl_port, fs.password)
        watch.start()
        (folder / "hotline").mkdir()
        hotline = HotlineProc(folder / "hotline", conf, args.agents, PHONE)
        phone = sipp.phone(sipp_bin, folder, "phone", scenario="phone_answer", sip_port=PHONE_PORT, media_port=6100,
                           control_port=8901)  # fmt: skip
        since = datetime.now(UTC)
        calls = max(1, round(args.rate * args.seconds))
        callers = sipp.callers(
            sipp_bin, folder, "callers", scenario="caller_talk", switch=f"127.0.0.1:{vars_value(conf, 'sip_port')}",
            number=vars_value(conf, "hotline_number"), rate=args.rate, calls=calls, sip_port=CALLER_PORT,
            media_port=6200, control_port=8902, timeout=args.seconds + 120, stay_ms=STAY_MS,
        )  # fmt: skip
        time.sleep(args.kill_at)  # the moment of the crash, on the callers' clock
        before = hotline.metrics_text()
        waiting = sum(gauge_total(before, "hotline_queue_calls_waiting").values())
        talking = gauge_total(before, "hotline_agents", "state").get("on_call", 0)
        offset = hotline.log.stat().st_size
        hotline.kill()
        killed = time.monotonic()
        hotline.restart()
        serving = time.monotonic() - killed
        if callers.wait(args.seconds + STAY_MS / 1000 + 120) is None:
            callers.stop()
        time.sleep(args.settle)  # the measure is defined as "channels left N s after the last caller"
        stats = callers.stats()
        with watch.lock:
            bridged = set(watch.bridged)
        recorded = answered_uuids(hotline.db_url, since)
        fallback = sum(1 for line in fs_log_lines(folder) if "unavailable: fallback for" in line)
        return {
            "offered": stats.created, "completed": stats.successful, "cut off": stats.failed,
            "waiting at the kill": int(waiting), "talking at the kill": int(talking),
            "serving again after (s)": round(serving, 1),
            "reached an agent": len(bridged), "CDRs": dict(hotline.cdrs_since(since)),
            "records lost (bridged, no answered CDR)": len(bridged - recorded),
            "agents double-booked": double_booked(hotline.db_url, since),
            "fallback": fallback, "channels left": fs.channels(), "left by app": fs.channel_apps(),
            **engine_said(hotline.log, offset),
        }  # fmt: skip
    finally:
        for part in (callers, phone):
            if part is not None:
                part.stop()
        if hotline is not None:
            hotline.stop()
        if watch is not None:
            watch.stop()
        fs.stop()


def fs_log_lines(folder: Path) -> list[str]:
    """FreeSWITCH's own log (warnings and above in the overlay), wherever the run put it."""
    lines: list[str] = []
    for path in [*folder.glob("log/freeswitch.log"), folder / "freeswitch.stdout.txt"]:
        if path.exists():
            lines += path.read_text(errors="replace").splitlines()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.load.crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2.0, help="callers per second (default 2)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of new callers (default 60)")
    parser.add_argument("--kill-at", type=float, default=35.0, help="seconds in, hotline is killed (default 35)")
    parser.add_argument("--agents", type=int, default=20, help="agents, all at the SIPp phone (default 20)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after the last caller (default 20)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs, SIPp statistics)")
    args = parser.parse_args(argv)
    if not (0 < args.rate <= 50 and 1 <= args.seconds <= 600 and 0 < args.kill_at < args.seconds + 30):
        parser.error("--rate 0-50, --seconds 1-600, --kill-at between 0 and --seconds + 30")
    if not (1 <= args.agents <= 2000 and 0 <= args.settle <= 300):
        parser.error("--agents 1-2000, --settle 0-300")
    try:
        freeswitch, sipp_bin = binaries()
    except KitError as exc:
        print(f"bench.load.crash: cannot run: {exc}", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="hotline-crash-"))
    try:
        figures = run(args, freeswitch, sipp_bin, folder)
    except (KitError, OSError) as exc:
        print(f"bench.load.crash: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"run folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"kill -9 at {args.kill_at:g} s of {args.seconds:g} s, {args.rate:g} callers/s, {args.agents} agents:")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
