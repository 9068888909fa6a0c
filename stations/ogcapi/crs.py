"""Coordinate reference systems of the feature service (OGC API – Features Part 2).

Stations are stored as WGS-84 longitude/latitude.  Four CRSs are offered:

* CRS84 (``http://www.opengis.net/def/crs/OGC/1.3/CRS84``): WGS-84, longitude first;
  the default, and what GeoJSON means.
* EPSG:4326: WGS-84 with the axis order EPSG gives it, **latitude first**.
* EPSG:4490 (CGCS2000, China's official datum since 2008), latitude first.  CGCS2000 and
  WGS-84 differ by a few centimetres, far below the precision of a station's position,
  so EPSG:4490 coordinates are WGS-84's, only named for the GIS desks that want it.
* GCJ-02, the obfuscated datum of Amap and Tencent base maps.  It has no EPSG code (it is
  an offset, not a datum), so this service names it by its own URI, the path
  ``/ogcapi/crs/gcj02`` on the server (any URI ending so is accepted); longitude first.
  Converted with ``geodata.datum`` (the inverse by iteration, well under a centimetre).
"""

from __future__ import annotations

import re

from geodata.datum import from_wgs84, to_wgs84

__all__ = ["CRS84", "EPSG4326", "EPSG4490", "GCJ02", "GCJ02_PATH", "CrsError", "crs_label", "crs_uri", "crs_uris",
           "from_wgs84_in", "parse_crs", "to_wgs84_bbox"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GCJ02_PATH = "/ogcapi/crs/gcj02"
GCJ02 = "gcj02"  # the key; its URI is made from the server's address (crs_uris)

# key: (datum in geodata.datum, latitude first?, Chinese label)
_CRS = {CRS84: ("wgs84", False, "WGS-84 经纬度（经度在前，默认）"),
        EPSG4326: ("wgs84", True, "EPSG:4326 WGS-84（纬度在前）"),
        EPSG4490: ("wgs84", True, "EPSG:4490 CGCS2000 国家大地坐标系（纬度在前；与 WGS-84 相差厘米级，按相同处理）"),
        GCJ02: ("gcj02", False, "GCJ-02 火星坐标（高德、腾讯底图；经度在前；非 EPSG 编码）")}
_SHORT = {"CRS84": CRS84, "OGC:CRS84": CRS84, "EPSG:4326": EPSG4326, "EPSG:4490": EPSG4490,
          "GCJ02": GCJ02, "GCJ-02": GCJ02}


class CrsError(ValueError):
    """A CRS this service does not offer."""


def crs_uris(root: str) -> list[str]:
    """The URIs of the offered CRSs, the default first; ``root`` is the server's address
    (``http://host``, no trailing slash), which GCJ-02's URI is made from."""
    return [CRS84, EPSG4326, EPSG4490, root + GCJ02_PATH]


def parse_crs(value: str | None) -> str:
    """The key of a CRS given as a URI (or ``EPSG:4326``-style, brackets allowed); CRS84
    when absent; CrsError otherwise."""
    text = (value or "").strip().strip("[]<>").strip()
    if not text:
        return CRS84
    if text in _CRS and text != GCJ02:
        return text
    if text.upper() in _SHORT:
        return _SHORT[text.upper()]
    if text.rstrip("/").endswith(GCJ02_PATH):
        return GCJ02
    match = re.fullmatch(r"https?://www\.opengis\.net/def/crs/(EPSG/0/(4326|4490)|OGC/1\.3/CRS84)", text)
    if match:  # http or https
        return {"4326": EPSG4326, "4490": EPSG4490}.get(match.group(2), CRS84)
    raise CrsError(text)


def crs_uri(key: str, root: str) -> str:
    return root + GCJ02_PATH if key == GCJ02 else key


def crs_label(key: str) -> str:
    return _CRS[key][2]


def from_wgs84_in(key: str, lon: float, lat: float) -> list[float]:
    """A WGS-84 (lon, lat) as coordinates of the CRS ``key``, in its axis order, rounded to 7
    decimals (about a centimetre)."""
    datum, lat_first, _ = _CRS[key]
    if datum != "wgs84":
        lon, lat = from_wgs84(lon, lat, datum)
    lon, lat = round(lon, 7), round(lat, 7)
    return [lat, lon] if lat_first else [lon, lat]


def to_wgs84_bbox(key: str, numbers: list[float]) -> tuple[float, float, float, float]:
    """Four bbox numbers in the CRS ``key`` (its axis order: lower corner, upper corner) as
    (minlon, minlat, maxlon, maxlat) in WGS-84."""
    datum, lat_first, _ = _CRS[key]
    a, b, c, d = numbers
    minlon, minlat, maxlon, maxlat = (b, a, d, c) if lat_first else (a, b, c, d)
    if datum != "wgs84":  # the index is WGS-84: convert the corners
        minlon, minlat = to_wgs84(minlon, minlat, datum)
        maxlon, maxlat = to_wgs84(maxlon, maxlat, datum)
    return minlon, minlat, maxlon, maxlat
