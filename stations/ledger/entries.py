"""The daily ledger: one entry per station and day; saving again replaces it, and the
replaced version is kept in ``ledger_history``."""

from __future__ import annotations

import json
import time
from datetime import date

from ..storage import now_iso, write_transaction
from .codes import (COUNT_COLUMNS, MAX_DAILY_COUNT, SERVICE_COLUMNS, SERVICES, VISITOR_COLUMNS,
                    VISITORS, LedgerError)
from .common import clean_note, parse_count, parse_date, station_for, today

__all__ = ["parse_entry", "save_entry", "get_entries", "get_entry", "entry_history", "entry_json", "keeper_stations",
           "recent_days"]

_SELECT = f"SELECT date, {', '.join(COUNT_COLUMNS)}, note, saved_at, saved_by FROM ledger_entries"


def parse_entry(data, *, strict: bool, not_after: date | None = None) -> dict:
    """Check one day's ledger.

    ``data`` is JSON (``strict``: {"date", "visitors": {kind: n}, "services": {code: n},
    "note"}) or a form (``v_<kind>``/``s_<code>`` fields, empty meaning 0).  Returns
    {"date": date, "counts": {column: n}, "note"}; LedgerError with every field's problem.
    """
    errors, counts = {}, {}
    try:
        day = parse_date(data.get("date"), not_after=today() if not_after is None else not_after, iso=strict)
    except LedgerError as exc:
        errors["date"], day = exc.message, None
    groups = (("visitors", "v_", VISITORS, "来访"), ("services", "s_", SERVICES, "服务"))
    for group, prefix, codes, what in groups:
        if strict:
            given = data.get(group, {})
            if not isinstance(given, dict):
                errors[group] = f"{group} 应是对象，例如 {{\"{next(iter(codes))}\": 3}}"
                continue
            unknown = [str(k)[:20] for k in given if k not in codes]
            if unknown:
                errors[group] = f"不认识的{what}类别：{'、'.join(unknown)}（可用：{', '.join(codes)}）"
                continue
        else:
            given = {code: data.get(prefix + code) for code in codes}
        for code, label in codes.items():
            field = f"{group}.{code}" if strict else prefix + code
            try:
                counts[prefix + code] = parse_count(given.get(code, 0 if strict else None), field, f"{label}{what}人次"
                                                    if group == "visitors" else f"{label}服务次数",
                                                    maximum=MAX_DAILY_COUNT, strict=strict)
            except LedgerError as exc:
                errors[field] = exc.message
    try:
        note = clean_note(data.get("note"))
    except LedgerError as exc:
        errors["note"], note = exc.message, None
    if errors:
        first = next(iter(errors))
        raise LedgerError(errors[first], first, errors=errors)
    return {"date": day, "counts": counts, "note": note}


def _row_json(row) -> dict:
    values = dict(zip(("date",) + COUNT_COLUMNS + ("note", "saved_at", "saved_by"), row))
    return {"date": values["date"],
            "visitors": {c[2:]: values[c] for c in VISITOR_COLUMNS},
            "services": {c[2:]: values[c] for c in SERVICE_COLUMNS},
            "note": values["note"], "saved_at": values["saved_at"], "saved_by": values["saved_by"]}


def entry_json(entry: dict) -> dict:
    """What the API shows of an entry."""
    return {k: entry[k] for k in ("date", "visitors", "services", "note")}


