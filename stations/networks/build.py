"""Read an OpenStreetMap extract into a walking and an e-bike network, as plain arrays.

pyrosm reads the ``.osm.pbf`` (its ``walking`` and ``cycling`` filters: footways, paths,
pedestrian areas, residential and service streets for walking, never motorways nor
``foot=no``; roads and cycleways that allow bicycles for the e-bike) into one row per
street segment between two consecutive nodes.  Walking goes both ways on every segment;
the e-bike respects ``oneway`` (``-1`` the other way) except where ``oneway:bicycle=no``.
Nodes are projected to metres in a transverse Mercator centred on the extract (lengths
within 50 km of the centre are off by less than 0.01 %); segment lengths are measured
there, so joining a place to a street and walking along it use the same metres.

Every refusal is a :class:`NetworkError` with a Chinese reason: not a PBF, empty, no
usable streets, outside China.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

__all__ = ["MAX_SNAP_M", "MODES", "NetworkError", "Network", "build_networks", "check_pbf", "projection_for"]

MAX_SNAP_M = 300.0  # a place farther than this from every street it may use is not covered
MODES = ("walk", "ebike")
_PYROSM_TYPE = {"walk": "walking", "ebike": "cycling"}
_ONEWAY_FWD = {"yes", "true", "1"}
_ONEWAY_BWD = {"-1", "reverse"}


class NetworkError(ValueError):
    """An extract or a network name a user gave is unusable; the message is Chinese."""

    def __init__(self, message: str, parameter: str = "file"):
        super().__init__(message)
        self.message = message
        self.parameter = parameter


@dataclass
class Network:
    """One mode's streets: nodes (WGS-84 and metres) and segments ``u``–``v``.

    ``fwd``: the segment may be travelled from ``u`` to ``v``; ``bwd``: from ``v`` to ``u``.
    """

    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    fwd: np.ndarray
    bwd: np.ndarray

    def __len__(self):
        return len(self.u)

    def arrays(self) -> dict:
        return {k: getattr(self, k) for k in ("lon", "lat", "x", "y", "u", "v", "length", "fwd", "bwd")}


def projection_for(lon0: float, lat0: float) -> str:
    """The proj4 string of the metric projection of a network centred at (lon0, lat0)."""
    return (f"+proj=tmerc +lat_0={lat0:.6f} +lon_0={lon0:.6f} +k=1 +x_0=0 +y_0=0 "
            "+datum=WGS84 +units=m +no_defs")


def check_pbf(path) -> None:
    """Refuse at once a file that is empty or is not an OSM PBF (its first block is OSMHeader)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(64)
    except OSError:
        raise NetworkError(f"无法读取文件“{path.name}”") from None
    if not head:
        raise NetworkError("文件是空的：请上传 OpenStreetMap 的 .osm.pbf 道路数据（如 BBBike、Geofabrik 提供的城市 extract）")
    if len(head) < 16 or b"OSMHeader" not in head[4:40]:
        raise NetworkError("这不是 OpenStreetMap 的 .osm.pbf 文件（文件头不对）：请上传 BBBike 或 Geofabrik 下载的 "
                           ".osm.pbf；.osm（XML）可用 osmium cat 转换")


def _flags(frame, mode):
    n = len(frame)
    if mode == "walk":
        return np.ones(n, bool), np.ones(n, bool)
    def column(name):
        if name not in frame.columns:
            return np.full(n, "", dtype=object)
        return frame[name].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object)
    oneway, bike = column("oneway"), column("oneway:bicycle")
    free = bike == "no"
    fwd = ~np.isin(oneway, list(_ONEWAY_BWD)) | free
    bwd = ~np.isin(oneway, list(_ONEWAY_FWD)) | free
    return fwd, bwd


def _read_mode(osm, mode):
    try:
        with warnings.catch_warnings():  # "Could not find any edges": the empty answer says it
            warnings.simplefilter("ignore")
            got = osm.get_network(network_type=_PYROSM_TYPE[mode], nodes=True)
    except Exception:  # pyrosm raises many kinds on a damaged file
        raise NetworkError("文件损坏或不是完整的 .osm.pbf，无法读取道路；请重新下载后再试") from None
    if got is None or got[0] is None or got[1] is None or not len(got[1]):
        return None
    nodes, edges = got
    return nodes[["id", "lon", "lat"]], edges.drop(columns="geometry")


