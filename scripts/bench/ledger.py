#!/usr/bin/env python
"""Benchmark of the service ledger over a realistic year: stations × 365 days of entries.

Run:  .venv/bin/python scripts/bench/ledger.py [--stations 3000] [--days 365] [--keep]
      (the issue's scale: --stations 30000, about 11 million rows)

Builds a temporary database of synthetic Beijing stations (stations.registry.demo), writes one
CSV per month (站点编号, 日期, the six visitor kinds, the eight services) and imports
each through ``ledger.import_ledger`` — the path of ``yizhan ledger import``: every row
checked, then written in one transaction per file with the summaries (per station and
month, per district and day) kept by triggers.  Then it times:

* the import rate (rows per second, checks and writes) and the database size;
* ``ledger_report`` for the year: district × month for every district (the API's
  ``GET /api/v1/reports/ledger``), for one district, and for a period that cuts months
  (edge days summed from the entries);
* ``station_table`` (one row per station) and ``consistency_flags``;
* the /ledger/reports page through Flask's test client (report, station table, charts);
* the anchor: the same district × month figures summed straight from the entries table
  (no summary), which is what the summary saves.

Each timing is the median of a few runs.  The database lives in a temporary directory
removed afterwards (unless --keep); ``--db PATH`` times a kept one again without
building it (the period: its first to its last ledger day).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from stations import ledger, storage
from stations.accounts import users  # noqa: E402
from stations.registry.demo import generate_stations, load_demo  # noqa: E402
from stations.ledger.codes import SERVICES, VISITORS  # noqa: E402


def median_time(fn, runs=5):
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def write_month(path, ids, days, rng):
    header = ["站点编号", "日期"] + list(VISITORS.values()) + [label + "服务" for label in SERVICES.values()]
    shares = np.array([0.45, 0.22, 0.15, 0.08, 0.05, 0.05])
    per_visit = np.array([0.7, 0.25, 0.35, 0.3, 0.5, 0.02, 0.01, 0.03])
    base = rng.gamma(2.0, 9.0, len(ids))
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(header)
        for d in days:
            visits = rng.poisson(base)
            kinds = rng.multinomial(visits, shares)
            served = rng.binomial(visits[:, None], per_visit)
            counts = np.minimum(np.hstack([kinds, served]), 2000).tolist()
            iso = d.isoformat()
            out.writerows([sid, iso, *c] for sid, c in zip(ids, counts))
            rows += len(ids)
    return rows


def raw_district_months(db, start, end):
    visits = " + ".join(f"e.v_{k}" for k in VISITORS)
    return db.execute(f"SELECT s.district, substr(e.date, 1, 7), sum({visits}), count(*) FROM ledger_entries e "
                      "JOIN stations s ON s.id = e.station_id WHERE e.date BETWEEN ? AND ? GROUP BY 1, 2",
                      [start.isoformat(), end.isoformat()]).fetchall()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary database and print its path.")
    parser.add_argument("--db", type=Path, help="Time a database kept by an earlier run (no build).")
    args = parser.parse_args()
    if args.db:
        db_path, result = args.db, {}
        db = storage.connect(db_path)
        storage.migrate(db)
        first, last = db.execute("SELECT min(date), max(date) FROM ledger_entries").fetchone()
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        result.update(stations=db.execute("SELECT count(*) FROM stations").fetchone()[0],
                      days=(end - start).days + 1, period=[first, last],
                      rows=db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0])
        result["db_mb"] = round(sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 1e6, 1)
        measure(db, db_path, start, end, result)
        return
    folder = tempfile.mkdtemp(prefix="yizhan-ledger-bench-")
    db_path = Path(folder) / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    load_demo(db, generate_stations(args.stations, seed=11))
    ids = [r[0] for r in db.execute("SELECT id FROM stations ORDER BY id")]
    users.add_user(db, "bench", "bench-pass-1", "admin")
    admin = users.get_user(db, "bench")
    end = ledger.today() - timedelta(days=1)
    start = end - timedelta(days=args.days - 1)
    rng = np.random.default_rng(11)
    months = {}
    d = start
    while d <= end:
        months.setdefault(d.strftime("%Y-%m"), []).append(d)
        d += timedelta(days=1)
    result = {"stations": len(ids), "days": args.days, "period": [start.isoformat(), end.isoformat()]}
    rows = check_s = 0.0
    import_s = csv_s = 0.0
    for month, days in months.items():
        path = Path(folder) / f"{month}.csv"
        t = time.perf_counter()
        n = write_month(path, ids, days, rng)
        csv_s += time.perf_counter() - t
        t = time.perf_counter()
        report = ledger.import_ledger(db, path, admin, filename=path.name)
        import_s += time.perf_counter() - t
        assert report.ok and report.written == n, (report.file_errors, report.problems[:3])
        rows += n
        path.unlink()
        print(f"  {month}: {n:,} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    storage.checkpoint(db)
    result["rows"] = int(rows)
    result["csv_written_s"] = round(csv_s, 1)
    result["import_s"] = round(import_s, 1)
    result["import_rows_per_s"] = round(rows / import_s)
    size = sum(p.stat().st_size for p in Path(folder).glob("yizhan.db*"))
    result["db_mb"] = round(size / 1e6, 1)
    result["db_bytes_per_entry"] = round(size / rows, 1)
    measure(db, db_path, start, end, result)
    db.conn.close()
    if args.keep:
        print(f"database kept at {db_path}", file=sys.stderr)
    else:
        for p in Path(folder).iterdir():
            p.unlink()
        os.rmdir(folder)


def measure(db, db_path, start, end, result):
    """The timings over a built database (printed with ``result`` as JSON)."""
    result["summary_rows"] = db.execute("SELECT count(*) FROM ledger_months").fetchone()[0]
    result["district_day_rows"] = db.execute("SELECT count(*) FROM ledger_district_days").fetchone()[0]
    districts = [r[0] for r in db.execute("SELECT DISTINCT district FROM stations WHERE district IS NOT NULL")]
    one = max(districts, key=lambda x: db.execute("SELECT count(*) FROM stations WHERE district = ?", [x]).fetchone()[0])
    timings = {}
    timings["report_year_all_districts_s"], full = median_time(lambda: ledger.ledger_report(db, start=start, end=end))
    timings["report_year_one_district_s"], _ = median_time(
        lambda: ledger.ledger_report(db, start=start, end=end, district=one))
    cut_start, cut_end = start + timedelta(days=14), end - timedelta(days=10)
    timings["report_cut_months_s"], cut = median_time(lambda: ledger.ledger_report(db, start=cut_start, end=cut_end))
    timings["station_table_s"], table = median_time(lambda: ledger.station_table(db, start=start, end=end), runs=3)
    timings["consistency_flags_s"], flags = median_time(lambda: ledger.consistency_flags(db), runs=3)
    timings["anchor_raw_district_months_s"], raw = median_time(lambda: raw_district_months(db, start, end), runs=3)
    assert sum(r[2] for r in raw) == full["total"]["visits"], "the summary and the entries disagree"
    raw_cut = sum(r[2] for r in raw_district_months(db, cut_start, cut_end))
    assert raw_cut == cut["total"]["visits"], "a cut period disagrees with the entries"

    from stations.web import create_app

    app = create_app({"YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "bench", "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    import base64

    header = {"Authorization": "Basic " + base64.b64encode(b"bench:bench-pass-1").decode()}
    timings["api_report_s"], answer = median_time(lambda: client.get(
        f"/api/v1/reports/ledger?from={start.isoformat()}&to={end.isoformat()}", headers=header), runs=3)
    assert answer.status_code == 200
    page = client.post("/login", data={"username": "bench", "password": "bench-pass-1"})
    assert page.status_code == 302, page.status_code
    timings["reports_page_s"], page = median_time(lambda: client.get(f"/ledger/reports?year={end.year}"), runs=3)
    assert page.status_code == 200
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["visits"] = full["total"]["visits"]
    result["station_rows"] = len(table)
    result["flags"] = len(flags)
    result["anchor_ratio"] = round(timings["anchor_raw_district_months_s"] / timings["report_year_all_districts_s"], 1)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
