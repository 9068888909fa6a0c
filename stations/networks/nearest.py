"""A rider's nearest stations by travel along the streets (``/api/v1/nearest?by=network``).

The straight line is never longer than the way along the streets, so the stations the
KD-tree finds nearest in a straight line are the candidates: their metres along the
streets come from one small Dijkstra over the streets within reach of the rider (every
street a path of length ``L`` uses lies within ``L`` of the rider in a straight line, so
the ball of nodes within ``L`` holds every such path).  When the k-th best along the
streets is no farther than the farthest candidate in a straight line, no other station
can beat it; otherwise the candidates are widened.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .build import MAX_SNAP_M
from .graph import StreetGraph
from .store import list_networks, load_graph

__all__ = ["network_metres", "ranked_by_network", "covering_graph"]

_MAX_REACH_M = 30_000.0  # a rider's search along the streets looks no farther


def covering_graph(folder, lon: float, lat: float, mode: str = "walk", name: str = "") -> StreetGraph | None:
    """The graph of network ``name`` (or the first stored one whose extent holds the point)
    for ``mode``, when it covers (lon, lat); None otherwise."""
    for meta in list_networks(folder):
        if name and meta["name"] != name:
            continue
        if mode not in meta.get("modes", ()):
            continue
        graph = load_graph(folder, meta["name"], mode)
        if graph.covers([lon], [lat])[0]:
            return graph
    return None


_LOCK = threading.Lock()


def _scratch(graph) -> np.ndarray:
    if getattr(graph, "_local", None) is None:
        graph._local = np.full(graph.n, -1, np.int64)
    return graph._local


def _subgraph(csr, ball, local):
    """The rows and columns of ``ball`` (numbered by ``local``) of a CSR graph, quickly:
    the rows' entries gathered directly, columns outside the ball dropped."""
    starts, ends = csr.indptr[ball], csr.indptr[ball + 1]
    counts = ends - starts
    total = int(counts.sum())
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    flat = offsets + np.arange(total)
    cols = local[csr.indices[flat]]
    keep = cols >= 0
    rows = np.repeat(np.arange(len(ball)), counts)[keep]
    indptr = np.zeros(len(ball) + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=len(ball)), out=indptr[1:])
    return sp.csr_matrix((csr.data[flat][keep], cols[keep].astype(np.int32), indptr), shape=(len(ball), len(ball)))


def network_metres(graph: StreetGraph, lon: float, lat: float, st_lons, st_lats, limit: float) -> np.ndarray:
    """Metres along the streets from (lon, lat) to each station (joining lengths included);
    ``inf`` where the rider or the station is farther than 300 m from every street or the
    way is longer than ``limit``."""
    net = graph.net
    n_st = len(st_lons)
    out = np.full(n_st, np.inf)
    rx, ry = graph.to_xy([lon], [lat])
    rider = graph.snap(rx, ry)
    if rider.edge[0] < 0 or not n_st:
        return out
    re, rt, rd = int(rider.edge[0]), float(rider.t[0]), float(rider.dist[0])
    st = graph.snap(*graph.to_xy(st_lons, st_lats))
    ball = np.asarray(graph.node_tree().query_ball_point([rx[0], ry[0]], limit), dtype=np.int64)
    with _LOCK:  # one scratch array per graph maps nodes to the ball's numbering
        local = _scratch(graph)
        local[ball] = np.arange(len(ball))
        try:
            sub = _subgraph(graph.travel_graph(), ball, local)
            e0 = np.where(st.edge >= 0, st.edge, 0)
            a_all, b_all, ra, rb = (local[net.u[e0]], local[net.v[e0]], local[net.u[re]], local[net.v[re]])
        finally:
            local[ball] = -1
    ru, rv, rlen = int(ra), int(rb), float(net.length[re])
    starts, offsets = [], []
    if net.bwd[re] and ru >= 0:  # the rider walks back along the segment to u
        starts.append(ru), offsets.append(rd + rt * rlen)
    if net.fwd[re] and rv >= 0:
        starts.append(rv), offsets.append(rd + (1 - rt) * rlen)
    node_m = np.full(len(ball), np.inf)
    if starts:
        d = dijkstra(sub, directed=True, indices=starts, limit=limit)
        node_m = np.min(np.asarray(d).reshape(len(starts), -1) + np.asarray(offsets)[:, None], axis=0)
    ok = st.edge >= 0
    e = np.where(ok, st.edge, 0)
    a, b = a_all, b_all
    length = net.length[e]
    via_a = np.where(net.fwd[e] & (a >= 0), node_m[np.maximum(a, 0)] + st.t * length, np.inf)
    via_b = np.where(net.bwd[e] & (b >= 0), node_m[np.maximum(b, 0)] + (1 - st.t) * length, np.inf)
    best = np.minimum(via_a, via_b)
    same = ok & (e == re)  # on the rider's own segment: straight along it, if travel allows
    ahead = same & (st.t >= rt) & net.fwd[e]
    behind = same & (st.t <= rt) & net.bwd[e]
    best = np.where(ahead, np.minimum(best, rd + (st.t - rt) * length), best)
    best = np.where(behind, np.minimum(best, rd + (rt - st.t) * length), best)
    out[ok] = best[ok] + st.dist[ok]
    out[out > limit] = np.inf
    return out


def ranked_by_network(graph: StreetGraph, straight_query, coords, lon: float, lat: float, k: int):
    """The k stations nearest along the streets: ``[(hit, metres)]`` nearest first (ties by id).

    ``straight_query(n)`` returns the n nearest in a straight line that pass the
    caller's filters (NearestIndex hits, nearest first); ``coords(hits)`` their WGS-84
    (lons, lats) arrays.
    """
    want = max(4 * k, 20)
    while True:
        hits = straight_query(want)
        if not hits:
            return []
        exhausted = len(hits) < want
        far = hits[-1].distance_m
        # a station farther than ``far`` along the streets cannot be certified this round anyway
        limit = _MAX_REACH_M if exhausted else min(max(1.25 * far, 1000.0), _MAX_REACH_M)
        lons, lats = coords(hits)
        metres = network_metres(graph, lon, lat, lons, lats, limit)
        ranked = sorted((m, h.station_id, h) for h, m in zip(hits, metres) if np.isfinite(m))
        enough = len(ranked) >= k and ranked[k - 1][0] <= far
        if exhausted or enough or limit >= _MAX_REACH_M or want >= 5000:
            return [(h, float(m)) for m, _, h in ranked[:k]]
        want *= 4
