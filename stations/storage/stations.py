"""Stations: reading, searching and writing records, with their history."""

from __future__ import annotations

import importlib
import json

from ..registry.records import FIELDS, PRIVATE_FIELDS
from .connection import HistoryNotFound, StationNotFound, now_iso, write_transaction

__all__ = [
    "get_station",
    "search_stations",
    "stations_in_bbox",
    "station_points",
    "station_point_arrays",
    "station_names",
    "station_index_rows",
    "stations_by_ids",
    "iter_stations",
    "count_stations",
    "insert_stations",
    "create_station",
    "update_station",
    "set_status",
    "station_history",
    "record_station_event",
    "restore_version",
    "data_version",
    "FIELD_WATCHERS",
    "district_names",
    "registry_summary",
]
_JSON_FIELDS = ("facilities", "awards")
_ALL_FIELDS = FIELDS + ("district_declared", "district_mismatch") + PRIVATE_FIELDS
_LATER_COLUMNS = ("note", "hours_text", "host_union_id")  # added by m010, m014
_DEFAULTS = {"address": "", "station_type": "warm_station", "facilities": "[]", "status": "active",
             "awards": "[]", "synthetic": 0, "district_mismatch": 0}



# --- reading ----------------------------------------------------------------

def _decode(row: dict, private: bool) -> dict:
    row = dict(row)
    for name in _JSON_FIELDS:
        if name in row:
            row[name] = json.loads(row[name] or "[]")
    if "synthetic" in row:
        row["synthetic"] = bool(row["synthetic"])
    if "district_mismatch" in row:
        row["district_mismatch"] = bool(row["district_mismatch"])
    if not private:
        for name in PRIVATE_FIELDS:
            row.pop(name, None)
    return row


def get_station(db, station_id, *, private: bool = False) -> dict:
    """One station by id; private fields (manager, phone) only when asked for."""
    try:
        station_id = int(station_id)
    except (TypeError, ValueError):
        raise StationNotFound(station_id) from None
    if not 0 < station_id < 2**63:  # beyond SQLite's integers: no such station
        raise StationNotFound(station_id)
    rows = list(db.query("SELECT * FROM stations WHERE id = ?", [station_id]))
    if not rows:
        raise StationNotFound(station_id)
    return _decode(rows[0], private)


def _where(q=None, district=None, status=None, facility=None, bbox=None,
           statuses=None, ids=None, mismatch=False, awarded=False, min_qiyou=None, scope=None):
    clauses, params = [], []
    if scope is not None:  # a part of the union tree (stations.unions.scope.Scope)
        condition, more = scope.sql("host_union_id")
        if condition:
            clauses.append(condition.removeprefix(" AND "))
            params += more
    if awarded:  # at least one award on the record (获奖)
        clauses.append("awards NOT IN ('', '[]')")
    if min_qiyou is not None:  # the latest 七有 checklist's total (campaign.checklist keeps them)
        clauses.append("id IN (SELECT station_id FROM checklists WHERE id IN "
                       "(SELECT max(id) FROM checklists GROUP BY station_id) AND total >= ?)")
        params.append(float(min_qiyou))
    if mismatch:  # the declared district differs from the one the coordinates lie in
        clauses.append("district_mismatch = 1")
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')")
        params += [like, like]
    if district:
        clauses.append("district = ?")
        params.append(district)
    if status:
        clauses.append("status = ?")
        params.append(status)
    elif statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params += list(statuses)
    for code in ([facility] if isinstance(facility, str) else facility or []):
        clauses.append("EXISTS (SELECT 1 FROM json_each(stations.facilities) WHERE value = ?)")
        params.append(code)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        clauses.append("id IN (SELECT id FROM stations_rtree WHERE minlon >= ? AND maxlon <= ?"
                       " AND minlat >= ? AND maxlat <= ?)")
        params += [minlon, maxlon, minlat, maxlat]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def search_stations(db, *, q=None, district=None, status=None, facility=None, bbox=None,
                    statuses=None, limit=20, offset=0, private=False, mismatch=False,
                    awarded=False, min_qiyou=None, scope=None):
    """Stations matching every given filter, by id; returns (rows, total count).

    ``q`` matches a substring of name or address; ``facility`` is a code or a list
    of codes that must all be present; ``bbox`` is (minlon, minlat, maxlon, maxlat)
    in WGS-84; ``statuses`` limits the statuses when ``status`` is not given;
    ``mismatch`` keeps stations whose declared district is not where they lie;
    ``awarded`` those with an award; ``min_qiyou`` those whose latest 七有 total is at least this;
    ``scope`` (a ``stations.unions.scope.Scope``) those of a part of the union tree.
    """
    where, params = _where(q, district, status, facility, bbox, statuses, mismatch=mismatch,
                           awarded=awarded, min_qiyou=min_qiyou, scope=scope)
    total = db.execute(f"SELECT count(*) FROM stations{where}", params).fetchone()[0]
    if scope is not None and not scope.everything:
        # the page's ids from the union index alone, then only those rows: a district's
        # stations lie scattered over the table, and reading all to sort them costs more
        rows = db.query(f"SELECT * FROM stations WHERE id IN (SELECT id FROM stations{where} "
                        "ORDER BY id LIMIT ? OFFSET ?) ORDER BY id", params + [int(limit), int(offset)])
    else:
        rows = db.query(f"SELECT * FROM stations{where} ORDER BY id LIMIT ? OFFSET ?",
                        params + [int(limit), int(offset)])
    return [_decode(r, private) for r in rows], total


