"""Rider feedback: ratings, what they found, and reports that keep the registry true.

Anonymous submissions are validated and rate-limited per client and globally,
with the counters in the database so every server process shares them (see
``limits``); only accepted submissions are counted.  A report of "closed" while
the hours say open, "not found" or "moved" raises a flag for the organiser's
review queue; ratings feed a satisfaction figure in which one client's ratings
of one station count once a day.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from ..hours.now import open_state
from ..accounts.limits import Limit, RateLimited, check_rate, client_key, take
from ..storage import TZ, get_station, now_iso, record_station_event, write_transaction
from ..text import forbidden_character, refusal

__all__ = ["FOUND", "FLAGS", "FeedbackError", "RateLimited", "client_key", "submit_feedback",
           "check_rate", "satisfaction", "flag_queue", "resolve_flags", "recent_feedback",
           "RESOLUTIONS", "NOTE_MAX", "feedback_days"]

FOUND = {
    "hot_water": "有热水", "microwave": "微波炉能用", "charging": "能充电", "toilet": "有厕所",
    "could_enter": "能进去", "closed": "关门了", "not_found": "找不到", "moved": "已搬走",
}
FLAGS = {"closed": "开放时间内关门", "not_found": "找不到", "moved": "已搬走"}
NOTE_MAX = 300
_LABELS = {"rating": "评分", "found": "勾选的选项", "note": "留言"}


class FeedbackError(ValueError):
    """Bad feedback input: ``errors`` maps field -> Chinese message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Feedback:
    rating: int | None = None
    found: list = field(default_factory=list)
    note: str = ""


