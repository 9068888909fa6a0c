"""Reports as XLSX (one sheet per table) and CSV (one table), formula-like text defused."""

from __future__ import annotations

import csv
import io

from ..registry.exporter import _cell as defuse  # the exporter's rule: = + - @ leave with a leading '
from .reports import FIGURE_LABELS, FIGURES

__all__ = ["TABLES", "report_tables", "report_csv", "report_xlsx"]

TABLES = {"months": "按月", "districts": "按区", "stations": "按站点"}
_FIGS = ("entries", "closed_days") + FIGURES


def report_tables(report: dict, stations: list[dict], summary: str) -> dict:
    """{table code: (header, rows)} for the report's three tables."""
    labels = [FIGURE_LABELS[f] for f in _FIGS]
    months = (["月份"] + labels, [[m["month"]] + [m[f] for f in _FIGS] for m in report["months"]])
    districts = (["区"] + labels + ["骑手评分", "评价人数"],
                 [[d["district"]] + [d[f] for f in _FIGS] + [d["rating"], d["rating_count"]]
                  for d in report["districts"]])
    station_rows = (["站点编号", "站点名称", "区", "所属工会"] + labels + ["骑手评分", "评价人数", "合成数据"],
                    [[s["station_id"], s["name"], s["district"], s["host_union"]] + [s[f] for f in _FIGS]
                     + [s["rating"], s["rating_count"], "是" if s["synthetic"] else ""] for s in stations])
    return {"months": months, "districts": districts, "stations": station_rows}


def report_csv(tables: dict, table: str) -> bytes:
    """One table as UTF-8 CSV with a byte-order mark (Excel opens it as UTF-8)."""
    header, rows = tables[table]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else defuse(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_xlsx(tables: dict, summary: str, period: dict) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    about = book.create_sheet("说明")
    about.append(["期间", f"{period['from']} 至 {period['to']}"])
    about.append(["摘要", defuse(summary)])
    for code, (header, rows) in tables.items():
        sheet = book.create_sheet(TABLES[code])
        sheet.append(header)
        for row in rows:
            sheet.append([defuse(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
