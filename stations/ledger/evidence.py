"""The ledger as evidence of use for the selection (有服务 / 有成效): the last 90 days.

For the reviewer's evidence panel: days the ledger was kept, visits and services it
records, 双沟通 meetings at the station with members and unions gained, riders' check-ins;
and whether the ledger counts as kept, which evidences the priority item 服务台账.
"""

from __future__ import annotations

from datetime import date, timedelta

from .codes import SERVICE_COLUMNS, VISITOR_COLUMNS
from .common import today

__all__ = ["KEPT_SHARE", "ledger_evidence"]

KEPT_SHARE = 0.5  # a ledger is "kept" when at least half of the days have an entry


def ledger_evidence(db, station_ids, *, days: int = 90, as_of: date | None = None) -> dict:
    """{station id: {"days", "entries", "visits", "services", "meetings", "new_members",
    "new_unions", "checkins", "last_entry", "kept"}} over the ``days`` up to ``as_of``."""
    ids = [int(i) for i in station_ids]
    as_of = as_of or today()
    span = [(as_of - timedelta(days=days - 1)).isoformat(), as_of.isoformat()]
    visits = " + ".join(VISITOR_COLUMNS)
    services = " + ".join(SERVICE_COLUMNS)
    out = {i: {"days": days, "entries": 0, "visits": 0, "services": 0, "meetings": 0, "new_members": 0,
               "new_unions": 0, "checkins": 0, "last_entry": None, "kept": False} for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        for sid, n, v, s, last in db.execute(
                f"SELECT station_id, count(*), sum({visits}), sum({services}), max(date) FROM ledger_entries "
                f"WHERE station_id IN ({marks}) AND date BETWEEN ? AND ? GROUP BY station_id", chunk + span):
            out[sid].update(entries=n, visits=v or 0, services=s or 0, last_entry=last,
                            kept=n >= KEPT_SHARE * days)
        for sid, n, members, unions in db.execute(
                f"SELECT station_id, count(*), sum(new_members), sum(new_unions) FROM meetings "
                f"WHERE station_id IN ({marks}) AND date BETWEEN ? AND ? GROUP BY station_id", chunk + span):
            out[sid].update(meetings=n, new_members=members or 0, new_unions=unions or 0)
        for sid, n in db.execute(
                f"SELECT station_id, sum(count) FROM checkin_days WHERE station_id IN ({marks}) "
                "AND date BETWEEN ? AND ? GROUP BY station_id", chunk + span):
            out[sid]["checkins"] = n or 0
    return out
