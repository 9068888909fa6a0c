"""A month's ledger from Excel or CSV: the same row-by-row checks as the station import.

Columns are found by header (Chinese or the API's codes): 站点编号 (or 站点名称 when
names are unique), 日期, one column per visitor kind and service, 备注.  Every problem
is reported with its row (header row 1), the column as the file names it, and a reason:
an unknown station or another union's, a date in the future or that does not exist, a
negative, fractional or absurd count, the same station and day twice.  A file with any
error writes nothing.

The file is read twice as a stream (``stations.registry.readers``): the first pass checks every
row without holding the write lock; only a clean file is read again and written in
batches inside one write transaction (all or nothing).  A day that already has an entry
is replaced and the old version kept in ``ledger_history``, as on the form.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date

from ..registry import readers
from ..registry.readers import FileProblem
from ..storage import now_iso, write_transaction
from .codes import COUNT_COLUMNS, MAX_DAILY_COUNT, SERVICES, VISITORS, LedgerError
from .common import KEEPER_ROLES, clean_note, keeper_scope, parse_count, parse_date, today

__all__ = ["LedgerImportReport", "import_ledger", "MAX_LEDGER_ROWS", "HEADERS"]

MAX_LEDGER_ROWS = 1_000_000  # a month of 30,000 stations is 930,000 rows
DETAIL_LIMIT = 1_000
BATCH = 5_000

HEADERS = {
    "station_id": ["站点编号", "驿站编号", "站点id", "驿站id", "编号", "id", "station_id", "station"],
    "station_name": ["站点名称", "驿站名称", "站点", "驿站", "名称", "name", "station_name"],
    "date": ["日期", "服务日期", "台账日期", "date", "day"],
    "note": ["备注", "说明", "note", "notes"],
}
for _code, _label in VISITORS.items():
    HEADERS["v_" + _code] = [_label, f"v_{_code}", f"visitors.{_code}"] + (
        [_code] if _code != "other" else ["其他户外劳动者人次", "其他人员"])
for _code, _label in SERVICES.items():
    HEADERS["s_" + _code] = [_label + "服务", f"s_{_code}", f"services.{_code}"] + (
        [_label, _code] if _code != "other" else ["其他服务次数"])
HEADERS["v_driver"] += ["出租车司机", "网约车司机", "出租网约车司机"]
HEADERS["s_rest"] += ["休息", "避雨", "休息避雨"]
HEADERS["s_legal_aid"] += ["维权", "法律咨询", "维权法律咨询"]


def _norm(text) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # 外卖骑手(人次) -> 外卖骑手
    return re.sub(r"[\s*:：_\-/、]+", "", text)


_LOOKUP = {}
for _name, _aliases in HEADERS.items():
    for _alias in _aliases:
        _LOOKUP.setdefault(_norm(_alias), _name)


@dataclass
class RowProblem:
    row: int
    column: str
    message: str


@dataclass
class LedgerImportReport:
    filename: str
    format: str = ""
    encoding: str | None = None
    total_rows: int = 0
    columns: dict = field(default_factory=dict)
    ignored_columns: list = field(default_factory=list)
    file_errors: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # RowProblem, the first DETAIL_LIMIT
    error_rows: int = 0
    written: int = 0
    replaced: int = 0
    stations: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.error_rows

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LedgerImportReport:
        """The report again from ``to_dict`` (kept as JSON by a background job)."""
        known = {f for f in cls.__dataclass_fields__}
        report = cls(**{k: v for k, v in data.items() if k in known})
        report.problems = [RowProblem(**p) for p in report.problems]
        return report


def _labels() -> dict:
    out = {"station_id": "站点编号", "station_name": "站点名称", "date": "日期", "note": "备注"}
    out.update({"v_" + c: label for c, label in VISITORS.items()})
    out.update({"s_" + c: label + "服务" for c, label in SERVICES.items()})
    return out


LABELS = _labels()


def _open(stream, filename, report):
    fmt = report.format = readers.sniff_stream(stream, filename)
    if fmt == "geojson":
        raise FileProblem("台账请用 Excel（.xlsx）或 CSV 文件，不收 GeoJSON/JSON")
    if fmt == "xlsx":
        return readers.iter_xlsx(stream, max_row_number=MAX_LEDGER_ROWS + 11)
    report.encoding, _ = readers.detect_encoding(stream)
    return _numbered(readers.iter_csv(stream, report.encoding))


def _numbered(rows):
    yield from enumerate(rows, start=1)  # a generator: close() reaches the reader


def _rows(stream, filename, report):
    """(row number, {field: value}) for each data row; fills in the report's columns."""
    table = _open(stream, filename, report)
    try:
        header, mapping = _header(table)
    except FileProblem:
        table.close()  # before the file is: a refused header leaves no half-read reader behind
        raise
    report.columns = {name: str(header[i]).strip()[:60] for name, i in mapping.items()}
    yield from _body(table, header, mapping, report)


