"""Coverage figures: how much of an area and of its demand lies within the service circle.

Everything runs on arrays.  Counting the stations within the radius of every grid
cell stamps each station's disc onto the grid (a precomputed block of offsets,
distances measured exactly from the station to each cell centre); when discs are
large next to the cells, a KD-tree query of the cells (k = 2, bounded by the
radius) does the same job faster.  The distance from each cell to its nearest
station comes from a Euclidean distance transform of the grid seeded with the
stations' cells, refined to the seeded station (exact to within one cell; cells
whose nearest station may lie beyond the padded grid are asked of a KD-tree).
Demand points (an uploaded layer) are asked of a KD-tree directly, exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .grid import Area, Circle

__all__ = ["StationSet", "DemandPoints", "Coverage", "evaluate", "FIGURE_KEYS"]

FIGURE_KEYS = ("stations", "area_km2", "stations_per_km2", "covered_share", "double_covered_share",
               "demand_covered_share", "demand_double_covered_share", "mean_distance_m",
               "p90_distance_m")
_PAIRS_PER_CHUNK = 4_000_000
_STAMP_LIMIT = 20  # stamp while (station, cell) pairs stay below this many per cell


@dataclass
class StationSet:
    """Stations that count, as arrays: ids and WGS-84 lon/lat (names optional)."""

    ids: np.ndarray
    lons: np.ndarray
    lats: np.ndarray
    names: list | None = None

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.lons = np.asarray(self.lons, dtype=float)
        self.lats = np.asarray(self.lats, dtype=float)

    def __len__(self):
        return len(self.ids)

    @classmethod
    def from_points(cls, points) -> "StationSet":
        """From (lon, lat) pairs, numbered 1.. (tests, what-if sites)."""
        pts = np.asarray(list(points), dtype=float).reshape(-1, 2)
        return cls(np.arange(1, len(pts) + 1), pts[:, 0], pts[:, 1])

    def select(self, mask) -> "StationSet":
        mask = np.asarray(mask)
        names = [self.names[i] for i in np.flatnonzero(mask)] if self.names is not None else None
        return StationSet(self.ids[mask], self.lons[mask], self.lats[mask], names)

    def without(self, ids) -> "StationSet":
        return self.select(~np.isin(self.ids, np.asarray(list(ids), dtype=np.int64)))

    def plus(self, lons, lats, first_id: int = -1) -> "StationSet":
        """Add sites (what-if); they get negative ids -1, -2, …"""
        lons, lats = np.atleast_1d(np.asarray(lons, float)), np.atleast_1d(np.asarray(lats, float))
        new_ids = first_id - np.arange(len(lons))
        names = None if self.names is None else self.names + [f"新增站点 {i + 1}" for i in range(len(lons))]
        return StationSet(np.concatenate([self.ids, new_ids]), np.concatenate([self.lons, lons]),
                          np.concatenate([self.lats, lats]), names)


@dataclass
class DemandPoints:
    """A demand layer: WGS-84 points with weights (order pick-ups, rider pings…)."""

    lons: np.ndarray
    lats: np.ndarray
    weights: np.ndarray
    name: str = ""

    def __post_init__(self):
        self.lons = np.asarray(self.lons, dtype=float)
        self.lats = np.asarray(self.lats, dtype=float)
        self.weights = np.asarray(self.weights, dtype=float)


@dataclass
class Sites:
    """Where demand is, and how it is covered: one entry per cell or demand point."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    district: np.ndarray
    count: np.ndarray = field(default=None)     # stations within the radius (capped at 255)
    single: np.ndarray = field(default=None)    # the only covering station (index), else -1
    distance: np.ndarray = field(default=None)  # metres to the nearest station


