"""Pages of stations for a feature service (OGC API – Features): keyset paging by id,
who may see what given as statuses plus extra ids, and the filters a GIS client sends
that the directory's search has no use for (host union, ``updated_at`` interval, ids).
"""

from __future__ import annotations

import json

from .stations import _decode, _where

__all__ = ["feature_extent", "feature_page", "pending_station_unions"]


def _visible(statuses, also_ids):
    """``status IN (...)``, or one of ``also_ids`` (a union's own pending stations)."""
    if statuses is None:
        return "", []
    clause = f"status IN ({', '.join('?' for _ in statuses)})"
    params = list(statuses)
    if also_ids:
        clause = f"({clause} OR id IN (SELECT value FROM json_each(?)))"
        params.append(json.dumps(sorted(also_ids)))
    return clause, params


def _feature_where(*, statuses=None, also_ids=(), only_ids=None, exclude_ids=None, district=None, status=None,
                   facility=(), bbox=None, host_union=None, updated_from=None, updated_to=None,
                   awarded=False):
    where, params = _where(district=district, status=status, facility=list(facility), awarded=awarded)
    clauses = [where[len(" WHERE "):]] if where else []
    visible, more = _visible(statuses, also_ids)
    if visible:
        clauses.append(visible)
        params += more
    if only_ids is not None:  # the ids a check outside SQL kept (open now)
        clauses.append("id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(only_ids)))
    if exclude_ids:
        clauses.append("id NOT IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(exclude_ids)))
    if bbox:
        # On the columns, not through the R*Tree: a page walks the id order from its cursor
        # and stops at `limit` rows, where the R*Tree would hand over every id in a wide box
        # on every page (and it keeps float32 bounds: points on an edge could slip out).
        clauses.append("lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?")
        params += [bbox[0], bbox[2], bbox[1], bbox[3]]
    if host_union is not None:  # a union's id (a name is resolved to its union by the caller)
        clauses.append("host_union_id = ?")
        params.append(int(host_union))
    # updated_at is ISO text in Beijing time at one precision: text order is time order
    if updated_from:
        clauses.append("updated_at >= ?")
        params.append(updated_from)
    if updated_to:
        clauses.append("updated_at <= ?")
        params.append(updated_to)
    return clauses, params


def feature_page(db, *, after_id=None, before_id=None, offset=0, limit=100, **filters):
    """One page of stations matching ``filters``, by id: (rows, number matched).

    Parameters
    ----------
    after_id, before_id : int, optional
        Keyset cursors: the page starts after ``after_id``, or ends before ``before_id``
        (read backwards, returned in id order).  Cheap at any depth, unlike ``offset``.
    offset, limit : int
        Rows to skip (after the cursor, if any) and the page size.
    **filters
        ``statuses`` (visible statuses; None for all), ``also_ids`` (ids visible whatever
        their status), ``only_ids``, ``exclude_ids``, ``district``, ``status``, ``facility`` (codes, all
        required), ``bbox`` (WGS-84 lon/lat), ``host_union`` (exact name),
        ``updated_from`` / ``updated_to`` (ISO text, Beijing time, inclusive), ``awarded``.

    Returns
    -------
    (list of dict, int)
        Decoded rows *with* their private fields (the caller decides who sees them) and
        how many stations match the filters in all (cursors aside).
    """
    clauses, params = _feature_where(**filters)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    matched = db.execute(f"SELECT count(*) FROM stations{where}", params).fetchone()[0]
    order = "ORDER BY id"
    if after_id is not None:
        clauses.append("id > ?")
        params.append(int(after_id))
    elif before_id is not None:
        clauses.append("id < ?")
        params.append(int(before_id))
        order = "ORDER BY id DESC"
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = [_decode(r, private=True) for r in db.query(
        f"SELECT * FROM stations{where} {order} LIMIT ? OFFSET ?", params + [int(limit), int(offset)])]
    if before_id is not None:
        rows.reverse()
    return rows, matched


def feature_extent(db, **filters):
    """(minlon, minlat, maxlon, maxlat, first updated_at, last updated_at) of the stations
    matching ``filters`` (as :func:`feature_page` takes them); None when there are none."""
    clauses, params = _feature_where(**filters)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    row = db.execute("SELECT min(lon), min(lat), max(lon), max(lat), min(updated_at), max(updated_at)"
                     f" FROM stations{where}", params).fetchone()
    return None if row[0] is None else tuple(row)


def pending_station_unions(db) -> list[tuple]:
    """(id, host_union_id) of every pending station: few, so the caller can ask of each
    whether it lies in a user's part of the union tree."""
    return db.execute("SELECT id, host_union_id FROM stations WHERE status = 'pending' ORDER BY id").fetchall()
