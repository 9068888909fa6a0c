"""Checking a station list: headers found by alias, rows read from CSV, XLSX or
GeoJSON, lines that are not stations (totals, signatures, notes) skipped, each
row's cells and coordinates checked, and duplicates looked for across the file and
against the stations already stored.

Memory stays bounded: rows are checked in batches and parked in a temporary file;
the duplicate check keeps only compact arrays (names spill to a temporary file).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tempfile
import unicodedata
from array import array

import numpy as np

from .. import readers
from ..coords import CoordinateError, parse_coordinate, parse_lonlat_pair
from ..readers import MAX_ROWS, FileProblem
from ..records import Problem, clean_station
from ...storage import station_names, station_point_arrays
from ..validation import check_places, find_duplicates
from .report import ImportReport, RowReport
from .scope import ScopeCheck
from .unions import NewUnions

__all__ = ["HEADER_ALIASES", "footer_kind", "map_headers", "open_rows"]

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
    "host_union_id": ["所属工会编号", "工会编号", "host_union_id"],  # read only when the name is empty
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
BATCH = 5_000         # rows checked, parked and written at a time
DETAIL_LIMIT = 1_000  # rows with errors (and, apart, rows with only warnings) listed in full
SKIPPED_LIMIT = 100   # lines that are not stations, quoted in the report


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
    fmt = report.format = readers.sniff_stream(stream, filename)
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
    return footer_kind(cells, in_note)


def footer_kind(cells, in_note: bool = False) -> str | None:
    """'footer' (合计, 填表人, 联系电话, 审核人…) or 'note' (注：…, and the short lines
    below a note while ``in_note``) when a line's words say it is not a row of the
    table; None otherwise.  The caller first rules out a line holding a readable
    coordinate or date: that is a row whatever its text (a 备注 may start with 说明：)."""
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
        self.unions = None        # NewUnions: host unions no union answers to yet
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


def _check(rows, report, datum, region, db, progress, estimate, spill_dir, scope=None):
    checked = _Checked(spill_dir)
    in_scope = ScopeCheck(db, scope)
    lons, lats, numbers, ids = array("d"), array("d"), array("q"), array("q")
    names = checked.names = _Names(spill_dir)
    unions = checked.unions = NewUnions(db)
    batch = []

    def flush():
        records = [record for _, record, _ in batch]
        for (i, record, result), (errors, warnings) in zip(batch, check_places(records, region)):
            checked.add(i, record["_row"], record.get("name"),
                        result.errors + errors + in_scope.problems(record), result.warnings + warnings)
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
            unions.see(record, values.get("host_union_id"), result.warnings)
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
    report.new_union_count, report.new_unions = unions.report(flags)
    report.rows = sorted(checked.listed.values(), key=lambda r: r.row)
    return checked


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
