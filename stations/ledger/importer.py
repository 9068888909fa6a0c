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

from itertools import chain

from ..registry import readers
from ..registry.readers import FileProblem
from ..storage import now_iso, write_transaction
from .codes import COUNT_COLUMNS, MAX_DAILY_COUNT, SERVICES, VISITORS, LedgerError
from .common import KEEPER_ROLES, clean_note, keeper_scope, parse_count, parse_date, today
from .sheet import HEADERS, LABELS, read_layout, skipped_kind

__all__ = ["LedgerImportReport", "import_ledger", "MAX_LEDGER_ROWS", "HEADERS"]

MAX_LEDGER_ROWS = 1_000_000  # a month of 30,000 stations is 930,000 rows
DETAIL_LIMIT = 1_000
SKIPPED_LIMIT = 20
BATCH = 5_000

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
    skipped_lines: list = field(default_factory=list)  # [row, text] of 合计, 填表人, 注… lines
    skipped_count: int = 0
    title: str = ""
    title_year: int | None = None  # the year the sheet's title names
    month: str | None = None  # the month chosen for the import (YYYY-MM), if any

    @property
    def year(self) -> int | None:
        """The year of dates written without one (11月3日): the chosen month's, else the title's."""
        return int(self.month[:4]) if self.month else self.title_year

    @property
    def skipped_summary(self) -> str:
        """The warning about lines read as not ledger rows, quoting them."""
        if not self.skipped_count:
            return ""
        quoted = "；".join(f"第 {number} 行“{text}”" for number, text in self.skipped_lines)
        more = self.skipped_count - len(self.skipped_lines)
        return (f"警告：已跳过 {self.skipped_count} 行不是台账的内容（合计、填表人、联系电话、审核人、注释等，"
                "没有可读的日期）：" + quoted + (f"；另有 {more} 行未列出" if more > 0 else ""))

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
    """(row number, {field: value}) for each ledger row; fills in the report's columns,
    the year the title names and the lines skipped as not ledger rows."""
    table = _open(stream, filename, report)
    try:
        layout = read_layout(table)
    except FileProblem:
        table.close()  # before the file is: a refused header leaves no half-read reader behind
        raise
    report.columns = {name: layout.shown[i][:60] for name, i in layout.mapping.items()}
    report.title = layout.title
    report.title_year = layout.year
    yield from _body(chain(layout.pending, table), layout, report)


def _body(table, layout, report):
    mapping = layout.mapping
    report.ignored_columns = [name[:60] for i, name in enumerate(layout.shown)
                              if i not in mapping.values() and name]
    year = report.year
    count, in_note = 0, False
    for number, cells in table:
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        kind = skipped_kind(cells, mapping, in_note, year)
        if kind:  # 合计, 填表人, 注：… — quoted as a warning, never a ledger row
            in_note = in_note or kind == "note"
            report.skipped_count += 1
            if len(report.skipped_lines) < SKIPPED_LIMIT:
                text = " ".join(str(c).strip() for c in cells if c is not None and str(c).strip())
                report.skipped_lines.append([number, text[:60] + ("…" if len(text) > 60 else "")])
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
        day = parse_date(values.get("date"), not_after=last_day, year=report.year)
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
                  last_day: date | None = None, progress=None, synthetic: bool = False,
                  month: str | None = None) -> LedgerImportReport:
    """Check, then (if every row is right and not ``dry_run``) write a ledger file.

    ``user`` decides which stations may be written (a ``union`` user: its own union's).
    ``month`` (YYYY-MM, optional) gives the year of dates written 11月3日; without it the
    sheet's title does.  Returns the report; nothing is written when it lists any error.
    ``progress(stage, done, total)`` hears of the rows checked ("check", total unknown)
    and written ("write").
    """
    started = time.perf_counter()
    report = LedgerImportReport(filename=filename or str(path), dry_run=dry_run)
    if month:
        if not re.fullmatch(r"(20\d{2})-(0[1-9]|1[0-2])", str(month)):
            report.file_errors.append(f"台账月份“{str(month)[:20]}”应写作 年-月，例如 2026-11")
            return report
        report.month = month
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
            _write(db, _rows(stream, report.filename, LedgerImportReport(report.filename, month=report.month)), stations,
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
