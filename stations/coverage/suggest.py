"""Suggested sites: the maximal covering location problem, solved greedily.

Pick p candidate sites one at a time, each the one that adds the most demand not
yet served.  Gains are kept for every candidate and updated incrementally: when a
pick serves a demand site, that site's weight is taken off the gain of every
other candidate that covers it (and, in double-coverage mode, a site that now
needs one more station is added to theirs).  Greedy reaches at least 1 − 1/e of
the optimum and, on real layouts, within a few percent of it (a test compares it
with the exact answer of PySAL ``spopt``).

Along a street network a candidate's reach is measured as a station's is (it joins the
nearest street it may use; ``networks.reach``), at the rounded point the suggestion
reports, so a suggested site added as a station covers exactly what it claimed.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .grid import CoverageError

__all__ = ["greedy_mclp", "grid_candidates", "suggest_sites", "suggestions_geojson", "shortfall_note", "MAX_P",
           "MAX_CANDIDATES", "SUGGESTION_COLUMNS"]

MAX_P = 500
MAX_CANDIDATES = 50_000
SUGGESTION_COLUMNS = ["rank", "lon", "lat", "district", "name", "added_demand", "cumulative_demand",
                      "cumulative_share"]


def _csr(keys, values, n):
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr, values[order]


def _gather(ptr, data, rows):
    """Concatenated entries of the given CSR rows, and which row each came from."""
    starts, ends = ptr[rows], ptr[rows + 1]
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=data.dtype), np.empty(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(rows)), lens)
    pos = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
    return data[pos], owner


def greedy_mclp(weights, need, site_of_pair, candidate_of_pair, n_candidates: int, p: int, priority=None):
    """Greedy maximal covering with incremental gain updates.

    Parameters
    ----------
    weights : array of float
        Demand of each site.
    need : array of int
        How many more covering sites each demand site needs to count (0, 1 or 2).
    site_of_pair, candidate_of_pair : arrays of int
        The pairs (site, candidate) where the candidate covers the site.
    n_candidates : int
    p : int
        Sites to choose.
    priority : array of float, optional
        Breaks ties between candidates adding the same demand (within 1e-9 of it): the
        highest wins (else the first).  Under uniform demand every full disc of
        uncovered land ties, so without it the picks follow the grid's order.

    Returns
    -------
    chosen : list of int
        Candidate positions, in the order picked (fewer than p when nothing more helps).
    gains : list of float
        The demand each pick added.
    """
    weights = np.asarray(weights, dtype=float)
    need = np.array(need, dtype=np.int64)
    sites = np.asarray(site_of_pair, dtype=np.int64)
    cands = np.asarray(candidate_of_pair, dtype=np.int64)
    by_cand = _csr(cands, sites, n_candidates)
    by_site = _csr(sites, cands, len(weights))
    counts = need[sites] == 1
    gain = np.bincount(cands[counts], weights=weights[sites[counts]], minlength=n_candidates)
    taken = np.zeros(n_candidates, dtype=bool)
    priority = None if priority is None else np.asarray(priority, dtype=float)
    chosen, gains = [], []
    for _ in range(int(p)):
        open_gain = np.where(taken, -np.inf, gain)
        j = int(np.argmax(open_gain)) if n_candidates else -1
        if j < 0 or open_gain[j] <= 1e-12:
            break
        if priority is not None:
            ties = np.flatnonzero(open_gain >= open_gain[j] * (1 - 1e-9))
            j = int(ties[np.argmax(priority[ties])])
        chosen.append(j)
        gains.append(float(gain[j]))
        taken[j] = True
        served, _ = _gather(*by_cand, np.array([j]))
        served = served[need[served] > 0]
        need[served] -= 1
        for rows, sign in ((served[need[served] == 0], -1.0), (served[need[served] == 1], 1.0)):
            if len(rows):
                others, owner = _gather(*by_site, rows)
                np.add.at(gain, others, sign * weights[rows][owner])
    return chosen, gains


def grid_candidates(area, spacing_m: float = 1000.0):
    """Candidate sites on a regular grid inside the area: (x, y) in metres."""
    if not 100 <= spacing_m <= 20_000:
        raise CoverageError("spacing_m", f"候选点间距 {spacing_m:g} 米超出范围 100–20000 米")
    step = max(1, int(round(spacing_m / area.cell_m)))
    i, j = area.inside % area.nx, area.inside // area.nx
    pick = (i % step == step // 2) & (j % step == step // 2)
    if pick.sum() > MAX_CANDIDATES:
        raise CoverageError("spacing_m", f"候选点过多（{int(pick.sum()):,} 个，上限 {MAX_CANDIDATES:,}）；"
                                         "请加大候选点间距或少选几个区")
    return area.cell_x[pick], area.cell_y[pick]


def _along_streets(coverage, cx, cy, want):
    """(candidate, demand site) pairs where the site reaches the candidate along the streets,
    measured as for a station (the candidate joins the nearest street it may use)."""
    from ..networks.graph import Snap
    from ..networks.reach import reach_pairs

    graph, snaps = coverage.graph, coverage.along["snaps"]
    wanted = Snap(snaps.edge[want], snaps.t[want], snaps.dist[want])
    lon, lat = coverage.area.to_lonlat(cx, cy)
    # measured where the suggestion says it is (its rounded WGS-84 point), so adding the
    # site as a station covers exactly what it claims
    gx, gy = graph.to_xy(np.round(lon, 6), np.round(lat, 6))
    return reach_pairs(graph, gx, gy, wanted, coverage.along["reach_m"])


def suggest_sites(coverage, p: int = 10, *, candidates=None, names=None, double: bool = False,
                  spacing_m: float = 1000.0, near=None) -> dict:
    """Choose p new sites that serve the most demand not yet served.

    Parameters
    ----------
    coverage : Coverage
        The present coverage (its demand and its counts).
    p : int
        How many sites, 1–MAX_P.
    candidates : (lons, lats) arrays in WGS-84, optional
        Uploaded candidate sites; a grid of ``spacing_m`` inside the area otherwise.
    names : list of str, optional
        Names of the uploaded candidates.
    double : bool
        Aim for double coverage: demand counts once it is within reach of two stations.
    near : (lons, lats) arrays in WGS-84, optional
        Where ties go: between candidates adding the same demand, the one nearest these
        points wins (a demand layer's points under uniform demand).  By default the
        demand layer's own points, or the stations under uniform demand.

    Returns
    -------
    dict
        ``sites``: rows of SUGGESTION_COLUMNS (WGS-84); ``objective_total`` (demand
        that could still be gained), ``candidates`` (how many were weighed).
    """
    if not (isinstance(p, int) and 1 <= p <= MAX_P):
        raise CoverageError("p", f"新站点数 p = {p!r} 超出范围 1–{MAX_P}")
    area, sites, r = coverage.area, coverage.sites, coverage.radius_m
    if candidates is None:
        cx, cy = grid_candidates(area, spacing_m)
        names = None
    else:
        lons, lats = (np.asarray(v, dtype=float) for v in candidates)
        if len(lons) > MAX_CANDIDATES:
            raise CoverageError("candidates", f"候选点过多（{len(lons):,} 个，上限 {MAX_CANDIDATES:,}）")
        cx, cy = area.to_xy(lons, lats)
    target = 2 if double else 1
    need = np.maximum(target - sites.count.astype(np.int64), 0)
    want = np.flatnonzero(need > 0)
    sx = sites.x[want] if sites.x is not None else area.cell_x[want]
    sy = sites.y[want] if sites.y is not None else area.cell_y[want]
    if len(want) and len(cx) and coverage.along:
        cand_of_pair, site_of_pair = _along_streets(coverage, cx, cy, want)
    elif len(want) and len(cx):
        pairs = cKDTree(np.column_stack([cx, cy])).sparse_distance_matrix(
            cKDTree(np.column_stack([sx, sy])), r, output_type="ndarray")
        cand_of_pair, site_of_pair = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    else:
        cand_of_pair = site_of_pair = np.empty(0, dtype=np.int64)
    w = sites.weight[want]
    if near is not None:
        px, py = area.to_xy(*(np.asarray(v, dtype=float) for v in near))
    elif not coverage.uniform:
        px, py = sites.x, sites.y
    else:
        px, py = coverage.station_x, coverage.station_y
    priority = -cKDTree(np.column_stack([px, py])).query(np.column_stack([cx, cy]), workers=-1)[0] \
        if len(px) and len(cx) else None
    chosen, gains = greedy_mclp(w, need[want], site_of_pair, cand_of_pair, len(cx), p, priority)
    total = float(sites.weight.sum()) or 1.0
    chosen = np.array(chosen, dtype=np.int64)
    lon, lat = area.to_lonlat(cx[chosen], cy[chosen]) if len(chosen) else (np.empty(0), np.empty(0))
    district = area.district_of_xy(cx[chosen], cy[chosen]) if len(chosen) else np.empty(0, int)
    served = float(sites.weight[sites.count >= target].sum())
    rows, cumulative = [], served
    for k, j in enumerate(chosen):
        cumulative += gains[k]
        rows.append({"rank": k + 1, "lon": round(float(lon[k]), 6), "lat": round(float(lat[k]), 6),
                     "district": area.names[district[k]] if district[k] >= 0 else None,
                     "name": names[j] if names is not None else None,
                     "added_demand": round(gains[k], 4), "cumulative_demand": round(cumulative, 4),
                     "cumulative_share": round(cumulative / total, 4)})
    return {"sites": rows, "objective_total": round(float((w * (need[want] > 0)).sum()), 4),
            "served_before": round(served, 4), "demand_total": round(total, 4),
            "candidates": int(len(cx)), "double": bool(double), "asked": int(p),
            "reaching": int(len(np.unique(cand_of_pair))), "uploaded": candidates is not None,
            "along_streets": bool(coverage.along)}


def shortfall_note(answer: dict, unit: str = "") -> str | None:
    """Why fewer sites than asked were suggested (None when as many as asked, or none:
    the page says why there are none).  Greedy stops when no candidate left adds any
    demand: either every open demand is served, or the rest is out of every candidate's reach."""
    n, asked = len(answer["sites"]), answer.get("asked", 0)
    if n == 0 or n >= asked:
        return None
    what = "仅单覆盖" if answer["double"] else "未覆盖"
    head = f"要求建议 {asked} 个新站点，只建议了 {n} 个："
    added = sum(row["added_demand"] for row in answer["sites"])
    left = answer["objective_total"] - added
    if left <= 1e-6 * max(answer["objective_total"], 1e-9):
        return head + f"这 {n} 个站点已覆盖全部{what}的需求，不需要更多。"
    source = "上传的候选点" if answer.get("uploaded") else "按网格选出的候选点"
    if answer.get("reaching", n) <= n:
        why = f"只有 {answer.get('reaching', n)} 个{source}能覆盖到{what}的需求"
    else:
        why = f"其余{source}能覆盖到的需求，已被这 {n} 个站点覆盖"
    hint = "请上传更多候选点" if answer.get("uploaded") else "可把候选点间距调小再试"
    reach = "沿道路的可达范围" if answer.get("along_streets") else "服务圈"
    return head + f"{why}；剩下 {left:.3f}{unit} {what}的需求不在任何候选点的{reach}内（{hint}）。"


def suggestions_geojson(rows: list[dict], params: dict | None = None) -> dict:
    """Suggested sites as a GeoJSON FeatureCollection of points (WGS-84, RFC 7946), each
    with the suggestion's row as properties (rank, district, name, demand added…); the
    circle's parameters ride along as a foreign member, so a file says what it answers."""
    out = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": row["rank"],
         "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
         "properties": {k: row[k] for k in SUGGESTION_COLUMNS}} for row in rows]}
    if params is not None:
        out["params"] = params
    return out
