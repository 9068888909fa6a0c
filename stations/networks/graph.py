"""The routing engine: join points to streets, and shortest paths from all stations at once.

Travel is from a place to a station (a rider goes to the station), so the graph kept for
coverage is the *reverse* of travel: an edge ``b → a`` for every segment that may be
travelled ``a → b``.  Stations are added for each question: the segment a station joins
is split at the station's point (so places on the same segment reach it directly, not
round a corner and back), and the station is a node linked to that point by its joining
distance.  ``scipy.sparse.csgraph.dijkstra`` from every station node at once with
``min_only=True`` gives, for every node, the metres to its nearest station and which
station that is.

Double coverage needs the second nearest *distinct* station.  A second Dijkstra gives it
exactly: seed every node ``w`` with ``d1(u) + w(u, w)`` over the edges ``u → w`` whose
ends have different nearest stations, and run from all seeds at once (through one extra
node).  Any such seed is the length of a walk from a station other than ``w``'s nearest
or is bounded below by one (``d1(w) ≤ d1(u) + w(u, w)``), so it never undercuts the
second distance; and the shortest path from the second station crosses such an edge
where it first leaves its own station's region, so it is found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .build import MAX_SNAP_M

__all__ = ["StreetGraph", "Snap", "Solved"]

_EPS = 1e-6  # csgraph drops explicit zeros: every edge weighs at least this (metres)


@dataclass
class Snap:
    """Where points join the network: segment (-1: none within MAX_SNAP_M), fraction along
    it from ``u`` to ``v``, and the straight-line metres to it."""

    edge: np.ndarray
    t: np.ndarray
    dist: np.ndarray


@dataclass
class Solved:
    """Metres from every node of the augmented graph to its nearest and second nearest
    station (``d1``, ``d2``), and the nearest one's position in the station arrays (``s1``)."""

    d1: np.ndarray
    d2: np.ndarray
    s1: np.ndarray
    st_edge: np.ndarray   # stations' segment, sorted by (edge, t); -1 rows dropped
    st_t: np.ndarray
    st_node: np.ndarray   # split node of each sorted station
    st_keys: np.ndarray   # edge * 2 + t, sorted, to find the piece a place lies on