def _arrays(nodes, edges, mode, proj):
    import pandas as pd

    index = pd.Index(nodes["id"].to_numpy()).drop_duplicates()
    lon_all = nodes.drop_duplicates("id")["lon"].to_numpy(float)
    lat_all = nodes.drop_duplicates("id")["lat"].to_numpy(float)
    u = index.get_indexer(edges["u"].to_numpy())
    v = index.get_indexer(edges["v"].to_numpy())
    fwd, bwd = _flags(edges, mode)
    ok = (u >= 0) & (v >= 0) & (u != v)
    u, v, fwd, bwd = u[ok], v[ok], fwd[ok], bwd[ok]
    used, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    u, v = inverse[:len(u)].astype(np.int32), inverse[len(u):].astype(np.int32)
    lon, lat = lon_all[used], lat_all[used]
    x, y = proj.transform(lon, lat)
    x, y = np.asarray(x, float), np.asarray(y, float)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    return Network(lon, lat, x, y, u, v, length, fwd, bwd)


def build_networks(path, progress=None) -> tuple[dict, dict]:
    """Read the extract at ``path`` into ``({"walk": Network, "ebike": Network}, info)``.

    ``info`` holds the projection (proj4), the bounds and extent (convex hull of the
    street nodes, WGS-84 ring) and segment counts.  ``progress(step, total)`` is
    called as the work advances (4 steps).  Raises NetworkError with the reason.
    """
    progress = progress or (lambda step, total: None)
    check_pbf(path)
    import pyrosm

    with tempfile.TemporaryDirectory() as folder:
        if not str(path).endswith(".pbf"):  # pyrosm reads only files named *.pbf
            named = Path(folder) / "extract.osm.pbf"
            named.symlink_to(Path(path).resolve())
            path = named
        try:
            osm = pyrosm.OSM(str(path))
        except Exception:
            raise NetworkError("文件损坏或不是完整的 .osm.pbf，无法读取；请重新下载后再试") from None
        return _build(osm, progress)


def _build(osm, progress):
    from geodata import districts as geo
    import shapely

    progress(1, 4)
    frames = {}
    for k, mode in enumerate(MODES):
        frames[mode] = _read_mode(osm, mode)
        progress(2 + k, 4)
    del osm
    if all(f is None for f in frames.values()):
        raise NetworkError("文件里没有可步行或骑行的道路（可能是空的 extract，或只含建筑、兴趣点）：请换一个包含道路的城市 extract")
    nodes = next(f[0] for f in frames.values() if f is not None)
    lons, lats = nodes["lon"].to_numpy(float), nodes["lat"].to_numpy(float)
    sample = np.linspace(0, len(lons) - 1, min(len(lons), 2000)).astype(int)
    if geo.in_china_many(lons[sample], lats[sample]).mean() < 0.5:
        raise NetworkError(f"这份道路数据不在中国境内（中心约东经 {np.median(lons):.2f}°、北纬 {np.median(lats):.2f}°）："
                           "请上传中国城市的 extract")
    lon0, lat0 = float(np.median(lons)), float(np.median(lats))
    proj4 = projection_for(lon0, lat0)
    proj = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_proj4(proj4), always_xy=True)
    networks = {}
    for mode, frame in frames.items():
        if frame is None:
            continue
        net = _arrays(frame[0], frame[1], mode, proj)
        if len(net):
            networks[mode] = net
    if not networks:
        raise NetworkError("文件里没有可用的道路线段：请换一个包含道路的城市 extract")
    every = np.concatenate([np.column_stack([n.lon, n.lat]) for n in networks.values()])
    hull = shapely.convex_hull(shapely.multipoints(every))
    if hull.geom_type != "Polygon" or hull.area <= 0:
        raise NetworkError("道路覆盖的范围太小（所有道路在一条直线上）：请换一个城市 extract")
    progress(4, 4)
    minlon, minlat, maxlon, maxlat = hull.bounds
    info = {"proj4": proj4, "bounds": [minlon, minlat, maxlon, maxlat],
            "extent": [list(map(float, c)) for c in hull.exterior.coords],
            "segments": {m: int(len(n)) for m, n in networks.items()},
            "km": {m: round(float(n.length.sum()) / 1000, 1) for m, n in networks.items()},
            "extent_km2": round(_ring_km2(hull, lon0, lat0), 2)}
    return networks, info


def _ring_km2(hull, lon0, lat0) -> float:
    import shapely

    aea = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m"), always_xy=True)
    coords = np.asarray(hull.exterior.coords)
    x, y = aea.transform(coords[:, 0], coords[:, 1])
    return shapely.Polygon(np.column_stack([x, y])).area / 1e6 if math.isfinite(float(np.sum(x))) else 0.0
