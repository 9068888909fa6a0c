"""Checks that need geography: in China, in the region, which district, duplicates.

They run over many records at once (an import of 200,000 rows) with vectorised
point-in-polygon tests and a KD-tree, and the same code checks one record typed
into a form.
"""

from __future__ import annotations

import math
import re

import numpy as np
from scipy.spatial import cKDTree

from geodata import districts as geo

from .records import Problem

__all__ = ["EARTH_RADIUS_M", "REGIONS", "check_locations", "lonlat_to_xyz", "same_district"]

EARTH_RADIUS_M = 6371008.8  # mean Earth radius: distances are on this sphere
DUPLICATE_RADIUS_M = 50.0
SAME_POINT_M = 1.0
FAR_OUTSIDE_M = 50_000.0
REGIONS = {"beijing": "北京市", "china": "全国"}


def lonlat_to_xyz(lons, lats) -> np.ndarray:
    """Points on the sphere of radius EARTH_RADIUS_M (metres), for KD-trees."""
    lon = np.radians(np.asarray(lons, dtype=float))
    lat = np.radians(np.asarray(lats, dtype=float))
    cos_lat = np.cos(lat)
    return EARTH_RADIUS_M * np.column_stack(
        [cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


def _district_key(name: str) -> str:
    text = re.sub(r"\s+", "", str(name or ""))
    text = re.sub(r"^(北京市?|北京)", "", text)
    return re.sub(r"(区|县|市)$", "", text)


def same_district(declared: str, derived: str) -> bool:
    """'朝阳', '朝阳区' and '北京市朝阳区' all name 朝阳区."""
    return _district_key(declared) == _district_key(derived)


def check_locations(records, region="beijing", existing=(), *, name_key="name"):
    """Derive districts and find location problems for records that have coordinates.

    Parameters
    ----------
    records : list of dict
        Records with WGS-84 ``lon``/``lat`` (those without are skipped).  Each
        gets ``district`` (derived when the point lies in a district of the
        region, else the declared one), ``district_declared`` and
        ``district_mismatch`` set in place.
    region : str
        ``beijing`` (the 16 districts) or ``china`` (prefecture-level cities).
    existing : sequence of (id, name, lon, lat)
        Stations already stored, for the duplicate check.  A record whose ``id``
        is among them is not a duplicate of itself.

    Returns
    -------
    list of (errors, warnings)
        One pair of lists of :class:`Problem` per record, in order.
    """
    out = [([], []) for _ in records]
    idx = [i for i, r in enumerate(records) if r.get("lon") is not None and r.get("lat") is not None]
    if not idx:
        return out
    lons = np.array([records[i]["lon"] for i in idx])
    lats = np.array([records[i]["lat"] for i in idx])
    inside_china = geo.in_china_many(lons, lats)
    swapped_in_china = geo.in_china_many(lats, lons)
    locator = geo.locator(region)
    derived = locator.locate_many(lons, lats)
    region_label = REGIONS.get(region, region)

    for j, i in enumerate(idx):
        rec, (errors, warnings) = records[i], out[i]
        declared = rec.get("district_declared", rec.get("district"))
        rec["district_declared"] = declared or None
        if not inside_china[j]:
            if swapped_in_china[j]:
                errors.append(Problem("lon", f"经度 {lons[j]:g}、纬度 {lats[j]:g} 不在中国境内；"
                                             "经度和纬度似乎填反了"))
            else:
                errors.append(Problem("lon", f"坐标 ({lons[j]:g}, {lats[j]:g}) 不在中国境内"))
            continue
        found = derived[j]
        if found is None:
            distance = locator.distance_m(lons[j], lats[j])
            where = f"坐标 ({lons[j]:g}, {lats[j]:g}) 在{region_label}范围之外约 {distance / 1000:.1f} 公里"
            if distance > FAR_OUTSIDE_M:
                errors.append(Problem("lon", where))
            else:
                warnings.append(Problem("lon", where + "，无法确定所在区"))
            rec["district"] = declared or None
            rec["district_mismatch"] = False
            continue
        rec["district"] = found
        rec["district_mismatch"] = bool(declared) and not same_district(declared, found)
        if rec["district_mismatch"]:
            warnings.append(Problem("district", f"登记的区“{declared}”与坐标所在的“{found}”不一致"
                                                "（以坐标为准，原值已保留，已标记待核）"))

    _check_duplicates(records, idx, lons, lats, existing, out, name_key)
    return out


def _check_duplicates(records, idx, lons, lats, existing, out, name_key):
    new_xyz = lonlat_to_xyz(lons, lats)
    own_ids = {records[i].get("id") for i in idx if records[i].get("id") is not None}
    old = [row for row in existing if row[0] not in own_ids]
    if old:
        old_xyz = lonlat_to_xyz([r[2] for r in old], [r[3] for r in old])
        tree = cKDTree(old_xyz)
        for j, hits in enumerate(tree.query_ball_point(new_xyz, DUPLICATE_RADIUS_M)):
            _report(records, idx[j], new_xyz[j], [(old[h][0], old[h][1], old_xyz[h]) for h in hits],
                    out, name_key, "已有站点")
    tree = cKDTree(new_xyz)
    for a, b in sorted(tree.query_pairs(DUPLICATE_RADIUS_M)):
        other = (None, records[idx[a]].get(name_key), new_xyz[a])
        _report(records, idx[b], new_xyz[b], [other], out, name_key, "本文件中的",
                other_row=records[idx[a]].get("_row"))


def _report(records, i, xyz, others, out, name_key, where, other_row=None):
    rec = records[i]
    for other_id, other_name, other_xyz in others:
        distance = float(np.linalg.norm(xyz - other_xyz))
        label = f"#{other_id}" if other_id is not None else (f"第 {other_row} 行" if other_row else "")
        if distance < SAME_POINT_M:
            out[i][0].append(Problem("lon", f"疑似重复：与{where}{label}“{other_name}”坐标相同"))
            return
        if other_name and rec.get(name_key) and other_name.strip() == rec[name_key].strip():
            out[i][0].append(Problem("name", f"疑似重复：与{where}{label}同名且相距 "
                                             f"{math.ceil(distance)} 米"))
            return
