"""Pacing benchmark: progressive, fixed ratios (best in hindsight), VICIdial-style adaptive and the predictive
guard on the same seeded traffic; occupancy, abandon rate (mean and worst seed) and connects per agent-hour.

Usage: PYTHONPATH=. python bench/pacing.py [--hours 8] [--seeds 4] [--agents 10 30 50] [--jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from engine.dialler.budget import BudgetSettings
from engine.dialler.pacing import AdaptiveLevel, FixedRatio, PredictiveGuard, Progressive
from engine.dialler.simulation import Shift, ShiftResult, simulate

RATIOS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)
CAP = BudgetSettings().cap


def _policy(label: str) -> Progressive | FixedRatio | AdaptiveLevel | PredictiveGuard:
    if label.startswith("ratio "):
        return FixedRatio(float(label.split()[1]))
    return {"progressive": Progressive, "adaptive": AdaptiveLevel, "guard": PredictiveGuard}[label]()


def _run(job: tuple[str, int, int, float]) -> tuple[str, ShiftResult]:
    label, agents, seed, hours = job
    return label, simulate(_policy(label), Shift(agents, hours, seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--agents", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    labels = ["progressive", *(f"ratio {r}" for r in RATIOS), "adaptive", "guard"]
    jobs = [(label, a, seed, args.hours) for a in args.agents for label in labels for seed in range(1, args.seeds + 1)]
    started = time.perf_counter()
    results: dict[tuple[str, int], list[ShiftResult]] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        for label, result in pool.map(_run, sorted(jobs, key=lambda j: j[0] != "guard"), chunksize=1):
            results.setdefault((label, result.agents), []).append(result)
    print(f"{args.hours:g} h shift, seeds 1..{args.seeds}, cap {CAP:.1%}; occupancy = (talk + wrap) / staffed time")
    header = (
        f"{'agents':>6} {'policy':<26} {'occupancy':>9} {'abandon mean':>12} {'abandon worst':>13} {'conn/agent-h':>12}"
    )
    for agents in args.agents:
        print(header)
        rows = {label: results[(label, agents)] for label in labels}
        feasible = [r for r in RATIOS if max(x.abandon_rate for x in rows[f"ratio {r}"]) <= CAP]
        best = max(feasible, key=lambda r: statistics.mean(x.occupancy for x in rows[f"ratio {r}"]), default=None)
        for label in labels:
            runs = rows[label]
            tag = " (best static)" if best is not None and label == f"ratio {best}" else ""
            print(
                f"{agents:>6} {label + tag:<26} {statistics.mean(r.occupancy for r in runs):>9.1%} "
                f"{statistics.mean(r.abandon_rate for r in runs):>12.2%} {max(r.abandon_rate for r in runs):>13.2%} "
                f"{statistics.mean(r.connects_per_agent_hour for r in runs):>12.1f}"
            )
    print(f"wall time {time.perf_counter() - started:.0f} s with {args.jobs} processes")


if __name__ == "__main__":
    main()
