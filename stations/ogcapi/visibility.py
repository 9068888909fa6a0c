"""Who sees what through the feature service: the rules the rest of the registry keeps.

The public (and a signed-in reviewer or planner) sees what ``/api/v1/stations`` shows:
the public statuses (``riders.directory.PUBLIC_STATUSES``) without personal fields.  A
user who speaks for a station (``accounts.users.speaks_for``: an admin for every one, a
``union`` user for its own union's) sees that station's personal fields (manager, phone,
note) and, while it is pending, the station itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts.users import speaks_for
from ..riders.directory import PUBLIC_STATUSES
from ..storage import pending_station_unions

__all__ = ["Viewer", "viewer_for"]


@dataclass(frozen=True)
class Viewer:
    user: dict | None = None
    statuses: tuple | None = PUBLIC_STATUSES  # None: every status
    also_ids: frozenset = frozenset()  # pending stations this user speaks for

    @property
    def sees_personal(self) -> bool:
        """Whether any station's personal fields may reach this viewer (the layer's schema)."""
        return self.user is not None and self.user["role"] in ("admin", "union")

    def private_for(self, station: dict) -> bool:
        return speaks_for(self.user, station)

    def filters(self) -> dict:
        return {"statuses": self.statuses, "also_ids": self.also_ids}


def viewer_for(db, user) -> Viewer:
    """The Viewer for ``user`` (None: the public)."""
    if user is None or user["role"] not in ("admin", "union"):
        return Viewer()
    if user["role"] == "admin":
        return Viewer(user, None)
    own = frozenset(sid for sid, union in pending_station_unions(db)
                    if speaks_for(user, {"host_union": union}))
    return Viewer(user, PUBLIC_STATUSES, own)
