"""Conversion between China's three map datums.

* ``wgs84`` — GPS and OpenStreetMap; what Yizhan stores.
* ``gcj02`` — the obfuscated "Mars" datum of Amap and Tencent maps.
* ``bd09``  — Baidu's datum, a further shift of GCJ-02.

The forward GCJ-02 transform is the published polynomial (Krasovsky ellipsoid);
it has no closed-form inverse, so the inverse is found by fixed-point iteration,
which converges to well under a centimetre in a few steps.  Outside mainland
China the GCJ-02 shift does not apply and GCJ-02 equals WGS-84.

All functions take and return ``(lon, lat)`` in that order, as floats.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "DATUMS",
    "DatumError",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "from_wgs84_array",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "parse_datum",
    "to_wgs84",
    "to_wgs84_array",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

DATUMS = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 algorithm uses it
_EE = 0.00669342162296594323  # its eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


class DatumError(ValueError):
    """An unknown datum name."""


def parse_datum(name: str | None, default: str = "wgs84") -> str:
    """Normalise a datum name (``WGS84``, ``gcj-02``, ``BD09`` …) or raise DatumError."""
    if name is None or str(name).strip() == "":
        return default
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    aliases = {"wgs84": "wgs84", "gps": "wgs84", "gcj02": "gcj02", "amap": "gcj02",
               "gaode": "gcj02", "tencent": "gcj02", "bd09": "bd09", "baidu": "bd09",
               "bd09ll": "bd09"}
    if key not in aliases:
        raise DatumError(f"不认识的坐标系“{name}”，应为 wgs84（GPS）、gcj02（高德、腾讯）或 bd09（百度）")
    return aliases[key]


def out_of_china(lon: float, lat: float) -> bool:
    """True where the GCJ-02 shift does not apply (the usual rectangle test)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to GCJ-02 (identity outside China)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS-84 by fixed-point iteration (error far below a metre)."""
    if out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon -= elon
        wlat -= elat
        if abs(elon) < 1e-10 and abs(elat) < 1e-10:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to BD-09."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to GCJ-02: the usual approximate inverse, refined by iteration."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    glon, glat = z * math.cos(theta), z * math.sin(theta)
    for _ in range(10):
        blon, blat = gcj02_to_bd09(glon, glat)
        elon, elat = blon - lon, blat - lat
        glon -= elon
        glat -= elat
        if abs(elon) < 1e-11 and abs(elat) < 1e-11:
            break
    return glon, glat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """Convert a point given in ``datum`` to WGS-84."""
    datum = parse_datum(datum)
    if datum == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if datum == "bd09":
        return bd09_to_wgs84(lon, lat)
    return float(lon), float(lat)


def from_wgs84(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """Convert a WGS-84 point to ``datum``."""
    datum = parse_datum(datum)
    if datum == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if datum == "bd09":
        return wgs84_to_bd09(lon, lat)
    return float(lon), float(lat)


# --- arrays -----------------------------------------------------------------
# The same formulas over numpy arrays, for whole layers (grids, hexagons, demand
# files): one call instead of a Python loop over points.

def _out_of_china_array(lon, lat):
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def _gcj_delta_array(lon, lat):
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def _wgs84_to_gcj02_array(lon, lat):
    dlon, dlat = _gcj_delta_array(lon, lat)
    outside = _out_of_china_array(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _gcj02_to_wgs84_array(lon, lat):
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(30):
        glon, glat = _wgs84_to_gcj02_array(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < 1e-10) and np.all(np.abs(elat) < 1e-10):
            break
    outside = _out_of_china_array(lon, lat)
    return np.where(outside, lon, wlon), np.where(outside, lat, wlat)


def _gcj02_to_bd09_array(lon, lat):
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_array(lon, lat):
    glon, glat = lon - 0.0065, lat - 0.006
    for _ in range(10):
        blon, blat = _gcj02_to_bd09_array(glon, glat)
        glon, glat = glon - (blon - lon), glat - (blat - lat)
    return glon, glat


def from_wgs84_array(lons, lats, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert arrays of WGS-84 (lon, lat) to ``datum`` (what :func:`from_wgs84` does per point)."""
    datum = parse_datum(datum)
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    if datum == "wgs84":
        return lon.copy(), lat.copy()
    glon, glat = _wgs84_to_gcj02_array(lon, lat)
    return (glon, glat) if datum == "gcj02" else _gcj02_to_bd09_array(glon, glat)


def to_wgs84_array(lons, lats, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert arrays of (lon, lat) given in ``datum`` to WGS-84 (see :func:`to_wgs84`)."""
    datum = parse_datum(datum)
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    if datum == "wgs84":
        return lon.copy(), lat.copy()
    if datum == "bd09":
        lon, lat = _bd09_to_gcj02_array(lon, lat)
    return _gcj02_to_wgs84_array(lon, lat)
