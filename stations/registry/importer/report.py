"""The import report: what a station import found, row by row, and its text for the
command line.  Shared by the checks (which fill it) and the pipeline (which writes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..readers import DATUM_LABELS, FileProblem, describe_file
from ..records import Problem
from ...unions.names import did_you_mean

__all__ = ["ImportError_", "ImportReport", "RowReport", "format_report", "skipped_summary",
           "new_unions_summary"]

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
    new_union_count: int = 0                          # host unions no union answered to: added as
    new_unions: list = field(default_factory=list)    # unplaced; [name, rows, [possible matches]]

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



def skipped_summary(report: ImportReport) -> str:
    """The warning about lines read as not stations, quoting them."""
    quoted = "；".join(f"第 {number} 行“{text}”" for number, text in report.skipped_lines)
    more = report.skipped_count - len(report.skipped_lines)
    return (f"警告：已跳过 {report.skipped_count} 行不是站点的内容（合计、填表人、注释等，没有坐标）："
            + quoted + (f"；另有 {more} 行未列出" if more > 0 else ""))


def new_unions_summary(report: ImportReport) -> str:
    """The warning about host unions the import adds (or would add) as unplaced, each with
    its possible matches: "新建工会 3 个：A（是否指“X”？）、B、C；请在工会管理中确认归属"."""
    shown = [name + did_you_mean(matches) for name, _, matches in report.new_unions[:20]]
    more = report.new_union_count - len(shown)
    added = "新建工会" if report.written else "导入后将新建工会"
    return (f"{added} {report.new_union_count} 个：" + "、".join(shown) + (f"等（另有 {more} 个）" if more > 0 else "")
            + "；请在工会管理中确认归属")


def format_report(report: ImportReport, limit: int = 200) -> str:
    """The report as plain text for the command line."""
    lines = [f"文件 {report.filename}：{describe_file(report.format, report.encoding)}"
             f"，坐标系 {DATUM_LABELS.get(report.datum, report.datum)}"]
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
    if report.new_union_count:
        lines.append("警告：" + new_unions_summary(report))
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

