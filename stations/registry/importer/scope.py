"""Which rows of a station import the importer may write: those of its part of the
union tree (``stations.unions.scope``).  A row naming a union outside it, or updating
a station (by id) outside it, is an error on that row; an unknown union is allowed (it
becomes an unplaced union under the importer's own union when written)."""

from __future__ import annotations

from ...unions.names import name_key
from ...unions.scope import in_scope, scope_label
from ..edit import union_refusal
from ..records import Problem

__all__ = ["ScopeCheck"]


class ScopeCheck:
    """Problems of one row for an importer of ``scope`` (none for everything); the union
    names' answers are kept, so a file of 30,000 rows asks once per distinct union."""

    def __init__(self, db, scope):
        self.db, self.scope = db, scope
        self.active = scope is not None and not scope.everything
        self.by_name = {}

    def problems(self, record: dict) -> list[Problem]:
        if not self.active:
            return []
        out = []
        station_id = record.get("id")
        if station_id is not None:
            row = self.db.execute("SELECT host_union_id FROM stations WHERE id = ?", [station_id]).fetchone()
            if row is not None and not in_scope(self.db, self.scope, row[0]):
                out.append(Problem("id", f"编号 {station_id} 的站点不在您的管辖范围（{scope_label(self.scope)}）"
                                         "内，不能修改"))
        key = name_key(record.get("host_union"))
        if key not in self.by_name:
            self.by_name[key] = union_refusal(self.db, self.scope, {"host_union": record.get("host_union")})
        if self.by_name[key]:
            out.append(Problem("host_union", self.by_name[key]))
        return out
