"""The SIPp load kit: a real FreeSWITCH with the load overlay, the plain-dialplan baseline, then hotline.

For each rate (calls per second), a step on a freshly booted FreeSWITCH (and hotline): ``--step-seconds``
of SIPp callers (answer, a one-key tone menu answered by RFC 2833 key 1, ~9 s of talk, BYE) against
the baseline extension, then the same
against hotline with ``--agents`` agents whose contact is the SIPp phone. Each step prints: offered,
callers that completed their scenario, callers bridged to an agent, CDRs by outcome (hotline),
channels left in FreeSWITCH ``--settle`` s after the step, FreeSWITCH and engine CPU per call (from
/proc), event-loop lag p99 (when the engine exports one) and ESL command latency p99 (from hotline's
/metrics histogram), and what hotline's log said during the step.

Everything is bounded (at most 8 rates, steps of at most 600 s, callers stopped by SIPp's own
global timeout) and sent to 127.0.0.1 only. Run from the repository root:

    .venv/bin/python -m bench.load.run --rates 5,10,15,20 --step-seconds 60 --agents 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.load import sipp
from bench.load.hotline_proc import HotlineProc
from bench.load.switch import BASELINE_NUMBER, CallWatch, FreeSwitch, KitError, build_overlay, vars_value

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PHONE_PORT = 5070
PHONE = f"127.0.0.1:{PHONE_PORT}"
CALLER_PORT = 5071
MAX_RATES = 8
MAX_STEP_SECONDS = 600
SIDES = ("baseline", "hotline")


@dataclass
class Step:
    """The figures of one step."""

    side: str
    rate: float
    offered: int = 0
    completed: int = 0  # callers that ran their whole scenario (answered, keyed, talked, BYE answered)
    failed: int = 0
    reached: int = 0  # callers bridged to an agent leg
    cdrs: dict[str, int] = field(default_factory=dict)
    channels_left: int = 0
    left_by_app: dict[str, int] = field(default_factory=dict)
    fs_ms_per_call: float = 0.0
    engine_ms_per_call: float | None = None
    lag_p99_ms: float | None = None
    esl_p99_ms: float | None = None
    esl_timeouts: int = 0
    turned_away: int = 0  # hotline_calls_turned_away_total over the step (admission control: the fallback took them)
    refused: int = 0  # hotline_outbound_refused_total over the step (no channel data in time: the fallback took them)
    released: int = 0  # callers whose outbound socket was released while they talked (FreeSWITCH kept no listener)
    other_cores: float = 0.0  # CPU used meanwhile by everything but FreeSWITCH and hotline (SIPp, other work), in cores
    log_summary: list[str] = field(default_factory=list)


def binaries() -> tuple[str, str]:
    """The freeswitch and sipp binaries; KitError naming what is missing."""
    freeswitch = os.environ.get("HOTLINE_FREESWITCH_BIN") or shutil.which("freeswitch")
    sipp_bin = os.environ.get("HOTLINE_SIPP_BIN") or shutil.which("sipp")
    missing = []
    if freeswitch is None:
        missing.append("no freeswitch binary on PATH (or set HOTLINE_FREESWITCH_BIN); see docs/freeswitch.md")
    if sipp_bin is None:
        missing.append("no sipp binary on PATH (Debian: apt-get install sip-tester; or set HOTLINE_SIPP_BIN)")
    if missing:
        raise KitError("; ".join(missing))
    assert freeswitch is not None and sipp_bin is not None
    return freeswitch, sipp_bin


def histogram_deltas(before: str, after: str, name: str) -> tuple[list[tuple[float, float]], float]:
    """Cumulative buckets ``[(le, count)]`` and the count of histogram ``name`` (all labels) added between
    two /metrics texts."""

    def totals(text: str) -> tuple[Counter[float], float]:
        buckets: Counter[float] = Counter()
        count = 0.0
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name == f"{name}_bucket":
                    buckets[float(sample.labels["le"])] += sample.value
                elif sample.name == f"{name}_count":
                    count += sample.value
        return buckets, count

    b0, c0 = totals(before)
    b1, c1 = totals(after)
    return sorted((le, b1[le] - b0.get(le, 0.0)) for le in b1), c1 - c0


def p99_ms(buckets: list[tuple[float, float]], count: float) -> float | None:
    """The upper bound (ms) of the bucket holding the 99th percentile; None without samples."""
    if count <= 0:
        return None
    for le, cumulative in buckets:
        if cumulative >= 0.99 * count:
            return le * 1000.0
    return float("inf")


def counter_delta(before: str, after: str, name: str, **labels: str) -> float:
    """How much counter ``name`` (its samples with ``labels``, all by default) grew from ``before`` to ``after``."""

    def total(text: str) -> float:
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            if f.name == name
            for s in f.samples
            if s.name in (name, f"{name}_total") and labels.items() <= s.labels.items()
        )

    return total(after) - total(before)


def lag_histogram(text: str) -> str | None:
    """The name of the engine's event-loop lag histogram, when it exports one."""
    for family in text_string_to_metric_families(text):
        if family.type == "histogram" and re.search(r"(loop|hub).*lag|lag.*(loop|hub)", family.name):
            return family.name
    return None


