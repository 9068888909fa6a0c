"""Gaps: H3 hexagons of uncovered and of singly covered demand, ranked by demand.

Demand (cells or points) is given to the hexagon whose centre is nearest in the
metric projection: H3 cells are near-regular hexagons, so this is the containing
hexagon except within metres of an edge, and it needs one KD-tree query instead
of an H3 call per cell.  The candidate hexagons are those overlapping the area's
bounding box (one call into H3's C library).
"""

from __future__ import annotations

import h3
import numpy as np
from scipy.spatial import cKDTree

from .grid import CoverageError

__all__ = ["gap_hexagons", "hex_boundary", "MAX_HEXAGONS", "gaps_geojson", "GAP_COLUMNS"]

MAX_HEXAGONS = 400_000
GAP_COLUMNS = ["rank", "h3", "district", "uncovered_demand", "single_demand", "lon", "lat"]


def _hexagons(area, resolution):
    minlon, minlat, maxlon, maxlat = area.lonlat_bounds
    estimate = ((maxlon - minlon) * 111.0 * np.cos(np.radians((minlat + maxlat) / 2))
                * (maxlat - minlat) * 111.0) / h3.average_hexagon_area(resolution, "km^2")
    if estimate > MAX_HEXAGONS:
        raise CoverageError("resolution", f"H3 分辨率 {resolution} 下六边形过多（约 {estimate:,.0f} 个，"
                                          f"上限 {MAX_HEXAGONS:,}）；请调小分辨率")
    shape = h3.LatLngPoly([(minlat, minlon), (minlat, maxlon), (maxlat, maxlon), (maxlat, minlon)])
    cells = np.array(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"), dtype=object)
    centres = np.array([h3.cell_to_latlng(c) for c in cells])  # one call per hexagon, not per cell
    return cells, centres[:, 1], centres[:, 0]


def gap_hexagons(coverage, resolution: int = 8, *, kind: str = "uncovered", limit: int = 200) -> list[dict]:
    """Hexagons ranked by the demand in them that is uncovered (or only singly covered).

    Parameters
    ----------
    coverage : Coverage
    resolution : int
        H3 resolution, 5–10 (8: hexagons of about 0.74 km²).
    kind : {"uncovered", "single"}
        What to rank by.
    limit : int
        How many hexagons to return.

    Returns
    -------
    list of dict
        ``rank``, ``h3``, ``district`` (where most of the hexagon's gap demand lies),
        ``uncovered_demand``, ``single_demand``, ``lon``/``lat`` of the centre (WGS-84).
    """
    if not (isinstance(resolution, int) and 5 <= resolution <= 10):
        raise CoverageError("resolution", f"H3 分辨率 {resolution!r} 超出范围 5–10")
    if kind not in ("uncovered", "single"):
        raise CoverageError("kind", f"缺口类型“{kind}”无效：应为 uncovered（未覆盖）或 single（仅单覆盖）")
    area, sites = coverage.area, coverage.sites
    gap = sites.count <= 1
    if not gap.any():
        return []
    x = sites.x[gap] if sites.x is not None else area.cell_x[gap]
    y = sites.y[gap] if sites.y is not None else area.cell_y[gap]
    w, count, district = sites.weight[gap], sites.count[gap], sites.district[gap].astype(np.int64)
    cells, hlon, hlat = _hexagons(area, resolution)
    hx, hy = area.to_xy(hlon, hlat)
    _, which = cKDTree(np.column_stack([hx, hy])).query(np.column_stack([x, y]), workers=-1)
    n = len(cells)
    uncovered = np.bincount(which, weights=w * (count == 0), minlength=n)
    single = np.bincount(which, weights=w * (count == 1), minlength=n)
    k = len(area.names)
    by_district = np.bincount(which * k + district, weights=w, minlength=n * k).reshape(n, k)
    key = uncovered if kind == "uncovered" else single
    order = np.argsort(-key, kind="stable")
    order = order[key[order] > 0][:limit]
    main = by_district[order].argmax(axis=1)
    return [{"rank": r + 1, "h3": str(cells[i]), "district": area.names[main[r]],
             "uncovered_demand": round(float(uncovered[i]), 4), "single_demand": round(float(single[i]), 4),
             "lon": round(float(hlon[i]), 6), "lat": round(float(hlat[i]), 6)}
            for r, i in enumerate(order)]


def hex_boundary(cell: str) -> list[tuple[float, float]]:
    """The hexagon's corners as WGS-84 (lon, lat), closed."""
    ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]
    return ring + ring[:1]


def gaps_geojson(rows: list[dict]) -> dict:
    """The gap table as a GeoJSON FeatureCollection of hexagons (WGS-84)."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": row["h3"],
         "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in hex_boundary(row["h3"])]]},
         "properties": dict(row)} for row in rows]}