def _header(table):
    """(header cells, {field: column index}) from the first ten rows, or FileProblem."""
    header, mapping = None, {}
    for number, cells in table:
        found = {}
        for i, cell in enumerate(cells):
            name = _LOOKUP.get(_norm(cell))
            if name and name not in found:
                found[name] = i
        if "date" in found and len(found) >= 2:
            header, mapping = cells, found
            break
        if number >= 10:
            break
    if header is None:
        raise FileProblem("找不到表头：前 10 行中没有一行包含“日期”和“站点编号”“外卖骑手”等列名")
    bare_other = [i for i, cell in enumerate(header) if _norm(cell) == "其他" and i not in mapping.values()]
    if bare_other:
        # The form and the page call the service "其他"; beside a 其他户外劳动者 column a bare
        # 其他 can only be the service.  Alone it could be either: say so, never drop it.
        if "v_other" in mapping and "s_other" not in mapping and len(bare_other) == 1:
            mapping["s_other"] = bare_other[0]
        else:
            raise FileProblem("“其他”列不清楚是来访人次还是服务次数：请把列名改为“其他户外劳动者”或“其他服务”")
    if "station_id" not in mapping and "station_name" not in mapping:
        raise FileProblem("缺少“站点编号”列（也可写作 id、station_id；或用唯一的“站点名称”）")
    if not any(name in mapping for name in COUNT_COLUMNS):
        raise FileProblem("没有任何来访或服务的列：例如“外卖骑手”“快递员”“饮水”“热饭”")
    return header, mapping


def _body(table, header, mapping, report):
    report.ignored_columns = [str(c).strip()[:60] for i, c in enumerate(header)
                              if i not in mapping.values() and str(c or "").strip()]
    count = 0
    for number, cells in table:
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        count += 1
        if count > MAX_LEDGER_ROWS:
            raise FileProblem(f"文件超过一次导入的上限 {MAX_LEDGER_ROWS:,} 行（第 {number:,} 行）；请分成几个文件导入")
        yield number, {name: (cells[i] if i < len(cells) else None) for name, i in mapping.items()}


class _Stations:
    """The registry's stations as the importing user may see them, looked up once."""

    def __init__(self, db, user):
        self.by_id, by_name = {}, {}
        keeps = user is not None and user["role"] in KEEPER_ROLES
        condition, params = keeper_scope(db, user).sql("host_union_id")
        mine = {r[0] for r in db.execute(f"SELECT id FROM stations WHERE 1{condition}", params)} if keeps else set()
        for sid, name in db.execute("SELECT id, name FROM stations"):
            self.by_id[sid] = (name, sid in mine)
            by_name.setdefault(name, []).append(sid)
        self.by_name = by_name

    def resolve(self, values, column) -> int:
        raw = values.get("station_id")
        if raw is not None and str(raw).strip():
            text = unicodedata.normalize("NFKC", str(raw)).strip()
            try:
                sid = int(float(text)) if re.fullmatch(r"\d{1,18}(\.0*)?", text) else None
            except ValueError:
                sid = None
            if sid is None:
                raise LedgerError(f"站点编号“{text[:20]}”不是正整数", "station_id")
            if sid not in self.by_id:
                raise LedgerError(f"没有编号为 {sid} 的站点", "station_id")
        else:
            name = " ".join(str(values.get("station_name") or "").split())
            if not name:
                raise LedgerError("请填写站点编号", column)
            ids = self.by_name.get(name, [])
            if not ids:
                raise LedgerError(f"没有名为“{name[:40]}”的站点", "station_name")
            if len(ids) > 1:
                raise LedgerError(f"有 {len(ids)} 个站点叫“{name[:40]}”，请改用站点编号", "station_name")
            sid = ids[0]
        name, allowed = self.by_id[sid]
        if not allowed:
            raise LedgerError(f"“{name}”（编号 {sid}）不是本工会的站点，不能登记", column)
        return sid


def _check_row(values, stations, last_day, report):
    """(station id, date, counts, note) or raise LedgerError for the first problem of each field."""
    problems = []
    sid = day = None
    id_column = "station_id" if "station_id" in report.columns else "station_name"
    try:
        sid = stations.resolve(values, id_column)
    except LedgerError as exc:
        problems.append((exc.field, exc.message))
    try:
        day = parse_date(values.get("date"), not_after=last_day)
    except LedgerError as exc:
        problems.append(("date", exc.message))
    counts = []
    for column in COUNT_COLUMNS:
        if column not in report.columns:
            counts.append(0)
            continue
        try:
            counts.append(parse_count(values.get(column), column, LABELS[column], maximum=MAX_DAILY_COUNT))
        except LedgerError as exc:
            problems.append((column, exc.message))
            counts.append(0)
    note = None
    if "note" in report.columns and values.get("note") is not None:
        try:
            note = clean_note(str(values.get("note")))
        except LedgerError as exc:
            problems.append(("note", exc.message))
    return sid, day, counts, note, problems


