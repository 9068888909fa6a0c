"""Station records out: GeoJSON features (API and export), CSV, XLSX and GeoPackage.

Coordinates leave in the datum asked for; private fields (manager, phone, note) leave
only when the caller says so, and never through the public API.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re

from geodata.datum import from_wgs84

from ..hours import parse_hours
from .records import FACILITIES, FIELDS, PRIVATE_FIELDS, STATION_TYPES, STATUSES

__all__ = ["EXPORT_FORMATS", "station_feature", "feature_collection", "export_stations", "iter_export",
           "hours_display", "undefuse", "defuse_cell"]

EXPORT_FORMATS = ("csv", "xlsx", "geojson", "gpkg")
_PROPERTY_FIELDS = tuple(f for f in FIELDS if f not in ("id", "lon", "lat"))
# Column headers for spreadsheets: the Chinese name, then the English field name, so a
# person reads them and the importer maps them back.
_ZH = {"id": "id", "name": "名称", "address": "地址", "district": "区", "subdistrict": "街道",
       "lon": "经度", "lat": "纬度", "host_union": "所属工会", "host_union_id": "所属工会编号", "station_type": "类型",
       "hours": "开放时间", "hours_text": "开放时间原文", "facilities": "设施", "status": "状态", "awards": "荣誉",
       "synthetic": "合成数据", "created_at": "创建时间", "updated_at": "更新时间",
       "last_verified_at": "核验时间", "manager": "负责人", "manager_phone": "负责人电话", "note": "备注"}


@functools.lru_cache(maxsize=8192)
def hours_display(text: str | None) -> str:
    """Chinese rendering of stored hours text ('' when unknown)."""
    if not text:
        return ""
    return parse_hours(text).to_zh()


def station_feature(station: dict, datum: str = "wgs84", *, private: bool = False) -> dict:
    """A station as a GeoJSON Feature whose id is the station id.

    Properties use the English field names of the record; coordinates are
    converted to ``datum`` (GeoJSON proper is WGS-84; other datums are for
    drawing on Chinese tile layers).
    """
    lon, lat = from_wgs84(station["lon"], station["lat"], datum)
    props = {name: station.get(name) for name in _PROPERTY_FIELDS}
    props["hours_zh"] = hours_display(station.get("hours"))
    if private:
        for name in PRIVATE_FIELDS:
            props[name] = station.get(name)
    return {"type": "Feature", "id": station["id"],
            "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "properties": props}


def feature_collection(stations, datum="wgs84", *, private=False, extra=None) -> dict:
    """A GeoJSON FeatureCollection of stations, with ``extra`` top-level members."""
    doc = {"type": "FeatureCollection"}
    doc.update(extra or {})
    doc["features"] = [station_feature(s, datum, private=private) for s in stations]
    return doc


def _row(station, datum, private):
    lon, lat = from_wgs84(station["lon"], station["lat"], datum)
    row = {name: station.get(name) for name in FIELDS}
    row["lon"], row["lat"] = round(lon, 7), round(lat, 7)
    row["facilities"] = "、".join(FACILITIES.get(c, c) for c in station.get("facilities") or [])
    row["awards"] = "；".join(str(a.get("title", a)) if isinstance(a, dict) else str(a)
                             for a in station.get("awards") or [])
    row["status"] = STATUSES.get(station.get("status"), station.get("status"))
    row["station_type"] = STATION_TYPES.get(station.get("station_type"), station.get("station_type"))
    row["synthetic"] = "是" if station.get("synthetic") else "否"
    if private:
        for name in PRIVATE_FIELDS:
            row[name] = station.get(name)
    return row


def _columns(private):
    return list(FIELDS) + (list(PRIVATE_FIELDS) if private else [])


def export_stations(stations, fmt: str, out, *, datum="wgs84", private=False) -> int:
    """Write stations to the binary file object ``out``; returns how many.

    CSV is UTF-8 with a byte-order mark, so Chinese Excel opens it correctly;
    CSV and XLSX headers read "名称 name"-style Chinese first; GeoJSON carries
    the datum in a ``datum`` member when it is not WGS-84.
    """
    count = 0
    if fmt == "geojson":
        # Written feature by feature (the same bytes json.dumps of the whole would give).
        extra = {"datum": datum} if datum != "wgs84" else {}
        head = json.dumps({"type": "FeatureCollection", **extra, "features": []}, ensure_ascii=False)
        out.write(head[:-2].encode("utf-8"))
        for station in stations:
            out.write(((", " if count else "") + json.dumps(
                station_feature(station, datum, private=private), ensure_ascii=False)).encode("utf-8"))
            count += 1
        out.write(b"]}")
        return count
    columns = _columns(private)
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
        writer = csv.writer(text)
        writer.writerow([_ZH[c] for c in columns])
        for station in stations:
            row = _row(station, datum, private)
            writer.writerow(["" if row[c] is None else _cell(row[c]) for c in columns])
            count += 1
        text.flush()
        text.detach()
        return count
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("站点")
        sheet.append([_ZH[c] for c in columns])
        for station in stations:
            row = _row(station, datum, private)
            sheet.append([_cell(row[c]) for c in columns])
            count += 1
        book.save(out)
        return count
    rows = [_row(s, datum, private) for s in stations]
    if fmt == "gpkg":
        import geopandas as gpd
        from shapely.geometry import Point

        frame = gpd.GeoDataFrame(
            [{c: _cell(r[c]) for c in columns if c not in ("lon", "lat")} for r in rows],
            geometry=[Point(r["lon"], r["lat"]) for r in rows],
            crs="EPSG:4326" if datum == "wgs84" else None)
        if frame.empty:
            frame = gpd.GeoDataFrame({c: [] for c in columns if c not in ("lon", "lat")},
                                     geometry=[], crs="EPSG:4326")
        buffer = io.BytesIO()
        frame.to_file(buffer, driver="GPKG", layer="stations", engine="pyogrio")
        out.write(buffer.getvalue())
    else:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    return len(rows)


def iter_export(stations, fmt: str, *, datum="wgs84", private=False, rows_per_chunk=500,
                spill_dir=None):
    """The bytes of :func:`export_stations`, in chunks, for a streamed download.

    CSV and GeoJSON leave as they are written, ``rows_per_chunk`` stations at a time
    (memory holds one chunk); XLSX is a ZIP whose directory comes last, so it is
    written to a temporary file first and then read out in chunks.
    """
    if fmt == "geojson":
        extra = {"datum": datum} if datum != "wgs84" else {}
        head = json.dumps({"type": "FeatureCollection", **extra, "features": []}, ensure_ascii=False)
        yield head[:-2].encode("utf-8")
        parts, count = [], 0
        for station in stations:
            parts.append((", " if count else "") + json.dumps(
                station_feature(station, datum, private=private), ensure_ascii=False))
            count += 1
            if len(parts) >= rows_per_chunk:
                yield "".join(parts).encode("utf-8")
                parts.clear()
        yield ("".join(parts) + "]}").encode("utf-8")
    elif fmt == "csv":
        sink = io.BytesIO()
        text = io.TextIOWrapper(sink, encoding="utf-8-sig", newline="", write_through=True)
        writer = csv.writer(text)
        columns = _columns(private)
        writer.writerow([_ZH[c] for c in columns])
        for count, station in enumerate(stations, start=1):
            row = _row(station, datum, private)
            writer.writerow(["" if row[c] is None else _cell(row[c]) for c in columns])
            if count % rows_per_chunk == 0:
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
        yield sink.getvalue()
        text.detach()
    elif fmt in EXPORT_FORMATS:
        import tempfile

        with tempfile.TemporaryFile(dir=spill_dir) as spool:
            export_stations(stations, fmt, spool, datum=datum, private=private)
            spool.seek(0)
            while chunk := spool.read(1 << 16):
                yield chunk
    else:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")


# Characters XML 1.0 cannot carry (openpyxl refuses them, leaving an empty file) and other
# controls: the door refuses them, but a registry filled before that rule may hold some.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


# Spreadsheet cells that start with = + - @ (or a tab or carriage return before one) run
# as formulas when Excel or LibreOffice opens the file: such text leaves with a leading
# apostrophe, and so does text that already starts with apostrophes before one of them,
# so that the importer's ``undefuse`` (strip one apostrophe) gives back exactly the text.
_FORMULA_LIKE = re.compile("'*[=+\\-@\t\r]")


def undefuse(value):
    """The text an export wrote as ``'…`` to defuse it, as it was stored."""
    if isinstance(value, str) and value[:1] == "'" and _FORMULA_LIKE.match(value, 1):
        return value[1:]
    return value


def _cell(value):
    if isinstance(value, str):
        value = _UNSAFE.sub("\ufffd", value)
        if _FORMULA_LIKE.match(value):
            return "'" + value
    return value


defuse_cell = _cell  # for every other CSV/XLSX the app writes (plan tables, award lists)
