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
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402

import stations.riders.nearest as nearest_mod  # noqa: E402
from geodata.districts import region_bounds  # noqa: E402
from stations import storage  # noqa: E402
from stations.registry.demo import generate_stations, load_demo  # noqa: E402
from stations.hours import HoursError, parse_hours  # noqa: E402
from stations.riders.nearest import (  # noqa: E402
    EARTH_RADIUS_M, NearestIndex, brute_force_nearest, haversine_m, index_for)
from stations.storage import TZ  # noqa: E402

DATASETS = [  # (label, region, stations, seed)
    ("beijing-30k", "beijing", 30_000, 2021),
    ("china-200k", "china", 200_000, 2021),
]
K = 5
AT = datetime(2025, 11, 24, 21, 30, tzinfo=TZ)  # a Monday evening: many stations closed
FILTER_FACILITIES = ("microwave", "charging")
POINT_SEED = 20251124
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PYTHON = sys.executable

_children: list[subprocess.Popen] = []  # gunicorn masters started here, stopped on exit


# --- small helpers ---------------------------------------------------------------

def log(msg=""):
    print(msg, flush=True)


def pct(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mib(n_bytes):
    return n_bytes / 1024 / 1024


def rss_bytes(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def random_points(region, n, seed=POINT_SEED):
    minlon, minlat, maxlon, maxlat = region_bounds(region)
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(minlon, maxlon, n), rng.uniform(minlat, maxlat, n)])


def build_db(path, region, n, seed):
    """The dataset in a fresh SQLite file, stored the way ``yizhan demo`` stores it."""
    t0 = time.perf_counter()
    records = generate_stations(n, seed=seed, region=region)
    t1 = time.perf_counter()
    db = storage.connect(path)
    storage.migrate(db)
    written = load_demo(db, records)
    t2 = time.perf_counter()
    db.conn.close()
    return written, t1 - t0, t2 - t1


def stored_stations(db):
    """What index_for indexes: the narrow rows of every stored station except pending ones."""
    return storage.station_index_rows(db)


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


# --- brute force -------------------------------------------------------------------------

class VectorScan:
    """Brute force with NumPy: the haversine term of every station, per query.

    Filters are whole-array masks (status, facilities, and open-now from each distinct
    timetable evaluated once per query).  The k smallest by haversine term are picked
    with np.partition; candidates within 2 mm of the k-th are then measured with the
    app's haversine_m and ordered by (distance rounded to mm, id) exactly as the index
    orders its answers.
    """

    def __init__(self, stations):
        self.ids = np.array([s["id"] for s in stations], dtype=np.int64)
        self.lons = np.array([s["lon"] for s in stations], dtype=float)
        self.lats = np.array([s["lat"] for s in stations], dtype=float)
        self.rlon = np.radians(self.lons)
        self.rlat = np.radians(self.lats)
        self.coslat = np.cos(self.rlat)
        self.active = np.array([s["status"] == "active" for s in stations])
        self.facilities = [set(s.get("facilities") or ()) for s in stations]
        texts = sorted({s.get("hours") for s in stations if s.get("hours")})
        self.timetables = []
        for text in texts:
            try:
                self.timetables.append(parse_hours(text))
            except HoursError:
                self.timetables.append(None)
        code = {t: i for i, t in enumerate(texts)}
        self.hours_code = np.array([code.get(s.get("hours"), -1) for s in stations], dtype=np.int64)
        self._fac_cache = {}

    def _facility_ok(self, facilities):
        key = tuple(sorted(facilities))
        if key not in self._fac_cache:
            want = set(key)
            self._fac_cache[key] = np.array([want <= f for f in self.facilities])
        return self._fac_cache[key]

    def query(self, lon, lat, k=K, *, facilities=(), open_now=False, at=AT):
        ok = self.active.copy()
        if facilities:
            ok &= self._facility_ok(facilities)
        if open_now:
            open_by_code = np.array([bool(t is not None and t.is_open(at))
                                     for t in self.timetables] + [False])
            ok &= open_by_code[self.hours_code]  # code -1 -> the trailing False
        rlon0, rlat0 = np.radians(lon), np.radians(lat)
        h = (np.sin((self.rlat - rlat0) / 2) ** 2
             + np.cos(rlat0) * self.coslat * np.sin((self.rlon - rlon0) / 2) ** 2)
        h[~ok] = np.inf
        n_ok = int(ok.sum())
        if n_ok == 0:
            return []
        if n_ok > k:
            kth = np.partition(h, k - 1)[k - 1]
            dk = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(min(max(kth, 0.0), 1.0)))
            limit = np.sin(min((dk + 0.002) / (2 * EARTH_RADIUS_M), np.pi / 2)) ** 2
            cand = np.flatnonzero(h <= limit)
        else:
            cand = np.flatnonzero(ok)
        metres = haversine_m(lon, lat, self.lons[cand], self.lats[cand])
        order = np.lexsort((self.ids[cand], np.round(metres, 3)))[:k]
        return [int(self.ids[cand[j]]) for j in order]


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


