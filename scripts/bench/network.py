#!/usr/bin/env python
"""Benchmark of street networks (issue 19): import, coverage and a rider's nearest along streets.

Run:  .venv/bin/python scripts/bench/network.py [--side 710] [--stations 30000] [--queries 2000]

A synthetic Beijing-size street network is written as a real .osm.pbf (pyosmium): a
jittered grid of ``side`` × ``side`` nodes 60 m apart centred on 天安门 (710 → about
1,000,000 street segments over ~1,800 km²), rows and columns as ways, every tenth a
one-way primary road, the rest residential.  Measured, with anchors in the same run:

- ``yizhan network import`` of the file, in a subprocess: wall time and peak RSS;
- coverage of ``stations`` random stations inside the network's extent (the six central
  districts at 100 m cells): ``evaluate_network`` cold (cells joined to streets) and warm,
  against the anchor of ``scipy.sparse.csgraph.dijkstra`` from all stations at once
  (min_only) on the same graph alone;
- a rider's nearest (k=5) along the streets at random points, in process, p50/p99, against
  the straight-line query of the same index.

Targets: import ≤ 60 s at ≤ 2 GB; coverage ≤ 10 s; by=network nearest ≤ 5 ms p50.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CENTRE = (116.3975, 39.9087)
DISTRICTS = ["东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区"]


def write_grid(path: Path, side: int, spacing: float = 60.0, seed: int = 19) -> int:
    import math

    import numpy as np
    import osmium

    rng = np.random.default_rng(seed)
    lon0, lat0 = CENTRE
    kx, ky = 111_320 * math.cos(math.radians(lat0)), 110_574
    half = side * spacing / 2
    xs = np.arange(side) * spacing - half
    gx, gy = np.meshgrid(xs, xs)
    gx = gx + rng.uniform(-12, 12, gx.shape)
    gy = gy + rng.uniform(-12, 12, gy.shape)
    lons, lats = lon0 + gx / kx, lat0 + gy / ky
    writer = osmium.SimpleWriter(str(path))
    ts = "2026-01-01T00:00:00Z"
    node_id = lambda i, j: 1 + i * side + j  # noqa: E731
    for i in range(side):
        for j in range(side):
            writer.add_node(osmium.osm.mutable.Node(id=node_id(i, j), location=(float(lons[i, j]), float(lats[i, j])),
                                                    version=1, visible=True, changeset=1, timestamp=ts, uid=1,
                                                    user="b", tags={}))
    way = 0
    for i in range(side):  # rows, then columns
        for refs, k in (([node_id(i, j) for j in range(side)], i), ([node_id(j, i) for j in range(side)], i)):
            way += 1
            tags = {"highway": "primary", "oneway": "yes"} if k % 10 == 0 else {"highway": "residential"}
            writer.add_way(osmium.osm.mutable.Way(id=way, nodes=refs, tags=tags, version=1, visible=True,
                                                  changeset=1, timestamp=ts, uid=1, user="b"))
    writer.close()
    return 2 * side * (side - 1)


def measure_import(pbf: Path, db: Path) -> tuple[float, float]:
    env = {**os.environ, "YIZHAN_DB": str(db)}
    yizhan = str(Path(sys.executable).with_name("yizhan"))
    subprocess.run([yizhan, "init"], env=env, check=True, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run([yizhan, "network", "import", str(pbf), "--name", "bench"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    print(done.stdout.strip())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak_mb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=710)
    parser.add_argument("--stations", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pbf = tmp / "grid.osm.pbf"
        t = time.perf_counter()
        segments = write_grid(pbf, args.side)
        print(f"synthetic extract: {segments:,} street segments, {pbf.stat().st_size / 1e6:.1f} MB PBF "
              f"(written in {time.perf_counter() - t:.1f} s)")
        wall, peak = measure_import(pbf, tmp / "y.db")
        print(f"import: {wall:.1f} s wall, peak RSS {peak:.0f} MB   (targets ≤ 60 s, ≤ 2048 MB)")

        from scipy.sparse.csgraph import dijkstra

        from stations.coverage.figures import StationSet
        from stations.coverage.grid import Circle, area_for
        from stations.coverage.network import evaluate_network
        from stations.networks import load_graph, networks_dir
        from stations.riders.nearest import NearestIndex
        from stations.networks.nearest import ranked_by_network

        folder = networks_dir(tmp / "y.db")
        t = time.perf_counter()
        graph = load_graph(folder, "bench", "walk")
        print(f"load walking graph: {time.perf_counter() - t:.2f} s ({len(graph.net):,} segments)")
        rng = np.random.default_rng(7)
        minlon, minlat, maxlon, maxlat = graph.meta["bounds"]
        lons = rng.uniform(minlon, maxlon, args.stations)
        lats = rng.uniform(minlat, maxlat, args.stations)
        stations = StationSet.from_points(zip(lons, lats))
        area = area_for("beijing", DISTRICTS, 100)
        circle = Circle(minutes=15)
        for label in ("cold (cells joined to streets)", "warm"):
            t = time.perf_counter()
            cov = evaluate_network(area, stations, circle, graph)
            figures = cov.figures()["overall"]
            print(f"coverage {label}: {time.perf_counter() - t:.2f} s for {args.stations:,} stations, "
                  f"{len(cov.cells.x):,} cells measured; covered {figures['covered_share']:.1%}, "
                  f"double {figures['double_covered_share']:.1%}, outside {figures['outside_network_share']:.1%}")
        from stations.coverage.suggest import suggest_sites

        for n_st in (args.stations, args.stations // 10, args.stations // 100):
            few = cov if n_st == args.stations else evaluate_network(
                area, StationSet.from_points(zip(lons[:n_st], lats[:n_st])), circle, graph)
            t = time.perf_counter()
            answer = suggest_sites(few, 50, spacing_m=1000)
            print(f"suggest 50 sites along the streets ({n_st:,} stations, {answer['candidates']:,} grid "
                  f"candidates, {answer['reaching']:,} reaching open demand): {time.perf_counter() - t:.2f} s")
        # anchor: the bare multi-source Dijkstra on the same graph (stations at their nearest node)
        tree = graph.node_tree()
        _, nodes = tree.query(np.column_stack(graph.to_xy(lons, lats)))
        csr = graph.travel_graph().T.tocsr()
        t = time.perf_counter()
        dijkstra(csr, directed=True, indices=np.unique(nodes), min_only=True)
        print(f"anchor: scipy dijkstra from all {args.stations:,} stations at once (min_only): "
              f"{time.perf_counter() - t:.2f} s")

        rows = [{"id": i + 1, "lon": float(lo), "lat": float(la), "status": "active", "hours": "24小时",
                 "facilities": []} for i, (lo, la) in enumerate(zip(lons, lats))]
        index = NearestIndex(rows, keep_rows=False)
        qlon = rng.uniform(minlon + 0.02, maxlon - 0.02, args.queries)
        qlat = rng.uniform(minlat + 0.02, maxlat - 0.02, args.queries)

        def coords(hits):
            at = np.array([h.station_id - 1 for h in hits])
            return lons[at], lats[at]

        for label, ask in (
                ("straight-line nearest (anchor)", lambda lo, la: index.query(lo, la, 5)),
                ("by=network nearest", lambda lo, la: ranked_by_network(
                    graph, lambda n: index.query(lo, la, n), coords, lo, la, 5))):
            ask(qlon[0], qlat[0])
            times = []
            for lo, la in zip(qlon, qlat):
                t = time.perf_counter()
                ask(lo, la)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(f"{label}: p50 {statistics.median(times):.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms "
                  f"({len(times):,} random points)")


if __name__ == "__main__":
    main()
