"""Importing station lists from CSV, XLSX and GeoJSON, all or nothing.

Columns are found by their header, Chinese or English.  Every row is checked
and every problem is reported with the row number as a spreadsheet shows it
(header row 1, first station row 2), the column as the file names it, and a
reason.  A file with any error writes nothing unless ``skip_invalid`` is given,
and then exactly the valid rows; a dry run writes nothing at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .exporter import undefuse
from .records import Problem, clean_station
from .storage import insert_stations, station_points
from .validation import check_locations

__all__ = ["ImportError_", "ImportReport", "RowReport", "HEADER_ALIASES", "read_rows",
           "validate_rows", "import_file", "format_report"]

HEADER_ALIASES = {
    "id": ["id", "yizhan_id", "驿站id"],
    "name": ["名称", "站点名称", "驿站名称", "站点名", "名字", "name", "station_name", "服务站点名称"],
    "address": ["地址", "详细地址", "站点地址", "address", "addr", "位置"],
    "lon": ["经度", "经度坐标", "x坐标", "lon", "lng", "long", "longitude", "x"],
    "lat": ["纬度", "纬度坐标", "y坐标", "lat", "latitude", "y"],
    "location": ["坐标", "经纬度", "location", "lnglat", "lonlat", "经纬度坐标"],
    "district": ["区", "所属区", "所在区", "区县", "所属区县", "所在区县", "行政区", "行政区划",
                 "district", "区域", "adname"],
    "subdistrict": ["街道", "街乡", "乡镇", "街道乡镇", "街道/乡镇", "所属街道", "所在街道", "subdistrict",
                    "street"],
    "host_union": ["所属工会", "工会", "主办工会", "建设单位", "host_union", "union"],
    "hours": ["开放时间", "营业时间", "服务时间", "开放时段", "开放时间段", "hours", "opening_hours"],
    "facilities": ["设施", "服务设施", "配套设施", "服务内容", "facilities"],
    "manager": ["负责人", "站点负责人", "联系人", "站长", "manager", "contact"],
    "manager_phone": ["负责人电话", "负责人联系电话", "联系人电话", "联系电话", "电话", "联系方式",
                      "手机", "手机号", "manager_phone", "phone", "tel"],
    "station_type": ["类型", "站点类型", "station_type", "type"],
    "status": ["状态", "站点状态", "status"],
    "synthetic": ["合成数据", "synthetic"],
    "last_verified_at": ["核验时间", "最近核验", "核验日期", "last_verified_at", "verified"],
}
_MAX_ROWS = 500_000


class ImportError_(ValueError):
    """The file as a whole cannot be read (wrong format, no header, no name column…)."""


@dataclass
class RowReport:
    row: int
    name: str | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class ImportReport:
    filename: str
    format: str = ""
    encoding: str | None = None
    datum: str = "wgs84"
    row_label: str = "行"
    total_rows: int = 0
    columns: dict = field(default_factory=dict)  # field -> header as written in the file
    ignored_columns: list = field(default_factory=list)
    file_errors: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # RowReport for rows with any problem
    valid_records: list = field(default_factory=list)
    written: int = 0
    dry_run: bool = False
    skip_invalid: bool = False

    @property
    def error_rows(self) -> int:
        return sum(1 for r in self.rows if r.errors)

    @property
    def warning_rows(self) -> int:
        return sum(1 for r in self.rows if r.warnings and not r.errors)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.error_rows

    def column(self, name: str) -> str:
        """The header the file used for a field (for messages)."""
        return self.columns.get(name, name)


def _norm_header(text) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # 经度(WGS84) -> 经度
    return re.sub(r"[\s*:：_\-]+", "", text)


_ALIAS_LOOKUP = {_norm_header(alias): name for name, aliases in HEADER_ALIASES.items()
                 for alias in aliases}


def map_headers(headers) -> tuple[dict, list]:
    """(field -> column index, headers not understood)."""
    mapping, ignored = {}, []
    for i, header in enumerate(headers):
        name = _ALIAS_LOOKUP.get(_norm_header(header))
        if name and name not in mapping:
            mapping[name] = i
        elif str(header or "").strip():
            ignored.append(str(header).strip())
    return mapping, ignored


def _find_header(rows, limit=10):
    """Index of the header row: the first of the first rows that names two known fields
    (spreadsheets often have a title line above the header)."""
    for i, row in enumerate(rows[:limit]):
        mapping, _ = map_headers(row)
        if len(mapping) >= 2:
            return i
    return None


def _decode_text(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ImportError_("文件既不是 UTF-8 也不是 GBK/GB18030 编码的文本")


def _sniff_format(data: bytes, filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if suffix in (".geojson", ".json") or data.lstrip()[:1] == b"{":
        return "geojson"
    if suffix in (".xls",):
        raise ImportError_("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    return "csv"


def read_rows(data: bytes, filename: str = "", report: ImportReport | None = None):
    """Parse a file into (row number, {field: value}) pairs; fills in the report's
    format, encoding and column facts."""
    report = report or ImportReport(filename)
    fmt = report.format = _sniff_format(data, filename)
    if fmt == "geojson":
        return _read_geojson(data, report)
    if fmt == "xlsx":
        table = _read_xlsx(data)
    else:
        text, report.encoding = _decode_text(data)
        table = _read_csv(text)
    header_at = _find_header(table)
    if header_at is None:
        raise ImportError_("找不到表头：前 10 行中没有一行包含“名称”“经度”“纬度”等列名")
    mapping, report.ignored_columns = map_headers(table[header_at])
    report.columns = {name: str(table[header_at][i]).strip() for name, i in mapping.items()}
    if "name" not in mapping:
        raise ImportError_("缺少“名称”列（也可写作 name、站点名称）")
    if not ({"lon", "lat"} <= mapping.keys() or "location" in mapping):
        raise ImportError_("缺少坐标列：需要“经度”和“纬度”两列（或一列“坐标”写作 经度,纬度）")
    rows = []
    for offset, cells in enumerate(table[header_at + 1:], start=header_at + 2):
        if not any(str(c).strip() for c in cells if c is not None):
            continue  # blank lines at the end of a sheet are not rows
        rows.append((offset, {name: (cells[i] if i < len(cells) else None)
                              for name, i in mapping.items()}))
    if len(rows) > _MAX_ROWS:
        raise ImportError_(f"文件有 {len(rows)} 行，超过一次导入的上限 {_MAX_ROWS} 行")
    return rows


def _read_csv(text: str) -> list[list]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [[undefuse(cell) for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportError_(f"无法读取 XLSX 文件：{exc}") from None
    try:
        sheet = book.worksheets[0]
        return [["" if c is None else undefuse(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _read_geojson(data: bytes, report: ImportReport):
    report.row_label = "个要素"
    text, report.encoding = _decode_text(data)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportError_(f"不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg}") from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get("features"), list):
        features = doc["features"]
    else:
        raise ImportError_("GeoJSON 应为 FeatureCollection（含 features 数组）")
    rows, seen = [], set()
    for number, feature in enumerate(features, start=1):
        props = (feature or {}).get("properties") or {} if isinstance(feature, dict) else {}
        mapping, ignored = map_headers(list(props))
        seen.update(ignored)
        values = {name: props[key] for key, name in
                  ((k, _ALIAS_LOOKUP.get(_norm_header(k))) for k in props) if name}
        for name in mapping:
            report.columns.setdefault(name, list(props)[mapping[name]])
        if "id" in props and isinstance(feature, dict) and feature.get("id") is not None:
            values.setdefault("id", feature.get("id"))
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            coords = geometry.get("coordinates") or []
            values["lon"] = coords[0] if len(coords) > 0 else None
            values["lat"] = coords[1] if len(coords) > 1 else None
        else:
            values["_geometry_error"] = (f"几何类型应为 Point，实为 "
                                         f"{(geometry or {}).get('type') if isinstance(geometry, dict) else '空'}")
        rows.append((number, values))
    report.ignored_columns = sorted(seen)
    report.columns.setdefault("lon", "geometry")
    report.columns.setdefault("lat", "geometry")
    return rows


def _clean_id(value, row_errors):
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(float(unicodedata.normalize("NFKC", str(value)).strip()))
        if number <= 0:
            raise ValueError
        return number
    except ValueError:
        row_errors.append(Problem("id", f"编号“{value}”应为正整数"))
        return None


def validate_rows(rows, datum="wgs84", region="beijing", existing=(), report=None):
    """Check parsed rows; fill ``report.rows`` and ``report.valid_records``."""
    report = report or ImportReport("")
    report.total_rows = len(rows)
    records, results = [], []
    for number, values in rows:
        result = clean_station({k: v for k, v in values.items() if not k.startswith("_")}, datum)
        if values.get("_geometry_error"):
            result.errors = [p for p in result.errors if p.field not in ("lon", "lat")]
            result.errors.append(Problem("geometry", values["_geometry_error"]))
        station_id = _clean_id(values.get("id"), result.errors)
        record = result.record
        record["_row"] = number
        if station_id is not None:
            record["id"] = station_id
        records.append(record)
        results.append(result)
    spatial = check_locations(records, region, existing)
    for record, result, (errors, warnings) in zip(records, results, spatial):
        errors = result.errors + errors
        warnings = result.warnings + warnings
        if errors or warnings:
            report.rows.append(RowReport(record["_row"], record.get("name"), errors, warnings))
        if not errors:
            report.valid_records.append({k: v for k, v in record.items() if k != "_row"})
    return report


def import_file(db, data: bytes, filename: str = "", *, datum="wgs84", region="beijing",
                dry_run=False, skip_invalid=False, username=None) -> ImportReport:
    """Read, check and (unless told otherwise) store a station list in one transaction.

    Returns the report; ``report.written`` is the number of stations stored (0 when
    the file had errors and ``skip_invalid`` was not given, or on a dry run).
    """
    report = ImportReport(filename, datum=datum, dry_run=dry_run, skip_invalid=skip_invalid)
    try:
        rows = read_rows(data, filename, report)
    except ImportError_ as exc:
        report.file_errors.append(str(exc))
        return report
    if not rows:
        report.file_errors.append("文件中没有站点数据行")
        return report
    validate_rows(rows, datum, region, station_points(db), report)
    if dry_run or not report.valid_records or (report.error_rows and not skip_invalid):
        return report
    insert_stations(db, report.valid_records, username=username, action="import")
    report.written = len(report.valid_records)
    return report


def format_report(report: ImportReport, limit: int = 200) -> str:
    """The report as plain text for the command line."""
    lines = [f"文件 {report.filename}：格式 {report.format or '?'}"
             + (f"，编码 {report.encoding}" if report.encoding else "")
             + f"，坐标系 {report.datum}"]
    for message in report.file_errors:
        lines.append(f"错误：{message}")
    if report.file_errors:
        lines.append("未写入任何数据。")
        return "\n".join(lines)
    if report.ignored_columns:
        lines.append("未识别、已忽略的列：" + "、".join(report.ignored_columns))
    lines.append(f"共 {report.total_rows} 行；有错误 {report.error_rows} 行；"
                 f"仅有警告 {report.warning_rows} 行；可导入 {len(report.valid_records)} 行。")
    prefix = "第 {} 个要素" if report.row_label == "个要素" else "第 {} 行"
    for row in report.rows[:limit]:
        for kind, problems in (("错误", row.errors), ("警告", row.warnings)):
            for p in problems:
                lines.append(f"{prefix.format(row.row)} [{report.column(p.field)}] {kind}：{p.message}")
    if len(report.rows) > limit:
        lines.append(f"……另有 {len(report.rows) - limit} 行有问题未列出。")
    if report.dry_run:
        lines.append("试运行（--dry-run）：未写入任何数据。")
    elif report.written:
        lines.append(f"已写入 {report.written} 个站点。")
    elif report.error_rows and not report.skip_invalid:
        lines.append("因存在错误，未写入任何数据（可用 --skip-invalid 只导入无错误的行）。")
    return "\n".join(lines)
