"""Soak: many calls of the real call shape through the engine; memory and per-call tables must stay flat.

The FreeSWITCH emulator runs in its own process (over real TCP), hotline in this one. Calls are placed in
chunks of ``--every`` at ``--cps``: the main IVR flow (menu answered by key), the support queue, an
offer to an agent's phone, talk, hang-up. Some callers give up (``--abandon``: a patience drawn so that
they hang up in the IVR, in the queue or while an agent's phone rings); some agents' phones reject the
offer (``--reject``: which phones reject changes every second). After each chunk has drained, the
script prints the engine's RSS, its live calls and every per-call table it found by walking the
``Hotline`` object graph (attributes, containers, bound methods and closures; sizes summed per path,
``[*]`` standing for every element), next to the same table sampled mid-chunk under load. Tables
that never change are not printed. It also counts live objects of ``engine.*`` classes (gc).

Then it measures memory per live call: ``--live`` calls held bridged (long talk), RSS minus RSS at
rest, divided by the calls; a tracemalloc diff of the top allocation sites with ``--trace``.

Finding what grows: each checkpoint also prints the gc's live objects of every type against rest, the C
allocator's bytes in use (glibc ``mallinfo2``: SQLite's page cache lives there), pymalloc's block count
and SQLAlchemy's compiled statements and pooled connections. ``--trace-chunks FRAMES`` traces the
engine from rest and prints the allocation sites grown most since the last checkpoint and since rest
(a per-call leak grows at the same site every chunk); ``--trim`` gives free memory back to the system
before each RSS reading (RSS then shows live memory, not the allocator's high-water mark);
``--windows SECONDS`` shortens the two retention windows bounded by time (the occupancy window, 900 s,
and the orphan legs' memory, 300 s) so that a run of minutes fills them and shows the plateau.

The CPU figure is the engine process's CPU time (``time.process_time``) over the chunks, minus the
time spent walking tables and counting objects, divided by the calls placed.

Usage: python bench/soak.py [--calls N] [--every N] [--cps R] [--agents N] [--live N] [--trace]
       [--trace-chunks FRAMES] [--trim] [--windows SECONDS]
       (defaults sized for about 5 minutes on the project's 2-core machine)
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import contextlib
import cProfile
import ctypes
import gc
import json
import secrets
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter, deque
from datetime import datetime
from pathlib import Path
from types import FrameType, FunctionType, MethodType, ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import gevent
import greenlet
from sqlalchemy import Engine as SaEngine

from engine.acd.states import AgentState
from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade

EMULATOR = r"""
import json, random, sys, gevent
from engine.emulator import Emulator, Phone, Caller
def line():  # read stdin in a thread so the emulator keeps serving meanwhile
    return gevent.get_hub().threadpool.apply(sys.stdin.readline)
password, n_agents, scale, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
emu = Emulator(password=password, time_scale=scale, keep_log=False)
port = emu.start()
for n in range(n_agents):
    emu.phones[str(1001 + n)] = Phone(str(1001 + n), answer_delay=2.0)
reject = [0.0]
def flip():  # which phones reject changes every second
    while True:
        for phone in emu.phones.values():
            phone.behaviour = "reject" if rng.random() < reject[0] else "answer"
        gevent.sleep(1)
gevent.spawn(flip)
print(json.dumps({"port": port}), flush=True)
emu.dialplan["4000"] = [("socket", f"127.0.0.1:{int(line())} async full")]
serial = 0
while True:
    order = json.loads(line())
    if "quit" in order:
        break
    reject[0] = order["reject"]
    started = gevent.get_hub().loop.now()
    for n in range(order["calls"]):
        serial += 1
        patience = None
        if rng.random() < order["abandon"]:
            patience = rng.uniform(*order["patience"])
        emu.place_call(Caller(f"139{serial:08d}", script=["2"], talk_seconds=order["talk"],
                              patience_seconds=patience), "4000")
        delay = started + (n + 1) / order["cps"] - gevent.get_hub().loop.now()
        gevent.sleep(max(0.0, delay))
    print(json.dumps({"placed": order["calls"], "channels": len(emu.switch.channels)}), flush=True)
