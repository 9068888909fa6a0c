"""Riders' check-ins: "我在这里歇脚了", one tap on the station page, no account.

Use is counted independently of what the station reports.  Nothing about the rider
is stored: the count per station and day goes up by one.  The rate limits (shared by
every server process through ``limits``) count clients by ``limits.client_key``, a
keyed hash of the address, never the address: one check-in per client and station
per ``repeat_minutes``, ``per_client`` per hour across stations, ``global`` per minute.
"""

from __future__ import annotations

from datetime import datetime

from ..limits import Limit, take
from ..storage import TZ, StationNotFound, get_station, write_transaction
from .codes import LedgerError

__all__ = ["check_in", "checkin_count", "CLOSED_REFUSALS"]

# Why a station takes no check-ins: the rider cannot have rested at a station that is
# closed, closed for now, or not yet open.
CLOSED_REFUSALS = {"closed": "该驿站已关闭，不能在这里签到。",
                   "temporarily_closed": "该驿站暂停开放，不能在这里签到。",
                   "pending": "该驿站尚未开放，不能在这里签到。"}


def check_in(db, station_id, *, client: str, limits: dict, at: datetime | None = None,
             now: float | None = None) -> dict:
    """Count one check-in; returns {"station_id", "date", "count"} (the day's count so far).

    ``limits``: ``per_client`` (per hour), ``global`` (per minute), ``repeat_minutes``
    (one per client and station).  Raises RateLimited (scope ``station``, ``client`` or
    ``global``; nothing counted), LedgerError 404 for an unknown station and 409 for one
    that is not open (closed, temporarily closed, pending: ``CLOSED_REFUSALS``).
    """
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        raise LedgerError(f"没有编号为 {str(station_id)[:20]} 的站点", "station_id", 404) from None
    if station["status"] != "active":
        raise LedgerError(CLOSED_REFUSALS.get(station["status"], CLOSED_REFUSALS["closed"]), "station_id", 409)
    day = (at or datetime.now(TZ)).astimezone(TZ).date().isoformat()
    rules = [Limit(f"checkin-station:{client}:{station['id']}", 1,
                   int(limits.get("repeat_minutes", 30)) * 60, "station"),
             Limit(f"checkin-client:{client}", int(limits["per_client"]), 3600, "client"),
             Limit("checkin-global", int(limits["global"]), 60, "global")]
    with write_transaction(db):
        take(db, rules, now=now)
        db.execute("INSERT INTO checkin_days (station_id, date, count) VALUES (?, ?, 1) "
                   "ON CONFLICT (station_id, date) DO UPDATE SET count = count + 1", [station["id"], day])
        count = checkin_count(db, station["id"], day)
    return {"station_id": station["id"], "date": day, "count": count}


def checkin_count(db, station_id, day: str) -> int:
    row = db.execute("SELECT count FROM checkin_days WHERE station_id = ? AND date = ?",
                     [int(station_id), day]).fetchone()
    return row[0] if row else 0
