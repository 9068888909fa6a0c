#!/usr/bin/env python
"""Benchmark of coverage planning on all of Beijing.

Run:  .venv/bin/python scripts/bench/coverage.py [--stations 30000] [--demand 100000] [--repeat 3]

Synthetic data (fixed seeds): stations from ``stations.registry.demo.generate_stations`` (denser
where the city is denser), a demand layer of points scattered around them with random
weights, and 5,000 random candidate sites inside Beijing.  Each measured step runs in a
fresh subprocess, so its peak memory (RSS high-water mark minus the RSS after set-up,
and the tracemalloc peak of the step) is its own; times are the best and median of
``--repeat`` runs after one warm-up (the grid of the districts is built and cached by
the warm-up; its cold cost is printed separately).

Targets (issue 7): figures ≤ 1 s, 50 sites among 5,000 candidates ≤ 1 s, map HTML ≤ 1 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def make_data(directory: Path, n_stations: int, n_demand: int):
    import numpy as np

    from geodata.districts import load_districts, random_points_in
    from stations.registry.demo import generate_stations

    records = generate_stations(n_stations, seed=2021, region="beijing")
    st = np.array([[r["lon"], r["lat"]] for r in records])
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(st), n_demand)
    demand = np.column_stack([st[pick, 0] + rng.normal(0, 0.01, n_demand),
                              st[pick, 1] + rng.normal(0, 0.008, n_demand),
                              rng.integers(1, 20, n_demand)])
    beijing = load_districts("beijing").geometry.union_all()
    clon, clat = random_points_in(beijing, 5000, rng)
    np.save(directory / "stations.npy", st)
    np.save(directory / "demand.npy", demand)
    np.save(directory / "candidates.npy", np.column_stack([clon, clat]))


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _hwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def step(directory: str, name: str, repeat: int) -> dict:
    """Run one measured step in this (fresh) process; print a JSON line."""
    import tracemalloc

    import numpy as np

    from stations.coverage.figures import DemandPoints, StationSet, evaluate
    from stations.coverage.grid import Circle, area_for

    d = Path(directory)
    st = np.load(d / "stations.npy")
    stations = StationSet(np.arange(1, len(st) + 1), st[:, 0], st[:, 1])
    dem = np.load(d / "demand.npy")
    demand = DemandPoints(dem[:, 0], dem[:, 1], dem[:, 2], "bench")
    cand = np.load(d / "candidates.npy")
    circle = Circle(15, "walk")
    started = time.perf_counter()
    area = area_for("beijing", None, 100)
    grid_cold = time.perf_counter() - started
    base_rss = _rss_mib()
    out = {"step": name, "grid_cold_s": round(grid_cold, 3), "cells": int(len(area.inside))}

    if name == "figures_uniform":
        def work():
            return evaluate(area, stations, circle).figures()
    elif name == "figures_demand":
        def work():
            return evaluate(area, stations, circle, demand).figures()
    elif name == "suggest":
        from stations.coverage.suggest import suggest_sites

        cov = evaluate(area, stations, circle, demand, distances=False)

        def work():
            return suggest_sites(cov, 50, candidates=(cand[:, 0], cand[:, 1]))
    elif name == "suggest_grid_uniform":
        from stations.coverage.suggest import suggest_sites

        cov = evaluate(area, stations, circle, distances=False)

        def work():
            return suggest_sites(cov, 50, spacing_m=2000)
    elif name == "map":
        from stations.coverage.gaps import gap_hexagons
        from stations.coverage.maps import plan_map_html
        from stations.coverage.suggest import suggest_sites

        cov = evaluate(area, stations, circle, demand, distances=False)
        gaps = gap_hexagons(cov, 8, limit=200)
        sites = suggest_sites(cov, 50, candidates=(cand[:, 0], cand[:, 1]))["sites"]

        def work():
            return plan_map_html(cov, tiles="amap", gaps=gaps, suggestions=sites)
    else:
        raise SystemExit(f"unknown step {name}")

    work()  # warm-up
    times = []
    tracemalloc.start()
    for _ in range(repeat):
        tracemalloc.reset_peak()
        t = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - t)
    peak_traced = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    out.update(best_s=round(min(times), 3), median_s=round(statistics.median(times), 3),
               peak_traced_mib=round(peak_traced, 1), rss_hwm_over_setup_mib=round(_hwm_mib() - base_rss, 1))
    if name.startswith("figures"):
        out["overall"] = result["overall"]
    elif name.startswith("suggest"):
        out["sites"] = len(result["sites"])
        out["candidates"] = result["candidates"]
        out["added_demand"] = round(result["sites"][-1]["cumulative_demand"] - result["served_before"], 2)
    elif name == "map":
        out["html_bytes"] = len(result.encode())
    print(json.dumps(out, ensure_ascii=False))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=30_000)
    parser.add_argument("--demand", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(args.dir, args.step, args.repeat)
        return
    print(f"# coverage benchmark: {args.stations:,} stations, {args.demand:,} demand points, Beijing at 100 m")
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        make_data(Path(tmp), args.stations, args.demand)
        print(f"# data generated in {time.perf_counter() - t:.1f} s")
        rows = []
        for name in ("figures_uniform", "figures_demand", "suggest", "suggest_grid_uniform", "map"):
            proc = subprocess.run([sys.executable, __file__, "--step", name, "--dir", tmp,
                                   "--repeat", str(args.repeat)], capture_output=True, text=True,
                                  timeout=900, cwd=ROOT)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"step {name} failed")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'step':24} {'best s':>7} {'median s':>8} {'traced MiB':>10} {'RSS+ MiB':>9}  notes")
    for r in rows:
        note = {"map": lambda: f"HTML {r['html_bytes'] / 1e6:.2f} MB",
                "suggest": lambda: f"{r['sites']} of {r['candidates']:,} candidates",
                "suggest_grid_uniform": lambda: f"{r['sites']} of {r['candidates']:,} grid candidates"
                }.get(r["step"], lambda: f"covered {r['overall']['covered_share']:.1%}, "
                                         f"demand {r['overall']['demand_covered_share']:.1%}")()
        print(f"{r['step']:24} {r['best_s']:7.3f} {r['median_s']:8.3f} {r['peak_traced_mib']:10.1f} "
              f"{r['rss_hwm_over_setup_mib']:9.1f}  {note}")
    print(f"# grid of the 16 districts ({rows[0]['cells']:,} cells), built once per process: "
          f"{rows[0]['grid_cold_s']:.2f} s")


if __name__ == "__main__":
    main()
