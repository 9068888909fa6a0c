"""The /plan page's downloads as a planner opens them: Chinese headers, percentages, a datum.

The JSON API and the CLI keep their codes and fractions (``covered_share`` 0.5771: a
published contract); a file for a report reads 覆盖率（%） 57.71.  Coordinates are
WGS-84 unless GCJ-02 (Amap, Tencent) is asked for, and every table with coordinates
says which in a 坐标系 column (a GeoJSON file in a ``datum`` member when not WGS-84).
A file is named by its scenario: ``覆盖_海淀_步行15分钟_2026-12-03.csv``.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

import numpy as np

from geodata.datum import from_wgs84_array, parse_datum

from ..registry.exporter import defuse_cell
from ..storage import TZ
from .gaps import gaps_geojson
from .grid import CoverageError
from .planner import rows_csv
from .suggest import suggestions_geojson

__all__ = ["TABLES", "FORMATS", "table_file", "file_name", "download_datum"]

TABLE_NAMES = {"figures": "覆盖", "gaps": "缺口", "suggestions": "建议站点", "criticality": "关键站点"}
FORMATS = {"figures": ("csv", "xlsx"), "gaps": ("csv", "xlsx", "geojson"),
           "suggestions": ("csv", "xlsx", "geojson"), "criticality": ("csv", "xlsx")}
TABLES = tuple(TABLE_NAMES)
_PERCENT = {"covered_share", "double_covered_share", "demand_covered_share", "demand_double_covered_share",
            "cumulative_share", "share"}
_DEMAND = {"uncovered_demand", "single_demand", "added_demand", "cumulative_demand", "demand_only"}
# (code, Chinese header); a header with {unit} names the demand's unit (km² or 权重)
_COLUMNS = {
    "figures": [("district", "区"), ("stations", "站点数"), ("area_km2", "面积（km²）"),
                ("stations_per_km2", "站点/km²"), ("covered_share", "覆盖率（%）"),
                ("double_covered_share", "双覆盖率（%）"), ("demand_covered_share", "需求覆盖率（%）"),
                ("demand_double_covered_share", "需求双覆盖率（%）"), ("mean_distance_m", "平均距离（米）"),
                ("p90_distance_m", "90% 距离（米）")],
    "gaps": [("rank", "排名"), ("h3", "H3 编号"), ("district", "区"), ("uncovered_demand", "未覆盖需求{unit}"),
             ("single_demand", "仅单覆盖需求{unit}"), ("lon", "中心经度"), ("lat", "中心纬度")],
    "suggestions": [("rank", "序号"), ("lon", "经度"), ("lat", "纬度"), ("district", "区"), ("name", "候选点名称"),
                    ("added_demand", "新增需求{unit}"), ("cumulative_demand", "累计覆盖需求{unit}"),
                    ("cumulative_share", "累计覆盖率（%）")],
    "criticality": [("station_id", "站点编号"), ("name", "名称"), ("district", "区"),
                    ("demand_only", "独占需求{unit}"), ("share", "占比（%）")],
}
DATUM_LABELS = {"wgs84": "WGS-84", "gcj02": "GCJ-02"}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def download_datum(args) -> str:
    """The datum asked for the downloads (``datum``: wgs84 or gcj02); CoverageError names it."""
    raw = str(args.get("datum") or "wgs84")
    try:
        datum = parse_datum(raw)
    except ValueError:
        raise CoverageError("datum", f"下载坐标系“{raw}”无效：应为 wgs84（GPS）或 gcj02（高德、腾讯）") from None
    if datum not in ("wgs84", "gcj02"):
        raise CoverageError("datum", f"下载坐标系“{raw}”无效：应为 wgs84（GPS）或 gcj02（高德、腾讯）")
    return datum


def _moved(rows: list[dict], datum: str) -> list[dict]:
    """Rows with lon/lat in ``datum`` (6 decimals) and a 坐标系 label."""
    if not rows or "lon" not in rows[0]:
        return rows
    lons, lats = from_wgs84_array(np.array([r["lon"] for r in rows], float),
                                  np.array([r["lat"] for r in rows], float), datum)
    return [{**r, "lon": round(float(x), 6), "lat": round(float(y), 6), "datum": DATUM_LABELS[datum]}
            for r, x, y in zip(rows, lons, lats)]


def _cell(code, value):
    if value is None:
        return None
    if code in _PERCENT:
        return round(float(value) * 100, 2)
    return value


def _table(table: str, rows: list[dict], unit: str, datum: str):
    """(headers, rows of values) in the order of the Chinese headers."""
    columns = list(_COLUMNS[table])
    rows = _moved(rows, datum)
    if rows and "datum" in rows[0]:
        columns.append(("datum", "坐标系"))
    headers = [label.format(unit=unit) for _, label in columns]
    return headers, [[_cell(code, row.get(code)) for code, _ in columns] for row in rows]


def table_file(table: str, fmt: str, rows: list[dict], *, unit: str = "（km²）", datum: str = "wgs84",
               params: dict | None = None) -> bytes | None:
    """A table of the page as the bytes of a CSV (UTF-8 with a BOM, for Excel), XLSX or
    GeoJSON file; None when there is no such table or format."""
    if fmt not in FORMATS.get(table, ()):
        return None
    if fmt == "geojson":
        moved = _moved(rows, datum)
        doc = gaps_geojson(rows) if table == "gaps" else suggestions_geojson(moved, params)
        if table == "gaps" and datum != "wgs84":
            for feature, row in zip(doc["features"], moved):
                ring = np.array(feature["geometry"]["coordinates"][0])
                x, y = from_wgs84_array(ring[:, 0], ring[:, 1], datum)
                feature["geometry"]["coordinates"] = [[[round(float(a), 6), round(float(b), 6)]
                                                       for a, b in zip(x, y)]]
                feature["properties"].update(lon=row["lon"], lat=row["lat"])
        if datum != "wgs84":
            doc["datum"] = datum  # RFC 7946 says WGS-84: a file in GCJ-02 says so
        return json.dumps(doc, ensure_ascii=False).encode()
    headers, values = _table(table, rows, unit, datum)
    if fmt == "csv":
        text = rows_csv([dict(zip(headers, v)) for v in values], headers)
        return ("\ufeff" + text).encode()
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(TABLE_NAMES[table])
    sheet.append(headers)
    for row in values:
        sheet.append([defuse_cell(v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _district_part(districts) -> str:
    names = [d[:-1] if len(d) > 2 and d.endswith("区") else d for d in districts]
    if not names:
        return "全部"
    return "+".join(names) if len(names) <= 3 else f"{names[0]}等{len(names)}区"


def file_name(table: str, fmt: str, params: dict, today: datetime | None = None) -> str:
    """覆盖_海淀_步行15分钟_2026-12-03.csv: the table, districts, mode and minutes, the
    demand layer when one is chosen, the date (Beijing)."""
    mode = "步行" if params.get("mode") == "walk" else "电动自行车" if params.get("mode") == "ebike" else ""
    minutes = f"{float(params.get('minutes') or 15):g}"
    parts = [TABLE_NAMES[table], _district_part(params.get("districts") or []), f"{mode}{minutes}分钟"]
    if params.get("demand"):
        parts.append(str(params["demand"]))
    if fmt != "geojson" and table in ("gaps", "suggestions") and params.get("datum") == "gcj02":
        parts.append("GCJ-02")
    parts.append((today or datetime.now(TZ)).strftime("%Y-%m-%d"))
    name = _UNSAFE.sub("", "_".join(p.strip() for p in parts if p.strip()))
    return name[:150] + "." + fmt