TROUBLE = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b|no reply to|No such channel|timed out")
UUIDISH = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b\d+(\.\d+)?\b")


def log_summary(path: Path, offset: int, top: int = 5) -> tuple[list[str], int]:
    """The first WARNING/ERROR line after ``offset`` and the ``top`` commonest ones (numbers and UUIDs
    masked), with the new end offset."""
    with path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", "replace")
        end = handle.tell()
    bad = [line for line in text.splitlines() if TROUBLE.search(line)]
    if not bad:
        return [], end
    common = Counter(UUIDISH.sub("#", line.split(" ", 2)[-1])[:160] for line in bad).most_common(top)
    return [f"first: {bad[0][:200]}", *(f"{n:5d} x {msg}" for msg, n in common)], end


def run_step(
    side: str, rate: float, args: argparse.Namespace, sipp_bin: str, fs: FreeSwitch, watch: CallWatch,
    hotline: HotlineProc | None, folder: Path, number: str, switch: str,
) -> Step:  # fmt: skip
    """One step: callers at ``rate`` for ``args.step_seconds``; figures after ``args.settle`` s."""
    step = Step(side, rate)
    name = f"{side}-{rate:g}cps"
    watch.reset()
    phone = sipp.phone(sipp_bin, folder, f"{name}-phone", scenario=args.phone, sip_port=PHONE_PORT, media_port=6100,
                       control_port=8901)  # fmt: skip
    since = datetime.now(UTC)
    metrics0 = hotline.metrics_text() if hotline else ""
    log_offset = hotline.log.stat().st_size if hotline else 0
    fs_cpu0 = fs.cpu_seconds()
    busy0, started = machine_busy_seconds(), time.monotonic()
    engine_cpu0 = hotline.cpu_seconds() if hotline else 0.0
    calls = max(1, round(rate * args.step_seconds))
    callers = sipp.callers(
        sipp_bin, folder, f"{name}-callers", scenario=args.caller, switch=switch, number=number, rate=rate,
        calls=calls, sip_port=CALLER_PORT, media_port=6200, control_port=8902,
        timeout=args.step_seconds + 90 + args.talk_seconds, stay_ms=round(args.talk_seconds * 1000),
    )  # fmt: skip
    if callers.wait(args.step_seconds + 120 + args.talk_seconds) is None:
        callers.stop()
    fs_cpu = fs.cpu_seconds() - fs_cpu0
    busy, elapsed = machine_busy_seconds() - busy0, time.monotonic() - started
    engine_cpu = (hotline.cpu_seconds() - engine_cpu0) if hotline else None
    stats = callers.stats()
    step.offered, step.completed, step.failed = stats.created, stats.successful, stats.failed
    time.sleep(args.settle)  # the measure is defined as "channels left N s after the step"
    step.channels_left = fs.channels()
    step.left_by_app = fs.channel_apps()
    step.reached = watch.counts()[1]
    step.other_cores = max(0.0, busy - fs_cpu - (engine_cpu or 0.0)) / max(1e-6, elapsed)
    step.fs_ms_per_call = 1000.0 * fs_cpu / max(1, step.offered)
    if hotline is not None and engine_cpu is not None:
        step.engine_ms_per_call = 1000.0 * engine_cpu / max(1, step.offered)
        metrics1 = hotline.metrics_text()
        step.esl_timeouts = int(counter_delta(metrics0, metrics1, "hotline_esl_command_timeouts"))
        step.turned_away = int(counter_delta(metrics0, metrics1, "hotline_calls_turned_away"))
        step.refused = int(counter_delta(metrics0, metrics1, "hotline_outbound_refused"))
        step.released = int(counter_delta(metrics0, metrics1, "hotline_outbound_sockets_released", result="released"))
        # a command that timed out is never observed by the histogram: count it as slower than every bucket
        buckets, replied = histogram_deltas(metrics0, metrics1, "hotline_esl_command_seconds")
        step.esl_p99_ms = p99_ms(buckets, replied + step.esl_timeouts)
        lag = lag_histogram(metrics1)
        step.lag_p99_ms = p99_ms(*histogram_deltas(metrics0, metrics1, lag)) if lag else None
        step.cdrs = dict(hotline.cdrs_since(since))
        step.log_summary, _ = log_summary(hotline.log, log_offset)
    phone.stop()
    return step


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / CLOCK_TICKS


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "> 5000" + unit
    return f"{value:.0f}{unit}"


