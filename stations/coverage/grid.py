"""The study area: district polygons in a metric projection, rasterised onto a grid.

Areas and distances are measured in metres in an Albers equal-area projection
fitted to the area (standard parallels at 1/6 and 5/6 of its latitude span), so a
cell of the grid has the same area everywhere and distances within a city are
off by well under 0.1 %.  Each district is rasterised once by an even-odd scan
line over its projected rings (vectorised over edges and rows): a cell belongs to
the first district that contains its centre.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyproj
import shapely

from geodata import districts as geo

__all__ = ["Area", "Circle", "CoverageError", "PARAMETER_LABELS", "MODES", "MAX_CELLS", "area_for"]

MODES = {"walk": ("步行", 5.0), "ebike": ("电动自行车", 15.0)}  # DESIGN.md §6
MAX_CELLS = 8_000_000  # cells in the area's bounding box: bounds memory (~0.5 GiB) and time


class CoverageError(ValueError):
    """A parameter or file a planner gave is unusable; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message

    @property
    def label(self) -> str:
        """The parameter as the /plan form names it (a planner never sees ``cell_m``)."""
        return PARAMETER_LABELS.get(self.parameter, self.parameter)

    @property
    def text(self) -> str:
        """``label：message`` (the message alone when it starts with the label), what a page shows."""
        return self.message if self.message.startswith(self.label) else f"{self.label}：{self.message}"


PARAMETER_LABELS = {"minutes": "分钟", "mode": "方式", "speed_kmh": "速度", "detour": "绕行系数",
                    "cell_m": "格子边长", "at": "只算此时开放", "district": "区", "demand": "需求",
                    "resolution": "H3 分辨率", "kind": "缺口", "p": "新站点数 p", "spacing_m": "候选点间距",
                    "close": "关闭站点", "add": "新增站点", "candidates": "候选点文件", "gap_limit": "缺口行数",
                    "region": "区域", "name": "图层名称", "network": "道路网络", "datum": "下载坐标系",
                    "add_datum": "新增站点的坐标系"}


@dataclass(frozen=True)
class Circle:
    """A service circle: minutes of travel at a speed, on streets longer than the straight line.

    ``radius_m = minutes × speed ÷ detour``; the speed is the mode's (walk 5 km/h,
    e-bike 15 km/h) unless ``speed_kmh`` is given.
    """

    minutes: float = 15.0
    mode: str = "walk"
    detour: float = 1.3
    speed_kmh: float | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise CoverageError("mode", f"出行方式“{self.mode}”无效：应为 walk（步行）或 ebike（电动自行车）")
        checks = (("minutes", "分钟数", self.minutes, 1, 120, " 分钟"), ("detour", "绕行系数", self.detour, 1, 3, ""),
                  ("speed_kmh", "速度", self.speed, 1, 60, " 公里/小时"))
        for name, label, value, low, high, unit in checks:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
                shown = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
                raise CoverageError(name, f"{label} {shown} 超出范围 {low}–{high}{unit}")

    @property
    def speed(self) -> float:
        return float(self.speed_kmh if self.speed_kmh is not None else MODES[self.mode][1])

    @property
    def radius_m(self) -> float:
        return self.minutes / 60.0 * self.speed * 1000.0 / self.detour

    def as_dict(self) -> dict:
        return {"minutes": self.minutes, "mode": self.mode, "speed_kmh": self.speed,
                "detour": self.detour, "radius_m": round(self.radius_m, 1)}


def _albers(bounds) -> pyproj.CRS:
    minlon, minlat, maxlon, maxlat = bounds
    span = max(maxlat - minlat, 0.01)
    return pyproj.CRS.from_proj4(
        f"+proj=aea +lat_1={minlat + span / 6:.6f} +lat_2={maxlat - span / 6:.6f} "
        f"+lat_0={(minlat + maxlat) / 2:.6f} +lon_0={(minlon + maxlon) / 2:.6f} "
        "+datum=WGS84 +units=m +no_defs")