# --- HTTP part ------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BARE_APP = '''"""The anchor: a bare Flask app answering a small JSON, under the same gunicorn."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
@app.get("/api/v1/nearest")
def small():
    return jsonify(results=[{"id": 1, "distance_m": 85.3}], ok=True)
'''


FLOOR_APP = '''"""The second anchor: the project's own app, every hook included (access, CSRF,
sessions, security headers, compression, the API's parameter check), whose nearest view
answers a stored real answer without searching: the floor any view of this app stands on."""
import os

from flask import current_app

from app import app
from stations.web.access import PUBLIC, allow

BODY = open(os.environ["BENCH_FLOOR_BODY"], "rb").read()


@allow(PUBLIC)
def fixed_nearest():
    return current_app.response_class(BODY, mimetype="application/json")


app.view_functions["api.nearest"] = fixed_nearest
'''


def start_gunicorn(db_path, region, port, log_path, *, app="app:app", cwd=ROOT, env_extra=None):
    """The project's own server stack (stations/serve.py: gunicorn, gevent workers, its
    access log and limits) with 2 workers, serving ``app`` from ``cwd``: the app and the
    bare anchor are compared under the same server."""
    from stations.serve import command

    env = dict(os.environ, YIZHAN_DB=str(db_path), YIZHAN_REGION=region, WEB_CONCURRENCY="2",
               YIZHAN_SECRET_KEY="bench-only-" + os.urandom(16).hex(),
               PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                       if os.environ.get("PYTHONPATH") else ""), **(env_extra or {}))
    logfile = open(log_path, "wb")
    argv = command(f"127.0.0.1:{port}", "--workers", "2", "--chdir", str(cwd), app)
    argv[0] = PYTHON
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logfile, stderr=logfile,
                            start_new_session=True)
    _children.append(proc)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop_gunicorn(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the master stops its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group started for this gunicorn only
            proc.wait(timeout=10)
    if proc in _children:
        _children.remove(proc)


def stop_all():
    for proc in list(_children):
        try:
            stop_gunicorn(proc)
        except Exception as exc:  # noqa: BLE001
            print(f"could not stop gunicorn {proc.pid}: {exc}", file=sys.stderr)


def worker_rss(master_pid):
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return []
    return [rss_bytes(pid) for pid in children]


WRK_LUA = r"""
local paths = {}
local i = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = 0
  non2xx = 0
  responses = 0
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local n2, resp = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + t:get("non2xx")
    resp = resp + t:get("responses")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d," ..
    "\"max_us\":%d,\"mean_us\":%.1f,\"non2xx\":%d,\"responses\":%d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, n2, resp))
end
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("  wrk not found: installing the Debian package (apt-get install -y wrk) …")
        for cmd in (["apt-get", "install", "-y", "-qq", "wrk"],
                    ["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            if shutil.which("wrk"):
                return True
    return False


def run_wrk(port, paths_file, lua_file, duration, connections, threads):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(lua_file), f"http://127.0.0.1:{port}", "--", str(paths_file)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in res.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            d = json.loads(line[len("BENCH_JSON "):])
            secs = d["duration_us"] / 1e6
            return {"rps": d["requests"] / secs, "requests": d["requests"], "p50_ms": d["p50_us"] / 1000,
                    "p99_ms": d["p99_us"] / 1000, "max_ms": d["max_us"] / 1000,
                    "non2xx": d["non2xx"],
                    "socket_errors": d["connect"] + d["read"] + d["write"] + d["timeout"],
                    "errors_detail": f"connect {d['connect']}, read {d['read']}, write {d['write']}, "
                                     f"timeout {d['timeout']}",
                    "bytes_per_req": d["bytes"] / max(d["requests"], 1)}
    raise RuntimeError(f"wrk gave no result:\n{res.stdout}\n{res.stderr}")


def run_python_loadgen(port, paths, duration, connections):
    """Fallback: one thread per connection, keep-alive HTTP/1.1 where the server allows."""
    stop_at = time.perf_counter() + duration
    lock = threading.Lock()
    lat, non2xx, errors, nbytes = [], [0], [0], [0]

    def worker(offset):
        conn, i, mine = None, offset, []
        n2 = err = nb = 0
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += connections
            try:
                if conn is None:
                    conn = HTTPConnection("127.0.0.1", port, timeout=10)
                t0 = time.perf_counter()
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                mine.append(time.perf_counter() - t0)
                nb += len(body)
                if not 200 <= resp.status <= 299:
                    n2 += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except OSError:
                err += 1
                if conn is not None:
                    conn.close()
                conn = None
        with lock:
            lat.extend(mine)
            non2xx[0] += n2
            errors[0] += err
            nbytes[0] += nb

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(j,)) for j in range(connections)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.perf_counter() - t0
    ms = np.asarray(lat) * 1000
    return {"rps": len(lat) / secs, "requests": len(lat), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
            "max_ms": float(ms.max()) if len(ms) else 0.0, "non2xx": non2xx[0], "socket_errors": errors[0],
            "errors_detail": f"{errors[0]} socket errors", "bytes_per_req": nbytes[0] / max(len(lat), 1)}


def http_part(label, db_path, region, points, workdir, args, use_wrk):
    port = free_port()
    log_path = workdir / f"gunicorn-{label}.log"
    nearest_paths = [f"/api/v1/nearest?lon={lon:.6f}&lat={lat:.6f}&k={K}" for lon, lat in points]
    paths_file = workdir / f"paths-{label}.txt"
    paths_file.write_text("\n".join(nearest_paths) + "\n")
    health_file = workdir / "paths-healthz.txt"
    health_file.write_text("/healthz\n")
    lua_file = workdir / "cycle.lua"
    lua_file.write_text(WRK_LUA)

    proc = start_gunicorn(db_path, region, port, log_path)
    try:
        # Warm: make both workers build their index (a sync worker takes one request at a
        # time, so concurrent requests reach both), then a short discarded load run.
        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
                return r.status, r.read()
        t0 = time.perf_counter()
        ts = [threading.Thread(target=get, args=(p,)) for p in nearest_paths[:4]]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        first_s = time.perf_counter() - t0
        # Sanity: HTTP answers agree with the in-process index (unfiltered: ids do not depend on time).
        db = storage.connect(db_path)
        index = index_for(db, f"bench-{label}-2")
        http_mis = 0
        for lon, lat in points[:20]:
            status, body = get(f"/api/v1/nearest?lon={lon:.6f}&lat={lat:.6f}&k={K}")
            got = [r["station"]["id"] for r in json.loads(body)["results"]]
            http_mis += got != [h.station_id for h in index.query(float(lon), float(lat), K, at=AT)]
        db.conn.close()
        (workdir / "floor-body.json").write_bytes(body)  # a real answer, for the floor anchor
        warm = min(3, args.duration)
        if use_wrk:
            run_wrk(port, paths_file, lua_file, warm, args.connections, args.threads)
            run_wrk(port, health_file, lua_file, 1, args.connections, args.threads)
            near = run_wrk(port, paths_file, lua_file, args.duration, args.connections, args.threads)
            health = run_wrk(port, health_file, lua_file, args.duration, args.connections, args.threads)
        else:
            run_python_loadgen(port, nearest_paths, warm, args.connections)
            near = run_python_loadgen(port, nearest_paths, args.duration, args.connections)
            health = run_python_loadgen(port, ["/healthz"], args.duration, args.connections)
        workers = worker_rss(proc.pid)
    finally:
        stop_gunicorn(proc)
    def anchor(name, source, env_extra=None):
        """An anchor app (``source`` written as ``name``.py) under the same server and load."""
        (workdir / f"{name}.py").write_text(source)
        port = free_port()
        proc = start_gunicorn(db_path, region, port, workdir / f"gunicorn-{name}.log", app=f"{name}:app",
                              cwd=workdir, env_extra=env_extra)
        try:
            if use_wrk:
                run_wrk(port, paths_file, lua_file, warm, args.connections, args.threads)
                return run_wrk(port, paths_file, lua_file, args.duration, args.connections, args.threads)
            run_python_loadgen(port, nearest_paths, warm, args.connections)
            return run_python_loadgen(port, nearest_paths, args.duration, args.connections)
        finally:
            stop_gunicorn(proc)

    # Anchors: a bare Flask app (no database, a small JSON); the project's app answering a
    # stored nearest answer (every hook, no search).
    bare = anchor("bare_app", BARE_APP)
    floor = anchor("floor_app", FLOOR_APP, {"BENCH_FLOOR_BODY": str(workdir / "floor-body.json")})
    tool = (f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s" if use_wrk
            else f"Python thread load generator, {args.connections} connections, {args.duration}s")
    log(f"  HTTP: the project's server (stations/serve.py: gunicorn, 2 gevent workers) for both, {tool}, {len(nearest_paths):,} different nearest URLs cycled")
    log(f"    first concurrent requests (index build in both workers): {first_s:.2f} s;"
        f" HTTP vs in-process ids on 20 points: {http_mis} mismatches;"
        f" worker RSS after the run: {', '.join(f'{mib(x):.0f} MiB' for x in workers) or '?'}")
    for name, r in (("/api/v1/nearest k=5", near), ("/healthz", health)):
        log(f"    {name:21s} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
            f"   max {r['max_ms']:7.1f} ms   requests {r['requests']:,}   non-2xx {r['non2xx']}"
            f"   socket errors {r['socket_errors']} ({r['errors_detail']})   {r['bytes_per_req']:.0f} B/resp")
    for name, r in (("bare Flask app (anchor)", bare), ("app, stored answer", floor)):
        log(f"    {name:21s} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
            f"   non-2xx {r['non2xx']}   socket errors {r['socket_errors']}   {r['bytes_per_req']:.0f} B/resp")
    ratio = near["rps"] / health["rps"] if health["rps"] else float("nan")
    bare_ratio = near["rps"] / bare["rps"] if bare["rps"] else float("nan")
    floor_ratio = floor["rps"] / bare["rps"] if bare["rps"] else float("nan")
    log(f"    nearest / healthz throughput ratio: {ratio:.2f};   nearest / bare Flask app: {bare_ratio:.2f}"
        " (aim >= 0.7, 0 errors)")
    log(f"    the app's floor (every hook, a stored answer, no search) / bare Flask app: {floor_ratio:.2f};"
        f"   nearest / that floor: {near['rps'] / floor['rps'] if floor['rps'] else float('nan'):.2f}")
    return {"near": near, "health": health, "bare": bare, "floor": floor, "ratio": ratio,
            "bare_ratio": bare_ratio, "floor_ratio": floor_ratio,
            "tool": "wrk" if use_wrk else "python", "http_mismatches": http_mis}


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
