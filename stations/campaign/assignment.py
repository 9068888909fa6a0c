"""Assigning reviewers: exactly k per nominee, none in conflict, loads as even as possible.

The rule: each nominee gets exactly ``k`` distinct reviewers; a reviewer in conflict
with the station may not review it: their unions lie on one line of the union tree
below the campaign's organising union (:class:`~.eligibility.ConflictRule`, the one place
that decides; without a rule, the same union name after normalising).
Among all assignments that obey this, the loads are the most even possible: the
largest load as small as it can be, then the next largest, and so on (lexicographically
minimal sorted loads).  When conflicts allow, that is loads within one (⌊N·k/R⌋ or
⌈N·k/R⌉ each); when they do not, the plan says who got fewer and why
(:attr:`Plan.fewer`, :attr:`Plan.note`).  Only a station with fewer than ``k``
eligible reviewers is refused (:class:`Infeasible`).

The algorithm takes eligibility as a boolean matrix (station × reviewer) built once by
:func:`eligibility` from the rule, so the conflict rule can change without
touching the algorithm.  ``plan_assignment`` is a pure function: a greedy pass gives
each station its k least-loaded eligible reviewers (most constrained first); then, as
long as some reviewer a can hand a station along a path to a reviewer b with at least
two fewer (a gives s to c, who may take it, c gives t to … b), the path is shifted.
In the flow network source → station (k) → reviewer (1 if eligible) the load vectors
form an M-convex set, where an assignment with no such path is decreasingly minimal
(Frank & Murota, "Discrete decreasing minimization"), so the end is the best, not a
give-up.  The reviewer-to-reviewer graph (how many stations a could hand to b) is a
small R × R count matrix updated in place after each shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..unions.names import name_key
from .eligibility import NAMES_ONLY, ConflictRule, reviewer_key, station_key
from .eligibility import eligibility as _rows

__all__ = ["Infeasible", "Plan", "able_reviewers", "eligibility", "plan_assignment", "check_assignment",
           "conflict"]


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
    left_out: list = field(default_factory=list)  # reviewers who may review no nominee: no part
    fewer: list = field(default_factory=list)  # reviewers under the fair share: id, name, union, load, can
    note: str = ""  # Chinese: who got fewer and why (empty when loads are within one)


def _norm(name) -> str:
    return " ".join(str(name or "").split())


def conflict(reviewer_union, host_union) -> bool:
    """Whether a reviewer of ``reviewer_union`` may not review a station of ``host_union``,
    by names only (the same union after normalising); the tree's rule is
    :class:`~stations.campaign.eligibility.ConflictRule`."""
    a, b = name_key(reviewer_union), name_key(host_union)
    return bool(a) and a == b


def eligibility(stations: list[dict], reviewers: list[dict], rule: ConflictRule | None = None) -> np.ndarray:
    """Who may review what: a boolean matrix, ``[i, j]`` True when reviewers[j] may
    review stations[i] (no conflict by ``rule``; by default the same union name)."""
    rows = _rows(stations, reviewers, rule)
    if not rows:
        return np.ones((0, len(reviewers)), dtype=bool)
    return np.array(rows, dtype=bool).reshape(len(stations), len(reviewers))


def _eligible(stations, reviewers, eligible, rule):
    if eligible is None:
        return eligibility(stations, reviewers, rule)
    return np.asarray(eligible, dtype=bool)


def able_reviewers(stations: list[dict], reviewers: list[dict], rule: ConflictRule | None = None, *,
                   eligible=None) -> list[dict]:
    """The reviewers who may review at least one of these stations: the campaign's pool.
    One in conflict with every nominee (on the line of every nominee's union) takes no
    part (and is left out of the loads)."""
    if not stations:
        return list(reviewers)
    eligible = _eligible(stations, reviewers, eligible, rule)
    can = eligible.any(axis=0)
    return [r for j, r in enumerate(reviewers) if can[j]]


class _Loads:
    """An assignment under balancing: who holds what, and the R × R matrix ``moves``
    (``moves[a, b]``: stations a holds that b may take, i.e. eligible and not on it)."""

    def __init__(self, eligible: np.ndarray, assigned: list[set]):
        self.eligible = eligible
        self.assigned = assigned
        n, m = eligible.shape
        self.loads = np.zeros(m, dtype=np.int64)
        self.holders = [set() for _ in range(m)]
        for s, chosen in enumerate(assigned):
            for r in chosen:
                self.holders[r].add(s)
                self.loads[r] += 1
        held = np.zeros((m, n), dtype=np.float32)
        free = eligible.astype(np.float32)
        for s, chosen in enumerate(assigned):
            for r in chosen:
                held[r, s] = 1.0
                free[s, r] = 0.0
        self.moves = np.rint(held @ free).astype(np.int64)  # float matmul: exact below 2**24

    def _count(self, s, sign):
        on = np.zeros(self.eligible.shape[1], dtype=bool)
        on[list(self.assigned[s])] = True
        takers = (self.eligible[s] & ~on).astype(np.int64) * sign
        for r in self.assigned[s]:
            self.moves[r] += takers

    def path(self, sources: np.ndarray, targets: np.ndarray):
        """A shortest path of reviewers from one of ``sources`` to one of ``targets``
        (boolean masks) along ``moves``; None when there is none."""
        parent = np.full(len(self.loads), -1, dtype=np.int64)
        reached = sources.copy()
        frontier = np.flatnonzero(sources)
        while frontier.size:
            step = self.moves[frontier] > 0  # frontier × m
            new = step.any(axis=0) & ~reached
            if not new.any():
                return None
            fresh = np.flatnonzero(new)
            parent[fresh] = frontier[np.argmax(step[:, fresh], axis=0)]
            reached |= new
            hit = fresh[targets[fresh]]
            if hit.size:
                chain = [int(hit[0])]
                while parent[chain[-1]] >= 0:
                    chain.append(int(parent[chain[-1]]))
                return chain[::-1]
            frontier = fresh
        return None

    def shift(self, chain):
        """Each reviewer on the chain hands one station to the next."""
        for a, b in zip(chain, chain[1:]):
            s = next(s for s in sorted(self.holders[a]) if self.eligible[s, b] and b not in self.assigned[s])
            self._count(s, -1)
            self.assigned[s].discard(a)
            self.assigned[s].add(b)
            self._count(s, +1)
            self.holders[a].discard(s)
            self.holders[b].add(s)
            self.loads[a] -= 1
            self.loads[b] += 1

    def improving(self):
        """A path from a reviewer to one with at least two fewer stations, the most
        loaded first; None when the loads are the most even possible."""
        for level in sorted(set(self.loads.tolist()), reverse=True):
            targets = self.loads <= level - 2
            if not targets.any():
                break
            chain = self.path(self.loads == level, targets)
            if chain is not None:
                return chain
        return None

    def balance(self):
        while (chain := self.improving()) is not None:
            self.shift(chain)


def plan_assignment(stations: list[dict], reviewers: list[dict], k: int, eligible=None, *,
                    rule: ConflictRule | None = None) -> Plan:
    """Assign ``k`` reviewers to each station (see the module's rule).

    Parameters
    ----------
    stations : list of dict
        ``id`` and ``host_union``.
    reviewers : list of dict
        ``id`` and ``union_name`` (``username`` names them in the note).
    k : int
        Reviewers per station.
    eligible : numpy.ndarray, optional
        Boolean, stations × reviewers: who may review what; by default
        :func:`eligibility` of the two lists.

    Returns
    -------
    Plan
        The pairs, each taking-part reviewer's load, the reviewers left out (in conflict
        with every nominee), and who got fewer than the fair share and why.

    Raises
    ------
    Infeasible
        Naming the stations with fewer than ``k`` eligible reviewers: nothing else is refused.
    """
    eligible = _eligible(stations, reviewers, eligible, rule)
    n = len(stations)
    if n == 0:
        return Plan([], {r["id"]: 0 for r in reviewers})
    if len(reviewers) < k:
        raise Infeasible(f"只有 {len(reviewers)} 位评审专家，每个站点需要 {k} 位", [s["id"] for s in stations])
    short = [s["id"] for s, row in zip(stations, eligible) if row.sum() < k]
    if short:
        raise Infeasible(f"{len(short)} 个站点可选的评审专家不足 {k} 位（其余都与该站同属一条工会线，有利益冲突）", short)
    taking = np.flatnonzero(eligible.any(axis=0))
    kept = set(taking.tolist())
    left_out = [reviewers[j]["id"] for j in range(len(reviewers)) if j not in kept]
    pool = [reviewers[j] for j in taking]
    eligible = eligible[:, taking]
    m = len(pool)
    # Greedy: most constrained first; each takes its k least-loaded eligible reviewers,
    # ties broken by a rotating order so equal loads spread evenly.
    order = sorted(range(n), key=lambda i: (int(eligible[i].sum()), i))
    loads = np.zeros(m, dtype=np.int64)
    assigned = [set() for _ in range(n)]
    rotation = np.arange(m)
    for step, i in enumerate(order):
        key = loads * (2 * m) + (rotation + step) % m
        key = np.where(eligible[i], key, np.iinfo(np.int64).max)
        chosen = np.argpartition(key, k - 1)[:k]
        assigned[i] = set(int(c) for c in chosen)
        loads[chosen] += 1
    state = _Loads(eligible, assigned)
    state.balance()
    pairs = sorted((stations[i]["id"], pool[r]["id"]) for i, chosen in enumerate(state.assigned) for r in chosen)
    plan = Plan(pairs, {pool[r]["id"]: int(state.loads[r]) for r in range(m)}, left_out)
    plan.fewer, plan.note = _fewer(state.loads, eligible, pool, n * k)
    return plan


def _name(reviewer) -> str:
    return str(reviewer.get("username") or reviewer["id"])


def _fewer(loads, eligible, pool, total):
    """Who got fewer than the fair share, and a sentence saying why (conflicts of interest)."""
    m = len(pool)
    low, high = total // m, -(-total // m)
    if int(loads.max()) <= high and int(loads.min()) >= low:
        return [], ""
    can = eligible.sum(axis=0)
    fewer = [{"id": pool[r]["id"], "name": _name(pool[r]), "union": _norm(pool[r].get("union_name")),
              "load": int(loads[r]), "can": int(can[r])} for r in np.argsort(loads, kind="stable") if loads[r] < low]
    named = "、".join(f"{f['name']}（{f['union'] or '未登记工会'}，评 {f['load']} 个）" for f in fewer[:10])
    more = f" 等 {len(fewer)} 位" if len(fewer) > 10 else ""
    busiest = int((loads == loads.max()).sum())
    note = (f"利益冲突使工作量无法完全均衡（平均每位 {total / m:.1f} 个）：{named}{more}评得较少，"
            f"因为其余参评站点与他们同属一条工会线（利益冲突）；其他评审相应多评，最多 {int(loads.max())} 个（{busiest} 位）。"
            f"这已是最均衡的分配；如需更均衡，可增加其他工会的评审专家")
    return fewer, note


def check_assignment(pairs, stations: list[dict], reviewers: list[dict], k: int, eligible=None,
                     rule: ConflictRule | None = None) -> list[str]:
    """Everything wrong with a set of (station id, reviewer id) pairs (Chinese; empty when fine):
    a conflict, a station without exactly ``k`` reviewers, or loads that could be more even."""
    problems = []
    eligible = _eligible(stations, reviewers, eligible, rule)
    row = {s["id"]: i for i, s in enumerate(stations)}
    col = {r["id"]: j for j, r in enumerate(reviewers)}
    assigned = [set() for _ in stations]
    for sid, rid in pairs:
        if rid not in col:
            problems.append(f"用户 {rid} 不是评审专家")
            continue
        if sid not in row:
            problems.append(f"站点 {sid} 不是参评站点")
            continue
        if not eligible[row[sid], col[rid]]:
            why = (rule or NAMES_ONLY).reason(reviewer_key(reviewers[col[rid]]), station_key(stations[row[sid]]))
            problems.append(f"站点 {sid} 与评审 {rid} 利益冲突：{why or stations[row[sid]].get('host_union')}")
        assigned[row[sid]].add(col[rid])
    for s, who in zip(stations, assigned):
        if len(who) != k:
            problems.append(f"站点 {s['id']} 有 {len(who)} 位评审（应为 {k} 位）")
    if stations and not problems:
        taking = np.flatnonzero(eligible.any(axis=0))
        index = {int(j): r for r, j in enumerate(taking)}
        state = _Loads(eligible[:, taking], [{index[j] for j in who} for who in assigned])
        chain = state.improving()
        if chain is not None:
            a, b = reviewers[taking[chain[0]]], reviewers[taking[chain[-1]]]
            problems.append(f"评审工作量还可以更均衡：{_name(a)} 评 {int(state.loads[chain[0]])} 个，"
                            f"{_name(b)} 只评 {int(state.loads[chain[-1]])} 个，前者的站点可以转给后者")
    return problems