@dataclass
class Coverage:
    """The result of :func:`evaluate`: cells and demand sites with their coverage."""

    area: Area
    circle: Circle
    stations: StationSet
    station_x: np.ndarray
    station_y: np.ndarray
    station_district: np.ndarray
    cells: Sites
    sites: Sites
    uniform: bool
    demand_name: str = ""
    graph: object = None          # a networks.StreetGraph when measured along streets
    outside_share: np.ndarray = None  # per district, then overall: area outside the network's extent
    along: dict = None  # networks: {"solved", "reach_m", "kept" (area cells measured), "snaps" (the sites' joins)}

    @property
    def radius_m(self) -> float:
        return self.circle.radius_m

    @property
    def network(self) -> str:
        """The street network's name ("" for circles)."""
        return self.graph.name if self.graph is not None else ""

    def figures(self) -> dict:
        """``{"overall": FIGURES, "districts": [{"district": name, **FIGURES}, …]}``."""
        return _figures(self)

    def criticality(self, limit: int = 50) -> list[dict]:
        """Stations ranked by the demand that only they cover (lost if they close).

        Returns dicts with ``station_id``, ``name`` (when known), ``district``,
        ``demand_only`` (km² for uniform demand, else layer weight) and ``share``.
        """
        s = self.sites
        alone = s.single >= 0
        n = len(self.stations)
        only = np.bincount(s.single[alone], weights=s.weight[alone], minlength=n) if n else np.zeros(0)
        total = float(s.weight.sum()) or 1.0
        order = np.argsort(-only, kind="stable")
        order = order[only[order] > 0][:limit]
        names = self.stations.names
        return [{"station_id": int(self.stations.ids[i]),
                 "name": names[i] if names is not None else None,
                 "district": self.area.names[self.station_district[i]] if self.station_district[i] >= 0 else None,
                 "demand_only": float(only[i]), "share": float(only[i] / total)} for i in order]


def _project(area, stations):
    if len(stations) == 0:
        return np.empty(0), np.empty(0)
    return area.to_xy(stations.lons, stations.lats)


def evaluate(area: Area, stations: StationSet, circle: Circle,
             demand: DemandPoints | None = None, *, distances: bool = True) -> Coverage:
    """Count the stations within the service circle of every cell and demand point.

    Parameters
    ----------
    area : Area
        The districts on their grid.
    stations : StationSet
        The stations that count (the caller filters: active, open at a time…).
        Stations outside the area cover the parts of it within their radius.
    circle : Circle
        The service circle; its ``radius_m`` is in metres.
    demand : DemandPoints, optional
        A demand layer; uniform over the area when not given (each cell weighs
        its area in km²).  Points outside every district are left out.
    distances : bool
        Also measure the distance to the nearest station (for mean and p90).

    Returns
    -------
    Coverage
    """
    r = circle.radius_m
    sx, sy = _project(area, stations)
    st_district = area.district_of_lonlat_exact(stations.lons, stations.lats)
    count, single = _cell_counts(area, sx, sy, r)
    cell_w = np.full(len(area.inside), area.cell_m ** 2 / 1e6)
    cells = Sites(None, None, cell_w, area.district, count, single)
    if demand is None:
        sites = cells
        if distances:
            cells.distance = _cell_distances(area, sx, sy, r)
    else:
        x, y = area.to_xy(demand.lons, demand.lats)
        district = area.district_of_xy(x, y)
        keep = district >= 0
        sites = Sites(x[keep], y[keep], demand.weights[keep], district[keep])
        sites.count, sites.single, sites.distance = _point_counts(sx, sy, sites.x, sites.y, r)
    return Coverage(area, circle, stations, sx, sy, st_district, cells, sites, demand is None,
                    demand.name if demand is not None else "")


# --- counting ---------------------------------------------------------------------

def _disc_offsets(r, s):
    """Cell offsets (di, dj) around a point in cell (0, 0): those whose centre is within r
    wherever the point lies in its cell (``sure``), and those that may be (``ring``)."""
    R = int(math.ceil(r / s)) + 1
    di, dj = np.meshgrid(np.arange(-R, R + 1), np.arange(-R, R + 1))
    di, dj = di.ravel(), dj.ravel()
    near = (np.maximum(np.abs(di) - 1, 0) ** 2 + np.maximum(np.abs(dj) - 1, 0) ** 2) * s * s <= r * r
    sure = ((np.abs(di) + 1) ** 2 + (np.abs(dj) + 1) ** 2) * s * s <= r * r
    return (di[sure], dj[sure]), (di[near & ~sure], dj[near & ~sure]), R