def row(step: Step) -> str:
    cdrs = ", ".join(f"{k} {v}" for k, v in sorted(step.cdrs.items())) if step.side == "hotline" else "-"
    missing = step.offered - sum(step.cdrs.values()) if step.side == "hotline" else None
    apps = ", ".join(f"{k} {v}" for k, v in sorted(step.left_by_app.items()))
    left = f"{step.channels_left} ({apps})" if step.channels_left else "0"
    away = f"{step.turned_away} / {step.refused}" if step.side == "hotline" else "-"
    return (
        f"| {step.rate:g} | {step.side} | {step.offered} | {step.completed} | {step.reached} | {cdrs} | "
        f"{'-' if missing is None else missing} | {away} | {left} | {step.fs_ms_per_call:.0f} | "
        f"{fmt(step.engine_ms_per_call)} | "
        f"{fmt(step.lag_p99_ms)} | {fmt(step.esl_p99_ms)} | {step.esl_timeouts if step.side == 'hotline' else '-'} | "
        f"{step.other_cores:.2f} |"
    )


HEADER = (
    "| cps | side | offered | callers completed | reached an agent | CDRs by outcome | no CDR "
    "| turned away / refused at handshake "
    "| channels left after settle | FS CPU ms/call | engine CPU ms/call | loop lag p99 ms | ESL p99 ms | ESL timeouts "
    "| other CPU, cores |\n"
    "|---:|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
)


