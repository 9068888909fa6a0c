"""Possible matches for many names against many unions, fast.

``UnionIndex.close`` compares a name with every union (``names.close_names``: a
SequenceMatcher per union), about 0.1 s against 2,000 unions; a page or an import
report that names the possible matches of 20 unplaced unions would take seconds.
:class:`Matches` answers the same question with the same answer: it first drops the
unions that cannot be close by any of ``close_names``' rules — a different stem that
neither holds the other, and too few characters in common for a similarity of 0.8 (the
count of shared characters bounds SequenceMatcher's ratio from above) — and runs
``close_names`` over the few that remain.
"""

from __future__ import annotations

from collections import Counter

from .names import close_names, name_key, stem

__all__ = ["Matches"]


class Matches:
    """Possible matches among the names of a :class:`~stations.unions.store.UnionIndex`."""

    def __init__(self, index):
        self.index = index
        self.keys = [(key, name, stem(key), Counter(key)) for key, name in index.names.items() if key]

    def _candidates(self, key: str) -> dict:
        mine, chars, size = stem(key), Counter(key), len(key)
        out = {}
        for other, name, theirs, their_chars in self.keys:
            if other == key:
                continue
            if mine and (mine == theirs or (min(len(mine), len(theirs)) >= 4 and (mine in theirs or theirs in mine))):
                out[other] = name
                continue
            if abs(len(other) - size) > max(size, len(other)) * 0.4:
                continue
            # ratio = 2·matches / (both lengths) ≥ 0.8 needs 10·shared ≥ 4·(both lengths); one to spare
            if 10 * sum((chars & their_chars).values()) + 1 >= 4 * (size + len(other)):
                out[other] = name
        return out

    def close(self, name, limit: int = 3) -> list[str]:
        """What ``index.close(name, limit)`` answers."""
        key = name_key(name)
        if not key:
            return []
        found = close_names(key, self._candidates(key), limit=limit + 3)
        by_key, own = self.index.by_key, self.index.by_key.get(key, (None,))[0]
        return [n for n in dict.fromkeys(found) if by_key.get(name_key(n), (None,))[0] != own][:limit]
