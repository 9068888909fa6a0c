"""ANCHOR for scripts/bench/assignment.py: a frozen copy of stations/campaign/assignment.py before
issue 17 (loads within one, or refused).  Not used by the app.

Assigning reviewers: exactly k per nominee, none from the station's own union, balanced.

The rule: each nominee gets exactly ``k`` distinct reviewers; a reviewer whose union
is the station's host union may not review it (conflict of interest); reviewers'
loads differ by at most one (so each has ⌊N·k/R⌋ or ⌈N·k/R⌉ stations).

``plan_assignment`` is a pure function.  A greedy pass gives each station its k
least-loaded eligible reviewers (most constrained stations first); then loads are
evened by moving one station at a time along alternating paths (reviewer a gives
station s to reviewer b, who may take it) — augmenting paths in the flow network
source → station (k) → reviewer (1 if no conflict) → sink.  A balanced assignment
exists if and only if no reviewer is left above ⌈N·k/R⌉ or below ⌊N·k/R⌋ once no
such path remains (the flow decomposition of the difference to a balanced one
would be such a path), so "impossible" is an answer, not a give-up.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Infeasible", "Plan", "able_reviewers", "plan_assignment", "check_assignment", "conflict"]


class Infeasible(Exception):
    """No assignment obeys the rule; ``stations`` are the ids that cannot be covered."""

    def __init__(self, message: str, stations: list[int]):
        super().__init__(message)
        self.message = message
        self.stations = stations


@dataclass
class Plan:
    pairs: list = field(default_factory=list)  # (station_id, reviewer_id)
    loads: dict = field(default_factory=dict)  # reviewer_id -> stations
    left_out: list = field(default_factory=list)  # reviewers of every nominee's union: no part


def able_reviewers(stations: list[dict], reviewers: list[dict]) -> list[dict]:
    """The reviewers who may review at least one of these stations: the campaign's pool.
    One whose union hosts every nominee can review none of them, so takes no part (and
    is left out of the balance of loads, which would otherwise be impossible)."""
    if not stations:
        return list(reviewers)
    hosts = {_norm(s["host_union"]) for s in stations}
    return [r for r in reviewers if not (len(hosts) == 1 and conflict(r["union_name"], next(iter(hosts))))]


def _norm(name) -> str:
    return " ".join(str(name or "").split())


def conflict(reviewer_union, host_union) -> bool:
    """Whether a reviewer of ``reviewer_union`` may not review a station of ``host_union``."""
    return bool(_norm(reviewer_union)) and _norm(reviewer_union) == _norm(host_union)


def plan_assignment(stations: list[dict], reviewers: list[dict], k: int) -> Plan:
    """Assign ``k`` reviewers to each station (see the module's rule).

    Parameters
    ----------
    stations : list of dict
        ``id`` and ``host_union``.
    reviewers : list of dict
        ``id`` and ``union_name``.

    Raises
    ------
    Infeasible
        Naming the stations that cannot be covered: those with fewer than ``k``
        eligible reviewers, or those whose every eligible reviewer is already full
        when loads cannot be balanced.
    """
    able = able_reviewers(stations, reviewers)
    if len(able) < len(reviewers):
        plan = plan_assignment(stations, able, k)
        kept = {r["id"] for r in able}
        plan.left_out = [r["id"] for r in reviewers if r["id"] not in kept]
        return plan
    n, m = len(stations), len(reviewers)
    if n == 0:
        return Plan([], {r["id"]: 0 for r in reviewers})
    if m < k:
        raise Infeasible(f"只有 {m} 位评审专家，每个站点需要 {k} 位", [s["id"] for s in stations])
    unions = sorted({_norm(r["union_name"]) for r in reviewers if _norm(r["union_name"])})
    reviewer_union = np.array([unions.index(_norm(r["union_name"])) if _norm(r["union_name"]) else -1
                               for r in reviewers])
    # eligible[u] : which reviewers may review a station of union u (-1: a union no reviewer has)
    eligible = {u: reviewer_union != u for u in range(len(unions))}
    everyone = np.ones(m, dtype=bool)
    station_union = [unions.index(_norm(s["host_union"])) if _norm(s["host_union"]) in unions else -1
                     for s in stations]
    masks = [eligible.get(u, everyone) for u in station_union]
    short = [s["id"] for s, mask in zip(stations, masks) if mask.sum() < k]
    if short:
        raise Infeasible(f"{len(short)} 个站点可选的评审专家不足 {k} 位（其余都来自该站所属工会）",
                         short)
    total = n * k
    low, high = total // m, -(-total // m)
    # Greedy: most constrained first; each takes its k least-loaded eligible reviewers,
    # ties broken by a rotating order so equal loads spread evenly.
    order = sorted(range(n), key=lambda i: (int(masks[i].sum()), i))
    loads = np.zeros(m, dtype=np.int64)
    assigned = [None] * n
    rotation = np.arange(m)
    for step, i in enumerate(order):
        key = loads * (2 * m) + (rotation + step) % m
        key = np.where(masks[i], key, np.iinfo(np.int64).max)
        chosen = np.argpartition(key, k - 1)[:k]
        assigned[i] = set(int(c) for c in chosen)
        loads[chosen] += 1
    holders = [[] for _ in range(m)]  # reviewer -> stations it holds
    for i, chosen in enumerate(assigned):
        for r in chosen:
            holders[r].append(i)

    def move_path(sources, is_target):
        """BFS over reviewers: a --(station s held by a, eligible for b, b not on s)--> b."""
        parent = {a: None for a in sources}
        queue = deque(sources)
        while queue:
            a = queue.popleft()
            for s in holders[a]:
                mask, onboard = masks[s], assigned[s]
                for b in np.flatnonzero(mask):
                    b = int(b)
                    if b in parent or b in onboard:
                        continue
                    parent[b] = (a, s)
                    if is_target(b):
                        return b, parent
                    queue.append(b)
        return None, parent

    def shift(end, parent):
        b = end
        while parent[b] is not None:
            a, s = parent[b]
            holders[a].remove(s)
            holders[b].append(s)
            assigned[s].discard(a)
            assigned[s].add(b)
            loads[a] -= 1
            loads[b] += 1
            b = a

    def blocked(parent):
        reached = set()
        for a in parent:
            reached.update(holders[a])
        return sorted(stations[s]["id"] for s in reached)

    while loads.max() > high:
        sources = [int(a) for a in np.flatnonzero(loads > high)]
        end, parent = move_path(sources, lambda b: loads[b] < high)
        if end is None:
            ids = blocked(parent)
            raise Infeasible(f"无法让评审工作量相差不超过 1：{len(ids)} 个站点只能由已满额的评审评审"
                             f"（利益冲突排除了其他人）{_held_back(masks, reviewers, low)}", ids)
        shift(end, parent)
    while loads.min() < low:
        targets = set(int(b) for b in np.flatnonzero(loads < low))
        sources = [int(a) for a in np.flatnonzero(loads > low)]
        end, parent = move_path(sources, lambda b: b in targets)
        if end is None:
            raise Infeasible("无法让评审工作量相差不超过 1：部分评审因利益冲突无站可评"
                             + _held_back(masks, reviewers, low), blocked(parent))
        shift(end, parent)
    pairs = sorted((stations[i]["id"], reviewers[r]["id"]) for i, chosen in enumerate(assigned)
                   for r in chosen)
    return Plan(pairs, {reviewers[r]["id"]: int(loads[r]) for r in range(m)})


def _held_back(masks, reviewers, low) -> str:
    """A sentence naming the reviewers whose conflicts leave them under the fair share."""
    can = np.sum(masks, axis=0) if masks else np.zeros(len(reviewers), dtype=int)
    short = [f"{reviewers[r].get('username') or reviewers[r]['id']}（{reviewers[r].get('union_name')}，"
             f"只能评 {int(can[r])} 个）" for r in range(len(reviewers)) if can[r] < low]
    if not short:
        return ""
    return (f"。每位评审应评至少 {low} 个站点，但{'、'.join(short[:10])}"
            f"{' 等' if len(short) > 10 else ''}因利益冲突达不到；可减少每站评审人数，或增加其他工会的评审专家")


def check_assignment(pairs, stations: list[dict], reviewers: list[dict], k: int) -> list[str]:
    """Everything wrong with a set of (station id, reviewer id) pairs (Chinese; empty when fine)."""
    problems = []
    union_of = {r["id"]: r["union_name"] for r in reviewers}
    host_of = {s["id"]: s["host_union"] for s in stations}
    per_station = {s["id"]: set() for s in stations}
    loads = {r["id"]: 0 for r in able_reviewers(stations, reviewers)}
    for sid, rid in pairs:
        if rid not in union_of:
            problems.append(f"用户 {rid} 不是评审专家")
            continue
        if conflict(union_of[rid], host_of.get(sid)):
            problems.append(f"站点 {sid} 与评审 {rid} 同属 {host_of.get(sid)}（利益冲突）")
        per_station.setdefault(sid, set()).add(rid)
        loads[rid] = loads.get(rid, 0) + 1
    for sid, who in per_station.items():
        if len(who) != k:
            problems.append(f"站点 {sid} 有 {len(who)} 位评审（应为 {k} 位）")
    if loads and max(loads.values()) - min(loads.values()) > 1:
        problems.append(f"评审工作量从 {min(loads.values())} 到 {max(loads.values())} 不等（相差应不超过 1）")
    return problems
