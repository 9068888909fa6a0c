"""Coverage along streets (issue 19): the circle's figures, measured on a street network.

A cell (or demand point) is measured when it lies within the network's extent; it joins
the nearest street it may use (at most 300 m) and is covered when an active station is
within the minutes along the streets, doubly when two are.  Cells outside the extent are
left out of every share (``outside_network_share`` says how much of each district that
is) rather than counted uncovered; a cell inside it but farther than 300 m from every
street counts as uncovered.  The result is a :class:`figures.Coverage`, so figures, gaps,
criticality and what-if read it as they read circles.
"""

from __future__ import annotations

import threading

import numpy as np

from ..networks.graph import StreetGraph
from .figures import Coverage, DemandPoints, Sites, StationSet
from .grid import Area, Circle

__all__ = ["evaluate_network", "overstatement", "reach_m"]

_SNAPS: dict = {}
_LOCK = threading.Lock()


def reach_m(circle: Circle) -> float:
    """Metres of travel within the minutes at the speed (no detour: the streets are the detour)."""
    return circle.minutes / 60.0 * circle.speed * 1000.0


def _cell_snaps(graph: StreetGraph, area: Area):
    """(inside-extent mask, snaps) of the area's cells, cached: the grid is asked often."""
    key = (id(graph), id(area))
    cached = _SNAPS.get(key)
    if cached is not None and cached[0] is graph and cached[1] is area:
        return cached[2], cached[3]
    lon, lat = area.to_lonlat(area.cell_x, area.cell_y)
    inside = graph.covers(lon, lat)
    snaps = graph.snap(*graph.to_xy(lon[inside], lat[inside]))
    with _LOCK:
        if len(_SNAPS) > 8:
            _SNAPS.clear()
        _SNAPS[key] = (graph, area, inside, snaps)
    return inside, snaps


def _measured(graph, solved, snaps, reach):
    d1, s1, d2 = graph.place_metres(solved, snaps)
    count = ((d1 <= reach).astype(np.uint8) + (d2 <= reach).astype(np.uint8))
    single = np.where(count == 1, s1, -1).astype(np.int32)
    return count, single, d1


def evaluate_network(area: Area, stations: StationSet, circle: Circle, graph: StreetGraph,
                     demand: DemandPoints | None = None, *, distances: bool = True) -> Coverage:
    """Coverage of the area's cells (and demand points) along the streets of ``graph``.

    Parameters are those of :func:`figures.evaluate` plus the mode's graph; the circle's
    ``detour`` is not used (travel is measured on the streets).  Stations outside the
    network's reach (farther than 300 m from its streets) cover nothing.
    """
    reach = reach_m(circle)
    sx, sy = area.to_xy(stations.lons, stations.lats) if len(stations) else (np.empty(0), np.empty(0))
    st_district = area.district_of_lonlat_exact(stations.lons, stations.lats)
    solved = graph.solve(graph.snap(*graph.to_xy(stations.lons, stations.lats)), limit=reach)
    inside, snaps = _cell_snaps(graph, area)
    count, single, dist = _measured(graph, solved, snaps, reach)
    keep = np.flatnonzero(inside)
    cells = Sites(area.cell_x[keep], area.cell_y[keep], np.full(len(keep), area.cell_m ** 2 / 1e6),
                  area.district[keep], count, single, dist if distances else None)
    k = len(area.names)
    every = np.bincount(area.district.astype(np.int64), minlength=k).astype(float)
    out = np.bincount(area.district[~inside].astype(np.int64), minlength=k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        outside = np.append(out / every, out.sum() / every.sum())
    if demand is None:
        sites, site_snaps = cells, snaps
    else:
        x, y = area.to_xy(demand.lons, demand.lats)
        district = area.district_of_xy(x, y)
        ok = (district >= 0) & graph.covers(demand.lons, demand.lats)
        snaps_d = graph.snap(*graph.to_xy(demand.lons[ok], demand.lats[ok]))
        sites = Sites(x[ok], y[ok], demand.weights[ok], district[ok], *_measured(graph, solved, snaps_d, reach))
        site_snaps = snaps_d
    return Coverage(area, circle, stations, sx, sy, st_district, cells, sites, demand is None,
                    demand.name if demand is not None else "", graph=graph, outside_share=outside,
                    along={"solved": solved, "reach_m": reach, "kept": keep, "snaps": site_snaps})


def overstatement(circles: Coverage, streets: Coverage) -> list[dict]:
    """Per district, then 全部: how much the circles overstate coverage where the network
    measures — the circles' covered share of the cells the network measures minus the
    network's (both over the same cells, uniform by area)."""
    keep = streets.along["kept"]
    k = len(streets.area.names)
    district = streets.area.district[keep].astype(np.int64)
    every = np.bincount(district, minlength=k).astype(float)
    by_circle = np.bincount(district, weights=circles.cells.count[keep] >= 1, minlength=k)
    by_street = np.bincount(district, weights=streets.cells.count >= 1, minlength=k)
    rows = []
    names = streets.area.names + ["全部"]
    every, by_circle, by_street = (np.append(a, a.sum()) for a in (every, by_circle, by_street))
    for g, name in enumerate(names):
        if every[g] == 0:
            rows.append({"district": name, "circle_share": None, "network_share": None, "overstate": None})
            continue
        c, n = by_circle[g] / every[g], by_street[g] / every[g]
        rows.append({"district": name, "circle_share": round(float(c), 4), "network_share": round(float(n), 4),
                     "overstate": round(float(c - n), 4)})
    return rows
