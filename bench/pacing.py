"""Pacing benchmark: progressive, fixed ratios (best in hindsight), VICIdial-style adaptive, the predictive guard
and a clairvoyant bound on the same seeded traffic; occupancy, abandon rate (mean and worst seed) and connects
per agent-hour. ``--frontier`` sweeps each policy's one knob with the cap lifted: occupancy against abandons.

Usage: PYTHONPATH=. python bench/pacing.py [--hours 8] [--seeds 4] [--agents 10 30 50] [--jobs 2] [--frontier]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from engine.dialler.budget import BudgetSettings
from engine.dialler.clairvoyant import ClairvoyantGuard, ClairvoyantLevel
from engine.dialler.pacing import AdaptiveLevel, FixedRatio, GuardSettings, Policy, PredictiveGuard, Progressive
from engine.dialler.simulation import Shift, ShiftResult, simulate, traffic_for_seed

RATIOS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
CAP = BudgetSettings().cap
WORST_GOAL = 0.026
PRICES = (0.01, 0.02, 0.03, 0.05, 0.08)  # abandons per live answer the frontier's guards accept for the next call
LEVELS = (0.35, 0.4, 0.45, 0.5)  # expected live answers in flight per agent free within the horizon
HORIZONS = (4.0, 6.0)
LIFTED = BudgetSettings(cap=0.5, target=0.5)  # a budget that never binds: the frontier measures, the cap would cut


def _job(label: str, seed: int) -> tuple[Policy, BudgetSettings]:
    """The policy and budget a label names: 'progressive', 'ratio R', 'adaptive', 'guard', 'clairvoyant',
    'guard @P' / 'clairvoyant @P' (abandon price P, budget lifted) or 'level L/H' (clairvoyant level)."""
    kind, _, knob = label.partition(" ")
    if kind == "ratio":
        return FixedRatio(float(knob)), BudgetSettings()
    if kind == "level":
        level, horizon = knob.split("/")
        traffic = traffic_for_seed(seed)
        return ClairvoyantLevel(float(level), float(horizon), traffic.p_live, traffic.p_machine), LIFTED
    guard = {"guard": PredictiveGuard, "clairvoyant": ClairvoyantGuard}.get(kind)
    if guard is not None and knob.startswith("@"):
        price = float(knob[1:])
        return guard(GuardSettings(price_gain=0.0)), BudgetSettings(cap=0.5, target=price)
    return {
        "progressive": Progressive,
        "adaptive": AdaptiveLevel,
        "guard": PredictiveGuard,
        "clairvoyant": ClairvoyantGuard,
    }[label](), BudgetSettings()


def _run(job: tuple[str, int, int, float]) -> tuple[str, ShiftResult]:
    label, agents, seed, hours = job
    policy, budget = _job(label, seed)
    return label, simulate(policy, Shift(agents, hours, seed, budget=budget))


def _row(agents: int, label: str, runs: list[ShiftResult]) -> str:
    return (
        f"{agents:>6} {label:<30} {statistics.mean(r.occupancy for r in runs):>9.1%} "
        f"{statistics.mean(r.abandon_rate for r in runs):>12.2%} {max(r.abandon_rate for r in runs):>13.2%} "
        f"{statistics.mean(r.connects_per_agent_hour for r in runs):>12.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--agents", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--frontier", action="store_true", help="sweep the knobs with the cap lifted instead")
    args = parser.parse_args()
    if args.frontier:
        labels = [
            *(f"ratio {r}" for r in RATIOS),
            *(f"{kind} @{p}" for kind in ("guard", "clairvoyant") for p in PRICES),
            *(f"level {level}/{h:g}" for h in HORIZONS for level in LEVELS),
        ]
    else:
        labels = ["progressive", *(f"ratio {r}" for r in RATIOS), "adaptive", "guard", "clairvoyant"]
    limit = WORST_GOAL if args.frontier else CAP
    jobs = [(label, a, seed, args.hours) for a in args.agents for label in labels for seed in range(1, args.seeds + 1)]
    started = time.perf_counter()
    results: dict[tuple[str, int], list[ShiftResult]] = {}
    slow = ("guard", "clairvoyant")  # the slowest jobs first keep both processes busy to the end
    with ProcessPoolExecutor(args.jobs) as pool:
        for label, result in pool.map(_run, sorted(jobs, key=lambda j: not j[0].startswith(slow)), chunksize=1):
            results.setdefault((label, result.agents), []).append(result)
    print(f"{args.hours:g} h shift, seeds 1..{args.seeds}, cap {CAP:.1%}; occupancy = (talk + wrap) / staffed time")
    header = (
        f"{'agents':>6} {'policy':<30} {'occupancy':>9} {'abandon mean':>12} {'abandon worst':>13} {'conn/agent-h':>12}"
    )
    for agents in args.agents:
        print(header)
        rows = {label: results[(label, agents)] for label in labels}
        feasible = [label for label in labels if max(x.abandon_rate for x in rows[label]) <= limit]
        best = set()
        for family in ("ratio", "guard", "clairvoyant", "level") if args.frontier else ("ratio",):
            members = [label for label in feasible if label.split()[0] == family]
            best.add(max(members, key=lambda label: statistics.mean(x.occupancy for x in rows[label]), default=None))
        for label, runs in rows.items():
            print(_row(agents, label + (" (best)" if label in best else ""), runs))
    print(f"(best) = the highest occupancy in its family whose worst seed stays at or under {limit:.1%}")
    print(f"wall time {time.perf_counter() - started:.0f} s with {args.jobs} processes")


if __name__ == "__main__":
    main()
