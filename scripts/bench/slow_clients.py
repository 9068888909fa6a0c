"""Benchmark: request latency while slow or idle clients hold connections open.

Starts the server exactly as ./scripts/serve does (``stations.serve.command``) on a free
port over a temporary demo database, opens 0, 100 and 500 slow connections (half a
request line, headers that never end, bodies dripping a byte every 0.2 s, silent
sockets, idle kept-alive connections), and times fresh requests meanwhile: GET /healthz
and GET /api/v1/nearest, each on a new connection, one after another.  Prints
percentiles; a request that takes longer than --timeout counts as timed out.

Anchors (--anchors): the same runs against gunicorn's sync worker (the old
./scripts/serve) and its gthread worker (8 threads), which hold a thread per
connection while it sends its headers.

    .venv/bin/python scripts/bench/slow_clients.py [--anchors] [--requests 200]

Traffic goes only to 127.0.0.1; every server started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from stations import serve  # noqa: E402

KINDS = [b"GET /healthz HTTP/1.1\r\n",
         b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1",
         (b"POST /stations/1/feedback HTTP/1.1\r\nHost: localhost\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"),
         b"",
         b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout):
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(data[:80])
    return time.perf_counter() - start


def start_server(db, extra):
    port = free_port()
    env = dict(os.environ, YIZHAN_DB=str(db), YIZHAN_SECRET_KEY="bench", WEB_CONCURRENCY="2")
    proc = subprocess.Popen(serve.command(f"127.0.0.1:{port}", *extra, "--access-logfile", "/dev/null"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(port, "/healthz", 2)
            return proc, port
        except (OSError, RuntimeError):
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("the server did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group started here, for this server only
        proc.wait()


def open_slow(port, count):
    socks, dripping, stop_event = [], [], threading.Event()
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(KINDS[i % len(KINDS)])
        socks.append(s)
        if i % len(KINDS) == 2:
            dripping.append(s)

    def drip():
        while not stop_event.wait(0.2):
            for s in dripping:
                try:
                    s.send(b"x")
                except OSError:
                    pass

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()

    def close():
        stop_event.set()
        thread.join()
        for s in socks:
            s.close()
    return close


def percentiles(values):
    if not values:
        return "no answers"
    qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return (f"p50 {qs[49] * 1000:7.1f} ms  p90 {qs[89] * 1000:7.1f} ms  "
            f"p99 {qs[98] * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")


def run(label, db, extra, slow_counts, requests, timeout):
    proc, port = start_server(db, extra)
    try:
        for path in ("/api/v1/nearest?lon=116.3975&lat=39.9087",) * 4:
            get(port, path, 30)  # warm both workers' index
        for count in slow_counts:
            close = open_slow(port, count)
            time.sleep(0.5)
            try:
                for path in ("/healthz", "/api/v1/nearest?lon=116.3975&lat=39.9087&k=5"):
                    times, failed = [], 0
                    for _ in range(requests):
                        try:
                            times.append(get(port, path, timeout))
                        except (OSError, RuntimeError):
                            failed += 1
                    name = path.split("?")[0]
                    print(f"{label:<22} {count:>4} slow  {name:<16} {percentiles(times)}"
                          f"  timed out {failed}/{requests}", flush=True)
            finally:
                close()
    finally:
        stop(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per path and case")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds before a request counts as timed out")
    parser.add_argument("--stations", type=int, default=3000)
    parser.add_argument("--anchors", action="store_true", help="also run sync and gthread workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "yizhan.db"
        env = dict(os.environ, YIZHAN_DB=str(db))
        yizhan = str(ROOT / ".venv" / "bin" / "yizhan")
        subprocess.run([yizhan, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([yizhan, "demo", "--stations", str(args.stations), "--seed", "2021"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"{os.cpu_count()} cores; {args.stations:,} demo stations; {args.requests} requests "
              f"per row, one connection each, timeout {args.timeout} s")
        run("gevent (scripts/serve)", db, [], (0, 100, 500), args.requests, args.timeout)
        if args.anchors:
            small = max(10, args.requests // 10)  # timed-out requests are slow to count
            run("sync (old)", db, ["--worker-class", "sync"], (0, 2, 100), small, args.timeout)
            run("gthread 8 threads", db, ["--worker-class", "gthread", "--threads", "8"],
                (0, 100), small, args.timeout)


if __name__ == "__main__":
    main()