def stations_in_bbox(db, bbox, *, statuses=None, limit=10000):
    """Stations inside a WGS-84 bounding box, through the R*Tree index."""
    rows, _ = search_stations(db, bbox=bbox, statuses=statuses, limit=limit)
    return rows


def count_stations(db, **filters) -> int:
    where, params = _where(**filters)
    return db.execute(f"SELECT count(*) FROM stations{where}", params).fetchone()[0]


def station_points(db, *, statuses=None):
    """(id, name, lon, lat) for every station, for spatial indexes and duplicate checks."""
    where, params = _where(statuses=statuses)
    return db.execute(f"SELECT id, name, lon, lat FROM stations{where} ORDER BY id",
                      params).fetchall()


def station_point_arrays(db):
    """(ids, lons, lats) of every station as numpy arrays (compact, for big duplicate checks)."""
    import numpy as np

    ids, lons, lats = [], [], []
    for row in db.execute("SELECT id, lon, lat FROM stations ORDER BY id"):
        ids.append(row[0])
        lons.append(row[1])
        lats.append(row[2])
    return (np.array(ids, dtype=np.int64), np.array(lons, dtype=float),
            np.array(lats, dtype=float))


def station_names(db, ids) -> dict:
    """{id: name} for the given station ids."""
    ids = [int(i) for i in ids]
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update(db.execute(f"SELECT id, name FROM stations WHERE id IN "
                              f"({', '.join('?' for _ in chunk)})", chunk).fetchall())
    return out


def station_index_rows(db) -> list[dict]:
    """The narrow rows a nearest-search index needs: every station not pending."""
    rows = db.execute("SELECT id, lon, lat, status, facilities, hours FROM stations "
                      "WHERE status != 'pending' ORDER BY id").fetchall()
    return [{"id": r[0], "lon": r[1], "lat": r[2], "status": r[3],
             "facilities": json.loads(r[4]), "hours": r[5]} for r in rows]


def stations_by_ids(db, ids) -> dict:
    """{id: public record} for the given ids (missing ones are left out)."""
    ids = [int(i) for i in ids]
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = db.query(f"SELECT * FROM stations WHERE id IN ({', '.join('?' for _ in chunk)})", chunk)
        out.update((r["id"], _decode(r, private=False)) for r in rows)
    return out


def iter_stations(db, *, private=False, statuses=None, scope=None):
    """Every station (of ``scope``) in id order, decoded (for exports)."""
    where, params = _where(statuses=statuses, scope=scope)
    for row in db.query(f"SELECT * FROM stations{where} ORDER BY id", params):
        yield _decode(row, private)


def registry_summary(db, *, scope=None) -> dict:
    """Counts for the signed-in home page (of ``scope``'s stations)."""
    where, params = _where(scope=scope)
    by_status = dict(db.execute(f"SELECT status, count(*) FROM stations{where} GROUP BY status",
                                params).fetchall())
    one = db.execute(f"SELECT count(*), sum(district_mismatch), sum(synthetic) FROM stations{where}",
                     params).fetchone()
    return {"total": one[0], "by_status": by_status, "district_mismatch": one[1] or 0,
            "synthetic": one[2] or 0}


