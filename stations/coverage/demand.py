"""Demand layers: named sets of weighted points a planner uploads (CSV, XLSX, GeoJSON).

Files are read by the station importer's readers (same encodings, header row
detection, full-width digits, degree-minute-second text) and checked row by row
with the same coordinate rules; any error rejects the whole file (all or nothing)
with the row number, the column as the file names it, and a reason.  Points are
stored in WGS-84 as one array per layer.
"""

from __future__ import annotations

import io
import math
import sqlite3
import unicodedata

import numpy as np

from geodata import districts as geo
from geodata.datum import DatumError, parse_datum, to_wgs84_array

from ..registry import importer, readers
from ..registry.coords import CoordinateError, parse_coordinate, parse_lonlat_pair
from ..registry.records import Problem, control_problem
from ..storage import now_iso
from .figures import DemandPoints
from .grid import CoverageError

__all__ = ["WEIGHT_HEADERS", "MAX_POINTS", "read_points", "check_new_name", "import_layer", "list_layers",
           "delete_layer", "load_layer_points", "format_layer_report", "PointsReport"]

WEIGHT_HEADERS = ["权重", "需求", "需求量", "数量", "单量", "订单量", "订单数", "人数", "次数", "频次",
                  "weight", "count", "demand", "value", "w"]
DATUM_HEADERS = ["坐标系", "坐标类型", "坐标系统", "datum", "crs"]
# A point's name as planners' candidate lists write it, beside the station importer's 名称/name.
POINT_NAME_HEADERS = ["候选点名称", "候选点", "点位名称", "点位", "地点名称", "地点", "位置名称", "选址名称"]
_DATUM_WORDS = {"高德": "gcj02", "火星": "gcj02", "腾讯": "gcj02", "百度": "bd09", "gps": "wgs84"}
MAX_POINTS = 500_000
NAME_LIMIT = 60
FAR_OUTSIDE_M = 50_000.0
_WEIGHT_KEYS = {importer._norm_header(h) for h in WEIGHT_HEADERS}
_DATUM_KEYS = {importer._norm_header(h) for h in DATUM_HEADERS}
_POINT_NAME_KEYS = {importer._norm_header(h) for h in POINT_NAME_HEADERS}


class PointsReport(importer.ImportReport):
    """An import report whose valid records are points (lon, lat, weight arrays)."""

    datum_column: str = None
    lons: np.ndarray = None
    lats: np.ndarray = None
    weights: np.ndarray = None
    names: list = None


def _table(data: bytes, filename: str, report) -> tuple[list, list]:
    """(header cells, [(row number, cells)]) through the importer's readers."""
    fmt = report.format = importer._sniff_format(data, filename)
    if fmt == "xlsx":
        table = importer._read_xlsx(data)
    else:
        text, report.encoding = importer._decode_text(data)
        table = importer._read_csv(text)
    for at, row in enumerate(table[:10]):
        mapping, _ = importer.map_headers(row)
        if {"lon", "lat"} <= mapping.keys() or "location" in mapping:
            rows = [(at + 2 + k, cells) for k, cells in enumerate(table[at + 1:])
                    if any(str(c).strip() for c in cells if c is not None)]
            return row, rows
    raise importer.ImportError_("找不到表头：前 10 行中没有“经度”“纬度”两列（或一列“坐标”）")


def _geojson(data: bytes, report) -> tuple[list, list]:
    report.row_label = "个要素"
    report.encoding = "utf-8"
    try:  # streamed with a depth limit: a deeply nested file is an error, not a crash
        features = [feature for _, feature in readers.iter_geojson(io.BytesIO(data))]
    except readers.FileProblem as exc:
        raise importer.ImportError_(str(exc)) from None
    keys = []
    for f in features:
        props = f.get("properties") if isinstance(f, dict) else None
        for k in (props or {}) if isinstance(props, dict) else ():
            if k not in keys:
                keys.append(k)
    header = ["lon", "lat", *keys]
    rows = []
    for number, f in enumerate(features, start=1):
        geometry = f.get("geometry") if isinstance(f, dict) else None
        props = f.get("properties") if isinstance(f, dict) else None
        props = props if isinstance(props, dict) else {}
        if isinstance(geometry, dict) and geometry.get("type") == "Point" and \
                isinstance(geometry.get("coordinates"), list) and len(geometry["coordinates"]) >= 2:
            lon, lat = geometry["coordinates"][:2]
        else:
            kind = geometry.get("type") if isinstance(geometry, dict) else "空"
            lon, lat = f"几何类型应为 Point，实为 {kind}", None
        rows.append((number, [lon, lat, *(props.get(k) for k in keys)]))
    return header, rows


