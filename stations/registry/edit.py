"""Keeping the registry true: create and edit one station with every check an import makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import Problem, clean_station
from ..storage import create_station, get_station, station_points, update_station, write_transaction
from ..unions.scope import in_scope, provisional_parent, scope_label, write_union_refusal
from .validation import check_locations

__all__ = ["SaveResult", "save_station", "union_refusal"]


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


def union_refusal(db, scope, record: dict, current: dict | None = None) -> str | None:
    """Why someone of ``scope`` may not give a station the host union ``record`` names
    (None: they may).  A change that leaves the union alone needs no check: the station
    itself was in scope, or the caller refused it already."""
    if scope is None or scope.everything:
        return None
    if record.get("host_union_id") is not None:
        if in_scope(db, scope, int(record["host_union_id"])):
            return None
        return f"所属工会（编号 {record['host_union_id']}）不在您的管辖范围（{scope_label(scope)}）内"
    if "host_union" in record or current is None:
        return write_union_refusal(db, scope, record.get("host_union"))
    return None


def save_station(db, raw: dict, *, station_id=None, datum="wgs84", region="beijing",
                 username=None, partial=False, scope=None) -> SaveResult:
    """Validate and store a new station, or changes to ``station_id``.

    Parameters
    ----------
    raw : dict
        Field -> value as typed (form or JSON body).
    station_id : int, optional
        The station to change; raises StationNotFound if there is none.
    partial : bool
        With ``station_id``: only the fields in ``raw`` change (API PATCH).
    scope : stations.unions.scope.Scope, optional
        The writer's part of the union tree: a host union outside it is an error on
        ``host_union``; an unknown one is added under the writer's union.  The caller
        checks that the station itself is in scope.  A name no union
        answers to is added ``unplaced``, with a warning.

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
    new_union = _host_union(db, raw, record, out)
    refused = union_refusal(db, scope, record, current)
    if refused:
        out.errors.append(Problem("host_union", refused))
    if out.errors:
        return out
    parent = provisional_parent(scope) if scope is not None else None
    with write_transaction(db):  # a new union and its first station, or neither
        if new_union:
            from ..unions.store import resolve_or_create

            resolve_or_create(db, new_union, parent_id=parent, username=username)
        if current is None:
            out.station = get_station(db, create_station(db, record, username=username, union_parent=parent),
                                      private=True)
        else:
            changes = {k: v for k, v in record.items() if k != "id"}
            out.station = update_station(db, current["id"], changes, username=username, union_parent=parent)
    return out


def _host_union(db, raw, record, out) -> str | None:
    """Resolve the host union by name or alias (the id, ``host_union_id``, only when no
    name is given); returns a name no union answers to, added on saving with a warning."""
    from ..unions.names import did_you_mean
    from ..unions.store import find_union, get_union, possible_matches

    name = record.get("host_union")
    if not name and raw.get("host_union_id") not in (None, ""):
        value = raw["host_union_id"]
        if not isinstance(value, int) or isinstance(value, bool):
            out.errors.append(Problem("host_union_id", f"所属工会编号“{str(value)[:20]}”应为整数（或改填所属工会名称）"))
            return None
        union = get_union(db, value)
        if union is None:
            out.errors.append(Problem("host_union_id", f"所属工会编号 {value} 不存在（可改填所属工会名称）"))
        else:
            record["host_union_id"], record["host_union"] = union["id"], union["name"]
        return None
    if not name or find_union(db, name) is not None:
        return None
    out.warnings.append(Problem("host_union", f"新建工会“{name}”{did_you_mean(possible_matches(db, name))}："
                                              "尚未登记，保存后待确认归属；请在工会管理中确认归属"))
    return name