def _cell_counts(area, sx, sy, r):
    """(count, single) per inside cell: stations within r, and the only one where count == 1."""
    n_cells = len(area.inside)
    if len(sx) == 0:
        return np.zeros(n_cells, np.uint8), np.full(n_cells, -1, np.int32)
    s, nx, ny = area.cell_m, area.nx, area.ny
    (si, sj), (ri, rj), R = _disc_offsets(r, s)
    # Only stations whose disc reaches the grid.
    reach = ((sx >= area.x0 - r) & (sx <= area.x0 + nx * s + r)
             & (sy >= area.y0 - r) & (sy <= area.y0 + ny * s + r))
    idx = np.flatnonzero(reach)
    if len(idx) * (len(si) + len(ri)) > _STAMP_LIMIT * n_cells:
        return _cell_counts_tree(area, sx, sy, r)
    ci = np.floor((sx[idx] - area.x0) / s).astype(np.int64)
    cj = np.floor((sy[idx] - area.y0) / s).astype(np.int64)
    # Stations whose whole block of offsets lies on the grid need no bounds checks, and
    # the sure offsets need no distance: one addition per (station, cell) pair.
    safe = (ci >= R) & (ci < nx - R) & (cj >= R) & (cj < ny - R)
    flats, owners = [], []
    base = cj[safe] * nx + ci[safe]
    flats.append((base[:, None] + (sj * nx + si)[None, :]).ravel())
    owners.append(np.repeat(idx[safe], len(si)))
    r2 = r * r

    def exact(sel, di, dj, check_bounds):
        step = max(1, _PAIRS_PER_CHUNK // max(len(di), 1))
        for a in range(0, len(sel), step):
            b = sel[a:a + step]
            col = ci[b, None] + di[None, :]
            row = cj[b, None] + dj[None, :]
            dx = area.x0 + (col + 0.5) * s - sx[idx[b], None]
            dy = area.y0 + (row + 0.5) * s - sy[idx[b], None]
            ok = dx * dx + dy * dy <= r2
            if check_bounds:
                ok &= (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
            flats.append((row * nx + col)[ok])
            owners.append(np.broadcast_to(idx[b, None], ok.shape)[ok])

    exact(np.flatnonzero(safe), ri, rj, False)
    all_i, all_j = np.concatenate([si, ri]), np.concatenate([sj, rj])
    exact(np.flatnonzero(~safe), all_i, all_j, True)
    flat = np.concatenate(flats)
    owner = np.concatenate(owners).astype(np.float64)
    size = nx * ny
    full_count = np.bincount(flat, minlength=size)[area.inside]
    # where exactly one station covers a cell, the sum of covering indices is that index
    full_sum = np.bincount(flat, weights=owner, minlength=size)[area.inside]
    single = np.where(full_count == 1, full_sum, -1).astype(np.int32)
    return np.minimum(full_count, 255).astype(np.uint8), single


def _cell_counts_tree(area, sx, sy, r):
    count, single, _ = _point_counts(sx, sy, area.cell_x, area.cell_y, r, bounded=True)
    return count, single


def _point_counts(sx, sy, x, y, r, bounded=False):
    """(count capped at 2, single, nearest distance) for points, through a KD-tree."""
    n = len(x)
    if len(sx) == 0:
        return np.zeros(n, np.uint8), np.full(n, -1, np.int32), np.full(n, np.inf)
    tree = cKDTree(np.column_stack([sx, sy]))
    k = min(2, len(sx))
    kwargs = {"distance_upper_bound": r * (1 + 1e-12)} if bounded else {}
    d, i = tree.query(np.column_stack([x, y]), k=k, workers=-1, **kwargs)
    d, i = d.reshape(n, k), i.reshape(n, k)
    within = d <= r
    count = within.sum(axis=1).astype(np.uint8)
    single = np.where(count == 1, i[:, 0], -1).astype(np.int32)
    return count, single, d[:, 0]


def _cell_distances(area, sx, sy, r):
    """Metres from each inside cell's centre to the nearest station (to within a cell)."""
    n_cells = len(area.inside)
    if len(sx) == 0:
        return np.full(n_cells, np.inf)
    s = area.cell_m
    pad = int(math.ceil(max(2 * r, 2000.0) / s))
    nx, ny = area.nx + 2 * pad, area.ny + 2 * pad
    gx0, gy0 = area.x0 - pad * s, area.y0 - pad * s
    ci = np.floor((sx - gx0) / s).astype(np.int64)
    cj = np.floor((sy - gy0) / s).astype(np.int64)
    ok = (ci >= 0) & (ci < nx) & (cj >= 0) & (cj < ny)
    i_cell = area.inside % area.nx + pad
    j_cell = area.inside // area.nx + pad
    cx, cy = area.cell_x, area.cell_y
    if ok.any():
        seed_station = np.full((ny, nx), -1, dtype=np.int32)
        seed_station[cj[ok], ci[ok]] = np.flatnonzero(ok)
        jj, ii = ndimage.distance_transform_edt(seed_station < 0, return_distances=False,
                                                return_indices=True)
        nearest = seed_station[jj[j_cell, i_cell], ii[j_cell, i_cell]]
        dist = np.hypot(sx[nearest] - cx, sy[nearest] - cy)
        # a station beyond the padded grid could be nearer than the one found
        edge = np.minimum.reduce([i_cell + 0.5, nx - i_cell - 0.5, j_cell + 0.5, ny - j_cell - 0.5]) * s
        check = np.flatnonzero(dist > edge)
    else:
        dist = np.full(n_cells, np.inf)
        check = np.arange(n_cells)
    if len(check):
        tree = cKDTree(np.column_stack([sx, sy]))
        dist[check] = tree.query(np.column_stack([cx[check], cy[check]]), k=1, workers=-1)[0]
    return dist


# --- figures ------------------------------------------------------------------------

def _weighted_stats(values, weights, groups, ngroups):
    """(mean, p90) of values weighted, per group and overall (last entry).

    The 90th percentile comes from a histogram of 1 m bins (wider only beyond
    200 km), so it needs no sort: exact to half a bin.
    """
    finite = np.isfinite(values)
    if not finite.all():
        values, weights, groups = values[finite], weights[finite], groups[finite]
    groups = groups.astype(np.int64)
    wsum = np.bincount(groups, weights=weights, minlength=ngroups)
    vsum = np.bincount(groups, weights=weights * values, minlength=ngroups)
    total_w = wsum.sum()
    mean = np.append(np.divide(vsum, wsum, out=np.full(ngroups, np.nan), where=wsum > 0),
                     vsum.sum() / total_w if total_w > 0 else np.nan)
    p90 = np.full(ngroups + 1, np.nan)
    if not len(values) or total_w <= 0:
        return mean, p90
    nbins = int(min(200_000, 20_000_000 // (ngroups + 1)))
    width = max(1.0, float(values.max()) / (nbins - 1))
    b = np.minimum((values / width).astype(np.int64), nbins - 1)
    hist = np.bincount(groups * nbins + b, weights=weights, minlength=ngroups * nbins)
    hist = hist.reshape(ngroups, nbins)
    cum = np.cumsum(np.vstack([hist, hist.sum(axis=0)]), axis=1)
    has = cum[:, -1] > 0
    first = np.argmax(cum >= 0.9 * cum[:, -1:] * (1 - 1e-12), axis=1)
    p90[has] = ((first + 0.5) * width)[has] if width > 1 else first[has] + 0.5
    return mean, p90


def _shares(sites, ngroups):
    g = sites.district.astype(np.int64)
    w = sites.weight
    tot = np.bincount(g, weights=w, minlength=ngroups)
    one = np.bincount(g, weights=w * (sites.count >= 1), minlength=ngroups)
    two = np.bincount(g, weights=w * (sites.count >= 2), minlength=ngroups)
    tot, one, two = np.append(tot, tot.sum()), np.append(one, one.sum()), np.append(two, two.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return tot, one / tot, two / tot


def _clean(value, digits):
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)


def _figures(cov: Coverage) -> dict:
    area = cov.area
    k = len(area.names)
    _, covered, double = _shares(cov.cells, k)
    demand_total, demand_covered, demand_double = _shares(cov.sites, k)
    if cov.sites.distance is not None:
        mean, p90 = _weighted_stats(cov.sites.distance, cov.sites.weight, cov.sites.district, k)
    else:
        mean = p90 = np.full(k + 1, np.nan)
    d = cov.station_district
    stations = np.append(np.bincount(d[d >= 0].astype(np.int64), minlength=k), int((d >= 0).sum()))
    area_km2 = np.append(area.area_km2, area.area_km2.sum())
    rows = []
    for g in range(k + 1):
        rows.append({
            "stations": int(stations[g]),
            "area_km2": _clean(area_km2[g], 3),
            "stations_per_km2": _clean(stations[g] / area_km2[g], 4),
            "covered_share": _clean(covered[g], 4),
            "double_covered_share": _clean(double[g], 4),
            "demand_covered_share": _clean(demand_covered[g], 4),
            "demand_double_covered_share": _clean(demand_double[g], 4),
            "mean_distance_m": _clean(mean[g], 1),
            "p90_distance_m": _clean(p90[g], 1),
            "demand_total": _clean(demand_total[g], 4),
        })
        if cov.outside_share is not None:  # the share of the area the network does not reach
            rows[-1]["outside_network_share"] = _clean(cov.outside_share[g], 4)
    return {"overall": rows[-1],
            "districts": [{"district": name, **row} for name, row in zip(area.names, rows[:-1])]}
