"""Host unions of a station import: resolved by name or alias, the unknown ones collected.

One :class:`UnionIndex` per import answers every row (a dictionary lookup after
normalising the name), so a 500,000-row file costs no query per row.  A name no union
answers to is not added while checking: the check only notes it (one slot per distinct
normalised name), so a dry run adds nothing and reports the same.  The write then adds
each new name once, as an ``unplaced`` union (provisionally under the importing
organiser's union when the organiser's scope is one district), before the stations
that name it.

The id column of an export (``所属工会编号``, ``host_union_id``) is read only when the
row's union name is empty: the name decides, since ids differ between databases and a
merge retires one.
"""

from __future__ import annotations

import unicodedata
from array import array

from ..records import Problem

__all__ = ["NewUnions", "MATCHES_FOR", "LISTED"]

MATCHES_FOR = 20   # new unions whose possible matches are looked up (each compares every union)
LISTED = 1_000     # new unions listed in the report (all are counted and added)


def _has_unions(db) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unions'").fetchone() \
        is not None


class NewUnions:
    """What a station import finds about host unions, row by row."""

    def __init__(self, db):
        from ...unions.store import UnionIndex

        self.index = UnionIndex(db) if _has_unions(db) else None
        self.ids = {union_id for union_id, _ in self.index.by_key.values()} if self.index else set()
        self.slots = array("i")  # per record: the new union it names, or -1
        self.keys = {}            # normalised key -> slot
        self.names = []           # slot -> the name as first written
        self._seen = {}           # name as written -> slot (-1: known or none)

    def see(self, record: dict, raw_id, warnings: list) -> None:
        """Note record's union (the next record's, in file order); the id column
        ``raw_id`` is used only when the name is empty."""
        name = record.get("host_union")
        slot = -1
        if self.index is not None and name:
            slot = self._seen.get(name)
            if slot is None:
                slot = self._slot(name)
                self._seen[name] = slot
        elif self.index is not None and raw_id not in (None, ""):
            union_id = _integer(raw_id)
            if union_id in self.ids:
                record["host_union_id"] = union_id
            else:
                shown = str(raw_id).strip()[:20]
                warnings.append(Problem("host_union_id", f"所属工会编号“{shown}”不存在，已忽略（可填写所属工会名称）"))
        self.slots.append(slot)

    def _slot(self, name) -> int:
        from ...unions.names import name_key

        if self.index.resolve(name) is not None:
            return -1
        key = name_key(name)
        if not key:
            return -1
        slot = self.keys.get(key)
        if slot is None:
            slot = self.keys[key] = len(self.names)
            self.names.append(" ".join(name.split()))
        return slot

    def written(self, flags) -> list[str]:
        """The new unions named by rows without errors (those an import adds), in file order."""
        used = bytearray(len(self.names))
        for i, slot in enumerate(self.slots):
            if slot >= 0 and not flags[i] & 1:
                used[slot] = 1
        return [name for slot, name in enumerate(self.names) if used[slot]]

    def report(self, flags) -> tuple[int, list]:
        """(how many new unions, [[name, rows, [possible matches]], …] for the first ones)."""
        rows = [0] * len(self.names)
        for i, slot in enumerate(self.slots):
            if slot >= 0 and not flags[i] & 1:
                rows[slot] += 1
        listed, matches = [], None
        for slot, name in enumerate(self.names):
            if rows[slot] and len(listed) < LISTED:
                if matches is None:
                    from ...unions.matches import Matches

                    matches = Matches(self.index)
                close = matches.close(name) if len(listed) < MATCHES_FOR else []
                listed.append([name, rows[slot], close])
        return sum(1 for count in rows if count), listed


def _integer(value) -> int | None:
    try:
        number = float(unicodedata.normalize("NFKC", str(value)).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 0 < number < 2**63 else None
