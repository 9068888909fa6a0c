"""Which places each candidate site would serve along the streets (suggestions by network).

A candidate is measured as a station would be (``graph.solve`` / ``place_metres``): it joins
the nearest street it may use, and a place is within its reach when the way from the place
along the streets to it is at most ``reach`` metres.  Every candidate is joined to the
graph at once (its segment split at its point, like stations), then candidates are taken
a few at a time, close together: the way of length ``L`` from a candidate stays within
``L`` of it in a straight line, so a Dijkstra over the nodes within ``reach`` of the group's
candidates (bounded by ``reach``) gives every way that counts, exactly.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .graph import Snap, StreetGraph
from .nearest import _subgraph

__all__ = ["reach_pairs"]

_GROUP = 48  # candidates per Dijkstra


def _node_xy(graph: StreetGraph, se, stt, cand_x, cand_y):
    """Coordinates of every node of the augmented graph: streets', split points', candidates'."""
    net = graph.net
    ux, uy, vx, vy = net.x[net.u[se]], net.y[net.u[se]], net.x[net.v[se]], net.y[net.v[se]]
    return (np.concatenate([net.x, ux + stt * (vx - ux), cand_x]),
            np.concatenate([net.y, uy + stt * (vy - uy), cand_y]))


def reach_pairs(graph: StreetGraph, cand_x, cand_y, places: Snap, reach: float):
    """(candidate, place) pairs where the place reaches the candidate within ``reach`` metres.

    ``cand_x``/``cand_y`` are candidates in the graph's metres; ``places`` are joined
    places.  Returns two int64 arrays (candidate positions, place positions).
    """
    cand_x, cand_y = np.asarray(cand_x, float), np.asarray(cand_y, float)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64))
    snaps = graph.snap(cand_x, cand_y)
    if not (snaps.edge >= 0).any() or not (places.edge >= 0).any():
        return empty
    csr, order, se, stt, split, station_node = graph.augmented(snaps)
    joined = SimpleNamespace(st_keys=se * 2.0 + stt, st_edge=se, st_node=split, st_t=stt)
    on, a_node, b_node, to_a, to_b = graph.ends(joined, places)
    nx, ny = _node_xy(graph, se, stt, cand_x[order], cand_y[order])
    tree = cKDTree(np.column_stack([nx, ny]))
    # places by the nodes they leave by: each place's ways start at a_node or b_node
    size = csr.shape[0]
    local = np.full(size, -1, np.int64)
    # close candidates together: by a grid of cells about the reach wide
    cell = max(reach, 200.0)
    ox, oy = cand_x[order], cand_y[order]
    key = np.floor(ox / cell).astype(np.int64) * 1_000_003 + np.floor(oy / cell).astype(np.int64)
    by_cell = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[by_cell])) + 1
    groups = [g[i:i + _GROUP] for g in np.split(by_cell, bounds) for i in range(0, len(g), _GROUP)]
    out_c, out_p = [], []
    for group in groups:
        near = tree.query_ball_point(np.column_stack([ox[group], oy[group]]), reach + 1e-6)
        ball = np.unique(np.concatenate([np.asarray(b, np.int64) for b in near]))
        local[ball] = np.arange(len(ball))
        sub = _subgraph(csr, ball, local)
        dist = dijkstra(sub, directed=True, indices=local[station_node[group]], limit=reach)
        la, lb = local[a_node], local[b_node]
        mine = np.flatnonzero((la >= 0) | (lb >= 0))
        local[ball] = -1
        if not len(mine):
            continue
        pad = np.full((len(group), 1), np.inf)
        dist = np.hstack([dist, pad])  # column -1: a node outside the ball (never within reach)
        via_a = to_a[mine] + dist[:, la[mine]]
        via_b = to_b[mine] + dist[:, lb[mine]]
        c, p = np.nonzero(np.minimum(via_a, via_b) <= reach)
        out_c.append(order[group][c])
        out_p.append(on[mine][p])
    if not out_c:
        return empty
    return np.concatenate(out_c).astype(np.int64), np.concatenate(out_p).astype(np.int64)