def save_entry(db, station_id, data, user, *, strict: bool = False, synthetic: bool = False,
               scope=None) -> dict:
    """Store one station's day (``union`` users: their own union's stations; admin: its
    part of the union tree, ``scope`` when the caller has it: see ``common.station_for``).

    Returns {"entry": …, "replaced": bool}.  Raises LedgerError (400 bad input, 403
    another union's station, 404 no such station).  The check and the write happen in
    one write transaction; a replaced entry goes to ``ledger_history`` with who replaced it.
    """
    station = station_for(db, station_id, user, scope=scope)
    parsed = parse_entry(data, strict=strict)
    day = parsed["date"].isoformat()
    columns = list(COUNT_COLUMNS)
    values = [parsed["counts"][c] for c in columns]
    who = (user or {}).get("username")
    with write_transaction(db):
        old = db.execute(_SELECT + " WHERE station_id = ? AND date = ?", [station["id"], day]).fetchone()
        if old is not None:
            db.execute("INSERT INTO ledger_history (station_id, date, replaced_at, replaced_by, before) "
                       "VALUES (?, ?, ?, ?, ?)",
                       [station["id"], day, now_iso(), who, json.dumps(_row_json(old), ensure_ascii=False)])
            db.execute(f"UPDATE ledger_entries SET {', '.join(c + ' = ?' for c in columns)}, note = ?, "
                       "saved_at = ?, saved_by = ?, synthetic = ? WHERE station_id = ? AND date = ?",
                       values + [parsed["note"], int(time.time()), who, int(synthetic), station["id"], day])
        else:
            db.execute(f"INSERT INTO ledger_entries (station_id, date, {', '.join(columns)}, note, saved_at, "
                       f"saved_by, synthetic) VALUES ({', '.join('?' for _ in range(len(columns) + 6))})",
                       [station["id"], day, *values, parsed["note"], int(time.time()), who, int(synthetic)])
    return {"entry": get_entry(db, station["id"], day), "replaced": old is not None, "station": station}


def get_entry(db, station_id, day) -> dict | None:
    row = db.execute(_SELECT + " WHERE station_id = ? AND date = ?",
                     [int(station_id), str(day)]).fetchone()
    return _row_json(row) if row else None


def get_entries(db, station_id, start: date | None = None, end: date | None = None,
                *, limit: int = 1000) -> list[dict]:
    """A station's entries from ``start`` to ``end`` (inclusive), oldest first."""
    rows = db.execute(_SELECT + " WHERE station_id = ? AND date BETWEEN ? AND ? ORDER BY date LIMIT ?",
                      [int(station_id), (start or date(1, 1, 1)).isoformat(),
                       (end or date(9999, 12, 31)).isoformat(), int(limit)]).fetchall()
    return [_row_json(r) for r in rows]


def recent_days(db, station_id, days: int = 14, *, end: date | None = None) -> list[dict]:
    """The last ``days`` days (newest first), each with its entry or None."""
    from datetime import timedelta

    end = end or today()
    start = end - timedelta(days=days - 1)
    by_day = {e["date"]: e for e in get_entries(db, station_id, start, end)}
    out = []
    for i in range(days):
        day = (end - timedelta(days=i)).isoformat()
        out.append({"date": day, "entry": by_day.get(day)})
    return out


def entry_history(db, station_id, day) -> list[dict]:
    """Earlier versions of one day's entry, newest first: {"replaced_at", "replaced_by", "before"}."""
    rows = db.execute("SELECT replaced_at, replaced_by, before FROM ledger_history "
                      "WHERE station_id = ? AND date = ? ORDER BY id DESC", [int(station_id), str(day)])
    return [{"replaced_at": r[0], "replaced_by": r[1], "before": json.loads(r[2])} for r in rows]


def keeper_stations(db, *, scope=None, q: str = "", district: str = "", limit: int = 50) -> list[dict]:
    """Stations whose ledger a user keeps (those of ``scope``, a ``stations.unions.scope.Scope``;
    None: any), with the date of each one's last entry; by name."""
    clauses, params = ["status != 'closed'"], []
    if scope is not None:
        condition, more = scope.sql("host_union_id")
        if condition:
            clauses.append(condition.removeprefix(" AND "))
            params += more
    if q:
        clauses.append("name LIKE ? ESCAPE '\\'")
        params.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if district:
        clauses.append("district = ?")
        params.append(district)
    rows = db.execute(
        "SELECT id, name, district, host_union, status, (SELECT max(date) FROM ledger_entries e "
        f"WHERE e.station_id = stations.id) FROM stations WHERE {' AND '.join(clauses)} "
        "ORDER BY name, id LIMIT ?", params + [int(limit)])
    return [dict(zip(("id", "name", "district", "host_union", "status", "last_date"), r)) for r in rows]
