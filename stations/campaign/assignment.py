"""Assigning reviewers: exactly k per nominee, none in conflict of interest, balanced.

The rule: each nominee gets exactly ``k`` distinct reviewers; a reviewer whose union
lies on one line of the union tree with the station's host union may not review it
(conflict of interest: decided by :mod:`.eligibility`, one boolean row per station);
reviewers' loads differ by at most one (so each has ⌊N·k/R⌋ or ⌈N·k/R⌉ stations).

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

from ..unions.names import name_key
from .eligibility import NAMES_ONLY, ConflictRule, eligibility, reviewer_key, station_key

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
    left_out: list = field(default_factory=list)  # reviewers on the line of every nominee: no part


def able_reviewers(stations: list[dict], reviewers: list[dict], rule: ConflictRule | None = None) -> list[dict]:
    """The reviewers who may review at least one of these stations: the campaign's pool.
    One whose union lies on the line of every nominee's union can review none of them,
    so takes no part (and is left out of the balance of loads, which would otherwise be
    impossible)."""
    if not stations:
        return list(reviewers)
    masks = eligibility(stations, reviewers, rule)
    can = np.logical_or.reduce(masks) if reviewers else np.zeros(0, dtype=bool)
    return [r for r, ok in zip(reviewers, can) if ok]


def conflict(reviewer_union, host_union) -> bool:
    """Whether a reviewer of ``reviewer_union`` may not review a station of ``host_union``,
    by names only (the same union after normalising); the tree's rule is
    :class:`~stations.campaign.eligibility.ConflictRule`."""
    a, b = name_key(reviewer_union), name_key(host_union)
    return bool(a) and a == b


def plan_assignment(stations: list[dict], reviewers: list[dict], k: int, *, rule: ConflictRule | None = None) -> Plan:
    """Assign ``k`` reviewers to each station (see the module's rule).

    Parameters
    ----------
    stations : list of dict
        ``id``, ``host_union_id`` and ``host_union``.
    reviewers : list of dict
        ``id``, ``union_id`` and ``union_name``.
    rule : ConflictRule, optional
        Who conflicts with whom (the campaign's, by the union tree); by default the same
        union name (after normalising) conflicts.

    Raises
    ------
    Infeasible
        Naming the stations that cannot be covered: those with fewer than ``k``
        eligible reviewers, or those whose every eligible reviewer is already full
        when loads cannot be balanced.
    """
    able = able_reviewers(stations, reviewers, rule)
    if len(able) < len(reviewers):
        plan = plan_assignment(stations, able, k, rule=rule)
        kept = {r["id"] for r in able}
        plan.left_out = [r["id"] for r in reviewers if r["id"] not in kept]
        return plan
    n, m = len(stations), len(reviewers)
    if n == 0:
        return Plan([], {r["id"]: 0 for r in reviewers})
    if m < k:
        raise Infeasible(f"只有 {m} 位评审专家，每个站点需要 {k} 位", [s["id"] for s in stations])
    masks = eligibility(stations, reviewers, rule)
    short = [s["id"] for s, mask in zip(stations, masks) if mask.sum() < k]
    if short:
        raise Infeasible(f"{len(short)} 个站点可选的评审专家不足 {k} 位（其余都与该站同属一条工会线）",
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
                             f"（利益冲突排除了其他人）{_held_back(masks, stations, reviewers, low, rule)}", ids)
        shift(end, parent)
    while loads.min() < low:
        targets = set(int(b) for b in np.flatnonzero(loads < low))
        sources = [int(a) for a in np.flatnonzero(loads > low)]
        end, parent = move_path(sources, lambda b: b in targets)
        if end is None:
            raise Infeasible("无法让评审工作量相差不超过 1：部分评审因利益冲突无站可评"
                             + _held_back(masks, stations, reviewers, low, rule), blocked(parent))
        shift(end, parent)
    pairs = sorted((stations[i]["id"], reviewers[r]["id"]) for i, chosen in enumerate(assigned)
                   for r in chosen)
    return Plan(pairs, {reviewers[r]["id"]: int(loads[r]) for r in range(m)})


def _held_back(masks, stations, reviewers, low, rule=None) -> str:
    """A sentence naming the reviewers whose conflicts leave them under the fair share,
    each with the reason (the union line they share with the stations they may not review)."""
    rule = rule or NAMES_ONLY
    can = np.sum(masks, axis=0) if masks else np.zeros(len(reviewers), dtype=int)
    keys = list(dict.fromkeys(station_key(s) for s in stations))
    short = []
    for r in range(len(reviewers)):
        if can[r] >= low:
            continue
        why = rule.reasons(reviewer_key(reviewers[r]), keys)
        short.append(f"{reviewers[r].get('username') or reviewers[r]['id']}（{reviewers[r].get('union_name')}，"
                     f"只能评 {int(can[r])} 个）" + (f"：{why}" if why else ""))
    if not short:
        return ""
    return (f"。每位评审应评至少 {low} 个站点，但{'、'.join(short[:10])}"
            f"{' 等' if len(short) > 10 else ''}因利益冲突达不到；可减少每站评审人数，或增加其他工会的评审专家")


def check_assignment(pairs, stations: list[dict], reviewers: list[dict], k: int,
                     rule: ConflictRule | None = None) -> list[str]:
    """Everything wrong with a set of (station id, reviewer id) pairs (Chinese; empty when fine)."""
    rule = rule or NAMES_ONLY
    problems = []
    by_id = {r["id"]: r for r in reviewers}
    host_of = {s["id"]: s for s in stations}
    per_station = {s["id"]: set() for s in stations}
    loads = {r["id"]: 0 for r in able_reviewers(stations, reviewers, rule)}
    for sid, rid in pairs:
        if rid not in by_id:
            problems.append(f"用户 {rid} 不是评审专家")
            continue
        station = host_of.get(sid) or {}
        if rule.conflict(reviewer_key(by_id[rid]), station_key(station)):
            problems.append(f"站点 {sid} 与评审 {rid} 利益冲突："
                            f"{rule.reason(reviewer_key(by_id[rid]), station_key(station))}")
        per_station.setdefault(sid, set()).add(rid)
        loads[rid] = loads.get(rid, 0) + 1
    for sid, who in per_station.items():
        if len(who) != k:
            problems.append(f"站点 {sid} 有 {len(who)} 位评审（应为 {k} 位）")
    if loads and max(loads.values()) - min(loads.values()) > 1:
        problems.append(f"评审工作量从 {min(loads.values())} 到 {max(loads.values())} 不等（相差应不超过 1）")
    return problems
