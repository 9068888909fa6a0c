#!/usr/bin/env python
"""Benchmark of scope by the union tree: what a district admin's view costs against the
city admin's (the anchor).

Run:  .venv/bin/python scripts/bench/union_scope.py [--stations 30000] [--unions 2000]
      [--days 31] [--runs 9] [--keep | --db KEPT.db]

Builds a temporary database: ``--stations`` synthetic Beijing stations (the demo's,
with its tree 北京市总工会 → 区总工会 → 街道工会 → grassroots), then more unions until
there are ``--unions``, hung ever deeper (branches of branches, down to 8 levels), with a
third of each district's stations moved to its deepest unions; ``--days`` of ledger
entries for every station (the summaries kept by the triggers, as in production).

Then, for the city admin (北京市总工会: everything) and for the admin of a district
union picked at random on each run, it times on a fresh connection each run (SQLite's
page cache cold; the operating system's stays warm):

* the station list: the scope, the first page of 50 and the count (``/admin/stations``);
* the report: ``ledger_report`` for the year to date and ``station_table`` (``/ledger/reports``);
* the export: every station of the scope as CSV with personal fields (``/admin/export``).

Anchors: the city admin doing the same (its whole registry), and the city admin asking
for the same district by the district filter (the same rows without a scope): the
second is the cost of the scope itself.  Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stations import ledger, storage  # noqa: E402
from stations.registry.demo import generate_stations, load_demo  # noqa: E402
from stations.registry.exporter import iter_export  # noqa: E402
from stations.unions.scope import EVERYTHING, scope_of  # noqa: E402


def build(path: Path, n_stations: int, n_unions: int, days: int, rng: random.Random) -> list[tuple]:
    db = storage.connect(path)
    storage.migrate(db)
    started = time.perf_counter()
    load_demo(db, generate_stations(n_stations, seed=11))
    districts = dict(db.execute("SELECT name, id FROM unions WHERE kind = 'district'").fetchall())
    with storage.write_transaction(db):
        # deeper unions: each a branch of a random union below a district, until n_unions
        below = {d: [u for u in _subtree(db, uid)] for d, uid in districts.items()}
        stamp = storage.now_iso()
        count = db.execute("SELECT count(*) FROM unions").fetchone()[0]
        depth = {u: 0 for us in below.values() for u in us}
        while count < n_unions:
            district = rng.choice(sorted(below))
            parent = max(rng.sample(below[district], min(3, len(below[district]))), key=lambda u: depth[u])
            if depth[parent] >= 6:
                parent = rng.choice(below[district])
            count += 1
            name = f"{district}第{count}分会工会"
            union_id = db.execute("INSERT INTO unions (name, kind, parent_id, status, created_at, updated_at) "
                                  "VALUES (?, 'grassroots', ?, 'active', ?, ?)", [name, parent, stamp, stamp]).lastrowid
            db.execute("INSERT INTO union_names (key, union_id, name, is_alias) VALUES (?, ?, ?, 0)",
                       [name, union_id, name])
            below[district].append(union_id)
            depth[union_id] = depth[parent] + 1
        # a third of each district's stations move to its deepest unions
        for district, union_ids in below.items():
            deep = sorted(union_ids, key=lambda u: -depth[u])[:max(1, len(union_ids) // 4)]
            place = district.removesuffix("总工会")
            ids = [r[0] for r in db.execute("SELECT id FROM stations WHERE district = ?", [place])]
            moves = [(u, u, sid) for sid in rng.sample(ids, len(ids) // 3) for u in [rng.choice(deep)]]
            db.conn.executemany("UPDATE stations SET host_union_id = ?, host_union = "
                                "(SELECT name FROM unions WHERE id = ?) WHERE id = ?", moves)
    levels = db.execute("WITH RECURSIVE d(id, n) AS (SELECT id, 1 FROM unions WHERE parent_id IS NULL "
                        "UNION ALL SELECT u.id, d.n + 1 FROM unions u JOIN d ON u.parent_id = d.id) "
                        "SELECT max(n) FROM d").fetchone()[0]
    print(f"built {n_stations:,} stations, {count:,} unions ({levels} levels) "
          f"in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    ids = [r[0] for r in db.execute("SELECT id FROM stations ORDER BY id")]
    end = ledger.today()
    columns = "station_id, date, v_rider, v_courier, s_water, s_rest, saved_at, saved_by"
    with storage.write_transaction(db):
        for back in range(days):
            day = (end - timedelta(days=back)).isoformat()
            db.conn.executemany(f"INSERT INTO ledger_entries ({columns}) VALUES (?, ?, ?, ?, ?, ?, 0, 'bench')",
                                [(sid, day, rng.randrange(30), rng.randrange(10), rng.randrange(20),
                                  rng.randrange(10)) for sid in ids])
    print(f"ledger: {len(ids) * days:,} entries in {time.perf_counter() - started:.0f} s", flush=True)
    admins = [(name.removesuffix("总工会"), uid) for name, uid in sorted(districts.items())]
    root = db.execute("SELECT id FROM unions WHERE parent_id IS NULL AND kind = 'municipal'").fetchone()[0]
    db.conn.close()
    return root, admins


def _subtree(db, union_id):
    return [r[0] for r in db.execute(
        "WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT u.id FROM unions u JOIN sub ON u.parent_id = sub.id) "
        "SELECT id FROM sub", [union_id])]


def station_list(db, scope, district=None):
    return storage.search_stations(db, scope=scope, district=district, limit=50, private=True)


def report(db, scope, district=None):
    start = ledger.today().replace(month=1, day=1)
    figures = ledger.ledger_report(db, start=start, end=ledger.today(), district=district, scope=scope,
                                   with_kinds=True)
    return figures, ledger.station_table(db, start=start, end=ledger.today(), district=district, scope=scope)


def export(db, scope, district=None):
    stations = (storage.iter_stations(db, private=True, scope=scope) if district is None else
                (s for s in storage.iter_stations(db, private=True) if s["district"] == district))
    return sum(len(chunk) for chunk in iter_export(stations, "csv", private=True))


def timed(path, user, work, district=None):
    db = storage.connect(path)  # a fresh connection: SQLite's page cache is cold
    try:
        started = time.perf_counter()
        scope = scope_of(db, user) if user is not None else EVERYTHING
        work(db, scope, district)
        return time.perf_counter() - started
    finally:
        db.conn.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=30_000)
    parser.add_argument("--unions", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--db", type=Path, help="time a database kept by --keep again, without building it")
    args = parser.parse_args(argv)
    rng = random.Random(16)
    if args.db:
        folder, path, args.keep = args.db.parent, args.db, True
        db = storage.connect(path)
        root = db.execute("SELECT id FROM unions WHERE parent_id IS NULL AND kind = 'municipal'").fetchone()[0]
        admins = [(name.removesuffix("总工会"), uid) for uid, name in
                  db.execute("SELECT id, name FROM unions WHERE kind = 'district' ORDER BY name")]
        db.conn.close()
    else:
        folder = Path(tempfile.mkdtemp(prefix="yizhan-scope-"))
        path = folder / "bench.db"
        root, admins = build(path, args.stations, args.unions, args.days, rng)
    city = {"role": "admin", "union_id": root}
    print(f"\n{'':24}{'city admin':>12}{'district admin':>16}{'ratio':>8}{'city, same district':>22}{'ratio':>8}")
    worst = (0.0, "", 0.0)
    for label, work in (("station list", station_list), ("report", report), ("export (CSV)", export)):
        whole, scoped, same = [], [], []
        for _ in range(args.runs):
            district, union_id = rng.choice(admins)
            whole.append(timed(path, city, work))
            scoped.append(timed(path, {"role": "admin", "union_id": union_id}, work))
            # the same district's stations by the district filter, no scope (the report's
            # district filter reads the per-district summary, so this anchor is its fast path)
            same.append(timed(path, city, work, district))
        w, s, d = (statistics.median(x) * 1000 for x in (whole, scoped, same))
        worst = max(worst, (s / w, label, s - w))
        print(f"{label:24}{w:10.1f}ms{s:14.1f}ms{s / w:8.2f}{d:20.1f}ms{s / d:8.2f}")
    print(f"\nworst against the city admin's view: {worst[1]} {100 * (worst[0] - 1):+.0f} % "
          f"({worst[2]:+.1f} ms; the brief's bound: +10 %)")
    if args.keep:
        print(f"kept: {path}")
    else:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
