"""The ledger as evidence of use for the selection (有服务 / 有成效): the last 90 days.

For the reviewer's evidence panel: days the ledger was kept, visits and services it
records, 双沟通 meetings at the station with members and unions gained, riders' check-ins
and feedback, as submitted and in client-days (one phone at the station on one day counts
once: what the 面子工程 rule weighs);
and whether the ledger counts as kept, which evidences the priority item 服务台账.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from ..riders.feedback import feedback_days
from .checkins import repeat_checkins
from .codes import SERVICE_COLUMNS, VISITOR_COLUMNS, closed_day_sql
from .common import today

__all__ = ["KEPT_SHARE", "ledger_evidence"]

KEPT_SHARE = 0.5  # a ledger is "kept" when at least half of the days have an entry


def _pieces(start: date, end: date) -> tuple[list, list]:
    """The window [start, end] as calendar months to read from the ``ledger_months``
    summary (kept exact by triggers on every write) and day ranges to add (+1) or take
    away (-1) from the days themselves: a month the window covers only in part is read
    by its days inside the window, or, when that is the longer part, as the whole month
    less its days outside (for the month of today, usually no rows: the days to come)."""
    months, days = [], []
    first = start.replace(day=1)
    while first <= end:
        after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = after - timedelta(days=1)
        inside = (max(first, start), min(last, end))
        length = (inside[1] - inside[0]).days + 1
        if inside == (first, last):
            months.append(first.isoformat()[:7])
        elif 2 * length <= (last - first).days + 1:
            days.append((*inside, 1))
        else:
            months.append(first.isoformat()[:7])
            if first < start:
                days.append((first, start - timedelta(days=1), -1))
            if end < last:
                days.append((end + timedelta(days=1), last, -1))
        first = after
    return months, days


def ledger_evidence(db, station_ids, *, days: int = 90, as_of: date | None = None) -> dict:
    """{station id: {"days", "entries" (days with something recorded), "closed_days" (all
    blank: not kept days), "visits", "services", "meetings", "new_members",
    "new_unions", "checkins", "feedback", "checkin_client_days", "feedback_client_days",
    "last_entry", "kept"}} over the ``days`` up to ``as_of``.  ``checkins`` and ``feedback``
    count what was submitted; the ``_client_days`` count each phone once per day
    (``checkins.repeat_checkins``, ``feedback.feedback_days``).

    Whole months inside the window come from the monthly summary, the days at its two
    ends from the days (see ``_pieces``): 5,000 stations with 90 days each in ~50 ms
    instead of ~160 ms summing the 450,000 days.
    """
    ids = list(dict.fromkeys(int(i) for i in station_ids))
    as_of = as_of or today()
    start = as_of - timedelta(days=days - 1)
    span = [start.isoformat(), as_of.isoformat()]
    months, pieces = _pieces(start, as_of)
    visits = " + ".join(VISITOR_COLUMNS)
    services = " + ".join(SERVICE_COLUMNS)
    out = {i: {"days": days, "entries": 0, "visits": 0, "services": 0, "meetings": 0, "new_members": 0,
               "new_unions": 0, "checkins": 0, "feedback": 0, "checkin_client_days": 0, "feedback_client_days": 0,
               "closed_days": 0,
               "last_entry": None, "kept": False} for i in ids}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ", ".join("?" for _ in chunk)
        totals = []
        for a, b, sign in pieces:
            totals += db.execute(
                f"SELECT station_id, {sign} * count(*), {sign} * sum({visits}), {sign} * sum({services}), 0 "
                f"FROM ledger_entries WHERE station_id IN ({marks}) AND date BETWEEN ? AND ? GROUP BY station_id",
                chunk + [a.isoformat(), b.isoformat()]).fetchall()
            totals += db.execute(
                f"SELECT station_id, 0, 0, 0, {sign} * sum(count) FROM checkin_days WHERE station_id IN ({marks}) "
                "AND date BETWEEN ? AND ? GROUP BY station_id", chunk + [a.isoformat(), b.isoformat()]).fetchall()
        if months:
            totals += db.execute(
                f"SELECT station_id, sum(entries), sum(visits), sum(services), sum(checkins) FROM ledger_months "
                f"WHERE station_id IN ({marks}) AND month IN ({', '.join('?' for _ in months)}) "
                "GROUP BY station_id", chunk + months).fetchall()
        for sid, n, v, s, c in totals:
            row = out[sid]
            row["entries"] += n or 0
            row["visits"] += v or 0
            row["services"] += s or 0
            row["checkins"] += c or 0
        for sid, n in db.execute(  # closed (all-blank) days: apart, not kept days
                f"SELECT station_id, count(*) FROM ledger_entries WHERE station_id IN ({marks}) "
                f"AND date BETWEEN ? AND ? AND {closed_day_sql()} GROUP BY station_id", chunk + span):
            out[sid]["entries"] -= n
            out[sid]["closed_days"] = n
        for sid, last in db.execute(  # one index seek per station
                "SELECT s.value, (SELECT max(e.date) FROM ledger_entries e WHERE e.station_id = s.value "
                "AND e.date BETWEEN ? AND ?) FROM json_each(?) s", span + [json.dumps(chunk)]):
            out[sid]["last_entry"] = last
        for sid, n, members, unions in db.execute(
                f"SELECT station_id, count(*), sum(new_members), sum(new_unions) FROM meetings "
                f"WHERE station_id IN ({marks}) AND date BETWEEN ? AND ? GROUP BY station_id", chunk + span):
            out[sid].update(meetings=n, new_members=members or 0, new_unions=unions or 0)
        # riders' feedback: with check-ins, use the station did not report
        for sid, (n, client_days) in feedback_days(db, chunk, *span).items():
            out[sid].update(feedback=n, feedback_client_days=client_days)
        repeats = repeat_checkins(db, chunk, *span)
        for sid in chunk:
            out[sid]["checkin_client_days"] = out[sid]["checkins"] - (repeats.get(sid) or 0)
    for row in out.values():
        row["kept"] = row["entries"] >= KEPT_SHARE * days
    return out