"""

CONTAINERS = (dict, set, frozenset, list, deque)
ENGINE_DIR = str(Path(sys.modules["engine"].__file__ or "engine").parent) + "/"  # hotline's own frames
SKIP_MODULES = ("sqlalchemy", "gevent", "greenlet", "logging", "threading", "socket", "ssl", "zoneinfo")


def rss_kib() -> int:
    """The process's resident set size in KiB (Linux)."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def _interesting(obj: Any) -> bool:
    kind = type(obj)
    if isinstance(obj, (ModuleType, type)) or not isinstance(kind.__module__, str):
        return False
    if kind.__module__.startswith(SKIP_MODULES):
        return False
    return kind.__module__.startswith(("engine.", "prometheus_client", "sortedcontainers")) or isinstance(
        obj, (CONTAINERS, MethodType, FunctionType)
    )


def table_sizes(root: object, max_depth: int = 9) -> Counter[str]:
    """Sizes of every container reachable from ``root``, summed per attribute path (``[*]``: any element)."""
    sizes: Counter[str] = Counter()
    seen: set[int] = set()
    queue: deque[tuple[Any, str, int]] = deque([(root, "hotline", 0)])  # breadth first: the shortest path names it
    while queue:
        obj, path, depth = queue.popleft()
        if id(obj) in seen or depth > max_depth or not _interesting(obj):
            continue
        seen.add(id(obj))
        children: list[tuple[Any, str]] = []
        if isinstance(obj, CONTAINERS) or (hasattr(obj, "__len__") and type(obj).__module__ == "sortedcontainers"):
            sizes[path] += len(obj)
            if isinstance(obj, dict):
                children = [(v, f"{path}[*]") for v in obj.values()]
            elif not type(obj).__module__.startswith("sortedcontainers"):
                children = [(v, f"{path}[*]") for v in obj]
        elif isinstance(obj, MethodType):
            children = [(obj.__self__, f"{path}<{type(obj.__self__).__name__}>")]
        elif isinstance(obj, FunctionType):
            cells = obj.__closure__ or ()
            children = [(c.cell_contents, f"{path}<{obj.__name__}>") for c in cells if c.cell_contents is not None]
        else:
            attrs = dict(getattr(obj, "__dict__", {}))
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    attrs[slot] = getattr(obj, slot)
            children = [(v, f"{path}.{k}") for k, v in attrs.items()]
        queue.extend((child, name, depth + 1) for child, name in children)
    return sizes


def malloc_trim() -> None:
    """Give the C allocator's free pages back to the system (glibc), so RSS shows live memory only."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def malloc_in_use() -> float:
    """Bytes the C allocator has handed out and not had back (glibc's mallinfo2: all arenas and mmapped
    blocks) in MiB, or -1 where unavailable: SQLite's page cache, Python's blocks over 512 bytes."""
    try:
        call = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return -1.0
    call.restype = _MallInfo2
    return ((info := call()).uordblks + info.hblkhd) / 2**20


def all_objects() -> Counter[str]:
    """Live objects tracked by the garbage collector, by type (after a full collection)."""
    gc.collect()
    return Counter(f"{type(obj).__module__}.{type(obj).__qualname__}" for obj in gc.get_objects())


def site(trace: tracemalloc.Traceback) -> str:
    """Where an allocation came from: the innermost frame and, if different, the innermost frame of hotline."""
    frames = list(reversed(trace))  # tracemalloc lists the oldest frame first
    inner = f"{frames[0].filename.rsplit('/', 2)[-1]}:{frames[0].lineno}"
    ours = next((f for f in frames if f.filename.startswith(ENGINE_DIR)), None)
    if ours is None or ours is frames[0]:
        return inner
    return f"{inner} <- {ours.filename[len(ENGINE_DIR) :]}:{ours.lineno}"


def own_snapshot() -> tracemalloc.Snapshot:
    """A tracemalloc snapshot without the soak's own counting and tracemalloc's own blocks."""
    mine = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    return tracemalloc.take_snapshot().filter_traces(mine)


def engine_objects() -> Counter[str]:
    """Live objects of hotline's own classes, and greenlets, by type name (after a full collection)."""
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = type(obj).__module__
        if not isinstance(module, str):
            continue
        if module.startswith("engine.") or type(obj).__name__ == "Greenlet":
            counts[f"{module}.{type(obj).__name__}"] += 1
    return counts


