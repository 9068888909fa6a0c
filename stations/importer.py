"""Importing station lists from CSV, XLSX and GeoJSON, all or nothing, in a stream.

Columns are found by their header, Chinese or English.  Every row is checked
and every problem is reported with the row number as a spreadsheet shows it
(header row 1, first station row 2), the column as the file names it, and a
reason.  A file with any error writes nothing unless ``skip_invalid`` is given,
and then exactly the valid rows; a dry run writes nothing at all.

Memory stays bounded for big files (500,000 rows): rows are read one at a time
(``stations.readers``), checked in batches, and parked in a temporary file; the
checks that need the whole file (duplicates) keep only compact arrays.  Writing
then streams the parked rows in batches inside one write transaction, so the
import is still all or nothing.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import unicodedata
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import readers
from .readers import MAX_ROWS, FileProblem
from .coords import CoordinateError, parse_coordinate, parse_lonlat_pair
from .records import Problem, clean_station
from .storage import insert_stations, station_names, station_point_arrays, write_transaction
from .validation import check_places, find_duplicates

__all__ = ["ImportError_", "ImportReport", "RowReport", "HEADER_ALIASES", "map_headers",
           "import_file", "import_path", "import_stream", "format_report", "skipped_summary"]

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
    "hours_text": ["开放时间原文", "hours_text"],
    "facilities": ["设施", "服务设施", "配套设施", "服务内容", "facilities"],
    "manager": ["负责人", "站点负责人", "联系人", "站长", "manager", "contact"],
    "manager_phone": ["负责人电话", "负责人联系电话", "联系人电话", "联系电话", "电话", "联系方式",
                      "手机", "手机号", "manager_phone", "phone", "tel"],
    "station_type": ["类型", "站点类型", "station_type", "type"],
    "status": ["状态", "站点状态", "status"],
    "synthetic": ["合成数据", "synthetic"],
    "last_verified_at": ["核验时间", "最近核验", "核验日期", "last_verified_at", "verified"],
    "note": ["备注", "备注说明", "说明", "附注", "note", "notes", "remark", "remarks"],
}
_MAX_ROWS = MAX_ROWS
BATCH = 5_000         # rows checked, parked and written at a time
DETAIL_LIMIT = 1_000  # rows with errors (and, apart, rows with only warnings) listed in full
SKIPPED_LIMIT = 100   # lines that are not stations, quoted in the report
WRITTEN_LIMIT = 1_000  # written stations the report links to
ImportError_ = FileProblem  # the name callers know


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
    rows: list = field(default_factory=list)  # RowReport for the rows with problems listed
    valid_records: list = field(default_factory=list)  # (readers of small files only)
    valid_rows: int = 0
    written: int = 0
    dry_run: bool = False
    skip_invalid: bool = False
    counted_error_rows: int | None = None    # counted over the whole file when
    counted_warning_rows: int | None = None  # not every row is listed
    skipped_lines: list = field(default_factory=list)  # [row number, text] of lines that are
    skipped_count: int = 0                             # not stations (合计, 填表人, 注：…)
    written_stations: list = field(default_factory=list)  # [row number, id, name], the first ones

    @property
    def error_rows(self) -> int:
        if self.counted_error_rows is not None:
            return self.counted_error_rows
        return sum(1 for r in self.rows if r.errors)

    @property
    def warning_rows(self) -> int:
        if self.counted_warning_rows is not None:
            return self.counted_warning_rows
        return sum(1 for r in self.rows if r.warnings and not r.errors)

    @property
    def unlisted_rows(self) -> int:
        """Rows with problems that the report counts but does not list."""
        return max(0, self.error_rows + self.warning_rows - len(self.rows))

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.error_rows

    def column(self, name: str) -> str:
        """The header the file used for a field (for messages)."""
        return self.columns.get(name, name)

    def columns_of(self, problem: Problem) -> str:
        """The columns a problem is about, as the file names them (经度、纬度 for a
        duplicate point; its one 坐标 column when the file has no 经度/纬度)."""
        names = list(getattr(problem, "columns", ()) or ()) or [problem.field]
        if "location" in self.columns and not {"lon", "lat"} & self.columns.keys():
            names = list(dict.fromkeys("location" if n in ("lon", "lat") else n for n in names))
        return "、".join(self.column(n) for n in names)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("valid_records")
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ImportReport:
        data = dict(data)
        data["rows"] = [RowReport(r["row"], r["name"], [_problem(p) for p in r["errors"]],
                                  [_problem(p) for p in r["warnings"]]) for r in data.get("rows", [])]
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _problem(data: dict) -> Problem:
    return Problem(data["field"], data["message"], tuple(data.get("columns") or ()))


# --- headers -------------------------------------------------------------------------

def _norm_header(text) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # 经度(WGS84) -> 经度
    return re.sub(r"[\s*:：_\-]+", "", text)


_ALIAS_LOOKUP = {_norm_header(alias): name for name, aliases in HEADER_ALIASES.items()
                 for alias in aliases}
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _shown(text) -> str:
    """A header as a report can show it (no control characters, not too long)."""
    text = _UNPRINTABLE.sub("\ufffd", str(text).strip())
    return text if len(text) <= 60 else text[:60] + "…"


def map_headers(headers) -> tuple[dict, list]:
    """(field -> column index, headers not understood)."""
    mapping, ignored = {}, []
    for i, header in enumerate(headers):
        name = _ALIAS_LOOKUP.get(_norm_header(header))
        if name and name not in mapping:
            mapping[name] = i
        elif str(header or "").strip():
            ignored.append(_shown(header))
    return mapping, ignored


# --- reading -------------------------------------------------------------------------

def open_rows(stream, filename: str, report: ImportReport):
    """(rows, estimated row count) for a file: rows is an iterator of (row number,
    {field: value}); fills in the report's format, encoding and columns.  Raises
    FileProblem for a file that cannot be read, now or while the rows are read."""
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise FileProblem("文件是空的")
    fmt = report.format = readers.sniff_format(head, filename)
    if fmt == "geojson":
        report.row_label = "个要素"
        report.encoding = "utf-8"
        return _geojson_rows(readers.iter_geojson(stream), report), None
    if fmt == "xlsx":
        table, estimate = readers.iter_xlsx(stream), None
    else:
        report.encoding, lines = readers.detect_encoding(stream)
        table, estimate = enumerate(readers.iter_csv(stream, report.encoding), start=1), lines - 2
    return _table_rows(table, report), estimate


def _table_rows(table, report):
    first = []
    for number, cells in table:
        first.append((number, cells))
        if len(first) == 10 or len(map_headers(cells)[0]) >= 2:
            break
    at = next((k for k, (_, cells) in enumerate(first) if len(map_headers(cells)[0]) >= 2), None)
    if at is None:
        raise FileProblem("找不到表头：前 10 行中没有一行包含“名称”“经度”“纬度”等列名")
    header = first[at][1]
    mapping, report.ignored_columns = map_headers(header)
    report.columns = {name: _shown(header[i]) for name, i in mapping.items()}
    if "name" not in mapping:
        raise FileProblem("缺少“名称”列（也可写作 name、站点名称）")
    if not ({"lon", "lat"} <= mapping.keys() or "location" in mapping):
        raise FileProblem("缺少坐标列：需要“经度”和“纬度”两列（或一列“坐标”写作 经度,纬度）")
    count, in_note = 0, False
    places = [(mapping[k], parse_lonlat_pair if k == "location" else parse_coordinate)
              for k in ("lon", "lat", "location") if k in mapping]
    for number, cells in table:
        if not any(str(c).strip() for c in cells if c is not None):
            continue  # blank lines at the end of a sheet are not rows
        kind = _not_a_station(cells, places, in_note)
        if kind:
            in_note = in_note or kind == "note"
            report.skipped_count += 1
            if len(report.skipped_lines) < SKIPPED_LIMIT:
                text = " ".join(str(c).strip() for c in cells if c is not None and str(c).strip())
                report.skipped_lines.append([number, _shown(text)])
            continue
        count += 1
        if count > MAX_ROWS:
            raise FileProblem(f"文件超过一次导入的上限 {MAX_ROWS:,} 行（第 {number:,} 行）；请分成几个文件导入")
        yield number, {name: (cells[i] if i < len(cells) else None) for name, i in mapping.items()}


# Lines district unions put around the table: totals, who filled it in, notes below.
_FOOTER = re.compile(
    r"^(?:(?:合计|总计|小计|共计|累计)(?:[:：\d（(]|$)"
    r"|(?:填表人|填报人|制表人|统计人|审核人|审核|负责人签字|联系人|联系电话|填表日期|填报日期|制表日期"
    r"|填表时间|填报时间|填报单位|单位盖章|单位（盖章）|单位\(盖章\)|日期)[:：]?"
    r"|(?:注|备注|说明|附注|注释)\d?[:：])")


def _not_a_station(cells, places, in_note) -> str | None:
    """'footer' or 'note' for a line that is not a station (text, no coordinates, the
    words of a total, a signature or a note), None for a station row.  Lines below a
    note (its numbered points) are part of it while they hold no coordinates."""
    for i, read in places:  # a readable coordinate makes a station row (text there does not)
        if i < len(cells) and cells[i] is not None and str(cells[i]).strip():
            try:
                read(cells[i])
                return None
            except CoordinateError:
                pass
    texts = [unicodedata.normalize("NFKC", str(c)).replace(" ", "").replace("\u3000", "")
             for c in cells if c is not None and str(c).strip()]
    for text in texts:
        match = _FOOTER.match(text)
        if match:
            return "note" if text.startswith(("注", "备注", "说明", "附注")) else "footer"
    if in_note and len(texts) <= 2:
        return "note"
    return None


def _geojson_rows(features, report):
    seen, columns = [], report.columns
    for number, feature in features:
        values = {}
        if not isinstance(feature, dict):
            values["_feature_error"] = "要素应为对象（含 geometry 和 properties）"
            yield number, values
            continue
        props = feature.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, dict):
            values["_feature_error"] = "properties 应为对象"
            props = {}
        for key, value in props.items():
            name = _ALIAS_LOOKUP.get(_norm_header(key))
            if name and name not in values:
                values[name] = value
                columns.setdefault(name, _shown(key))
            elif name is None and key not in seen and len(seen) < 100:
                seen.append(key)
        if "id" in props and feature.get("id") is not None:
            values.setdefault("id", feature.get("id"))
        geometry = feature.get("geometry")
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if isinstance(geometry, dict) and geometry.get("type") == "Point" and isinstance(coords, list) \
                and len(coords) >= 2 and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                             for c in coords[:2]):
            values["lon"], values["lat"] = coords[0], coords[1]
        elif isinstance(geometry, dict) and geometry.get("type") == "Point":
            values["_geometry_error"] = "Point 的 coordinates 应为 [经度, 纬度] 两个数字"
        else:
            kind = geometry.get("type") if isinstance(geometry, dict) else "空"
            values["_geometry_error"] = f"几何类型应为 Point，实为 {_shown(kind)}"
        yield number, values
    report.ignored_columns = sorted(_shown(k) for k in seen)
    columns.setdefault("lon", "geometry")
    columns.setdefault("lat", "geometry")


# --- checking ------------------------------------------------------------------------

def _clean_id(value, row_errors):
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(float(unicodedata.normalize("NFKC", str(value)).strip()))
        if not 0 < number < 2**63:
            raise ValueError
        return number
    except (ValueError, OverflowError):
        row_errors.append(Problem("id", f"编号“{_shown(value)[:30]}”应为正整数"))
        return None


class _Names:
    """Names of many records, kept in a temporary file (memory holds only their ends):
    the duplicate check reads the few it compares."""

    def __init__(self, spill_dir=None):
        self.file = tempfile.TemporaryFile(dir=spill_dir, buffering=1 << 16)
        self.ends, self.size, self.dirty = array("q"), 0, False

    def append(self, name):
        data = (name or "").encode("utf-8", "surrogatepass")
        self.file.write(data)
        self.size += len(data)
        self.ends.append(self.size)
        self.dirty = True

    def __len__(self):
        return len(self.ends)

    def __getitem__(self, i):
        if self.dirty:
            self.file.flush()
            self.dirty = False
        start = self.ends[i - 1] if i else 0
        data = os.pread(self.file.fileno(), self.ends[i] - start, start)
        return data.decode("utf-8", "surrogatepass") or None

    def close(self):
        self.file.close()


class _Checked:
    """What the check pass keeps: per-record error flags and the parked records."""

    def __init__(self, spill_dir=None):
        self.spill = tempfile.TemporaryFile(dir=spill_dir)
        self.names = None
        self.flags = bytearray()  # per record: 1 error, 2 warning
        self.listed = {}          # record index -> RowReport
        self.listed_errors = self.listed_warnings = 0

    def add(self, i, number, name, errors, warnings):
        if not errors and not warnings:
            return
        self.flags[i] |= (1 if errors else 0) | (2 if warnings else 0)
        row = self.listed.get(i)
        if row is None:
            if errors and self.listed_errors < DETAIL_LIMIT:
                self.listed_errors += 1
            elif not errors and self.listed_warnings < DETAIL_LIMIT:
                self.listed_warnings += 1
            else:
                return
            row = self.listed[i] = RowReport(number, name)
        row.errors += errors
        row.warnings += warnings

    def park(self, batch):
        pickle.dump(batch, self.spill, protocol=pickle.HIGHEST_PROTOCOL)

    def batches(self):
        self.spill.seek(0)
        while True:
            try:
                yield pickle.load(self.spill)
            except EOFError:
                return

    def close(self):
        self.spill.close()
        if self.names is not None:
            self.names.close()


def _check(rows, report, datum, region, db, progress, estimate, spill_dir):
    checked = _Checked(spill_dir)
    lons, lats, numbers, ids = array("d"), array("d"), array("q"), array("q")
    names = checked.names = _Names(spill_dir)
    batch = []

    def flush():
        records = [record for _, record, _ in batch]
        for (i, record, result), (errors, warnings) in zip(batch, check_places(records, region)):
            checked.add(i, record["_row"], record.get("name"), result.errors + errors,
                        result.warnings + warnings)
            lons.append(record.get("lon", np.nan) if record.get("lon") is not None else np.nan)
            lats.append(record.get("lat", np.nan) if record.get("lat") is not None else np.nan)
        checked.park([(i, record) for i, record, _ in batch])
        batch.clear()
        progress("check", len(names), estimate)

    try:
        for number, values in rows:
            i = len(names)
            result = clean_station({k: v for k, v in values.items() if not k.startswith("_")}, datum)
            for key in ("_geometry_error", "_feature_error"):
                if values.get(key):
                    result.errors = [p for p in result.errors if p.field not in ("lon", "lat")]
                    result.errors.append(Problem("geometry", values[key]))
            station_id = _clean_id(values.get("id"), result.errors)
            record = result.record
            record["_row"] = number
            if station_id is not None:
                record["id"] = station_id
            checked.flags.append(0)
            numbers.append(number)
            names.append(record.get("name"))
            ids.append(station_id or 0)
            batch.append((i, record, result))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        report.total_rows = len(names)
        if names:
            old_ids, old_lons, old_lats = station_point_arrays(db)
            found = find_duplicates(np.frombuffer(lons, dtype=float), np.frombuffer(lats, dtype=float),
                                    names, numbers, ids, existing_ids=old_ids, existing_lons=old_lons,
                                    existing_lats=old_lats,
                                    existing_names=lambda wanted: station_names(db, wanted))
            for i, problem in found:
                checked.add(i, numbers[i], names[i], [problem], [])
    except BaseException:
        checked.close()
        raise
    flags = checked.flags
    report.counted_error_rows = flags.count(1) + flags.count(3)
    report.counted_warning_rows = flags.count(2)
    report.valid_rows = report.total_rows - report.counted_error_rows
    report.rows = sorted(checked.listed.values(), key=lambda r: r.row)
    return checked


# --- importing -----------------------------------------------------------------------

def _no_progress(stage, done, total):
    pass


def import_stream(db, stream, filename: str = "", *, datum="wgs84", region="beijing",
                  dry_run=False, skip_invalid=False, username=None, progress=None,
                  spill_dir=None) -> ImportReport:
    """Read, check and (unless told otherwise) store a station list in one transaction.

    Parameters
    ----------
    stream : binary file object
        The file, seekable (an open file or BytesIO).
    progress : callable, optional
        ``progress(stage, done, total)`` with stage ``"check"`` or ``"write"``;
        ``total`` is an estimate or None.
    spill_dir : path, optional
        Where checked rows wait for the write (a temporary file, removed after).

    Returns
    -------
    ImportReport
        ``written`` is the number of stations stored (0 when the file had errors
        and ``skip_invalid`` was not given, or on a dry run).
    """
    report = ImportReport(filename, datum=datum, dry_run=dry_run, skip_invalid=skip_invalid)
    progress = progress or _no_progress
    try:
        rows, estimate = open_rows(stream, filename, report)
        checked = _check(rows, report, datum, region, db, progress, estimate, spill_dir)
    except FileProblem as exc:
        report.file_errors.append(str(exc))
        return report
    try:
        if not report.total_rows:
            report.file_errors.append("文件中没有站点数据行")
        elif not (dry_run or not report.valid_rows or (report.error_rows and not skip_invalid)):
            _write(db, checked, report, username, progress)
    finally:
        checked.close()
    return report


def _write(db, checked, report, username, progress):
    # Rows that carry an id first, so that ids handed to the others never collide.
    written, flags = 0, checked.flags
    with write_transaction(db):
        for with_id in (True, False):
            for batch in checked.batches():
                picked = [record for i, record in batch
                          if not flags[i] & 1 and (record.get("id") is not None) == with_id]
                records = [{k: v for k, v in record.items() if k != "_row"} for record in picked]
                if records:
                    ids = insert_stations(db, records, username=username, action="import")
                    listed = report.written_stations
                    for record, station_id in zip(picked[:max(0, WRITTEN_LIMIT - len(listed))], ids):
                        listed.append([record["_row"], station_id, record.get("name")])
                    written += len(records)
                    progress("write", written, report.valid_rows)
    report.written = written
    report.written_stations.sort()


def import_file(db, data: bytes, filename: str = "", **options) -> ImportReport:
    """:func:`import_stream` over bytes in memory (small files, tests)."""
    return import_stream(db, io.BytesIO(data), filename, **options)


def import_path(db, path, filename: str | None = None, **options) -> ImportReport:
    """:func:`import_stream` over a file on disk; the report names ``filename`` if given."""
    path = Path(path)
    with open(path, "rb") as stream:
        return import_stream(db, stream, filename or path.name, **options)


def skipped_summary(report: ImportReport) -> str:
    """The warning about lines read as not stations, quoting them."""
    quoted = "；".join(f"第 {number} 行“{text}”" for number, text in report.skipped_lines)
    more = report.skipped_count - len(report.skipped_lines)
    return (f"警告：已跳过 {report.skipped_count} 行不是站点的内容（合计、填表人、注释等，没有坐标）："
            + quoted + (f"；另有 {more} 行未列出" if more > 0 else ""))


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
    if report.skipped_count:
        lines.append(skipped_summary(report))
    lines.append(f"共 {report.total_rows} 行；有错误 {report.error_rows} 行；"
                 f"仅有警告 {report.warning_rows} 行；可导入 {report.valid_rows} 行。")
    prefix = "第 {} 个要素" if report.row_label == "个要素" else "第 {} 行"
    for row in report.rows[:limit]:
        for kind, problems in (("错误", row.errors), ("警告", row.warnings)):
            for p in problems:
                lines.append(f"{prefix.format(row.row)} [{report.columns_of(p)}] {kind}：{p.message}")
    unlisted = report.unlisted_rows + max(0, len(report.rows) - limit)
    if unlisted:
        lines.append(f"……另有 {unlisted} 行有问题未列出。")
    if report.dry_run:
        lines.append("试运行（--dry-run）：未写入任何数据。")
    elif report.written:
        lines.append(f"已写入 {report.written} 个站点。")
    elif report.error_rows and not report.skip_invalid:
        lines.append("因存在错误，未写入任何数据（可用 --skip-invalid 只导入无错误的行）。")
    return "\n".join(lines)


# --- for other readers of tables (stations.coverage) ----------------------------------

def _sniff_format(data: bytes, filename: str) -> str:
    return readers.sniff_format(data[:8], filename)


def _decode_text(data: bytes) -> tuple[str, str]:
    encoding, _ = readers.detect_encoding(io.BytesIO(data))
    return data.decode(encoding), encoding


def _read_csv(text: str) -> list[list]:
    return list(readers.iter_csv(io.BytesIO(text.encode("utf-8")), "utf-8"))


def _read_xlsx(data: bytes) -> list[list]:
    """The first sheet as a list of rows (index = row number - 1; blank rows empty)."""
    table = []
    for number, cells in readers.iter_xlsx(io.BytesIO(data)):
        table.extend([] for _ in range(number - 1 - len(table)))
        table.append(["" if c is None else c for c in cells])
    return table