class Area:
    """Named polygons (WGS-84) on a metric grid.

    Parameters
    ----------
    names : list of str
        District names, in order; a cell on a shared border goes to the first.
    geometries : list of shapely (Multi)Polygon
        In WGS-84 lon/lat.
    cell_m : float
        Grid cell size in metres (default 100).

    Attributes
    ----------
    crs : pyproj.CRS
        The metric (Albers equal-area) projection.
    x0, y0, nx, ny : grid origin (lower left, metres) and size in cells.
    inside : numpy.ndarray of int64
        Flat indices (``j * nx + i``) of the cells whose centre lies in a district.
    district : numpy.ndarray of int16
        The district (position in ``names``) of each inside cell.
    area_km2 : numpy.ndarray
        Each district's area measured on its projected polygon (not counted in cells).
    """

    def __init__(self, names, geometries, cell_m: float = 100.0):
        if not (isinstance(cell_m, (int, float)) and math.isfinite(cell_m) and 20 <= cell_m <= 5000):
            raise CoverageError("cell_m", f"格子边长 {cell_m!r} 米超出范围 20–5000 米")
        self.names = [str(n) for n in names]
        self.geometries = list(geometries)
        if not self.names:
            raise CoverageError("district", "没有选中任何区域")
        self.cell_m = float(cell_m)
        bounds = shapely.total_bounds(np.asarray(self.geometries, dtype=object))
        self.lonlat_bounds = tuple(float(b) for b in bounds)
        self.crs = _albers(self.lonlat_bounds)
        self._fwd = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._inv = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        self.projected = [shapely.transform(g, self._project_xy) for g in self.geometries]
        self.area_km2 = np.array([g.area / 1e6 for g in self.projected])
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(self.projected, dtype=object))
        s = self.cell_m
        self.x0, self.y0 = math.floor(minx / s) * s, math.floor(miny / s) * s
        self.nx = int(math.ceil((maxx - self.x0) / s)) or 1
        self.ny = int(math.ceil((maxy - self.y0) / s)) or 1
        if self.nx * self.ny > MAX_CELLS:
            raise CoverageError("cell_m", (
                f"网格过大：{self.nx} × {self.ny} = {self.nx * self.ny:,} 个格子，上限 {MAX_CELLS:,}；"
                f"请把格子边长调大（如 {math.ceil(s * math.sqrt(self.nx * self.ny / MAX_CELLS) / 50) * 50:.0f} 米）"
                "或少选几个区"))
        self.inside, self.district = self._rasterise()

    # --- projection --------------------------------------------------------------

    def _project_xy(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._fwd.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def to_xy(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 lon/lat arrays to projected metres."""
        x, y = self._fwd.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres back to WGS-84 lon/lat arrays."""
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

    # --- the grid ----------------------------------------------------------------

    @cached_property
    def cell_x(self) -> np.ndarray:
        return self.x0 + (self.inside % self.nx + 0.5) * self.cell_m

    @cached_property
    def cell_y(self) -> np.ndarray:
        return self.y0 + (self.inside // self.nx + 0.5) * self.cell_m

    @cached_property
    def cell_lookup(self) -> np.ndarray:
        """District of every cell of the bounding box (-1 outside), as a flat int16 array."""
        full = np.full(self.nx * self.ny, -1, dtype=np.int16)
        full[self.inside] = self.district
        return full

    def flat_index(self, x, y) -> np.ndarray:
        """Flat cell index of projected points, -1 outside the bounding box."""
        i = np.floor((np.asarray(x) - self.x0) / self.cell_m).astype(np.int64)
        j = np.floor((np.asarray(y) - self.y0) / self.cell_m).astype(np.int64)
        ok = (i >= 0) & (i < self.nx) & (j >= 0) & (j < self.ny)
        return np.where(ok, j * self.nx + i, -1)

    def district_of_xy(self, x, y) -> np.ndarray:
        """District position of projected points by the cell they fall in (-1 outside)."""
        flat = self.flat_index(x, y)
        out = np.full(flat.shape, -1, dtype=np.int16)
        ok = flat >= 0
        out[ok] = self.cell_lookup[flat[ok]]
        return out

    def district_of_lonlat_exact(self, lons, lats) -> np.ndarray:
        """District position of WGS-84 points by point-in-polygon (-1 outside every district)."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        out = np.full(lons.shape, -1, dtype=np.int16)
        for d in range(len(self.geometries) - 1, -1, -1):  # the first district wins on borders
            out[shapely.contains_xy(self.geometries[d], lons, lats)] = d
        return out

    def _rasterise(self):
        s, nx, ny = self.cell_m, self.nx, self.ny
        owner = np.full(nx * ny, -1, dtype=np.int16)
        for d in range(len(self.projected) - 1, -1, -1):
            inside = _scanline(self.projected[d], self.x0, self.y0, s, nx, ny)
            owner[inside] = d
        flat = np.flatnonzero(owner >= 0)
        return flat, owner[flat]


def _rings(geometry) -> list[np.ndarray]:
    rings = []
    for part in shapely.get_parts(geometry):
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        rings.append(np.asarray(part.exterior.coords))
        rings += [np.asarray(r.coords) for r in part.interiors]
    return rings


def _scanline(geometry, x0, y0, s, nx, ny) -> np.ndarray:
    """Flat indices of the cells whose centre lies inside ``geometry`` (even-odd rule)."""
    rings = _rings(geometry)
    if not rings:
        return np.empty(0, dtype=np.int64)
    a = np.concatenate([r[:-1] for r in rings])
    b = np.concatenate([r[1:] for r in rings])
    xa, ya, xb, yb = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    keep = ya != yb  # horizontal edges cross no row
    xa, ya, xb, yb = xa[keep], ya[keep], xb[keep], yb[keep]
    lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
    # rows j whose centre y0 + (j + 0.5) s lies in [lo, hi): half-open, so a vertex on a
    # row is counted once
    j_lo = np.clip(np.ceil((lo - y0) / s - 0.5), 0, ny).astype(np.int64)
    j_hi = np.clip(np.ceil((hi - y0) / s - 0.5), 0, ny).astype(np.int64)
    counts = j_hi - j_lo
    if counts.sum() == 0:
        return np.empty(0, dtype=np.int64)
    edge = np.repeat(np.arange(len(xa)), counts)
    row = j_lo[edge] + (np.arange(len(edge)) - np.repeat(np.cumsum(counts) - counts, counts))
    yc = y0 + (row + 0.5) * s
    xc = xa[edge] + (yc - ya[edge]) * (xb[edge] - xa[edge]) / (yb[edge] - ya[edge])
    # a crossing toggles every cell whose centre lies to its right
    k = np.clip(np.floor((xc - x0) / s - 0.5).astype(np.int64) + 1, 0, nx)
    rmin, rmax = int(row.min()), int(row.max())
    toggles = np.zeros((rmax - rmin + 1, nx + 1), dtype=np.int32)
    np.add.at(toggles, (row - rmin, k), 1)
    parity = (np.cumsum(toggles[:, :nx], axis=1) & 1).astype(bool)
    rows, cols = np.nonzero(parity)
    return (rows + rmin) * nx + cols


_AREAS: dict = {}
_LOCK = threading.Lock()


def area_for(region: str = "beijing", districts=None, cell_m: float = 100.0) -> Area:
    """The cached Area of a region's districts (all of them, or those named).

    Raises CoverageError naming an unknown district.
    """
    key = (region, tuple(districts or ()), float(cell_m))
    cached = _AREAS.get(key)
    if cached is not None:
        return cached
    try:
        gdf = geo.load_districts(region)
    except ValueError as exc:
        raise CoverageError("region", f"未知区域 {region!r}") from exc
    if districts:
        known = list(gdf["name"])
        unknown = [d for d in districts if d not in known]
        if unknown:
            raise CoverageError("district", f"未知的区“{'、'.join(unknown)}”；可选：{'、'.join(known[:40])}")
        gdf = gdf.set_index("name").loc[list(dict.fromkeys(districts))].reset_index()
    area = Area(list(gdf["name"]), list(gdf.geometry), cell_m)
    with _LOCK:
        if len(_AREAS) > 16:
            _AREAS.clear()
        _AREAS[key] = area
    return area