def _weight(value, errors):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        errors.append(Problem("weight", "缺少权重"))
        return math.nan
    if isinstance(value, bool):
        errors.append(Problem("weight", f"权重“{value}”不是数字"))
        return math.nan
    try:
        number = float(unicodedata.normalize("NFKC", str(value)).strip().replace(",", ""))
    except ValueError:
        errors.append(Problem("weight", f"权重“{value}”不是数字"))
        return math.nan
    if not math.isfinite(number) or number < 0:
        errors.append(Problem("weight", f"权重 {value} 应为不小于 0 的有限数字"))
        return math.nan
    return number


def _row_datum(value, default: str, errors) -> str:
    """A row's datum from the file's datum column (WGS-84, GCJ-02, 高德, 百度 …); blank: the chosen one."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else "")).strip()
    if not text:
        return default
    for word, datum in _DATUM_WORDS.items():
        if word in text.lower():
            return datum
    try:
        return parse_datum(text.replace(" ", ""))
    except DatumError:
        errors.append(Problem("datum", f"坐标系“{text}”无法识别：应为 WGS-84、GCJ-02（高德）或 BD-09（百度）"))
        return default


def read_points(data: bytes, filename: str = "", *, datum="wgs84", region="beijing",
                need_weight: bool = False) -> PointsReport:
    """Read and check a file of points; the report holds WGS-84 arrays when it is ``ok``.

    A weight column (权重, 数量, 订单量, weight, count …) is optional: without it
    each point weighs 1 (unless ``need_weight``).  An optional name column is kept.  A datum
    column (坐标系: WGS-84, GCJ-02/高德, BD-09/百度) gives each row's datum; blank cells take ``datum``.
    """
    report = PointsReport(filename)
    try:
        report.datum = datum = parse_datum(datum)
    except DatumError as exc:
        report.file_errors.append(str(exc))
        return report
    try:
        if importer._sniff_format(data, filename) == "geojson":
            report.format = "geojson"
            header, rows = _geojson(data, report)
        else:
            header, rows = _table(data, filename, report)
    except importer.ImportError_ as exc:
        report.file_errors.append(str(exc))
        return report
    if not rows:
        report.file_errors.append("文件中没有数据行")
        return report
    if len(rows) > MAX_POINTS:
        report.file_errors.append(f"文件有 {len(rows):,} 行，超过一个图层的上限 {MAX_POINTS:,} 行")
        return report
    mapping, _ = importer.map_headers(header)
    if report.format == "geojson":
        mapping.update({"lon": 0, "lat": 1})
    if "name" not in mapping:
        named = next((i for i, h in enumerate(header) if importer._norm_header(h) in _POINT_NAME_KEYS
                      and i not in mapping.values()), None)
        if named is not None:
            mapping["name"] = named
    weight_at = next((i for i, h in enumerate(header) if importer._norm_header(h) in _WEIGHT_KEYS), None)
    report.columns = {name: str(header[i]) for name, i in mapping.items()}
    datum_at = next((i for i, h in enumerate(header) if importer._norm_header(h) in _DATUM_KEYS
                     and i not in mapping.values() and i != weight_at), None)
    if datum_at is not None:
        report.columns["datum"] = report.datum_column = str(header[datum_at])
    if weight_at is not None:
        report.columns["weight"] = str(header[weight_at])
    elif need_weight:
        report.file_errors.append("缺少权重列（可写作 权重、数量、订单量、weight、count）")
        return report
    report.ignored_columns = [str(h) for i, h in enumerate(header)
                              if str(h or "").strip() and i not in mapping.values() and i not in (weight_at, datum_at)]
    report.total_rows = len(rows)
    n = len(rows)
    lons, lats, weights = np.full(n, np.nan), np.full(n, np.nan), np.ones(n)
    names, problems = [], {}
    datums = np.full(n, datum, dtype=object)

    def cell(cells, name):
        i = mapping.get(name)
        return cells[i] if i is not None and i < len(cells) else None

    for k, (number, cells) in enumerate(rows):
        errors = []
        if report.format == "geojson" and cells[1] is None and isinstance(cells[0], str):
            errors.append(Problem("geometry", cells[0]))
        elif "location" in mapping and cell(cells, "lon") in (None, "") and cell(cells, "lat") in (None, ""):
            try:
                lons[k], lats[k] = parse_lonlat_pair(cell(cells, "location"))
            except CoordinateError as exc:
                errors.append(Problem("location", f"坐标{exc}"))
        else:
            for field, label, out in (("lon", "经度", lons), ("lat", "纬度", lats)):
                value = cell(cells, field)
                if value is None or str(value).strip() == "":
                    errors.append(Problem(field, f"缺少{label}"))
                    continue
                try:
                    out[k] = parse_coordinate(value)
                except CoordinateError as exc:
                    errors.append(Problem(field, f"{label}{exc}"))
        if not errors:
            if not -90 <= lats[k] <= 90:
                hint = "（经度和纬度是否填反了？）" if -90 <= lons[k] <= 90 else ""
                errors.append(Problem("lat", f"纬度 {lats[k]:g} 超出 −90..90 的范围{hint}"))
            elif not -180 <= lons[k] <= 180:
                errors.append(Problem("lon", f"经度 {lons[k]:g} 超出 −180..180 的范围"))
        if weight_at is not None:
            weights[k] = _weight(cells[weight_at] if weight_at < len(cells) else None, errors)
        if datum_at is not None:
            datums[k] = _row_datum(cells[datum_at] if datum_at < len(cells) else None, datum, errors)
        name = cell(cells, "name")
        name = str(name).strip()[:100] if name not in (None, "") else None
        problem = control_problem("name", name)  # NUL, ESC… refused at the door, as for stations
        if problem:
            errors.append(problem)
        names.append(name)
        if errors:
            problems[k] = (number, errors, [])
            lons[k] = lats[k] = np.nan
    ok = np.isfinite(lons) & np.isfinite(lats)
    wlon, wlat = np.full(n, np.nan), np.full(n, np.nan)
    for each in set(datums[ok].tolist()):  # one vectorised conversion per datum in the file
        rows_in = ok & (datums == each)
        wlon[rows_in], wlat[rows_in] = to_wgs84_array(lons[rows_in], lats[rows_in], each)
    _check_places(wlon, wlat, ok, region, rows, problems)
    for k in sorted(problems):
        number, errors, warnings = problems[k]
        report.rows.append(importer.RowReport(number, names[k], errors, warnings))
    if report.ok:
        report.lons, report.lats, report.weights, report.names = wlon, wlat, weights, names
        report.valid_records = [None] * n  # counted by the report; the points are the arrays
    return report


def _check_places(lons, lats, ok, region, rows, problems):
    """In China, and in (or near) the region: errors and warnings, vectorised."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    china = geo.in_china_many(lons[idx], lats[idx])
    swapped = geo.in_china_many(lats[idx], lons[idx])
    locator = geo.locator(region)
    found = locator.locate_index(lons[idx], lats[idx])
    label = {"beijing": "北京市", "china": "全国"}.get(region, region)
    for j in np.flatnonzero(~china | (found < 0)):
        k = int(idx[j])
        number = rows[k][0]
        entry = problems.setdefault(k, (number, [], []))
        where = f"坐标 ({lons[k]:g}, {lats[k]:g})"
        if not china[j]:
            entry[1].append(Problem("lon", where + (" 不在中国境内；经度和纬度似乎填反了" if swapped[j]
                                                    else " 不在中国境内")))
            continue
        distance = locator.distance_m(lons[k], lats[k])
        text = f"{where} 在{label}范围之外约 {distance / 1000:.1f} 公里"
        if distance > FAR_OUTSIDE_M:
            entry[1].append(Problem("lon", text))
        else:
            entry[2].append(Problem("lon", text + "，不计入任何区"))


