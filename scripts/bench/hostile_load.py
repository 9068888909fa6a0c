#!/usr/bin/env python
"""Benchmark: riders' nearest-station search while union and planner accounts attack (issue 14).

Starts the server exactly as ./scripts/serve does (``stations.serve.command``, gunicorn
with 2 gevent workers) on a free port over a temporary demo database, then times
``GET /api/v1/nearest`` at random places in Beijing (each on a new connection, one
after another, as riders' phones make them) in two phases:

* **idle**: nothing else happens (the baseline);
* **attack**: meanwhile two union accounts keep uploading scan-bomb photos to their
  nominations through the API (one 20,000-scan JPEG that once held a worker for ~50 s,
  and one at the 40-scan limit declaring 36 Mpx, which is decoded — in the limited
  child process), two planners upload 500,000-row demand files on /plan, and eight
  other planners each start a city-wide /plan computation (100 m grid), so jobs queue
  behind ``YIZHAN_PLAN_JOBS_AT_ONCE``.

The anchor, measured in the same run, is ``GET /healthz`` (a bare Flask endpoint).
Prints percentiles per phase and what the attackers got back.

    .venv/bin/python scripts/bench/hostile_load.py [--stations 3000] [--seconds 60]

Traffic goes only to 127.0.0.1; the server started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_bombs import scan_bomb_jpeg  # noqa: E402
from slow_clients import get, percentiles, start_server, stop  # noqa: E402

PASSWORD = "bench-pass-1"
BEIJING = (116.10, 39.70, 116.75, 40.15)  # the built-up city and its edges, lon/lat box


def prepare(db: Path, stations: int, planners: int) -> dict:
    """Demo data, two union accounts with a nomination each, planners; returns what the attack needs."""
    env = dict(os.environ, YIZHAN_DB=str(db))
    yizhan = str(ROOT / ".venv" / "bin" / "yizhan")
    subprocess.run([yizhan, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([yizhan, "demo", "--stations", str(stations), "--seed", "2021", "--ledger-days", "0"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    from stations import campaign as cp
    from stations import storage
    from stations.accounts import tokens, users

    db_ = storage.connect(db)
    admin = users.get_user(db_, "admin")
    unions = [r["host_union"] for r in db_.query(
        "SELECT host_union, count(*) n FROM stations WHERE status = 'active' AND host_union != '' "
        "GROUP BY host_union ORDER BY n DESC LIMIT 2")]
    campaign_id = cp.create_campaign(db_, {"name": "压力测试评选", "year": 2026, "level": "municipal",
                                           "quota": 10, "subsidy_yuan": 0, "reviewers_per_station": 1,
                                           "notice_days": 7}, admin)
    attackers = []
    for i, union in enumerate(unions):
        name = f"union{i + 1}"
        users.add_user(db_, name, PASSWORD, "union", union, create_union=True)
        user = users.get_user(db_, name)
        station = cp.union_stations(db_, union, limit=1)[0]
        cp.nominate(db_, campaign_id, {"station_id": station["id"], "reason": "服务设施齐全，骑手常来。"}, user)
        attackers.append({"token": tokens.issue_token(db_, user["id"]), "station_id": station["id"]})
    for i in range(planners):
        users.add_user(db_, f"planner{i + 1}", PASSWORD, "planner")
    db_.conn.close()
    return {"campaign_id": campaign_id, "attackers": attackers}


def demand_csv(path: Path, rows: int) -> Path:
    rng = random.Random(14)
    with path.open("w", encoding="utf-8") as out:
        out.write("经度,纬度,订单量\n")
        for _ in range(rows):
            out.write(f"{rng.uniform(116.2, 116.6):.6f},{rng.uniform(39.8, 40.05):.6f},{rng.randint(1, 40)}\n")
    return path


def login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=60).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(f"{base}/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": token}, timeout=60, allow_redirects=False)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login {username}: {answer.status_code}")
    return session


def wait_job(session, base, location, stop_at, outcomes, label):
    key = location.rstrip("/").split("/")[-1]
    while time.monotonic() < stop_at:
        status = session.get(f"{base}/plan/jobs/{key}.json", timeout=60).json()
        if status.get("finished"):
            outcomes[f"{label}: {status.get('state')}"] += 1
            return
        time.sleep(1)
    outcomes[f"{label}: unfinished at the end"] += 1


def photo_attacker(base, campaign_id, attacker, stop_at, outcomes):
    bombs = [("bomb-20000.jpg", scan_bomb_jpeg(20000)), ("bomb-40.jpg", scan_bomb_jpeg(39))]
    url = f"{base}/api/v1/campaigns/{campaign_id}/nominations/{attacker['station_id']}/photos"
    headers = {"Authorization": f"Bearer {attacker['token']}"}
    i = 0
    while time.monotonic() < stop_at:
        name, data = bombs[i % 2]
        i += 1
        try:
            answer = requests.post(url, headers=headers, files=[("photos", (name, data, "image/jpeg"))], timeout=120)
            outcomes[f"photo {name}: {answer.status_code}"] += 1
        except requests.RequestException:
            outcomes[f"photo {name}: no answer"] += 1


def demand_uploader(base, username, csv_path, stop_at, outcomes):
    session = login(base, username)
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{base}/plan", timeout=60).text).group(1)
    with csv_path.open("rb") as f:
        started = time.monotonic()
        answer = session.post(f"{base}/plan/demand", data={"csrf_token": token, "name": f"订单-{username}",
                                                           "datum": "wgs84"},
                              files={"file": ("orders.csv", f, "text/csv")}, allow_redirects=False, timeout=300)
    outcomes[f"demand upload answered {answer.status_code} in {time.monotonic() - started:.1f} s"] += 1
    if answer.status_code == 303:
        wait_job(session, base, answer.headers["Location"], stop_at, outcomes, "demand job")


def plan_runner(base, username, stop_at, outcomes):
    session = login(base, username)
    answer = session.get(f"{base}/plan", params={"run": 1, "minutes": 15, "mode": "walk", "cell_m": 100},
                         allow_redirects=False, timeout=300)
    outcomes[f"/plan computation answered {answer.status_code}"] += 1
    if answer.status_code in (302, 303):
        wait_job(session, base, answer.headers["Location"], stop_at, outcomes, "plan job")


def riders(port, stop_at, timeout, seed):
    """Nearest-station requests at random places until ``stop_at``; (times, failures)."""
    rng = random.Random(seed)
    times, failed = [], 0
    while time.monotonic() < stop_at:
        lon, lat = rng.uniform(BEIJING[0], BEIJING[2]), rng.uniform(BEIJING[1], BEIJING[3])
        try:
            times.append(get(port, f"/api/v1/nearest?lon={lon:.5f}&lat={lat:.5f}&k=5", timeout))
        except (OSError, RuntimeError):
            failed += 1
    return times, failed


def anchor(port, count, timeout):
    times = []
    for _ in range(count):
        try:
            times.append(get(port, "/healthz", timeout))
        except (OSError, RuntimeError):
            pass
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--demand-rows", type=int, default=500_000)
    parser.add_argument("--jobs", type=int, default=8, help="/plan computations started by as many planners")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a rider's request fails")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "yizhan.db"
        setup = prepare(db, args.stations, args.jobs + 2)
        csv_path = demand_csv(tmp / "orders.csv", args.demand_rows)
        proc, port = start_server(db, [])
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(4):
                get(port, "/api/v1/nearest?lon=116.3975&lat=39.9087", 60)  # load both workers' index
            print(f"{os.cpu_count()} cores; {args.stations:,} demo stations; gunicorn, 2 gevent workers; "
                  f"riders: random places in {BEIJING}, a new connection each; {args.seconds:.0f} s a phase",
                  flush=True)
            idle_anchor = anchor(port, 200, args.timeout)
            times, failed = riders(port, time.monotonic() + args.seconds, args.timeout, 1)
            print(f"idle    /healthz (anchor)    {percentiles(idle_anchor)}")
            print(f"idle    /api/v1/nearest      {percentiles(times)}  n={len(times)} failed {failed}", flush=True)

            outcomes = collections.Counter()
            stop_at = time.monotonic() + args.seconds
            workers = [threading.Thread(target=photo_attacker, args=(base, setup["campaign_id"], a, stop_at, outcomes))
                       for a in setup["attackers"]]
            workers += [threading.Thread(target=demand_uploader, args=(base, f"planner{i + 1}", csv_path, stop_at,
                                                                       outcomes)) for i in range(2)]
            workers += [threading.Thread(target=plan_runner, args=(base, f"planner{i + 3}", stop_at, outcomes))
                        for i in range(args.jobs)]
            for w in workers:
                w.daemon = True
                w.start()
            time.sleep(1.0)  # the uploads are on their way
            times, failed = riders(port, stop_at, args.timeout, 2)
            attack_anchor = anchor(port, 100, args.timeout)
            print(f"attack  /api/v1/nearest      {percentiles(times)}  n={len(times)} failed {failed}")
            print(f"attack  /healthz (anchor)    {percentiles(attack_anchor)}")
            for w in workers:
                w.join(timeout=5)
            print("what the attackers got:")
            for what, count in sorted(outcomes.items()):
                print(f"  {count:>5} × {what}")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
