"""Who may review whom: conflict of interest by the union tree (DESIGN.md §2b).

A reviewer may not review a station when the reviewer's union and the station's host
union lie on one line of the tree below the campaign's organising union: the same union,
an ancestor or a descendant.  Reviewers of the organising union itself (or of a union
above it) and reviewers of no union (outside experts) review any station.  A campaign of
no union (older ones) cuts the top of the tree instead: national, provincial and
municipal unions.  Names never decide: a union is its record, so an alias or a bracket's
width changes nothing.

:class:`ConflictRule` reads the tree once (every union's parent, one query) and answers
each pair of unions from memory; :func:`eligibility` turns it into one boolean row per
station, computed once per distinct pair of unions, for the assignment to balance.
Rows without union ids (plain dicts in tests, a database without unions) fall back to
the union's name, compared after normalising (an equal name is the same union).
"""

from __future__ import annotations

import numpy as np

from ..unions.names import name_key

__all__ = ["ConflictRule", "NAMES_ONLY", "station_key", "reviewer_key", "eligibility", "conflict_rule"]

_TOP_KINDS = ("national", "provincial", "municipal")


def station_key(station: dict):
    """The station's host union as the rule knows it: its id, else ('name', key), else None."""
    return _key(station.get("host_union_id"), station.get("host_union"))


def reviewer_key(reviewer: dict):
    return _key(reviewer.get("union_id"), reviewer.get("union_name"))


def _key(union_id, name):
    if union_id is not None:
        return int(union_id)
    key = name_key(name)
    return ("name", key) if key else None


class ConflictRule:
    """Conflict of interest for one campaign, from the tree read once.

    Parameters
    ----------
    parents : dict
        {union id: parent id or None} for every union.
    names : dict
        {union id: name}, for the reasons given to people.
    cut : set
        Union ids whose reviewers review anything and whose stations anyone reviews:
        the organiser and the unions above it.
    """

    def __init__(self, parents=None, names=None, cut=(), by_name=None):
        self.parents = parents or {}
        self.names = names or {}
        self.cut = set(cut)
        self.by_name = by_name or {}  # normalised name or alias -> union id
        self._lines = {}

    def _resolve(self, key):
        """A name key of a known union is that union (a row written without its id)."""
        if isinstance(key, tuple):
            return self.by_name.get(key[1], key)
        return key

    def line(self, key) -> tuple:
        """The union and those above it, below the cut (the union first)."""
        if key is None:
            return ()
        if not isinstance(key, int):
            return (key,)
        if key not in self._lines:
            out, seen, current = [], set(), key
            while current is not None and current not in seen and current not in self.cut:
                seen.add(current)
                out.append(current)
                current = self.parents.get(current)
            self._lines[key] = tuple(out)
        return self._lines[key]

    def conflict(self, reviewer, station) -> bool:
        """Whether a reviewer of union ``reviewer`` may not review a station of ``station``
        (keys as :func:`reviewer_key` and :func:`station_key` give them)."""
        if reviewer is None or station is None:
            return False
        reviewer, station = self._resolve(reviewer), self._resolve(station)
        return reviewer in self.line(station) or station in self.line(reviewer)

    def name(self, key) -> str:
        if isinstance(key, int):
            return self.names.get(key, f"工会 {key}")
        return key[1] if key else "未登记工会"

    def top(self, reviewer, station):
        """Of two conflicting unions, the one above (or the one, when the same)."""
        reviewer, station = self._resolve(reviewer), self._resolve(station)
        return reviewer if reviewer in self.line(station) else station

    def reason(self, reviewer, station) -> str:
        """Why a reviewer of ``reviewer`` may not review a station of ``station`` (Chinese)."""
        if self._resolve(reviewer) == self._resolve(station):
            return f"与站点同属“{self.name(self._resolve(station))}”"
        return f"与“{self.name(self.top(reviewer, station))}”的站点同属一条工会线"

    def reasons(self, reviewer, stations) -> str:
        """Why a reviewer is held back from some of ``stations`` (keys): the unions at the
        top of each line, named once."""
        tops = []
        for station in stations:
            if self.conflict(reviewer, station):
                top = self.top(reviewer, station)
                if top not in tops:
                    tops.append(top)
        if not tops:
            return ""
        named = "、".join(f"“{self.name(t)}”" for t in tops[:3]) + (" 等" if len(tops) > 3 else "")
        mine = self._resolve(reviewer)
        if tops == [mine] and all(self._resolve(s) == mine for s in stations if self.conflict(reviewer, s)):
            return f"与{named}的站点同属一个工会"
        return f"与{named}的站点同属一条工会线"


NAMES_ONLY = ConflictRule()


def conflict_rule(db, organiser_id=None) -> ConflictRule:
    """The rule for a campaign organised by ``organiser_id`` (None: a campaign of no
    union, which cuts the top of the tree).  One query for the whole tree."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unions'").fetchone():
        return NAMES_ONLY
    parents, names, top = {}, {}, set()
    for union_id, parent_id, name, kind in db.execute("SELECT id, parent_id, name, kind FROM unions"):
        parents[union_id], names[union_id] = parent_id, name
        if kind in _TOP_KINDS:
            top.add(union_id)
    if organiser_id is None:
        cut = top
    else:
        cut, current = set(), organiser_id
        while current is not None and current not in cut:
            cut.add(current)
            current = parents.get(current)
    by_name = dict(db.execute("SELECT key, union_id FROM union_names").fetchall())
    return ConflictRule(parents, names, cut, by_name)


def eligibility(stations: list[dict], reviewers: list[dict], rule: ConflictRule | None = None) -> list:
    """One boolean row per station: which reviewers may review it.

    Built once per distinct station union, from the lines of the tree: a reviewer
    conflicts with a station when the reviewer's union is on the station's line, or the
    station's union on the reviewer's (so each row costs the depth of the tree, not a
    test per reviewer).  Stations of one union share one row (read-only)."""
    rule = rule or NAMES_ONLY
    r_keys = [rule._resolve(reviewer_key(r)) for r in reviewers]
    holders, below = {}, {}  # union -> reviewer columns of that union; of it or a union under it
    for column, key in enumerate(r_keys):
        if key is None:
            continue
        holders.setdefault(key, []).append(column)
        for union in rule.line(key):
            below.setdefault(union, []).append(column)
    rows, out = {}, []
    for station in stations:
        key = rule._resolve(station_key(station))
        if key not in rows:
            row = np.ones(len(reviewers), dtype=bool)
            if key is not None:
                for union in rule.line(key):
                    row[holders.get(union, [])] = False
                row[below.get(key, [])] = False
            row.setflags(write=False)
            rows[key] = row
        out.append(rows[key])
    return out
