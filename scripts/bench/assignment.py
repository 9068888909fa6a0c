#!/usr/bin/env python
"""Benchmark: the even-as-possible assignment against the anchor (loads within one, or refused).

Run:  .venv/bin/python scripts/bench/assignment.py [--nominees 5000] [--reviewers 200] [--per-station 5]

Pure functions, no database: 5,000 nominees × 5 reviews by 200 reviewers, half of the
reviewers from two big unions (which also host many nominees), the rest spread over 38
small unions.  Two mixes of nominees:

* ``spread``: the two big unions host 20 % of the nominees each: a balanced assignment
  exists, so both algorithms succeed; we compare time and loads;
* ``heavy``: one big union hosts 85 % of the nominees, the other 5 %: the first's 50
  reviewers can review only the other 15 %, loads within one are impossible, the anchor
  refuses (time to refusal) and the new algorithm assigns as evenly as possible.

The anchor is ``scripts/bench/assignment_balanced.py``, a frozen copy of the module
before issue 17.  Each timing is the median of three runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stations.campaign import assignment as new  # noqa: E402
import assignment_balanced as anchor  # noqa: E402


def timed(fn, runs=3):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        try:
            result = fn()
        except anchor.Infeasible as exc:
            result = exc
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def world(nominees, reviewers, shares, seed=17):
    rng = random.Random(seed)
    small = [f"第{i}基层工会" for i in range(38)]
    big = ["东城区总工会", "朝阳区总工会"]
    stations = []
    for i in range(nominees):
        draw = rng.random()
        host = big[0] if draw < shares[0] else big[1] if draw < sum(shares) else rng.choice(small)
        stations.append({"id": i + 1, "host_union": host})
    people = [{"id": 10_000 + j, "username": f"rv{j}",
               "union_name": big[j % 2] if j < reviewers // 2 else small[j % len(small)]} for j in range(reviewers)]
    return stations, people


def describe(result):
    if isinstance(result, Exception):
        return f"refused: {str(result)[:70]}…"
    loads = sorted(result.loads.values())
    return f"loads {loads[0]}–{loads[-1]} (mean {sum(loads) / len(loads):.1f}), {len(result.pairs)} pairs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominees", type=int, default=5000)
    parser.add_argument("--reviewers", type=int, default=200)
    parser.add_argument("--per-station", type=int, default=5)
    args = parser.parse_args()
    k = args.per_station
    print(f"{args.nominees} nominees × {k} by {args.reviewers} reviewers (half from two big unions), "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for label, share in (("spread", (0.20, 0.20)), ("heavy", (0.85, 0.05))):
        stations, people = world(args.nominees, args.reviewers, share)
        seconds, result = timed(lambda: anchor.plan_assignment(stations, people, k))
        print(f"{label:6s} anchor (within one): {seconds * 1000:7.0f} ms; {describe(result)}")
        seconds, result = timed(lambda: new.plan_assignment(stations, people, k))
        problems = new.check_assignment(result.pairs, stations, people, k)
        print(f"{label:6s} even as possible:   {seconds * 1000:7.0f} ms; {describe(result)}; "
              f"rule broken: {len(problems)}; fewer than fair share: {len(result.fewer)}")
        started = time.perf_counter()
        new.eligibility(stations, people)
        print(f"{label:6s} eligibility matrix: {(time.perf_counter() - started) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