def district_names(db) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT DISTINCT district FROM stations WHERE district IS NOT NULL ORDER BY district")]


def data_version(db) -> int:
    """A number that changes whenever any station changes."""
    return db.execute("SELECT value FROM meta WHERE key = 'stations_version'").fetchone()[0]


# --- writing ----------------------------------------------------------------

# Parts of the product above storage that must act, in the same write transaction, when
# a field of a station changes: {field: (module, function)}, each called as
# ``function(db, before, after, username=...)``.  They import storage, so storage names
# them here and imports them at the first change of that field, never at its top (no
# import circle); and every process that edits stations — a web worker, the CLI, an
# import job's own process, which loads neither the web nor the campaign — runs them,
# whether or not it had loaded them (a callback registered on import would be skipped
# silently in the one process that had not).
FIELD_WATCHERS = {
    # a nominee's new union may be a reviewer's own: that reviewer must leave it
    "host_union": ("stations.campaign.conflicts", "host_union_changed"),
}


def _tell_watchers(db, before: dict, after: dict, username) -> None:
    for name, (module, function) in FIELD_WATCHERS.items():
        if before.get(name) != after.get(name):
            getattr(importlib.import_module(module), function)(db, before, after, username=username)


def _unions(db):
    """The union records' module when the database has them (m014), else None: every
    write of a station's union gives it both the union's id and its one spelling."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unions'").fetchone():
        return importlib.import_module("stations.unions.store")
    return None


def _with_union(unions, db, record: dict, username, index=None, parent_id=None) -> dict:
    if unions is None or ("host_union" not in record and "host_union_id" not in record):
        return record
    record = dict(record)
    if record.get("host_union_id") is None and (index is not None or parent_id is not None):
        found = unions.resolve_or_create(db, record.get("host_union"), username=username, index=index,
                                         parent_id=parent_id)
        record["host_union_id"], record["host_union"] = (found[0], found[1]) if found else (None, None)
    else:
        unions.fill_host_union(db, record, username=username)
    return record


def _encode(record: dict) -> dict:
    row = {k: v for k, v in record.items() if k in _ALL_FIELDS}  # a whitelist: names go into SQL
    for name in _JSON_FIELDS:
        if name in row and not isinstance(row[name], str):
            row[name] = json.dumps(list(row[name] or []), ensure_ascii=False)
    for name in ("synthetic", "district_mismatch"):
        if name in row:
            row[name] = int(bool(row[name]))
    return row


def _record_history(db, station_id, username, action, before, after):
    db["station_history"].insert({
        "station_id": station_id, "at": now_iso(), "username": username, "action": action,
        "before": json.dumps(before, ensure_ascii=False) if before is not None else None,
        "after": json.dumps(after, ensure_ascii=False) if after is not None else None,
    })


def record_station_event(db, station_id, action: str, *, username=None) -> None:
    """Record something done about a station that changed no field (e.g. rider reports
    resolved: ``resolve:false_report:3``) in its history.  Call inside the caller's
    write transaction."""
    _record_history(db, int(station_id), username, action, None, None)


def insert_stations(db, records, *, username=None, action="import", union_parent=None) -> list[int]:
    """Insert new stations (or update those whose ``id`` exists) in one transaction.

    A host union no record names becomes an unplaced union, provisionally under
    ``union_parent`` when given (a district admin's import: the admin still sees it).

    Every insert and update is written to the history.  All or nothing: an error
    on any record rolls back every record.  New stations are written in bulk
    with ids assigned here, so 200,000 rows take seconds, not minutes.
    """
    records = list(records)
    stamp = now_iso()
    ids = []
    with write_transaction(db):
        wanted = [int(r["id"]) for r in records if r.get("id") is not None]
        existing = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            existing.update(row[0] for row in db.execute(
                f"SELECT id FROM stations WHERE id IN ({', '.join('?' for _ in chunk)})", chunk))
        next_id = (db.execute("SELECT max(id) FROM stations").fetchone()[0] or 0) + 1
        next_id = max([next_id] + [i + 1 for i in wanted])
        new_rows, history = [], []
        unions = _unions(db)
        index = unions.UnionIndex(db) if unions is not None else None
        for record in records:
            if record.get("id") is not None and int(record["id"]) in existing:
                changes = {k: v for k, v in record.items() if k != "id"}
                update_station(db, record["id"], changes, username=username, action=action,
                               union_parent=union_parent)
                ids.append(int(record["id"]))
                continue
            row = {name: None for name in _ALL_FIELDS}
            row.update(_encode(_with_union(unions, db, record, username, index, union_parent)))
            row.update({k: v for k, v in _DEFAULTS.items() if row[k] is None})
            if row["id"] is None:
                row["id"], next_id = next_id, next_id + 1
            row["created_at"] = row["created_at"] or stamp
            row["updated_at"] = row["updated_at"] or stamp
            new_rows.append(row)
            after = _decode(row, private=True)
            history.append((row["id"], stamp, username, action,
                            json.dumps(after, ensure_ascii=False)))
            ids.append(row["id"])
        if new_rows:
            # Columns later migrations added only when used: an older file (a backup
            # being restored, a test at an old version) still takes plain stations.
            columns = [c for c in new_rows[0] if c not in _LATER_COLUMNS
                       or any(row[c] is not None for row in new_rows)]
            db.conn.executemany(
                f"INSERT INTO stations ({', '.join(columns)}) VALUES "
                f"({', '.join('?' for _ in columns)})",
                [[row[c] for c in columns] for row in new_rows])
            db.conn.executemany(
                "INSERT INTO station_history (station_id, at, username, action, before, after) "
                "VALUES (?, ?, ?, ?, NULL, ?)", history)
    return ids


def create_station(db, record: dict, *, username=None, union_parent=None) -> int:
    """Insert one new station; returns its id."""
    record = {k: v for k, v in record.items() if k != "id"}
    return insert_stations(db, [record], username=username, action="create", union_parent=union_parent)[0]


def update_station(db, station_id, changes: dict, *, username=None, action="edit",
                   union_parent=None) -> dict:
    """Change some fields of a station, recording before and after; returns the new record.

    Every path that changes a station comes here (forms, API, imports by id, restores),
    so here, in the same transaction, the ``FIELD_WATCHERS`` of the changed fields run."""
    if "hours" in changes and "hours_text" not in changes:
        changes = dict(changes, hours_text=None)  # typed words of other hours would mislead
    with write_transaction(db):
        before = get_station(db, station_id, private=True)
        changes = _with_union(_unions(db), db, changes, username, parent_id=union_parent)
        row = _encode({k: v for k, v in changes.items() if k not in ("id", "created_at")})
        row["updated_at"] = now_iso()
        sets = ", ".join(f"{name} = ?" for name in row)
        db.execute(f"UPDATE stations SET {sets} WHERE id = ?", list(row.values()) + [before["id"]])
        after = get_station(db, station_id, private=True)
        _record_history(db, before["id"], username, action, before, after)
        _tell_watchers(db, before, after, username)
    return after


def set_status(db, station_id, status: str, *, username=None) -> dict:
    """Close, reopen or suspend a station (a recorded change like any edit)."""
    action = {"closed": "close", "active": "reopen"}.get(status, "status")
    return update_station(db, station_id, {"status": status}, username=username, action=action)


def station_history(db, station_id) -> list[dict]:
    """The station's changes, newest first, with before/after decoded."""
    rows = db.query("SELECT * FROM station_history WHERE station_id = ? ORDER BY id DESC",
                    [int(station_id)])
    out = []
    for row in rows:
        row = dict(row)
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
        out.append(row)
    return out


def restore_version(db, station_id, history_id, *, username=None) -> dict:
    """Make the station as it was after history entry ``history_id`` (itself recorded)."""
    if not 0 < int(history_id) < 2**63:
        raise HistoryNotFound(f"station {station_id} has no version {history_id}")
    rows = list(db.query("SELECT * FROM station_history WHERE id = ? AND station_id = ?",
                         [int(history_id), int(station_id)]))
    if not rows or not rows[0]["after"]:
        raise HistoryNotFound(f"station {station_id} has no version {history_id}")
    version = json.loads(rows[0]["after"])
    changes = {k: v for k, v in version.items()
               if k in _ALL_FIELDS and k not in ("id", "created_at", "updated_at")}
    return update_station(db, station_id, changes, username=username,
                          action=f"restore:{int(history_id)}")
