"""The nearest-station benchmark's HTTP part: the project's server stack (gunicorn via
stations/serve.py) over a benchmark database, wrk (or a Python thread load generator)
cycling through many /api/v1/nearest URLs and /healthz, and the two anchors (a bare Flask
app; the project's app answering a stored answer).  Used by scripts/bench/nearest.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

import numpy as np

from nearest_data import AT, K, PYTHON, ROOT, log, mib, pct, rss_bytes
from stations import storage
from stations.riders.nearest import index_for

_children: list[subprocess.Popen] = []  # gunicorn masters started here, stopped on exit


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
