"""Keeping the registry true: create and edit one station with every check an import makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import Problem, clean_station
from ..storage import create_station, get_station, station_points, update_station
from .validation import check_locations

__all__ = ["SaveResult", "save_station"]


@dataclass
class SaveResult:
    station: dict | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.station is not None

    def errors_by_field(self) -> dict:
        out = {}
        for p in self.errors:
            out.setdefault("lon" if p.field in ("location", "datum") else p.field, []).append(p.message)
        return out


def save_station(db, raw: dict, *, station_id=None, datum="wgs84", region="beijing",
                 username=None, partial=False) -> SaveResult:
    """Validate and store a new station, or changes to ``station_id``.

    Parameters
    ----------
    raw : dict
        Field -> value as typed (form or JSON body).
    station_id : int, optional
        The station to change; raises StationNotFound if there is none.
    partial : bool
        With ``station_id``: only the fields in ``raw`` change (API PATCH).

    Returns
    -------
    SaveResult
        ``station`` is the stored record (private fields included) when nothing
        was wrong; otherwise ``errors`` says what, per field, and nothing is written.
    """
    current = get_station(db, station_id, private=True) if station_id is not None else None
    result = clean_station(raw, datum, partial=partial and current is not None)
    record = result.record
    out = SaveResult(errors=list(result.errors), warnings=list(result.warnings))
    if current is not None:
        record["id"] = current["id"]
        if "lon" not in record and "lon" not in raw and "location" not in raw:
            record["lon"], record["lat"] = current["lon"], current["lat"]
        if "district" not in record:
            record["district"] = current.get("district_declared") or current.get("district")
        if "name" not in record:
            record["name"] = current["name"]
    if "lon" in record:
        errors, warnings = check_locations([record], region, station_points(db))[0]
        out.errors += errors
        out.warnings += warnings
    if out.errors:
        return out
    if current is None:
        out.station = get_station(db, create_station(db, record, username=username), private=True)
    else:
        changes = {k: v for k, v in record.items() if k != "id"}
        out.station = update_station(db, current["id"], changes, username=username)
    return out
