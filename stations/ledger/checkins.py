"""Riders' check-ins: "我在这里歇脚了", one tap on the station page, no account.

Use is counted independently of what the station reports.  Nothing that names the
rider is stored: the count per station and day goes up by one.  The rate limits (shared
by every server process through ``limits``) count clients by ``limits.client_key``, a
keyed hash of the address, never the address: one check-in per client and station
per ``repeat_minutes``, ``per_client`` per hour across stations, ``global`` per minute.

As evidence that riders were there (the ledger flags, the selection's 面子工程 rule) a
phone counts once per station and day, however often it checks in: a client-day.  The
same keyed hash of today's clients is kept per station only to tell a new client from
a repeat, and dropped at the station's next check-in on a later day; the repeats are
counted per station and day (``checkin_repeats``), so client-days are the check-ins
less the repeats.  Days before this was kept have no repeats: each check-in its own
client-day.
"""

from __future__ import annotations

from datetime import datetime

from ..accounts.limits import Limit, RateLimited, cooldown_wait, start_cooldown, take
from ..hours.now import open_state
from ..storage import TZ, StationNotFound, get_station, write_transaction
from .codes import LedgerError

__all__ = ["check_in", "checkin_count", "closed_now_refusal", "repeat_checkins", "riders_counted", "COUNTED_ONCE", "CLOSED_REFUSALS"]

# How riders' evidence is counted, said wherever it is shown.
COUNTED_ONCE = "同一手机同一天只计一次"

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
    that is not open (closed, temporarily closed, pending: ``CLOSED_REFUSALS``) or closed
    by its opening hours at ``at`` (已打烊: ``closed_now_refusal``).
    """
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        raise LedgerError(f"没有编号为 {str(station_id)[:20]} 的站点", "station_id", 404) from None
    if station["status"] != "active":
        raise LedgerError(CLOSED_REFUSALS.get(station["status"], CLOSED_REFUSALS["closed"]), "station_id", 409)
    at = (at or datetime.now(TZ)).astimezone(TZ)
    state = open_state(station, at)
    if state["open"] is False:  # closed by its hours right now (unknown hours: not known to be closed)
        raise LedgerError(closed_now_refusal(state), "station_id", 409)
    day = at.date().isoformat()
    repeat = f"checkin-station:{client}:{station['id']}"
    repeat_s = int(limits.get("repeat_minutes", 30)) * 60
    rules = [Limit(f"checkin-client:{client}", int(limits["per_client"]), 3600, "client"),
             Limit("checkin-global", int(limits["global"]), 60, "global")]
    with write_transaction(db):
        # the repeat rule first (the narrowest scope is the one reported), and exact: a
        # second check-in waits what is left of repeat_minutes, never more
        wait = cooldown_wait(db, repeat, repeat_s, now=now)
        if wait:
            raise RateLimited("station", wait)
        take(db, rules, now=now)
        start_cooldown(db, repeat, repeat_s, now=now)
        # the clients of the station's earlier days are no longer needed: only whether a
        # client is new today
        db.execute("DELETE FROM checkin_clients WHERE station_id = ? AND date < ?", [station["id"], day])
        new = db.execute("INSERT OR IGNORE INTO checkin_clients (station_id, date, client) VALUES (?, ?, ?)",
                         [station["id"], day, client]).rowcount
        if not new:  # this phone has checked in here today: a check-in, not another rider-day
            db.execute("INSERT INTO checkin_repeats (station_id, date, count) VALUES (?, ?, 1) "
                       "ON CONFLICT (station_id, date) DO UPDATE SET count = count + 1", [station["id"], day])
        db.execute("INSERT INTO checkin_days (station_id, date, count) VALUES (?, ?, 1) "
                   "ON CONFLICT (station_id, date) DO UPDATE SET count = count + 1", [station["id"], day])
        count = checkin_count(db, station["id"], day)
    return {"station_id": station["id"], "date": day, "count": count}


def closed_now_refusal(state: dict) -> str:
    """Why a station closed by its hours takes no check-in (``open_state``'s label says
    when it opens: 已打烊，明天 08:00 开门)."""
    return f"该驿站现在{state['label'].strip()}：营业时间内才能签到。"


def checkin_count(db, station_id, day: str) -> int:
    row = db.execute("SELECT count FROM checkin_days WHERE station_id = ? AND date = ?",
                     [int(station_id), day]).fetchone()
    return row[0] if row else 0


def repeat_checkins(db, station_ids, start: str, end: str) -> dict:
    """{station id: check-ins from ``start`` to ``end`` (inclusive) by a client already
    counted at that station that day}: the check-ins less these are client-days."""
    ids = [int(i) for i in station_ids]
    out = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ", ".join("?" for _ in chunk)
        out.update(db.execute(f"SELECT station_id, sum(count) FROM checkin_repeats WHERE station_id IN ({marks}) "
                              "AND date BETWEEN ? AND ? GROUP BY station_id", chunk + [start, end]).fetchall())
    return out


def riders_counted(checkin_days: int, feedback_days: int) -> str:
    """What riders' evidence counted, as pages say it: 骑手签到 3 人次·日、反馈 1 人次·日."""
    return f"骑手签到 {checkin_days:,} 人次·日、反馈 {feedback_days:,} 人次·日"