def holders(kind: str, depth: int = 12) -> str:
    """For a failure's message: what keeps one live object of class ``kind`` alive, a chain of referrers'
    types ``depth`` long."""
    found = [obj for obj in gc.get_objects() if type(obj).__name__ == kind]
    if not found:
        return f"no live {kind}"
    chain: list[str] = []
    obj, mine = found[-1], {id(found), id(chain), id(sys._getframe())}  # this function's own refer to it too
    for _ in range(depth):
        refs = gc.get_referrers(obj)
        mine.add(id(refs))
        held = [r for r in refs if id(r) not in mine]
        mine.add(id(held))
        if not held:
            break
        obj = held[0]
        name = type(obj).__qualname__
        if isinstance(obj, dict):
            name += f"({list(obj)[:4]})"
        elif isinstance(obj, FrameType):
            name += f"({obj.f_code.co_name} at {obj.f_code.co_filename.rsplit('/', 1)[-1]}:{obj.f_lineno})"
        chain.append(name)
    live = [g for g in gc.get_objects() if isinstance(g, greenlet.greenlet) and g.gr_frame is not None]
    stacks = [
        "".join(traceback.format_list(frames[-4:]))
        for frames in (traceback.extract_stack(g.gr_frame) for g in live)
        if any("call_session" in frame.filename for frame in frames)
    ]
    return (
        f"a live {kind} held by "
        + " <- ".join(chain)
        + f"; {len(stacks)} greenlets in a call session:\n"
        + ("\n".join(stacks[:3]))
    )