# --- storage -------------------------------------------------------------------------

def _check_name(name) -> str:
    text = unicodedata.normalize("NFC", str(name or "")).strip()
    if not text:
        raise CoverageError("name", "请给需求图层起个名字")
    if len(text) > NAME_LIMIT:
        raise CoverageError("name", f"图层名称过长（{len(text)} 字，最多 {NAME_LIMIT} 字）")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise CoverageError("name", "图层名称不能含控制字符")
    return text


def check_new_name(db, name) -> str:
    """The name a new layer would be stored under; CoverageError('name') for a bad or taken one."""
    name = _check_name(name)
    if db.execute("SELECT 1 FROM demand_layers WHERE name = ?", [name]).fetchone():
        raise CoverageError("name", f"已有名为“{name}”的需求图层；请换个名字或先删除它")
    return name


def import_layer(db, name, data: bytes, filename: str = "", *, datum="wgs84", region="beijing",
                 username=None, dry_run=False, progress=None) -> PointsReport:
    """Check a file and store it as a demand layer, all or nothing.

    Raises CoverageError for a bad or taken name; file and row problems are in the
    report (``report.ok`` false, nothing written).  ``progress(stage)`` is told "read",
    then "store" before the layer is written.
    """
    progress = progress or (lambda stage: None)
    name = check_new_name(db, name)
    progress("read")
    report = read_points(data, filename, datum=datum, region=region)
    report.dry_run = dry_run
    if not report.ok or dry_run:
        return report
    progress("store")
    keep = np.isfinite(report.lons)  # rows with only a warning (just outside) are kept
    triples = np.column_stack([report.lons[keep], report.lats[keep], report.weights[keep]])
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO demand_layers (name, filename, datum, points, total_weight, created_at, "
                "created_by, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [name, filename or None, report.datum, len(triples), float(triples[:, 2].sum()),
                 now_iso(), username, triples.astype("<f8").tobytes()])
    except sqlite3.IntegrityError:  # stored meanwhile by another upload of the same name
        raise CoverageError("name", f"已有名为“{name}”的需求图层；请换个名字或先删除它") from None
    report.written = len(triples)
    return report