def _csr(rows, cols, weights, n):
    """CSR of the edges, keeping the lightest of parallel edges (a sum would be wrong)."""
    key = rows.astype(np.int64) * n + cols
    order = np.argsort(key, kind="stable")
    key, rows, cols, weights = key[order], rows[order], cols[order], weights[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    if not first.all():  # parallel segments: the shortest counts
        starts = np.flatnonzero(first)
        weights = np.minimum.reduceat(weights, starts)
        rows, cols = rows[starts], cols[starts]
    weights = np.maximum(weights, _EPS)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((weights, cols.astype(np.int32), indptr), shape=(n, n))


_PIECE_M = 30.0  # segments are cut into pieces this long at most for the nearest-street search


class StreetGraph:
    """One mode's network, ready to route on (loaded once per process, see ``store``)."""

    def __init__(self, net, meta: dict):
        self.net, self.meta = net, meta
        self.name = meta.get("name", "")
        self.n = len(net.x)
        crs = pyproj.CRS.from_proj4(meta["proj4"])
        self._fwd_proj = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inv_proj = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        self.extent = shapely.Polygon(meta["extent"])
        shapely.prepare(self.extent)
        self._tree = None
        self._node_tree = None
        self._travel = None

    # --- geometry -------------------------------------------------------------------

    def to_xy(self, lons, lats):
        x, y = self._fwd_proj.transform(np.asarray(lons, float), np.asarray(lats, float))
        return np.asarray(x, float), np.asarray(y, float)

    def to_lonlat(self, x, y):
        lon, lat = self._inv_proj.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon, float), np.asarray(lat, float)

    def covers(self, lons, lats) -> np.ndarray:
        """Whether WGS-84 points lie within the network's extent (its streets' convex hull)."""
        return shapely.contains_xy(self.extent, np.asarray(lons, float), np.asarray(lats, float))

    def _pieces(self):
        """Pieces of segments (≤ _PIECE_M), their midpoints in a KD-tree: the nearest segment
        is among the pieces whose midpoint is within its distance plus half a piece."""
        if self._tree is None:
            net = self.net
            m = np.maximum(1, np.ceil(net.length / _PIECE_M)).astype(np.int64)
            parent = np.repeat(np.arange(len(m)), m)
            first = np.repeat(np.cumsum(m) - m, m)
            k = np.arange(len(parent)) - first
            mid = (k + 0.5) / m[parent]
            dx, dy = net.x[net.v] - net.x[net.u], net.y[net.v] - net.y[net.u]
            cx = net.x[net.u][parent] + mid * dx[parent]
            cy = net.y[net.u][parent] + mid * dy[parent]
            half = float((net.length / m).max()) / 2 if len(m) else 0.0
            self._tree = (cKDTree(np.column_stack([cx, cy])), parent.astype(np.int32), half)
        return self._tree

    def _exact(self, x, y, seg):
        """(t, distance) from points to segments ``seg`` (arrays of the same shape)."""
        net = self.net
        ax, ay = net.x[net.u[seg]], net.y[net.u[seg]]
        dx, dy = net.x[net.v[seg]] - ax, net.y[net.v[seg]] - ay
        dd = dx * dx + dy * dy
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / np.where(dd > 0, dd, 1), 0, 1)
        return t, np.hypot(ax + t * dx - x, ay + t * dy - y)

    def snap(self, x, y) -> Snap:
        """Join points (metres) to the nearest point of the nearest segment within MAX_SNAP_M."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        edge = np.full(len(x), -1, np.int64)
        t = np.zeros(len(x))
        dist = np.full(len(x), np.inf)
        if not len(x) or not len(self.net.u):
            return Snap(edge, t, dist)
        tree, parent, half = self._pieces()
        k = min(16, tree.n)
        bound = MAX_SNAP_M + half
        mid_d, idx = tree.query(np.column_stack([x, y]), k=k, distance_upper_bound=bound,
                                workers=-1 if len(x) > 5000 else 1)  # threads cost more than a few points
        mid_d, idx = mid_d.reshape(len(x), k), idx.reshape(len(x), k)
        found = idx < tree.n
        seg = np.where(found, parent[np.minimum(idx, tree.n - 1)], 0)
        tt, dd = self._exact(x[:, None], y[:, None], seg)
        dd = np.where(found, dd, np.inf)
        best = np.argmin(dd, axis=1)
        rows = np.arange(len(x))
        d_best = dd[rows, best]
        edge_best, t_best = seg[rows, best], tt[rows, best]
        # a piece not among the k may still hold a nearer point when the k-th midpoint is
        # close: look at every piece within reach for those (few) points
        unsure = np.flatnonzero(found[:, -1] & (d_best > mid_d[:, -1] - half) & (mid_d[:, -1] - half <= MAX_SNAP_M))
        for i in unsure:
            near = np.asarray(tree.query_ball_point([x[i], y[i]], min(d_best[i], MAX_SNAP_M) + half), dtype=np.int64)
            if len(near):
                segs = parent[near]
                ti, di = self._exact(x[i], y[i], segs)
                j = int(np.argmin(di))
                if di[j] < d_best[i]:
                    d_best[i], edge_best[i], t_best[i] = di[j], segs[j], ti[j]
        ok = d_best <= MAX_SNAP_M
        edge[ok], t[ok], dist[ok] = edge_best[ok], t_best[ok], d_best[ok]
        return Snap(edge, t, dist)

    # --- from all stations at once ----------------------------------------------------

    def augmented(self, stations: Snap):
        """The graph (reverse of travel) with the stations joined: each station's segment split
        at its point (node ``n + i``) and the station a node (``n + k + i``) linked to it.

        Returns (csr, order, se, stt, split, station_node): ``order`` the joined stations'
        positions in the caller's arrays, sorted by (segment, fraction); ``se``/``stt`` their
        segment and fraction in that order.
        """
        net, n = self.net, self.n
        ok = np.flatnonzero(stations.edge >= 0)
        order = ok[np.lexsort((stations.t[ok], stations.edge[ok]))]
        se, stt, sd = stations.edge[order], stations.t[order], stations.dist[order]
        k = len(order)
        split = n + np.arange(k)              # the point on the segment
        station_node = n + k + np.arange(k)   # the station itself
        size = n + 2 * k
        held = np.zeros(len(net.u), bool)
        held[se] = True
        first = np.ones(k, bool)
        first[1:] = se[1:] != se[:-1]
        last = np.ones(k, bool)
        last[:-1] = se[1:] != se[:-1]
        # pieces of split segments: (prev, split) for each station, and (last split, v)
        length = net.length[se]
        a = np.where(first, net.u[se], np.roll(split, 1))
        a_t = np.where(first, 0.0, np.roll(stt, 1))
        pa, pb = np.concatenate([a, split[last]]), np.concatenate([split, net.v[se[last]]])
        plen = np.concatenate([(stt - a_t) * length, (1 - stt[last]) * length[last]])
        pe = np.concatenate([se, se[last]])
        keep = ~held
        U = np.concatenate([net.u[keep], pa]).astype(np.int64)
        V = np.concatenate([net.v[keep], pb]).astype(np.int64)
        L = np.concatenate([net.length[keep], plen])
        F = np.concatenate([net.fwd[keep], net.fwd[pe]])
        B = np.concatenate([net.bwd[keep], net.bwd[pe]])
        # reverse of travel: travel u → v (fwd) is the edge v → u here
        rows = np.concatenate([V[F], U[B], station_node])
        cols = np.concatenate([U[F], V[B], split])
        weights = np.concatenate([L[F], L[B], sd])
        return _csr(rows, cols, weights, size), order, se, stt, split, station_node

    def solve(self, stations: Snap, limit: float = np.inf) -> Solved:
        """Nearest and second-nearest station metres for every node (stations as snapped).

        ``limit`` bounds the second search (only distances within it are needed there).
        """
        n = self.n
        graph, order, se, stt, split, station_node = self.augmented(stations)
        k, size = len(order), graph.shape[0]
        if k == 0:
            inf = np.full(size, np.inf)
            return Solved(inf, inf.copy(), np.full(size, -1), se, stt, split, se * 2.0 + stt)
        d1, _, src = dijkstra(graph, directed=True, indices=station_node, min_only=True,
                              return_predecessors=True)
        s1 = np.where(src >= 0, src - (n + k), -1)
        s1 = np.where(s1 >= 0, order[np.clip(s1, 0, k - 1)], -1)  # back to the caller's positions
        d2 = self._second(graph, d1, s1, limit)
        return Solved(d1, d2, s1, se, stt, split, se * 2.0 + stt)

    @staticmethod
    def _second(graph, d1, s1, limit):
        size = graph.shape[0]
        rows = np.repeat(np.arange(size), np.diff(graph.indptr))
        cols = graph.indices
        cross = (s1[rows] != s1[cols]) & (s1[rows] >= 0) & np.isfinite(d1[rows])
        seed_at = cols[cross]
        seed = d1[rows[cross]] + graph.data[cross]
        within = seed <= limit
        seed_at, seed = seed_at[within], seed[within]
        if not len(seed):
            return np.full(size, np.inf)
        best = np.full(size, np.inf)
        np.minimum.at(best, seed_at, seed)
        at = np.flatnonzero(np.isfinite(best))
        indptr = np.append(graph.indptr, graph.indptr[-1] + len(at))
        aug = sp.csr_matrix((np.concatenate([graph.data, np.maximum(best[at], _EPS)]),
                             np.concatenate([graph.indices, at.astype(np.int32)]), indptr),
                            shape=(size + 1, size + 1))
        d2 = dijkstra(aug, directed=True, indices=size, limit=limit)
        return d2[:size]

    def place_metres(self, solved: Solved, places: Snap):
        """(d1, s1, d2) of places: metres to the nearest station (and which), to the second.

        A place reaches its segment's ends (or the split points of stations on it) along
        the segment, where travel allows; ``inf`` / -1 where none is reachable.
        """
        n = len(places.edge)
        d1 = np.full(n, np.inf)
        d2 = np.full(n, np.inf)
        s1 = np.full(n, -1, np.int64)
        on, a_node, b_node, to_a, to_b = self.ends(solved, places)
        if not len(on):
            return d1, s1, d2
        da1, db1 = to_a + solved.d1[a_node], to_b + solved.d1[b_node]
        da2, db2 = to_a + solved.d2[a_node], to_b + solved.d2[b_node]
        sa, sb = solved.s1[a_node], solved.s1[b_node]
        use_a = da1 <= db1
        best = np.where(use_a, da1, db1)
        station = np.where(np.isfinite(best), np.where(use_a, sa, sb), -1)
        # the second: the other end's nearest if it is another station, else its second
        other_a = np.where(sb != sa, db1, db2)   # when a holds the nearest
        other_b = np.where(sa != sb, da1, da2)
        second = np.where(use_a, np.minimum(da2, other_a), np.minimum(db2, other_b))
        d1[on], s1[on], d2[on] = best, station, second
        return d1, s1, d2

    def ends(self, joined, places: Snap):
        """Where joined places leave their segment: (on, a_node, b_node, to_a, to_b) — the
        places on a segment, the nodes on either side of each along it (the segment's ends, or
        the split points of stations joined to it, from ``joined``: a Solved or any object with
        ``st_keys``, ``st_edge``, ``st_node``, ``st_t``) and the metres to them (``inf`` where
        travel does not allow that way)."""
        net = self.net
        on = np.flatnonzero(places.edge >= 0)
        e, t, dist = places.edge[on], places.t[on], places.dist[on]
        length = net.length[e]
        a_node, b_node = net.u[e].astype(np.int64), net.v[e].astype(np.int64)
        a_t, b_t = np.zeros(len(on)), np.ones(len(on))
        keys = joined.st_keys
        if len(keys):
            j = np.searchsorted(keys, e * 2.0 + t, side="right")
            left = (j > 0) & (joined.st_edge[np.clip(j - 1, 0, None)] == e)
            right = (j < len(keys)) & (joined.st_edge[np.clip(j, 0, len(keys) - 1)] == e)
            a_node = np.where(left, joined.st_node[np.clip(j - 1, 0, None)], a_node)
            a_t = np.where(left, joined.st_t[np.clip(j - 1, 0, None)], a_t)
            b_node = np.where(right, joined.st_node[np.clip(j, 0, len(keys) - 1)], b_node)
            b_t = np.where(right, joined.st_t[np.clip(j, 0, len(keys) - 1)], b_t)
        to_a = np.where(net.bwd[e], dist + (t - a_t) * length, np.inf)  # travel towards u
        to_b = np.where(net.fwd[e], dist + (b_t - t) * length, np.inf)
        return on, a_node, b_node, to_a, to_b

    # --- for one rider ------------------------------------------------------------------

    def travel_graph(self):
        """CSR in the direction of travel (u → v where fwd), for single-rider searches."""
        if self._travel is None:
            net = self.net
            u, v = net.u.astype(np.int64), net.v.astype(np.int64)
            rows = np.concatenate([u[net.fwd], v[net.bwd]])
            cols = np.concatenate([v[net.fwd], u[net.bwd]])
            weights = np.concatenate([net.length[net.fwd], net.length[net.bwd]])
            self._travel = _csr(rows, cols, weights, self.n)
        return self._travel

    def node_tree(self) -> cKDTree:
        if self._node_tree is None:
            self._node_tree = cKDTree(np.column_stack([self.net.x, self.net.y]))
        return self._node_tree
