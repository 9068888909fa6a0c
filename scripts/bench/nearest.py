#!/usr/bin/env python
"""Benchmark of nearest-station search: index build, in-process latency, brute force, HTTP.

Run:  .venv/bin/python scripts/bench/nearest.py [--quick]

Two synthetic datasets (stations.registry.demo.generate_stations, fixed seeds) are stored in
temporary SQLite files exactly as ``yizhan demo`` stores them (ids assigned by
storage.insert_stations).  For each one this prints

* index build time and memory (NearestIndex over the stored, non-pending stations, the
  way ``index_for`` builds it), with RSS delta and tracemalloc peak measured in a fresh
  subprocess so earlier work does not blur them;
* latency of one k=5 query over random points in the region's bounding box
  (median, p99, µs), unfiltered and filtered (open now at a fixed time + facilities
  microwave,charging);
* a vectorised NumPy haversine scan over every station on the same points, the speed-up
  of the index over it, and the number of queries where they disagree (same ids in the
  same order is required: must be 0); the pure-Python ``brute_force_nearest`` on fewer
  points, for reference, also checked;
* HTTP throughput under the project's server stack (stations/serve.py: gunicorn with
  2 gevent workers, the same for the app and the bare anchor) with wrk (a Lua script cycling through
  many different /api/v1/nearest URLs) and /healthz under the same server, connections
  and duration; two anchors under the same server and load: a bare Flask app answering
  a small JSON, and the project's own app whose nearest view answers a stored real
  answer without searching (every hook, the same bytes: the floor of any view).  If wrk is missing and cannot be installed, a small Python thread load
  generator is used instead (said so in the output; it is much weaker than wrk).

Traffic goes only to 127.0.0.1; every run is time-bounded; gunicorn is stopped at the
end, also on errors and Ctrl-C.  Nothing in the project is written: the databases live
in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import scipy  # noqa: E402

import stations.riders.nearest as nearest_mod  # noqa: E402
from nearest_data import (  # noqa: E402
    AT, DATASETS, FILTER_FACILITIES, K, POINT_SEED, PYTHON, VectorScan, build_db, log, mib, pct,
    random_points, rss_bytes, stored_stations)
from nearest_http import ensure_wrk, http_part, stop_all  # noqa: E402
from stations import storage  # noqa: E402
from stations.riders.nearest import NearestIndex, brute_force_nearest, index_for  # noqa: E402


# --- memory probe (runs in a fresh subprocess) ---------------------------------------

def memory_probe(db_path, mode):
    db = storage.connect(db_path)
    storage.data_version(db)  # open the file before measuring
    if mode == "rss":
        before = rss_bytes()
        t0 = time.perf_counter()
        index = index_for(db, "probe")
        took = time.perf_counter() - t0
        after = rss_bytes()
        out = {"rss_before": before, "rss_after": after, "seconds": took, "n": len(index)}
    else:
        tracemalloc.start()
        index = index_for(db, "probe")
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out = {"traced_current": current, "traced_peak": peak, "n": len(index)}
    print("PROBE " + json.dumps(out))


def run_probe(db_path, mode):
    res = subprocess.run([PYTHON, __file__, "--probe", mode, str(db_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    for line in res.stdout.splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[6:])
    raise RuntimeError(f"memory probe failed:\n{res.stdout}\n{res.stderr}")


# --- in-process part ------------------------------------------------------------------

def in_process(label, db_path, region, n_points, n_pure):
    out = {}
    db = storage.connect(db_path)

    # Build: index_for as the app calls it (fresh cache key each time), and its parts.
    builds = []
    for rep in range(3):
        key = f"bench-{label}-{rep}"
        t0 = time.perf_counter()
        index = index_for(db, key)
        builds.append(time.perf_counter() - t0)
        if rep < 2:  # free the cached copies but the last
            nearest_mod._CACHE.pop(key, None)
    t0 = time.perf_counter()
    stations = stored_stations(db)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    NearestIndex(stations)
    ctor_s = time.perf_counter() - t0
    out.update(indexed=len(index), build_first_s=builds[0], build_median_s=statistics.median(builds),
               read_s=read_s, ctor_s=ctor_s)
    rss = run_probe(db_path, "rss")
    traced = run_probe(db_path, "tracemalloc")
    out.update(rss_delta=rss["rss_after"] - rss["rss_before"], probe_build_s=rss["seconds"],
               traced_peak=traced["traced_peak"], traced_current=traced["traced_current"])
    log(f"  index build (index_for: read {len(index):,} non-pending stations from SQLite + NearestIndex):")
    log(f"    3 builds {', '.join(f'{b*1000:.0f}' for b in builds)} ms, median {out['build_median_s']*1000:.0f} ms"
        f"   (of which read+decode narrow rows {read_s*1000:.1f} ms, NearestIndex() {ctor_s*1000:.1f} ms)")
    log(f"    memory: RSS delta {mib(out['rss_delta']):.1f} MiB (fresh process);"
        f" tracemalloc peak {mib(out['traced_peak']):.1f} MiB, retained {mib(out['traced_current']):.1f} MiB"
        f" (tracemalloc does not see cKDTree's C++ buffers)")

    points = random_points(region, n_points)
    scan = VectorScan(stations)
    filt = dict(facilities=FILTER_FACILITIES, open_now=True)

    def index_ids(lon, lat, **kw):
        return [h.station_id for h in index.query(lon, lat, K, at=AT, **kw)]

    # Anchor: a bare cKDTree query (k=5) over the same stations' unit-sphere points, on
    # the same query points: what any nearest search costs before filtering and ranking.
    from scipy.spatial import cKDTree

    from stations.registry.validation import lonlat_to_xyz
    bare_tree = cKDTree(lonlat_to_xyz(np.array([s["lon"] for s in stations]),
                                      np.array([s["lat"] for s in stations])))
    query_xyz = lonlat_to_xyz(points[:, 0], points[:, 1])
    for xyz in query_xyz[:200]:
        bare_tree.query(xyz, k=K)
    bare_lat = []
    for xyz in query_xyz:
        t0 = time.perf_counter_ns()
        bare_tree.query(xyz, k=K)
        bare_lat.append((time.perf_counter_ns() - t0) / 1000)
    out["bare_kdtree_p50"] = pct(bare_lat, 50)
    log(f"  anchor: bare cKDTree.query(k={K}) on the same points   p50 {pct(bare_lat, 50):7.1f} µs"
        f"   p99 {pct(bare_lat, 99):7.1f} µs")

    for kind, kw in (("unfiltered", {}), ("filtered", filt)):
        # warm-up
        for lon, lat in points[:200]:
            index.query(lon, lat, K, at=AT, **kw)
            scan.query(lon, lat, K, **kw)
        lat_idx, lat_scan, answers_idx, answers_scan = [], [], [], []
        clock = time.perf_counter_ns
        for lon, lat in points:
            lon, lat = float(lon), float(lat)
            t0 = clock()
            hits = index.query(lon, lat, K, at=AT, **kw)
            lat_idx.append((clock() - t0) / 1000)
            answers_idx.append([h.station_id for h in hits])
        for lon, lat in points:
            lon, lat = float(lon), float(lat)
            t0 = clock()
            ids = scan.query(lon, lat, K, **kw)
            lat_scan.append((clock() - t0) / 1000)
            answers_scan.append(ids)
        mismatches = sum(a != b for a, b in zip(answers_idx, answers_scan))
        short = sum(len(a) < K for a in answers_idx)
        # pure-Python brute_force_nearest on the first few points
        pure_lat, pure_mis = [], 0
        for lon, lat in points[:n_pure]:
            lon, lat = float(lon), float(lat)
            t0 = clock()
            res = brute_force_nearest(stations, lon, lat, K, at=AT, **kw)
            pure_lat.append((clock() - t0) / 1000)
            pure_mis += [s["id"] for s, _ in res] != index_ids(lon, lat, **kw)
        # Cold: the open-state memo (one per minute) dropped before every query, as for
        # the first query of each minute.
        lat_cold = []
        for lon, lat in points:
            index._minute = None
            t0 = clock()
            index.query(float(lon), float(lat), K, at=AT, **kw)
            lat_cold.append((clock() - t0) / 1000)
        r = {
            "cold_p50": pct(lat_cold, 50), "ratio_bare": pct(lat_idx, 50) / out["bare_kdtree_p50"],
            "cold_ratio_bare": pct(lat_cold, 50) / out["bare_kdtree_p50"],
            "p50": pct(lat_idx, 50), "p99": pct(lat_idx, 99), "mean": float(np.mean(lat_idx)),
            "scan_p50": pct(lat_scan, 50), "scan_p99": pct(lat_scan, 99),
            "scan_mean": float(np.mean(lat_scan)),
            "speedup_mean": float(np.mean(lat_scan) / np.mean(lat_idx)),
            "speedup_p50": pct(lat_scan, 50) / pct(lat_idx, 50),
            "mismatches": mismatches, "short": short,
            "pure_p50": pct(pure_lat, 50), "pure_n": len(pure_lat), "pure_mismatches": pure_mis,
        }
        out[kind] = r
        desc = ("k=5, status active" if kind == "unfiltered" else
                f"k=5, open_now at {AT.isoformat(timespec='minutes')} + facilities "
                + ",".join(FILTER_FACILITIES))
        log(f"  {kind} query ({desc}), {len(points):,} random points in the region's bbox:")
        log(f"    NearestIndex.query          p50 {r['p50']:9.1f} µs   p99 {r['p99']:9.1f} µs   mean {r['mean']:9.1f} µs")
        log(f"    ... with a cold open-state memo p50 {r['cold_p50']:7.1f} µs;   index / bare cKDTree p50:"
            f" {r['ratio_bare']:.2f}x warm, {r['cold_ratio_bare']:.2f}x cold (aim <= 2x)")
        log(f"    NumPy haversine scan        p50 {r['scan_p50']:9.1f} µs   p99 {r['scan_p99']:9.1f} µs   mean {r['scan_mean']:9.1f} µs")
        log(f"    speed-up index vs scan      {r['speedup_mean']:.0f}x (mean)  {r['speedup_p50']:.0f}x (median)")
        log(f"    agreement index vs scan     {mismatches} mismatching queries of {len(points):,}"
            f" (ids and order){'   <-- MUST BE 0' if mismatches else ''};"
            f" answers with fewer than {K} results: {short}")
        log(f"    pure-Python brute_force_nearest on the first {len(pure_lat)} points: p50 {r['pure_p50']/1000:.1f} ms,"
            f" {pure_mis} mismatches with the index")
    db.conn.close()
    return out, points


# --- main -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2,000 query points, 5 s HTTP runs (datasets keep their sizes)")
    ap.add_argument("--points", type=int, help="random query points (default 10,000; quick 2,000)")
    ap.add_argument("--duration", type=int, help="seconds per HTTP run (default 15; quick 5)")
    ap.add_argument("--connections", type=int, default=16, help="HTTP connections (default 16)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1; 2 cores are shared)")
    ap.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    ap.add_argument("--only", choices=[d[0] for d in DATASETS], help="one dataset only")
    ap.add_argument("--probe", nargs=2, metavar=("MODE", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        memory_probe(args.probe[1], args.probe[0])
        return
    args.points = args.points or (2_000 if args.quick else 10_000)
    # Over HTTP every URL is a fresh random point (features not yet cached) for as long
    # as the run lasts: far more points than requests wrk sends in one run.
    args.http_points = 20_000 if args.quick else 120_000
    args.duration = args.duration or (5 if args.quick else 15)

    log("Yizhan nearest-station benchmark" + (" (--quick)" if args.quick else ""))
    log(f"  {platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()};"
        f" NumPy {np.__version__}; SciPy {scipy.__version__}; SQLite {sqlite3.sqlite_version}")
    log(f"  all stations synthetic (stations.registry.demo.generate_stations); query points uniform in the"
        f" region bbox (geodata.districts.region_bounds), seed {POINT_SEED}")

    use_wrk = False
    if not args.no_http:
        if args.loadgen in ("auto", "wrk"):
            use_wrk = ensure_wrk()
            if not use_wrk:
                if args.loadgen == "wrk":
                    sys.exit("wrk is not installed and could not be installed")
                log("  NOTE: wrk unavailable: using the Python thread load generator (weaker; figures lower-bound)")
        if use_wrk:
            ver = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
            log(f"  load generator: {(ver.stdout or ver.stderr).splitlines()[0].strip()}")

    workdir = Path(tempfile.mkdtemp(prefix="yizhan-bench-"))
    results = {}
    try:
        for label, region, n, seed in DATASETS:
            if args.only and args.only != label:
                continue
            log("")
            db_path = workdir / f"{label}.db"
            written, gen_s, load_s = build_db(db_path, region, n, seed)
            log(f"== {label}: {written:,} synthetic stations, region {region}, seed {seed} "
                f"(generate {gen_s:.1f} s, load_demo {load_s:.1f} s, DB {mib(db_path.stat().st_size):.0f} MiB)")
            n_pure = 200 if n <= 50_000 else 30
            if args.quick:
                n_pure //= 4
            res, points = in_process(label, db_path, region, args.points, n_pure)
            res["stations"] = written
            if not args.no_http:
                http_points = random_points(region, args.http_points, seed=POINT_SEED + 1)
                res["http"] = http_part(label, db_path, region, http_points, workdir, args, use_wrk)
            results[label] = res
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    log("")
    log(f"Summary (latencies in µs unless marked; {args.points:,} query points per dataset; k=5)")
    head = (f"{'dataset':12s} {'stations':>9s} {'indexed':>9s} {'build ms':>9s} {'RSS MiB':>8s} {'tm peak':>8s}"
            f" {'p50':>7s} {'p99':>7s} {'f.p50':>7s} {'f.p99':>7s} {'scan p50':>9s} {'speedup':>8s} {'f.speedup':>9s}"
            f" {'mism.':>6s}")
    if not args.no_http:
        head += f" {'near rps':>9s} {'near p99ms':>10s} {'hz rps':>8s} {'ratio':>6s} {'/bare':>6s}"
    log(head)
    for label, r in results.items():
        u, f = r["unfiltered"], r["filtered"]
        row = (f"{label:12s} {r['stations']:9,d} {r['indexed']:9,d} {r['build_median_s']*1000:9.0f}"
               f" {mib(r['rss_delta']):8.1f} {mib(r['traced_peak']):8.1f}"
               f" {u['p50']:7.1f} {u['p99']:7.1f} {f['p50']:7.1f} {f['p99']:7.1f} {u['scan_p50']:9.0f}"
               f" {u['speedup_mean']:7.0f}x {f['speedup_mean']:8.0f}x {u['mismatches'] + f['mismatches']:6d}")
        if "http" in r:
            h = r["http"]
            row += (f" {h['near']['rps']:9.0f} {h['near']['p99_ms']:10.1f} {h['health']['rps']:8.0f}"
                    f" {h['ratio']:6.2f} {h['bare_ratio']:6.2f}")
        log(row)
    log("  build = median of 3 index_for builds; RSS = delta in a fresh process; tm peak = tracemalloc peak;"
        " f. = filtered (open now + microwave,charging);")
    log("  speed-up = mean NumPy-scan latency / mean index latency, same points, same run;"
        " mism. = index vs scan disagreements (must be 0).")
    bad = sum(r["unfiltered"]["mismatches"] + r["filtered"]["mismatches"]
              + r["unfiltered"]["pure_mismatches"] + r["filtered"]["pure_mismatches"]
              + r.get("http", {}).get("http_mismatches", 0) for r in results.values())
    if bad:
        log(f"FAIL: {bad} disagreeing answers")
        sys.exit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    finally:
        stop_all()
