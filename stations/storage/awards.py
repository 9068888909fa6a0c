"""Which stations carry an honour or a 七有 score: the directory's award filters.

Plain queries over ``stations.awards`` and ``checklists``, below both the directory that
filters by them and the campaign that writes them.
"""

from __future__ import annotations

__all__ = ["stations_with_min_total", "checklists_version", "awarded_station_ids"]


def stations_with_min_total(db, minimum: float) -> set:
    """Ids of stations whose latest checklist's total is at least ``minimum``."""
    return {r[0] for r in db.execute(
        "SELECT station_id FROM checklists WHERE id IN (SELECT max(id) FROM checklists GROUP BY station_id) "
        "AND total >= ?", [float(minimum)])}


def checklists_version(db) -> int:
    """A number that grows with every new checklist (they are only ever added; a station's
    go with it, and that changes the stations' own version)."""
    return db.execute("SELECT coalesce(max(id), 0) FROM checklists").fetchone()[0]


def awarded_station_ids(db) -> set:
    """Ids of stations with at least one award on their record (the directory's 获奖)."""
    return {r[0] for r in db.execute("SELECT id FROM stations WHERE awards NOT IN ('', '[]')")}
