#!/usr/bin/env python
"""Benchmark: time and peak memory of a 500,000-row ``yizhan import``.

Run:  .venv/bin/python scripts/bench/import_big.py [--rows 500000] [--region china]

1. generates the synthetic demo (``stations.registry.demo.generate_stations``) and writes it
   as ``yizhan export --format csv`` would (streamed, no personal fields);
2. anchors: the time for Python just to ``csv.reader`` the file, and for the
   importer's readers alone (encoding check + rows, no checks);
3. runs ``yizhan import --dry-run`` and then ``yizhan import`` into a fresh database,
   each in its own process, reporting wall time and peak RSS (VmHWM of the child,
   polled every 10 ms).

Everything happens in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stations.registry import readers  # noqa: E402
from stations.registry.demo import generate_stations  # noqa: E402
from stations.registry.exporter import export_stations  # noqa: E402

YIZHAN = ROOT / ".venv" / "bin" / "yizhan"


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(cmd, env, timeout=3600):
    """(seconds, peak RSS bytes, exit code, stdout, stderr) of a command."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, vm_hwm(proc.pid))
        if time.perf_counter() - started > timeout:
            proc.kill()
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    out.seek(0)
    err.seek(0)
    return seconds, peak, proc.returncode, out.read().decode(), err.read().decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--region", default="china", choices=["china", "beijing"])
    ap.add_argument("--seed", type=int, default=2021)
    args = ap.parse_args()
    print(f"yizhan import benchmark: {args.rows:,} synthetic rows, region {args.region}; "
          f"SQLite {sqlite3.sqlite_version}; {os.cpu_count()} CPUs", flush=True)
    work = Path(tempfile.mkdtemp(prefix="yizhan-import-big-"))
    try:
        started = time.perf_counter()
        records = generate_stations(args.rows, seed=args.seed, region=args.region)
        for i, record in enumerate(records, start=1):
            record["id"] = i
        path = work / "stations.csv"
        with open(path, "wb") as fh:
            export_stations(records, "csv", fh)
        del records
        print(f"  generated and wrote {path.stat().st_size / 1e6:.0f} MB CSV in "
              f"{time.perf_counter() - started:.0f} s", flush=True)

        started = time.perf_counter()
        with open(path, newline="", encoding="utf-8-sig") as fh:
            count = sum(1 for _ in csv.reader(fh)) - 1
        print(f"  anchor: csv.reader over the file: {time.perf_counter() - started:.1f} s ({count:,} rows)")
        started = time.perf_counter()
        with open(path, "rb") as fh:
            encoding, _ = readers.detect_encoding(fh)
            count = sum(1 for _ in readers.iter_csv(fh, encoding)) - 1
        print(f"  anchor: importer readers only (encoding pass + rows): "
              f"{time.perf_counter() - started:.1f} s", flush=True)

        env = dict(os.environ, YIZHAN_DB=str(work / "bench.db"), YIZHAN_REGION=args.region,
                   YIZHAN_SECRET_KEY="bench-only-" + os.urandom(8).hex())
        for label, extra in (("dry run", ["--dry-run"]), ("import", [])):
            seconds, peak, code, out, err = run_measured([str(YIZHAN), "import", str(path), *extra], env)
            summary = next((line for line in out.splitlines() if line.startswith("共 ")), "")
            last = out.strip().splitlines()[-1] if out.strip() else ""
            print(f"  yizhan import {' '.join(extra):10s}: {seconds:6.1f} s, peak RSS "
                  f"{peak / 2**20:5.0f} MiB, exit {code}; {summary} {last}", flush=True)
            if code not in (0,):
                print("    stderr: " + err.strip()[-600:])
        db = sqlite3.connect(work / "bench.db")
        stored = db.execute("SELECT count(*) FROM stations").fetchone()[0]
        db.close()
        print(f"  stations stored: {stored:,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
