"""Who sees what through the feature service: the rules the rest of the registry keeps.

The public (and a signed-in reviewer or planner) sees what ``/api/v1/stations`` shows:
the public statuses (``riders.directory.PUBLIC_STATUSES``) without personal fields.  A
user whose part of the union tree holds a station (``stations.unions.scope``: an admin
of the city or of no union every one, a district admin its district's, a ``union`` user
its own union's) sees that station's personal fields (manager, phone, note) and, while it
is pending, the station itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..riders.directory import PUBLIC_STATUSES
from ..storage import pending_station_unions
from ..unions.scope import EVERYTHING, Scope, in_scope, scope_of

__all__ = ["Viewer", "viewer_for"]


@dataclass(frozen=True)
class Viewer:
    user: dict | None = None
    statuses: tuple | None = PUBLIC_STATUSES  # None: every status
    also_ids: frozenset = frozenset()  # pending stations in this user's scope
    scope: Scope = EVERYTHING
    db: object = None

    @property
    def sees_personal(self) -> bool:
        """Whether any station's personal fields may reach this viewer (the layer's schema)."""
        return self.user is not None and self.user["role"] in ("admin", "union")

    def private_for(self, station: dict) -> bool:
        if not self.sees_personal:
            return False
        if self.scope.everything:
            return True
        return in_scope(self.db, self.scope, station.get("host_union_id"))

    def filters(self) -> dict:
        return {"statuses": self.statuses, "also_ids": self.also_ids}


def viewer_for(db, user) -> Viewer:
    """The Viewer for ``user`` (None: the public)."""
    if user is None or user["role"] not in ("admin", "union"):
        return Viewer()
    scope = scope_of(db, user)
    if user["role"] == "admin" and scope.everything:
        return Viewer(user, None)
    own = frozenset(sid for sid, union_id in pending_station_unions(db) if in_scope(db, scope, union_id))
    return Viewer(user, PUBLIC_STATUSES, own, scope, db)
