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

__all__ = ["EARTH_RADIUS_M", "REGIONS", "check_locations", "check_places", "find_duplicates",
           "lonlat_to_xyz", "same_district"]

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
    out = check_places(records, region)
    existing = list(existing)
    names = {row[0]: row[1] for row in existing}
    found = find_duplicates(
        np.array([_coord(r, "lon") for r in records], dtype=float),
        np.array([_coord(r, "lat") for r in records], dtype=float),
        [r.get(name_key) for r in records],
        [r.get("_row") for r in records],
        [r.get("id") for r in records],
        existing_ids=np.array([row[0] for row in existing], dtype=np.int64),
        existing_lons=np.array([row[2] for row in existing], dtype=float),
        existing_lats=np.array([row[3] for row in existing], dtype=float),
        existing_names=lambda ids: {i: names.get(i) for i in ids})
    for i, problem in found:
        out[i][0].append(problem)
    return out


def _coord(record, key):
    value = record.get(key)
    return np.nan if value is None else value


def check_places(records, region="beijing"):
    """In China, in (or near) the region, which district: the checks of one record alone.

    Sets ``district``, ``district_declared`` and ``district_mismatch`` on records
    with coordinates (see :func:`check_locations`); returns one (errors, warnings)
    pair per record.  Runs vectorised, so it can take an import batch at a time.
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
    return out


_NEIGHBOURS = 8      # nearest points looked at per point (after identical points are grouped)
_QUERY_CHUNK = 50_000


def find_duplicates(lons, lats, names, rows, ids, *, existing_ids=None, existing_lons=None,
                    existing_lats=None, existing_names=None):
    """Suspected duplicates among new records and against stored stations.

    A record is a suspected duplicate when it lies within SAME_POINT_M of a stored
    station or an earlier record of the file, or within DUPLICATE_RADIUS_M of one
    with the same name.  Memory is a few arrays per record, whatever the count:
    records at identical coordinates are grouped first (so a file of 500,000
    copies of one point costs no more than one), then each point looks at its
    nearest neighbours in a KD-tree.

    Parameters
    ----------
    lons, lats : array of float
        WGS-84 coordinates per record, NaN where a record has none.
    names, rows, ids : sequences
        Per record: the name, the row number for messages, the station id (None or 0
        when it has none).
    existing_ids, existing_lons, existing_lats : arrays
        Stored stations; those whose id is among ``ids`` are not compared.
    existing_names : callable
        ``existing_names(ids) -> {id: name}`` for the few stations that need one.

    Returns
    -------
    list of (record index, Problem)
        At most one problem per record for stored stations and one for the file.
    """
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    have = np.flatnonzero(np.isfinite(lons) & np.isfinite(lats))
    found = []
    if not len(have):
        return found

    def name_of(i):
        return (names[i] or "").strip()

    if existing_ids is not None and len(existing_ids):
        own = np.array([i for i in ids if i], dtype=np.int64)  # 0 or None: no id
        keep = ~np.isin(existing_ids, own)
        if keep.any():
            _against_stored(have, lons, lats, name_of, existing_ids[keep],
                            existing_lons[keep], existing_lats[keep], existing_names, found)

    # Within the file: identical coordinates first (exact, however many), by sorting;
    # a stable sort keeps the earliest row first in each run of equal points.
    hl, ha = lons[have], lats[have]
    order = np.lexsort((ha, hl))
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (hl[order[1:]] != hl[order[:-1]]) | (ha[order[1:]] != ha[order[:-1]])
    firsts = order[new_run]                      # the earliest record of each point
    first_of = np.empty(len(order), dtype=np.int64)
    first_of[order] = firsts[np.cumsum(new_run) - 1]
    del new_run
    done = set()
    for j in np.flatnonzero(first_of != np.arange(len(order))):
        i, a = int(have[j]), int(have[first_of[j]])
        found.append((i, _same_point(a, names, rows)))
        done.add(i)
    del first_of, order
    reps = np.sort(firsts)
    del firsts
    rep_xyz = lonlat_to_xyz(hl[reps], ha[reps])
    tree = cKDTree(rep_xyz)
    for start in range(0, len(reps), _QUERY_CHUNK):
        chunk = reps[start:start + _QUERY_CHUNK]
        dist, idx = tree.query(rep_xyz[start:start + _QUERY_CHUNK], k=min(_NEIGHBOURS + 1, len(reps)),
                               distance_upper_bound=DUPLICATE_RADIUS_M)
        dist, idx = dist.reshape(len(chunk), -1), idx.reshape(len(chunk), -1)
        for c in np.flatnonzero(np.isfinite(dist[:, 1])) if dist.shape[1] > 1 else ():
            i = int(have[chunk[c]])
            if i in done:
                continue
            for distance, k in zip(dist[c], idx[c]):
                if not np.isfinite(distance):
                    break
                a = int(have[reps[k]])
                if a >= i:
                    continue  # only an earlier record makes this one a duplicate
                if distance < SAME_POINT_M:
                    found.append((i, _same_point(a, names, rows)))
                    break
                if name_of(i) and name_of(a) == name_of(i):
                    label = f"第 {rows[a]} 行" if rows[a] else ""
                    found.append((i, Problem("name", f"疑似重复：与本文件中的{label}同名且相距 "
                                                     f"{math.ceil(distance)} 米", _NAME_AND_PLACE)))
                    break
    return found


def _against_stored(have, lons, lats, name_of, old_ids, old_lons, old_lats, existing_names, found):
    """Records at a stored station's point, or of its name within DUPLICATE_RADIUS_M."""
    tree = cKDTree(lonlat_to_xyz(old_lons, old_lats))
    hits = []
    for start in range(0, len(have), _QUERY_CHUNK):
        part = have[start:start + _QUERY_CHUNK]
        dist, idx = tree.query(lonlat_to_xyz(lons[part], lats[part]), k=_NEIGHBOURS,
                               distance_upper_bound=DUPLICATE_RADIUS_M)
        dist, idx = dist.reshape(len(part), -1), idx.reshape(len(part), -1)
        for j, k in zip(*np.nonzero(np.isfinite(dist))):
            hits.append((int(part[j]), float(dist[j, k]), int(old_ids[idx[j, k]])))
    old_names = existing_names(sorted({h[2] for h in hits})) if hits else {}
    done = set()
    for i, distance, old_id in sorted(hits):
        if i in done:
            continue
        if distance < SAME_POINT_M:
            found.append((i, Problem("lon", f"疑似重复：与已有站点#{old_id}“{old_names.get(old_id)}”坐标相同",
                                     _PLACE)))
            done.add(i)
        elif name_of(i) and (old_names.get(old_id) or "").strip() == name_of(i):
            found.append((i, Problem("name", f"疑似重复：与已有站点#{old_id}同名且相距 "
                                             f"{math.ceil(distance)} 米", _NAME_AND_PLACE)))
            done.add(i)


def _same_point(a, names, rows):
    label = f"第 {rows[a]} 行" if rows[a] else ""
    return Problem("lon", f"疑似重复：与本文件中的{label}“{names[a]}”坐标相同", _PLACE)


_PLACE = ("lon", "lat")                   # the columns a duplicate clashes on
_NAME_AND_PLACE = ("name", "lon", "lat")
