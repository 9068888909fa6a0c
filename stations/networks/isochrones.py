"""Service areas along the streets: what each station reaches within the minutes.

Each station's area is drawn around the street nodes it reaches within the minutes and
is the nearest station to (a node reached as well by a nearer station is drawn in that
one's area, so areas do not overlap): a concave hull of those nodes and the station,
widened by the joining allowance a little (``pad_m``) and simplified.  Computed in the
network's metres, returned in WGS-84.
"""

from __future__ import annotations

import numpy as np
import shapely

from .graph import Solved, StreetGraph

__all__ = ["service_areas"]


def service_areas(graph: StreetGraph, solved: Solved, reach_m: float, station_ids, *, pad_m: float = 40.0,
                  simplify_m: float = 20.0, ratio: float = 0.3, limit: int = 5000) -> list[dict]:
    """``[{"station_id", "geometry" (shapely, WGS-84)}]`` for stations that reach a street.

    ``station_ids`` are the ids of the station arrays ``solved`` was computed for (by
    position); at most ``limit`` areas, the largest first.
    """
    n = graph.n
    d1, s1 = solved.d1[:n], solved.s1[:n]
    reached = np.flatnonzero((d1 <= reach_m) & (s1 >= 0))
    if not len(reached):
        return []
    owner = s1[reached]
    order = np.argsort(owner, kind="stable")
    owner, nodes = owner[order], reached[order]
    stations, starts, counts = np.unique(owner, return_index=True, return_counts=True)
    if len(stations) > limit:
        top = np.argsort(-counts, kind="stable")[:limit]
        keep = np.zeros(len(owner), bool)
        for s, c in zip(starts[top], counts[top]):
            keep[s:s + c] = True
        owner, nodes = owner[keep], nodes[keep]
        stations = np.unique(owner)
    groups = np.searchsorted(stations, owner)
    coords = np.column_stack([graph.net.x[nodes], graph.net.y[nodes]])
    points = shapely.multipoints(coords, indices=groups)
    hulls = shapely.concave_hull(points, ratio=ratio)
    shapes = shapely.simplify(shapely.buffer(hulls, pad_m, quad_segs=4), simplify_m)
    out = []
    ids = np.asarray(station_ids)
    for station, shape in zip(stations, shapes):
        if shape is None or shape.is_empty:
            continue
        shape = shapely.transform(shape, lambda xy: np.column_stack(graph.to_lonlat(xy[:, 0], xy[:, 1])))
        out.append({"station_id": int(ids[station]), "geometry": shape})
    return out