def list_layers(db) -> list[dict]:
    """Every demand layer (without its points), newest first."""
    rows = db.execute("SELECT id, name, filename, datum, points, total_weight, created_at, created_by "
                      "FROM demand_layers ORDER BY id DESC").fetchall()
    keys = ("id", "name", "filename", "datum", "points", "total_weight", "created_at", "created_by")
    return [dict(zip(keys, row)) for row in rows]


def delete_layer(db, name) -> bool:
    """Delete a layer by name; False when there was none."""
    with db.atomic():
        cursor = db.execute("DELETE FROM demand_layers WHERE name = ?", [str(name)])
    return cursor.rowcount > 0


_POINTS: dict = {}


def load_layer_points(db, name) -> DemandPoints:
    """A layer's points as arrays (cached); CoverageError('demand') when there is no such layer."""
    row = db.execute("SELECT id, created_at FROM demand_layers WHERE name = ?", [str(name)]).fetchone()
    if row is None:
        known = [layer["name"] for layer in list_layers(db)]
        hint = f"；已有：{'、'.join(known[:20])}" if known else "；还没有上传任何需求图层"
        raise CoverageError("demand", f"没有名为“{name}”的需求图层{hint}")
    key = (db.execute("PRAGMA database_list").fetchone()[2], row[0], row[1])
    if key not in _POINTS:
        blob = db.execute("SELECT data FROM demand_layers WHERE id = ?", [row[0]]).fetchone()[0]
        triples = np.frombuffer(blob, dtype="<f8").reshape(-1, 3)
        if len(_POINTS) > 8:
            _POINTS.clear()
        _POINTS[key] = DemandPoints(triples[:, 0], triples[:, 1], triples[:, 2], str(name))
    return _POINTS[key]


def format_layer_report(report: PointsReport, name: str = "", limit: int = 200) -> str:
    """The report as plain Chinese text (CLI and page)."""
    lines = [f"文件 {report.filename}：格式 {report.format or '?'}"
             + (f"，编码 {report.encoding}" if report.encoding else "")
             + (f"，坐标系按“{report.datum_column}”列（空白处为 {report.datum}）" if report.datum_column
                else f"，坐标系 {report.datum}")]
    for message in report.file_errors:
        lines.append(f"错误：{message}")
    if report.file_errors:
        lines.append("未写入任何数据。")
        return "\n".join(lines)
    if "weight" not in report.columns:
        lines.append("没有权重列：每个点的权重记为 1。")
    if report.ignored_columns:
        lines.append("未识别、已忽略的列：" + "、".join(report.ignored_columns))
    lines.append(f"共 {report.total_rows} 行；有错误 {report.error_rows} 行；仅有警告 {report.warning_rows} 行。")
    prefix = "第 {} 个要素" if report.row_label == "个要素" else "第 {} 行"
    for row in report.rows[:limit]:
        for kind, problems in (("错误", row.errors), ("警告", row.warnings)):
            for p in problems:
                lines.append(f"{prefix.format(row.row)} [{report.column(p.field)}] {kind}：{p.message}")
    if len(report.rows) > limit:
        lines.append(f"……另有 {len(report.rows) - limit} 行有问题未列出。")
    if report.written:
        lines.append(f"已保存需求图层“{name}”：{report.written} 个点。")
    elif report.dry_run and report.ok:
        lines.append("试运行：未写入任何数据。")
    elif not report.ok:
        lines.append("因存在错误，未写入任何数据（整个文件都不导入）。")
    return "\n".join(lines)