def parse_feedback(form) -> Feedback:
    """Read a feedback form (``get``/``getlist``); FeedbackError with per-field messages."""
    errors = {}
    out = Feedback()
    for name, label in _LABELS.items():  # no control character is stored, or shown back
        found = next(filter(None, (forbidden_character(v) for v in form.getlist(name))), None)
        if found:
            errors[name] = f"{label}{refusal(found)}"
    if errors:
        raise FeedbackError(errors)
    raw = (form.get("rating") or "").strip()
    if raw:
        try:
            out.rating = int(raw)
            if not 1 <= out.rating <= 5:
                raise ValueError
        except ValueError:
            errors["rating"] = "评分应为 1 到 5 星"
    found = [f for f in form.getlist("found") if f]
    unknown = [f for f in found if f not in FOUND]
    if unknown:
        errors["found"] = "不认识的选项：" + "、".join(unknown)
    out.found = [f for f in FOUND if f in found]
    note = unicodedata.normalize("NFC", form.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"留言最多 {NOTE_MAX} 字（现有 {len(note)} 字）"
    out.note = note
    if not errors and out.rating is None and not out.found and not out.note:
        errors["rating"] = "请至少打个分、勾选一项或留句话"
    if "closed" in out.found and "could_enter" in out.found:
        errors["found"] = "“能进去”和“关门了”不能同时选"
    if errors:
        raise FeedbackError(errors)
    return out


def submit_feedback(db, station_id, form, *, client: str, limits: dict,
                    at: datetime | None = None, now: float | None = None) -> dict:
    """Validate, rate-limit and store one piece of feedback; returns the stored row.

    ``client`` is ``client_key`` of the sender's address (never the address).
    ``limits``: ``per_client`` submissions per ``window_s`` seconds (default 600)
    and ``global`` per minute.  The per-client limit is checked first and a
    refused submission is not counted anywhere, so one client over its limit
    cannot use up everyone's budget; the counts and the row are written in one
    transaction.  ``now`` is the limits' clock (``limits.clock`` when None).
    Raises FeedbackError, RateLimited or StationNotFound.
    """
    station = get_station(db, station_id)
    feedback = parse_feedback(form)
    rules = [Limit(f"client:{client}", limits["per_client"], limits.get("window_s", 600), "client"),
             Limit("global", limits["global"], 60, "global")]
    at = (at or datetime.now(TZ)).astimezone(TZ)
    flag = None
    if "moved" in feedback.found:
        flag = "moved"
    elif "not_found" in feedback.found:
        flag = "not_found"
    elif "closed" in feedback.found and open_state(station, at)["open"] is True:
        flag = "closed"  # closed when the registry says it should be open
    row = {"station_id": station["id"], "at": at.isoformat(timespec="seconds"),
           "rating": feedback.rating, "found": json.dumps(feedback.found),
           "note": feedback.note or None, "flag": flag, "client": client}
    with write_transaction(db):
        take(db, rules, now=now)
        row_id = db["feedback"].insert(row).last_pk
    return {**row, "id": row_id, "found": feedback.found}


def satisfaction(db, station_id=None, *, start=None, end=None):
    """Mean rating and count: for one station (dict) or every rated station (id -> dict);
    with ``start``/``end`` (dates, inclusive) only the ratings given in that period (a
    report's figures all belong to its period).

    One client's ratings of one station count once per day (Beijing date): the
    latest that day replaces the earlier ones, so a client who changes their
    mind is heard, and one who repeats a rating is heard once.  Every rating is
    still stored and listed.  Rows without a client count each on their own.
    """
    where, params = "rating IS NOT NULL", []
    if station_id is not None:
        where += " AND station_id = ?"
        params.append(int(station_id))
    if start is not None:  # ``at`` is Beijing time: its first ten characters are the Beijing date
        where += " AND substr(at, 1, 10) >= ?"
        params.append(start.isoformat())
    if end is not None:
        where += " AND substr(at, 1, 10) <= ?"
        params.append(end.isoformat())
    rows = db.execute(
        "SELECT station_id, avg(rating), count(*) FROM ("
        "  SELECT station_id, rating, row_number() OVER ("
        "    PARTITION BY station_id, coalesce(client, 'row:' || id), substr(at, 1, 10)"
        "    ORDER BY at DESC, id DESC) AS nth"
        f"  FROM feedback WHERE {where}"
        ") WHERE nth = 1 GROUP BY station_id", params).fetchall()
    table = {r[0]: {"mean": round(r[1], 2), "count": r[2]} for r in rows}
    if station_id is not None:
        return table.get(int(station_id), {"mean": None, "count": 0})
    return table


def feedback_days(db, station_ids, start: str, end: str) -> dict:
    """{station id: (rows, client-days)}: feedback from ``start`` to ``end`` (Beijing dates,
    inclusive) as submitted and as evidence that riders were there.

    A client-day is one client (``client_key``) at one station on one day: three posts
    from one phone on one day are one, as ratings in ``satisfaction`` are.  Rows without a
    client (older ones) count each on their own.
    """
    ids = [int(i) for i in station_ids]
    out = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ", ".join("?" for _ in chunk)
        out.update((sid, (rows, days)) for sid, rows, days in db.execute(
            "SELECT station_id, count(*), count(DISTINCT coalesce(client, 'row:' || id) || '|' || "
            f"substr(at, 1, 10)) FROM feedback WHERE station_id IN ({marks}) "
            "AND substr(at, 1, 10) BETWEEN ? AND ? GROUP BY station_id", chunk + [start, end]))
    return out


def recent_feedback(db, station_id, limit=5) -> list[dict]:
    rows = db.query("SELECT id, at, rating, found, note, flag FROM feedback WHERE station_id = ? "
                    "ORDER BY id DESC LIMIT ?", [int(station_id), int(limit)])
    return [{**r, "found": json.loads(r["found"])} for r in rows]


def flag_queue(db, limit=200, *, scope=None) -> list[dict]:
    """Stations with unresolved reports, most reported first: counts and latest reports
    (of ``scope``'s stations, a ``stations.unions.scope.Scope``, when given)."""
    where, params = scope.sql("s.host_union_id") if scope is not None else ("", [])
    if where:
        where = f" AND station_id IN (SELECT s.id FROM stations s WHERE 1{where})"
    rows = db.execute(
        "SELECT station_id, count(*), max(at), "
        "sum(flag = 'closed'), sum(flag = 'not_found'), sum(flag = 'moved') "
        f"FROM feedback WHERE flag IS NOT NULL AND resolved_at IS NULL{where} "
        "GROUP BY station_id ORDER BY count(*) DESC, max(at) DESC LIMIT ?", params + [limit]).fetchall()
    out = []
    for sid, count, latest, closed, not_found, moved in rows:
        reports = list(db.query(
            "SELECT at, flag, note FROM feedback WHERE station_id = ? AND flag IS NOT NULL "
            "AND resolved_at IS NULL ORDER BY id DESC LIMIT 3", [sid]))
        out.append({"station": get_station(db, sid), "count": count, "latest": latest,
                    "by_flag": {"closed": closed, "not_found": not_found, "moved": moved},
                    "reports": reports})
    return out


def open_flag_count(db, station_id) -> int:
    return db.execute("SELECT count(*) FROM feedback WHERE station_id = ? AND flag IS NOT NULL "
                      "AND resolved_at IS NULL", [int(station_id)]).fetchone()[0]


RESOLUTIONS = {"fixed_hours": "已更正开放时间", "fixed_location": "已更正位置或地址",
               "closed_station": "已关闭站点", "false_report": "核实无误（误报）"}


def resolve_flags(db, station_id, *, username: str, resolution: str = "false_report") -> int:
    """Mark a station's open reports as handled, recording in the station's history what
    was done (a RESOLUTIONS code); returns how many."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}: expected one of {', '.join(RESOLUTIONS)}")
    with write_transaction(db):
        cursor = db.execute("UPDATE feedback SET resolved_at = ?, resolved_by = ? "
                            "WHERE station_id = ? AND flag IS NOT NULL AND resolved_at IS NULL",
                            [now_iso(), username, int(station_id)])
        if cursor.rowcount:
            record_station_event(db, station_id, f"resolve:{resolution}:{cursor.rowcount}",
                                 username=username)
    return cursor.rowcount
