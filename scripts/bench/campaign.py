#!/usr/bin/env python
"""Benchmark of the 最美站点 selection at national scale: 5,000 nominees × 5 reviews by 200 reviewers.

Run:  .venv/bin/python scripts/bench/campaign.py [--nominees 5000] [--reviewers 200] [--per-station 5]

Builds a temporary database (synthetic Beijing stations from stations.registry.demo, 40 host
unions placed in the demo's tree; reviewers spread over 20 of them, every fifth of a
district union, so the conflict-of-interest rule bites by the tree),
nominates every station, moves to 综合评议 and times:

* ``assign_reviewers`` — the automatic assignment, checked against the rule
  (exactly k per station, no conflict, loads within one);
* ``live_ranking`` — the ranking from 25,000 submitted reviews (evidence of use, flags,
  Kendall's W), raw and with per-reviewer z-scores; with ``--ledger-days 90`` every
  nominee first gets that many days of service ledger and most get riders' check-ins
  (the ledger's last 90 days are part of the evidence of use);
* the ranking page's first screen (GET /campaigns/<id>/ranking through Flask's test
  client, a logged-in organiser): live during review, and frozen after the move to 公示.

Each timing is the median of a few runs (after one warm-up for the page).  Nothing in
the project is written: the database lives in a temporary directory removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stations import campaign as cp  # noqa: E402
from stations import storage
from stations.accounts import users  # noqa: E402
from stations.registry.demo import generate_stations, load_demo  # noqa: E402
from stations.campaign.reviews import _RANKINGS  # noqa: E402
from stations.storage import now_iso  # noqa: E402
from stations.campaign.eligibility import conflict_rule  # noqa: E402


def timed(fn, runs=3):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _ledger(db, ids, days, rng):
    """``days`` of ledger for every station (some stopped early, some sparse) and check-ins
    for most, written as the ledger's import does (the monthly summary kept by triggers)."""
    from datetime import timedelta

    from stations.ledger import today
    from stations.ledger.codes import COUNT_COLUMNS

    last = today()
    columns = ", ".join(COUNT_COLUMNS)
    marks = ", ".join("?" for _ in COUNT_COLUMNS)
    stamp = int(time.time())
    entries, checkins = [], []
    for sid in ids:
        keep = rng.choice([1.0, 1.0, 0.7, 0.3, 0.0])  # share of the days with an entry
        riders = rng.choice([0, 0, 1, 3, 8])          # check-ins a day
        for n in range(days):
            day = (last - timedelta(days=n)).isoformat()
            if rng.random() < keep:
                entries.append((sid, day, *(rng.randrange(0, 12) for _ in COUNT_COLUMNS), stamp))
            if riders and rng.random() < 0.6:
                checkins.append((sid, day, rng.randrange(1, riders + 1)))
    with storage.write_transaction(db):
        db.conn.executemany(f"INSERT INTO ledger_entries (station_id, date, {columns}, saved_at) "
                            f"VALUES (?, ?, {marks}, ?)", entries)
        db.conn.executemany("INSERT INTO checkin_days (station_id, date, count) VALUES (?, ?, ?)", checkins)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominees", type=int, default=5000)
    parser.add_argument("--reviewers", type=int, default=200)
    parser.add_argument("--per-station", type=int, default=5)
    parser.add_argument("--ledger-days", type=int, default=0,
                        help="days of service ledger (and check-ins) per nominee, up to today")
    args = parser.parse_args()
    rng = random.Random(2021)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        db = storage.connect(path)
        storage.migrate(db)
        records = generate_stations(args.nominees, seed=9, region="beijing")
        unions = [f"第{i}基层工会" for i in range(40)]
        for r in records:
            r["host_union"] = rng.choice(unions)
            r["status"] = "active"
        load_demo(db, records)
        users.add_user(db, "org", "bench-pass-1", "admin")
        stamp = now_iso()
        hashed = users.hash_password("bench-pass-1")
        db.conn.executemany("INSERT INTO users (username, password_hash, role, union_name, created_at) "
                            "VALUES (?, ?, 'reviewer', ?, ?)",
                            [(f"rv{i}", hashed, unions[i % 20], stamp) for i in range(args.reviewers)])
        # load_demo placed the 40 grassroots unions in the demo's tree (北京市总工会 → 区总工会
        # → 街道工会 → 基层工会); every fifth reviewer belongs to a district union instead.
        district_unions = [r[0] for r in db.execute("SELECT name FROM unions WHERE kind = 'district' ORDER BY id")]
        db.conn.executemany("UPDATE users SET union_name = ? WHERE username = ?",
                            [(district_unions[i % len(district_unions)], f"rv{i}")
                             for i in range(0, args.reviewers, 5)])
        db.execute("UPDATE users SET union_id = (SELECT union_id FROM union_names WHERE name = users.union_name) "
                   "WHERE role = 'reviewer'")
        db.conn.commit()
        admin = users.get_user(db, "org")
        cid = cp.create_campaign(db, {"name": "全国最美站点（基准）", "year": 2021, "level": "national",
                                      "quota": 150, "subsidy_yuan": 50000,
                                      "reviewers_per_station": args.per_station}, admin)
        ids = [r[0] for r in db.execute("SELECT id FROM stations ORDER BY id")]
        with storage.write_transaction(db):
            db.conn.executemany("INSERT INTO nominations (campaign_id, station_id, union_name, nominated_by, reason, "
                                "created_at) SELECT ?, id, host_union, 'org', '基准测试', ? FROM stations WHERE id = ?",
                                [(cid, stamp, i) for i in ids])
        if args.ledger_days:
            started = time.perf_counter()
            _ledger(db, ids, args.ledger_days, rng)
            print(f"ledger: {args.ledger_days} days for {len(ids)} stations written in "
                  f"{time.perf_counter() - started:.1f} s")
        cp.advance_stage(db, cid, "review", admin, reason="bench")
        print(f"{len(ids)} nominees, {args.reviewers} reviewers, {args.per_station} per station, "
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

        def assign():
            db.execute("DELETE FROM reviews WHERE campaign_id = ?", [cid])
            return cp.assign_reviewers(db, cid, admin)

        seconds, pairs = timed(assign)
        reviewers = cp.reviewers(db)
        hosts = [{"id": s, "host_union": h, "host_union_id": u}
                 for s, h, u in db.execute("SELECT id, host_union, host_union_id FROM stations")]
        problems = cp.check_assignment([(a["station_id"], a["reviewer_id"]) for a in pairs], hosts, reviewers,
                                       args.per_station, conflict_rule(db, None))
        loads = {}
        for a in pairs:
            loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
        print(f"assignment: {seconds * 1000:.0f} ms for {len(pairs)} pairs; loads {min(loads.values())}–"
              f"{max(loads.values())}; rule broken: {len(problems)}")

        keys = [c["key"] for c in cp.default_rubric()["criteria"]]
        severity = {r["id"]: rng.uniform(-1.5, 1.5) for r in reviewers}
        quality = {s: rng.uniform(4, 9.5) for s in ids}
        rows = []
        for a in pairs:
            base = quality[a["station_id"]] + severity[a["reviewer_id"]]
            scores = {k: round(min(10, max(0, base + rng.gauss(0, 0.8))), 1) for k in keys}
            items = [i for i in ("ledger", "water", "service_24h") if rng.random() < 0.5]
            rows.append((cid, a["station_id"], a["reviewer_id"], json.dumps(scores), json.dumps(items), stamp, stamp))
        with storage.write_transaction(db):
            db.conn.executemany("INSERT INTO reviews (campaign_id, station_id, reviewer_id, scores, items, updated_at, "
                                "submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        campaign = cp.get_campaign(db, cid)

        def cold(normalise):
            _RANKINGS.clear()  # every run computes from the reviews, as after a new submission
            return cp.live_ranking(db, campaign, normalise=normalise)

        seconds, result = timed(lambda: cold(False))
        print(f"ranking (raw, computed): {seconds * 1000:.0f} ms; Kendall W {result['agreement']['kendall_w']}; "
              f"flags: {sum(bool(r['flags']) for r in result['ranking'])}")
        seconds, result = timed(lambda: cold(True))
        print(f"ranking (z-scores, computed): {seconds * 1000:.0f} ms")
        db.conn.close()

        from stations.web import create_app

        app = create_app({"YIZHAN_DB": str(path), "YIZHAN_SECRET_KEY": "bench", "TESTING": True,
                          "WTF_CSRF_ENABLED": False})
        client = app.test_client()
        assert client.post("/login", data={"username": "org", "password": "bench-pass-1"}).status_code == 302

        def page():
            answer = client.get(f"/campaigns/{cid}/ranking")
            assert answer.status_code == 200
            return len(answer.data)

        page()
        seconds, size = timed(lambda: (_RANKINGS.clear(), page())[1], runs=5)
        print(f"ranking page, first screen (review stage, ranking computed): {seconds * 1000:.0f} ms, "
              f"{size / 1000:.0f} kB")
        seconds, size = timed(page, runs=5)
        print(f"ranking page, first screen (review stage, reload with nothing changed): {seconds * 1000:.0f} ms")
        db = storage.connect(path)
        cp.advance_stage(db, cid, "notice", users.get_user(db, "org"), reason="bench")
        db.conn.close()
        page()
        seconds, size = timed(page, runs=5)
        print(f"ranking page, first screen (frozen at 公示): {seconds * 1000:.0f} ms, {size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