class Soak:
    """The engine side: starts the emulator process and hotline, drives chunks, prints checkpoints."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        password = secrets.token_hex(8)
        self.emulator = subprocess.Popen(
            [sys.executable, "-c", EMULATOR, password, str(args.agents), str(args.scale), str(args.seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        fs_port = json.loads(self.emulator.stdout.readline())["port"]
        data = Path(tempfile.mkdtemp(prefix="hotline-soak-"))
        settings: dict[str, Any] = {"data_dir": str(data), "freeswitch": {"port": fs_port, "password": password},
                                    "socket": {"port": 0}, "http": {"port": 0}}  # fmt: skip
        if args.windows:  # the time-bounded tables fill in minutes instead of a quarter of an hour
            settings["metrics"] = {"occupancy_window_seconds": args.windows}
        config = load_config(None, settings)
        upgrade(config.db_url())
        with session_factory(make_engine(config.db_url())).begin() as s:
            for name in ("sales", "support", "billing", "vip"):
                skills.create_skill(s, name)
                queues.create_queue(s, name, wrap_up_seconds=0, required_skills={name: 1})
            for n in range(args.agents):
                agents.create_agent(s, str(1001 + n), name=f"a{n}", contact=f"user/{1001 + n}", skills={"support": 5})
        opening = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(config.calls.timezone))
        self.engine = Hotline(config, flow_clock=lambda: opening)
        if args.windows:
            self.engine.acd.orphans.memory_seconds = args.windows
        ports = self.engine.start(wait_for_freeswitch=10)
        for n in range(args.agents):
            self.engine.backend.agent_action(str(1001 + n), "login", None)
        self.engine.tts.render("warm", "en-GB")
        self.recorded: Counter[str] = Counter()
        self.engine.call_recorded.append(lambda trace: self.recorded.update([trace.outcome]))
        self.emulator.stdin.write(f"{ports.socket}\n")
        self.walk_cpu = 0.0
        self.snapshots: list[tracemalloc.Snapshot] = []  # --trace-chunks: at rest, then the last checkpoint's

    def order(self, calls: int, *, cps: float, talk: float, abandon: float, reject: float) -> None:
        """Tell the emulator to place ``calls`` calls (answered when all are placed; read by ``placed``)."""
        order = {"calls": calls, "cps": cps, "talk": talk, "abandon": abandon, "reject": reject,
                 "patience": [self.args.patience_min, self.args.patience_max]}  # fmt: skip
        self.emulator.stdin.write(json.dumps(order) + "\n")
        self.emulator.stdin.flush()

    def placed(self) -> dict[str, int]:
        return json.loads(self.emulator.stdout.readline())

    def ended(self) -> int:
        """Calls recorded, plus callers who hung up before the socket handshake (never a call to record)."""
        lost = sum(s.value for m in self.engine.metrics.handshake_failures.collect() for s in m.samples
                   if s.name.endswith("_total"))  # fmt: skip
        return sum(self.recorded.values()) + int(lost)  # + refused ones: their CDR never comes either

    def live(self) -> int:
        return len(self.engine.outbound.active)

    def wait(self, condition: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.05)
        return True

    def sizes(self) -> Counter[str]:
        started = time.process_time()
        sizes = table_sizes(self.engine)
        self.walk_cpu += time.process_time() - started
        return sizes

    def objects(self) -> Counter[str]:
        started = time.process_time()
        counts = engine_objects()
        self.walk_cpu += time.process_time() - started
        return counts

    def counted(self, count: Any) -> Any:
        """``count()``, its CPU time kept out of the engine's CPU per call."""
        started = time.process_time()
        counts = count()
        self.walk_cpu += time.process_time() - started
        return counts

    def caches(self) -> str:
        """What RSS carries besides the tables: the C allocator's bytes in use, pymalloc's blocks, SQLAlchemy's
        compiled statements and pooled connections, and (when tracing) the Python heap allocated since rest."""
        engines = [o for o in gc.get_objects() if isinstance(o, SaEngine)]
        compiled = sum(len(e._compiled_cache or ()) for e in engines)
        pooled = sum(e.pool.checkedin() + e.pool.checkedout() for e in engines if hasattr(e.pool, "checkedin"))
        text = (
            f"malloc in use {malloc_in_use():.1f} MiB, pymalloc blocks {sys.getallocatedblocks()}; SQLAlchemy: "
            f"{len(engines)} engines, {compiled} compiled statements, {pooled} pooled connections"
        )
        if tracemalloc.is_tracing():
            text += (
                f"; Python heap allocated since rest and live {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB"
                f" (tracemalloc's own {tracemalloc.get_tracemalloc_memory() / 2**20:.1f} MiB)"
            )
        return text

    def trace_diff(self) -> None:
        """tracemalloc: the allocation sites grown most since the previous checkpoint and since rest."""
        started = time.process_time()
        snapshot = own_snapshot()
        for label, earlier in (("since the last checkpoint", self.snapshots[-1]), ("since rest", self.snapshots[0])):
            stats = snapshot.compare_to(earlier, "traceback")
            total = sum(st.size_diff for st in stats)
            print(f"    tracemalloc {label}: {total / 1024:+.0f} KiB; top sites:")
            for st in stats[: self.args.trace_top]:
                print(f"      {st.size_diff / 1024:+8.1f} KiB {st.count_diff:+7d} blocks  {site(st.traceback)}")
        self.snapshots[1:] = [snapshot]
        self.walk_cpu += time.process_time() - started

    def chunk(self, calls: int, sample: dict[str, Counter[str]]) -> None:
        """Place ``calls`` calls and wait until every socket is closed and no CDR came for a second
        (callers who hang up before the handshake have none); sample the tables mid-way."""
        self.order(calls, cps=self.args.cps, talk=self.args.talk, abandon=self.args.abandon, reject=self.args.reject)
        gevent.sleep(calls / self.args.cps / 2)
        sample["load"] = self.sizes()
        sample["load_live"] = Counter(live=self.live())
        self.placed()
        last, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.ended() != last or self.live() or self.engine.writer.depth:  # the CDRs written too
                last, quiet_since = self.ended(), time.monotonic()
            elif time.monotonic() - quiet_since > 1.0:
                break
            gevent.sleep(0.1)
        else:
            print(f"  (not drained after 90 s: {self.live()} live)")
        self.back_to_ready()

    def back_to_ready(self) -> None:
        """Agents put on break by the ACD (three offers unanswered in a row, e.g. when the emulator was
        starved of CPU) press ready again, as a supervisor would tell them: the pool stays whole."""
        for n in range(self.args.agents):
            agent = str(1001 + n)
            if self.engine.acd.agent_state(agent) is AgentState.BREAK:
                self.engine.backend.agent_action(agent, "ready", None)

    def run(self) -> None:
        args = self.args
        self.chunk(args.warmup, {})
        started = time.process_time()
        self.walk_cpu = 0.0
        if args.trim:
            malloc_trim()
        base, base_rss, base_objects = self.sizes(), rss_kib(), self.objects()
        base_all = self.counted(all_objects)
        if args.trace_chunks:
            tracemalloc.start(args.trace_chunks)
            self.snapshots = [own_snapshot()]
        print(f"at rest after {args.warmup} warm-up calls: RSS {base_rss / 1024:.1f} MiB  {self.counted(self.caches)}")
        done, started_wall = 0, time.monotonic()
        seen_paths: set[str] = set()
        profile = cProfile.Profile() if args.profile else None
        while done < args.calls:
            n = min(args.every, args.calls - done)
            sample: dict[str, Counter[str]] = {}
            if profile:
                profile.enable()
            self.chunk(n, sample)
            if profile:
                profile.disable()
            done += n
            after = self.sizes()
            changed = {p for p in {*after, *sample["load"]} if after[p] != base[p] or sample["load"][p] != base[p]}
            seen_paths |= changed
            if args.trim:
                malloc_trim()
            rss = rss_kib()
            objects = self.objects()
            cpu = time.process_time() - started - self.walk_cpu
            print(
                f"calls {done:>7}  RSS {rss / 1024:7.1f} MiB ({(rss - base_rss) / 1024:+.1f})  live now "
                f"{self.live()} (mid-chunk {sample['load_live']['live']})  engine CPU/call "
                f"{1000 * cpu / done:.2f} ms  outcomes {dict(self.recorded)}"
            )
            for path in sorted(seen_paths):
                print(f"    {path:<70} rest {base[path]:>5}  mid-chunk {sample['load'][path]:>5}  now {after[path]:>5}")
            grown = {k: v - base_objects[k] for k, v in objects.items() if v != base_objects[k]}
            grown.update({k: -v for k, v in base_objects.items() if k not in objects})
            print(f"    engine objects vs rest: {grown or 'same'}")
            every = self.counted(all_objects)
            top = sorted(((v - base_all[k], k) for k, v in every.items() if v - base_all[k]), reverse=True)[:8]
            print(f"    gc objects vs rest: {sum(every.values()) - sum(base_all.values()):+d}; most grown: "
                  + ", ".join(f"{k} {n:+d}" for n, k in top))  # fmt: skip
            print(f"    {self.counted(self.caches)}  wall {time.monotonic() - started_wall:.0f} s")
            if args.trace_chunks:
                self.trace_diff()
        wall = time.monotonic() - started_wall
        cpu = time.process_time() - started - self.walk_cpu
        print(f"\n{done} calls in {wall:.0f} s ({done / wall:.1f} calls/s): engine CPU per call "
              f"{1000 * cpu / done:.2f} ms ({100 * cpu / wall:.0f} % of a core)")  # fmt: skip
        if profile:
            profile.dump_stats(args.profile)
        self.memory_per_call()

    def memory_per_call(self) -> None:
        """RSS with ``--live`` calls bridged minus RSS at rest, per call (and a tracemalloc diff)."""
        n = self.args.live
        if not n:
            return
        gc.collect()
        rest = rss_kib()
        if self.args.trace:
            tracemalloc.start(12)
            before = tracemalloc.take_snapshot()
        self.order(n, cps=self.args.cps, talk=1e9, abandon=0.0, reject=0.0)
        self.placed()
        held = self.wait(lambda: len(self.engine.acd.agent_legs) >= n, 60)
        gc.collect()
        rss = rss_kib()
        bridged = len(self.engine.acd.agent_legs)
        print(f"\n{bridged} calls bridged ({'all' if held else 'not all'} of {n}): RSS {rss / 1024:.1f} MiB, "
              f"at rest {rest / 1024:.1f} MiB: {(rss - rest) / max(bridged, 1):.1f} KiB per live call")  # fmt: skip
        if self.args.trace:
            after = tracemalloc.take_snapshot()
            total = sum(s.size_diff for s in after.compare_to(before, "filename"))
            print(f"tracemalloc: {total / n / 1024:.1f} KiB per live call; top sites:")
            for stat in after.compare_to(before, "traceback")[:12]:
                print(f"  {stat.size_diff / n:8.0f} B/call  {stat.count_diff / n:6.1f} objects/call")
                for frame in stat.traceback.format()[-6:]:
                    print(f"      {frame}")
            tracemalloc.stop()
        self.engine.control.api("hupall", "NORMAL_CLEARING")
        self.wait(lambda: self.live() == 0 and not self.engine.acd.inboxes and not self.engine.acd.acd.call_ids(), 60)
        gevent.sleep(0.5)
        gc.collect()
        left = len(self.engine.acd.acd.call_ids())
        print(f"after hang-up: RSS {rss_kib() / 1024:.1f} MiB, live {self.live()}, ACD calls {left}")

    def stop(self) -> None:
        self.emulator.stdin.write(json.dumps({"quit": True}) + "\n")
        self.emulator.stdin.flush()
        self.engine.stop()
        self.emulator.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=6000, help="calls after the warm-up (default 6000)")
    parser.add_argument("--every", type=int, default=1000, help="calls per checkpoint (default 1000)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--cps", type=float, default=30.0, help="calls per second (default 30)")
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--scale", type=float, default=0.02, help="emulator time scale (default 0.02: 50x faster)")
    parser.add_argument("--talk", type=float, default=30.0, help="talk seconds before scaling")
    parser.add_argument("--abandon", type=float, default=0.15, help="share of callers who may give up")
    parser.add_argument("--patience-min", type=float, default=5.0)
    parser.add_argument("--patience-max", type=float, default=60.0)
    parser.add_argument("--reject", type=float, default=0.1, help="share of phones rejecting at any time")
    parser.add_argument("--live", type=int, default=50, help="calls held for memory per live call (0: skip)")
    parser.add_argument("--trace", action="store_true", help="tracemalloc diff of the live calls")
    parser.add_argument("--profile", help="write a cProfile of the chunks to this file")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--trace-chunks",
        type=int,
        default=0,
        metavar="FRAMES",
        help="tracemalloc from rest, FRAMES deep: top growing sites at every checkpoint",
    )
    parser.add_argument("--trace-top", type=int, default=10, help="sites printed per tracemalloc diff")
    parser.add_argument("--trim", action="store_true", help="malloc_trim before each RSS reading")
    parser.add_argument(
        "--windows",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="occupancy window and orphan-leg memory (default: the engine's 900 s and 300 s)",
    )
    soak = Soak(parser.parse_args())
    try:
        soak.run()
    finally:
        soak.stop()


if __name__ == "__main__":
    main()