def setting(text: str) -> tuple[tuple[str, ...], object]:
    """``section.key=value`` as (path, value): the value read as JSON (true, 5, "x"), else as text."""
    key, sep, raw = text.partition("=")
    path = tuple(part for part in key.strip().split(".") if part)
    if not sep or not path:
        raise ValueError(f"{text!r} is not SECTION.KEY=VALUE")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return path, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.load.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5,10,15,20", help="calls per second of each step (default 5,10,15,20)")
    parser.add_argument("--step-seconds", type=float, default=60.0, help="length of each step (default 60)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds after a step before channels are counted")
    parser.add_argument("--agents", type=int, default=300, help="hotline agents, all reached at the SIPp phone")
    parser.add_argument("--sides", default="baseline,hotline", help="baseline, hotline or both (default both)")
    parser.add_argument("--caller", default="caller_talk", choices=sipp.CALLERS)
    parser.add_argument("--phone", default="phone_answer", choices=sipp.PHONES)
    parser.add_argument("--talk-seconds", type=float, default=11.0, help="how long a caller stays after keying (11)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs, SIPp statistics)")
    parser.add_argument("--json", type=Path, help="also write every step's figures to this file")
    parser.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="a hotline setting for the run, e.g. freeswitch.release_socket_in_talk=false (JSON value, else text)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        args.settings = [setting(text) for text in args.set]
    except ValueError as exc:
        parser.error(f"--set: {exc}")
    try:
        args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates: {args.rates!r} is not a comma-separated list of numbers")
    if not args.rates or len(args.rates) > MAX_RATES or not all(0 < r <= 100 for r in args.rates):
        parser.error(f"--rates: 1 to {MAX_RATES} rates, each above 0 and at most 100 cps")
    if not 1 <= args.step_seconds <= MAX_STEP_SECONDS:
        parser.error(f"--step-seconds: 1 to {MAX_STEP_SECONDS}")
    if not 0 <= args.settle <= 300 or not 1 <= args.agents <= 2000 or not 0 <= args.talk_seconds <= 600:
        parser.error("--settle: 0 to 300 s; --agents: 1 to 2000; --talk-seconds: 0 to 600")
    args.sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not args.sides or any(s not in SIDES for s in args.sides):
        parser.error(f"--sides: a comma-separated list of {', '.join(SIDES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        freeswitch, sipp_bin = binaries()
    except KitError as exc:
        print(f"bench.load: cannot run: {exc}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    steps: list[Step] = []
    print(f"load run in {root}; {os.cpu_count()} cores", flush=True)
    print(HEADER, flush=True)
    try:
        for side in args.sides:
            for rate in args.rates:
                step = fresh_step(side, rate, args, freeswitch, sipp_bin, root / f"{side}-{rate:g}cps")
                steps.append(step)
                print(row(step), flush=True)
                if side == "hotline":
                    print(f"    sockets released while talking: {step.released}", flush=True)
                for line in step.log_summary:
                    print(f"    hotline log: {line}", flush=True)
    except (KitError, OSError) as exc:
        print(f"bench.load: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.json:
            args.json.write_text(json.dumps([asdict(s) for s in steps], indent=2), encoding="utf-8")
        if args.keep:
            print(f"run folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def fresh_step(side: str, rate: float, args: argparse.Namespace, freeswitch: str, sipp_bin: str, folder: Path) -> Step:
    """One step on a freshly booted FreeSWITCH (and, for hotline, a fresh engine with every agent ready), so
    no step inherits what an earlier one left behind; everything is stopped before it returns."""
    folder.mkdir()
    fs = watch = hotline = None
    try:
        conf = build_overlay(folder, PHONE)
        fs = FreeSwitch(freeswitch, conf, folder)
        watch = CallWatch(fs.esl_port, fs.password)
        watch.start()
        if side == "hotline":
            (folder / "hotline").mkdir()
            hotline = HotlineProc(folder / "hotline", conf, args.agents, PHONE, settings=args.settings)
        number = BASELINE_NUMBER if side == "baseline" else vars_value(conf, "hotline_number")
        switch = f"127.0.0.1:{vars_value(conf, 'sip_port')}"
        return run_step(side, rate, args, sipp_bin, fs, watch, hotline, folder, number, switch)
    finally:
        if hotline is not None:
            hotline.stop()
        if watch is not None:
            watch.stop()
        if fs is not None:
            fs.stop()


if __name__ == "__main__":
    sys.exit(main())