def import_ledger(db, path, user, *, filename: str | None = None, dry_run: bool = False,
                  last_day: date | None = None, progress=None, synthetic: bool = False) -> LedgerImportReport:
    """Check, then (if every row is right and not ``dry_run``) write a ledger file.

    ``user`` decides which stations may be written (a ``union`` user: its own union's).
    Returns the report; nothing is written when it lists any error.  ``progress(stage,
    done, total)`` hears of the rows checked ("check", total unknown) and written ("write").
    """
    started = time.perf_counter()
    report = LedgerImportReport(filename=filename or str(path), dry_run=dry_run)
    last_day = last_day or today()
    stations = _Stations(db, user)
    seen = {}
    try:
        with open(path, "rb") as stream:
            for number, values in _rows(stream, report.filename, report):
                report.total_rows += 1
                sid, day, _counts, _note, problems = _check_row(values, stations, last_day, report)
                if sid is not None and day is not None and not problems:
                    key = sid * 1_000_000 + day.toordinal()
                    first = seen.get(key)
                    if first is not None:
                        problems.append(("date", f"站点 {sid} 的 {day.isoformat()} 在第 {first} 行已有一行"))
                    else:
                        seen[key] = number
                if problems:
                    report.error_rows += 1
                    for column, message in problems:
                        if len(report.problems) < DETAIL_LIMIT:
                            report.problems.append(RowProblem(number, report.columns.get(column, LABELS.get(
                                column, column)), message))
                if progress and report.total_rows % 50_000 == 0:
                    progress("check", report.total_rows, None)
        if not report.total_rows and not report.file_errors:
            report.file_errors.append("文件里没有台账行（表头下面是空的）")
    except FileProblem as exc:
        report.file_errors.append(str(exc))
    report.stations = len({key // 1_000_000 for key in seen})
    if report.ok and not dry_run:
        with open(path, "rb") as stream:
            _write(db, _rows(stream, report.filename, LedgerImportReport(report.filename)), stations,
                   last_day, user, report, progress, synthetic)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


_BEFORE_JSON = (
    "json_object('date', e.date, 'visitors', json_object("
    + ", ".join(f"'{c}', e.v_{c}" for c in VISITORS) + "), 'services', json_object("
    + ", ".join(f"'{c}', e.s_{c}" for c in SERVICES)
    + "), 'note', e.note, 'saved_at', e.saved_at, 'saved_by', e.saved_by)")


def _write(db, rows, stations, last_day, user, report, progress, synthetic):
    who = (user or {}).get("username")
    stamp = int(time.time())
    columns = ", ".join(COUNT_COLUMNS)
    marks = ", ".join("?" for _ in range(len(COUNT_COLUMNS) + 6))
    sets = ", ".join(f"{c} = excluded.{c}" for c in COUNT_COLUMNS)
    # A temporary table per import: the batch, then the old versions of the days it
    # replaces copied to the history, then one upsert (its UPDATE trigger keeps the
    # monthly summary right for replaced days).
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS ledger_batch (station_id INTEGER, date TEXT, "
               f"{', '.join(c + ' INTEGER' for c in COUNT_COLUMNS)}, note TEXT, saved_at INTEGER, "
               "saved_by TEXT, synthetic INTEGER, PRIMARY KEY (station_id, date))")
    batch = []

    def flush():
        db.execute("DELETE FROM temp.ledger_batch")
        db.conn.executemany(f"INSERT INTO temp.ledger_batch VALUES ({marks})", batch)
        replaced = db.execute(
            "INSERT INTO ledger_history (station_id, date, replaced_at, replaced_by, before) "
            f"SELECT e.station_id, e.date, ?, ?, {_BEFORE_JSON} "
            "FROM temp.ledger_batch b JOIN ledger_entries e ON e.station_id = b.station_id AND e.date = b.date",
            [now_iso(), who]).rowcount
        db.execute(f"INSERT INTO ledger_entries (station_id, date, {columns}, note, saved_at, saved_by, synthetic) "
                   f"SELECT station_id, date, {columns}, note, saved_at, saved_by, synthetic FROM temp.ledger_batch "
                   f"WHERE true ON CONFLICT (station_id, date) DO UPDATE SET {sets}, note = excluded.note, "
                   "saved_at = excluded.saved_at, saved_by = excluded.saved_by, synthetic = excluded.synthetic")
        report.replaced += max(replaced, 0)
        report.written += len(batch)
        batch.clear()
        if progress:
            progress("write", report.written, report.total_rows)

    try:
        with write_transaction(db):
            for _number, values in rows:
                sid, day, counts, note, problems = _check_row(values, stations, last_day, report)
                if problems:  # the file changed between the passes
                    raise FileProblem("文件在检查和写入之间被改动了，未写入任何数据；请重新导入")
                batch.append([sid, day.isoformat(), *counts, note, stamp, who, int(synthetic)])
                if len(batch) >= BATCH:
                    flush()
            if batch:
                flush()
    except FileProblem as exc:
        report.file_errors.append(str(exc))
        report.written = report.replaced = 0
    finally:
        db.execute("DROP TABLE IF EXISTS temp.ledger_batch")
