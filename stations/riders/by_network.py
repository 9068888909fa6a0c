"""Riders' nearest stations along the streets, where a street network covers them (issue 19).

The straight-line index (``nearest``) finds the candidates with the rider's filters; the
network (``stations.networks.nearest``) ranks them by walking metres along the streets.
Where no stored network covers the rider, the straight line stays the answer.
"""

from __future__ import annotations

import math

import numpy as np

from ..networks import NetworkError, networks_dir
from ..networks.nearest import covering_graph, network_metres, ranked_by_network
from .nearest import RIDE_SPEED_KMH, WALK_SPEED_KMH

__all__ = ["NETWORK_MODES", "network_hits", "network_metres_of", "network_minutes"]

NETWORK_MODES = {"walk": WALK_SPEED_KMH, "ebike": RIDE_SPEED_KMH}  # km/h along the streets, as coverage's modes


def network_minutes(metres: float, speed_kmh: float = WALK_SPEED_KMH) -> int:
    """Minutes along the streets at the speed (walking 5 km/h by default), rounded up (no
    detour factor)."""
    return max(1, math.ceil(metres / (speed_kmh * 1000 / 60) - 1e-9))


def _coords(index, hits):
    rows = np.searchsorted(index.ids, [h.station_id for h in hits])  # the index is ordered by id
    return index.lons[rows], index.lats[rows]


def network_metres_of(db, index, name: str, lon: float, lat: float, hits) -> dict:
    """{station id: metres along network ``name``'s walking streets} for these hits."""
    if not hits:
        return {}
    graph = covering_graph(networks_dir(db), lon, lat, "walk", name)
    if graph is None:
        return {}
    metres = network_metres(graph, lon, lat, *_coords(index, hits), limit=30_000.0)
    return {h.station_id: float(m) for h, m in zip(hits, metres)}


def network_hits(db, index, lon: float, lat: float, k: int, name: str = "", mode: str = "walk", **search):
    """``(network name, [(hit, metres)])`` ranked along the ``mode`` network (walk or
    ebike) covering the point (network ``name`` when given), or ``(None, None)`` when none
    covers it.  ``search`` holds NearestIndex.query's filters."""
    try:
        graph = covering_graph(networks_dir(db), lon, lat, mode, name)
    except NetworkError:
        return None, None
    if graph is None:
        return None, None
    ranked = ranked_by_network(graph, lambda n: index.query(lon, lat, n, **search),
                               lambda hits: _coords(index, hits), lon, lat, k)
    return graph.name, ranked
