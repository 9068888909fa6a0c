"""OGC API – Features benchmark: a GIS client paging through 30,000 stations at limit=1000.

Over the project's own server stack (gunicorn, gevent workers: stations/serve.py) and a
synthetic Beijing registry stored as ``yizhan demo`` stores it, it times:

* /ogcapi items at limit=1000, following ``next`` links (keep-alive, gzip, as GDAL asks),
  in CRS84 and in GCJ-02 (each point converted);
* GDAL's OAPIF driver (pyogrio.read_dataframe) reading the whole layer, as QGIS or
  ogr2ogr would;
* the anchor: the existing ``/api/v1/stations`` bbox query over the same area at its
  own maximum limit (1000), paged by offset.

The target (issue 20): every station read in at most 3 s.

    .venv/bin/python scripts/bench/ogcapi.py [--stations 30000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nearest_data import ROOT, build_db, log  # noqa: E402
from nearest_http import free_port, start_gunicorn, stop_all  # noqa: E402

sys.path.insert(0, str(ROOT))
from geodata.districts import region_bounds  # noqa: E402


def get(conn, path):
    conn.request("GET", path, headers={"Accept-Encoding": "gzip", "Accept": "application/geo+json"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    size = len(body)
    if response.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body), size


def server_cpu_s(master_pid) -> float:
    """User + system CPU seconds the server's processes (master and workers) have used: what
    a read costs the server, whatever else shares the machine."""
    pids = [master_pid] + [int(p) for p in Path(f"/proc/{master_pid}/task/{master_pid}/children")
                           .read_text().split()]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def page_through(port, first):
    """Follow next links from ``first``: (seconds, features, pages, bytes on the wire)."""
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    path, features, pages, wire = first, 0, 0, 0
    while path:
        doc, size = get(conn, path)
        features += len(doc["features"])
        pages += 1
        wire += size
        link = next((link["href"] for link in doc["links"] if link["rel"] == "next"), None)
        path = urlsplit(link).path + "?" + urlsplit(link).query if link else None
    conn.close()
    return time.perf_counter() - t0, features, pages, wire


def offset_through(port, bbox, limit=1000):
    """The anchor: /api/v1/stations?bbox=… paged by offset until ``total``."""
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    offset, features, pages, wire, total, first_page = 0, 0, 0, 0, None, None
    while total is None or offset < total:
        p0 = time.perf_counter()
        doc, size = get(conn, f"/api/v1/stations?bbox={bbox}&limit={limit}&offset={offset}")
        if first_page is None:
            first_page = time.perf_counter() - p0
        total = doc["total"]
        features += len(doc["features"])
        pages += 1
        wire += size
        offset += limit
    conn.close()
    return time.perf_counter() - t0, features, pages, wire, first_page


def gdal_read(port):
    from pyogrio import read_dataframe

    t0 = time.perf_counter()
    frame = read_dataframe(f"OAPIF:http://127.0.0.1:{port}/ogcapi", layer="stations")
    return time.perf_counter() - t0, len(frame)


def in_process(db_path, first):
    """The same paging through Flask's test client (no server, no network): the app's own cost."""
    from stations.web import create_app

    client = create_app({"YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "bench"}).test_client()
    t0 = time.perf_counter()
    url, features = first, 0
    while url:
        doc = client.get(url, headers={"Accept-Encoding": "gzip"})
        doc = json.loads(gzip.decompress(doc.data))
        features += len(doc["features"])
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), None)
    return time.perf_counter() - t0, features


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        written, gen_s, load_s = build_db(db_path, "beijing", args.stations, 2021)
        log(f"registry: {written:,} stations (generated {gen_s:.1f} s, stored {load_s:.1f} s)")
        port = free_port()
        server = start_gunicorn(db_path, "beijing", port, Path(tmp) / "gunicorn.log")
        try:
            minlon, minlat, maxlon, maxlat = region_bounds("beijing")
            bbox = f"{minlon},{minlat},{maxlon},{maxlat}"
            page_through(port, "/ogcapi/collections/stations/items?limit=1000")  # warm the workers
            rows = {}
            for name, first in (
                    ("/ogcapi items, limit=1000, next links (CRS84)",
                     "/ogcapi/collections/stations/items?limit=1000"),
                    ("/ogcapi items, limit=1000, next links, bbox",
                     f"/ogcapi/collections/stations/items?limit=1000&bbox={bbox}"),
                    ("/ogcapi items, limit=1000, next links (GCJ-02)",
                     "/ogcapi/collections/stations/items?limit=1000&crs=gcj02")):
                runs = []
                for _ in range(args.runs):
                    cpu = server_cpu_s(server.pid)
                    runs.append(page_through(port, first) + (server_cpu_s(server.pid) - cpu,))
                rows[name] = runs
            anchor = [offset_through(port, bbox) for _ in range(args.runs)]
            gdal = [gdal_read(port) for _ in range(args.runs)]
        finally:
            stop_all()
        local = [in_process(db_path, "/ogcapi/collections/stations/items?limit=1000") for _ in range(args.runs)]
    log(f"\n{'what':58} {'median s':>9} {'features':>9} {'pages':>6} {'MiB wire':>9} {'server CPU s':>12}")
    for name, runs in rows.items():
        seconds = statistics.median(r[0] for r in runs)
        log(f"{name:58} {seconds:9.2f} {runs[0][1]:9,} {runs[0][2]:6} {runs[0][3] / 2**20:9.1f} "
            f"{statistics.median(r[4] for r in runs):12.2f}")
    seconds = statistics.median(r[0] for r in anchor)
    log(f"{'anchor: /api/v1/stations?bbox=…, limit=1000, by offset':58} {seconds:9.2f} "
        f"{anchor[0][1]:9,} {anchor[0][2]:6} {anchor[0][3] / 2**20:9.1f}")
    log(f"{'anchor: one /api/v1/stations bbox page of 1000':58} "
        f"{statistics.median(r[4] for r in anchor):9.3f}")
    log(f"{'GDAL OAPIF driver (pyogrio.read_dataframe), whole layer':58} "
        f"{statistics.median(r[0] for r in gdal):9.2f} {gdal[0][1]:9,}")
    log(f"{'in process (test client, gzip), limit=1000, next links':58} "
        f"{statistics.median(r[0] for r in local):9.2f} {local[0][1]:9,}")
    log(f"load average during the run (2 cores): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    worst = max(statistics.median(r[0] for r in runs) for runs in rows.values())
    log(f"\ntarget: every station in ≤ 3 s at limit=1000 — {'met' if worst <= 3 else 'NOT met'} "
        f"(slowest /ogcapi variant {worst:.2f} s)")


if __name__ == "__main__":
    main()
