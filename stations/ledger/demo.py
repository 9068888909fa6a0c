"""A plausible synthetic year of ledgers, meetings and check-ins for the demo stations.

Marked synthetic like the stations (``synthetic = 1`` on entries and meetings); drawn
with a fixed seed.  Most stations keep a ledger most days, busier in the urban core and
in the cold and hot months; riders check in at a small share of the visits; a few
stations claim far more than riders show, and a few stop keeping the ledger, so the
organisers' queue has something to show.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np

from ..storage import now_iso, write_transaction
from .codes import COUNT_COLUMNS, VISITORS
from .common import today

__all__ = ["generate_year"]

_VISITOR_SHARE = np.array([0.45, 0.22, 0.15, 0.08, 0.05, 0.05])  # rider … other
_SERVICE_PER_VISIT = np.array([0.7, 0.25, 0.35, 0.3, 0.5, 0.02, 0.01, 0.03])


def generate_year(db, *, seed: int = 2021, days: int = 365, end: date | None = None,
                  station_ids=None) -> dict:
    """Write ``days`` days of synthetic ledgers (to ``end``, default yesterday), check-ins and
    meetings for the synthetic active stations (or ``station_ids``); returns counts."""
    rng = np.random.default_rng(seed)
    end = end or today() - timedelta(days=1)
    first = end - timedelta(days=days - 1)
    if station_ids is None:
        rows = db.execute("SELECT id, district, host_union FROM stations WHERE synthetic = 1 "
                          "AND status = 'active' ORDER BY id").fetchall()
    else:
        rows = db.execute("SELECT id, district, host_union FROM stations WHERE id IN (SELECT value FROM "
                          "json_each(?)) ORDER BY id", [str(list(map(int, station_ids)))]).fetchall()
    stamp = int(time.time())
    dates = [first + timedelta(days=i) for i in range(days)]
    iso = [d.isoformat() for d in dates]
    season = np.array([1.25 if d.month in (1, 2, 7, 8, 12) else 1.0 for d in dates])
    weekend = np.array([0.8 if d.weekday() >= 5 else 1.0 for d in dates])
    entries = checkins = 0
    with write_transaction(db):
        for sid, _district, _union in rows:
            keeps = rng.random() < 0.75
            base = rng.gamma(2.0, 9.0)  # mean ~18 visits a day, long tail
            inflated = keeps and rng.random() < 0.02
            stops_at = days - int(rng.integers(20, 60)) if keeps and rng.random() < 0.03 else days
            kept_days = rng.random(days) < 0.85
            visits = rng.poisson(base * season * weekend)
            checkin_rate = 0.0 if inflated else rng.uniform(0.03, 0.12)
            claimed = visits * (4 if inflated else 1)
            keep = np.flatnonzero(kept_days & (np.arange(days) < stops_at)) if keeps else np.array([], int)
            kinds = rng.multinomial(claimed[keep], _VISITOR_SHARE) if len(keep) else np.zeros((0, 6), int)
            served = rng.binomial(claimed[keep][:, None], _SERVICE_PER_VISIT) if len(keep) else np.zeros((0, 8), int)
            counts = np.minimum(np.hstack([kinds, served]), 2000).tolist()
            batch = [[sid, iso[i], *c, None, stamp, "demo", 1] for i, c in zip(keep.tolist(), counts)]
            riders = rng.binomial(visits, checkin_rate)
            checkin_rows = [(sid, iso[i], int(riders[i])) for i in np.flatnonzero(riders).tolist()]
            if batch:
                db.conn.executemany(
                    f"INSERT OR IGNORE INTO ledger_entries (station_id, date, {', '.join(COUNT_COLUMNS)}, note, "
                    f"saved_at, saved_by, synthetic) VALUES ({', '.join('?' for _ in range(len(COUNT_COLUMNS) + 6))})",
                    batch)
                entries += len(batch)
            if checkin_rows:
                db.conn.executemany("INSERT INTO checkin_days (station_id, date, count) VALUES (?, ?, ?) "
                                    "ON CONFLICT (station_id, date) DO UPDATE SET count = count + excluded.count",
                                    checkin_rows)
                checkins += sum(c for _, _, c in checkin_rows)
        meetings = _meetings(db, rng, rows, dates)
    return {"stations": len(rows), "entries": entries, "checkins": checkins, "meetings": meetings}


_PLACES = ["街道工会服务站", "快递集散地", "外卖站点", "物流园区", "社区党群服务中心", "商圈广场", "环卫作息点"]


def _meetings(db, rng, rows, dates) -> int:
    by_district = {}
    for sid, district, union in rows:
        if district:
            by_district.setdefault(district, []).append((sid, union))
    out = []
    stamp = now_iso()
    for district, stations in by_district.items():
        # Haidian held about 2,400 meetings in 18 months over 26 subdistricts; scale by stations.
        per_month = max(1.0, len(stations) / 40)
        for month_start in sorted({d.replace(day=1) for d in dates}):
            for kind in ("worker", "enterprise"):
                for _ in range(int(rng.poisson(per_month * (1.1 if kind == "worker" else 0.9)))):
                    day = month_start + timedelta(days=int(rng.integers(0, 28)))
                    if day < dates[0] or day > dates[-1]:
                        continue
                    at_station = rng.random() < 0.6
                    sid, union = stations[int(rng.integers(len(stations)))]
                    attendees = int(rng.integers(15, 120)) if kind == "worker" else int(rng.integers(5, 40))
                    companies = int(rng.integers(0, 4)) if kind == "worker" else int(rng.integers(3, 25))
                    members = int(rng.binomial(attendees, 0.4)) if kind == "worker" else int(rng.integers(0, 15))
                    unions = int(rng.binomial(companies, 0.04)) if kind == "enterprise" else 0
                    out.append((day.isoformat(), kind, sid if at_station else None,
                                None if at_station else _PLACES[int(rng.integers(len(_PLACES)))],
                                district, attendees, companies, members, unions,
                                " ".join((union or "").split()) or None, "demo", stamp))
    db.conn.executemany(
        "INSERT INTO meetings (date, kind, station_id, place, district, attendees, companies, new_members, "
        "new_unions, union_name, created_by, created_at, synthetic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        out)
    return len(out)


VISITOR_CODES = tuple(VISITORS)
