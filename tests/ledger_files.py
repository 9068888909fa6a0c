"""Month ledger files as a district union's Excel template makes them (tests' builder).

A title merged over the table, a 填报单位 line, a two-row header (来访人次 and 服务次数
merged over the item names; 站点编号, 站点名称, 日期 and 备注 merged down both rows),
the rows, then a 合计 row, a 填表人/联系电话/审核人 line and a 注 note of two lines.
"""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

VISITOR_ITEMS = ["外卖骑手", "快递员", "环卫工人", "其他"]
SERVICE_ITEMS = ["饮水", "热饭", "充电", "其他"]


def district_workbook(path, rows, *, title="朝阳区户外劳动者服务站点服务台账", footer=True):
    """Write ``rows`` ([station id, station name, date cell, 4 visitor counts, 4 service
    counts, note]) under the district template; returns the path."""
    book = Workbook()
    sheet = book.active
    sheet.title = "服务台账"
    width = 3 + len(VISITOR_ITEMS) + len(SERVICE_ITEMS) + 1
    sheet.cell(1, 1, title).font = Font(bold=True, size=16)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.cell(2, 1, "填报单位（盖章）：朝阳区总工会")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=6)
    for column, name in enumerate(["站点编号", "站点名称", "日期"], start=1):
        sheet.cell(3, column, name)
        sheet.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
    first = 4
    sheet.cell(3, first, "来访人次")
    sheet.merge_cells(start_row=3, start_column=first, end_row=3, end_column=first + len(VISITOR_ITEMS) - 1)
    for k, name in enumerate(VISITOR_ITEMS):
        sheet.cell(4, first + k, name)
    first += len(VISITOR_ITEMS)
    sheet.cell(3, first, "服务次数")
    sheet.merge_cells(start_row=3, start_column=first, end_row=3, end_column=first + len(SERVICE_ITEMS) - 1)
    for k, name in enumerate(SERVICE_ITEMS):
        sheet.cell(4, first + k, name)
    sheet.cell(3, width, "备注")
    sheet.merge_cells(start_row=3, start_column=width, end_row=4, end_column=width)
    for row in rows:
        sheet.append(list(row))
    if footer:
        counts = [sum(int(r[c] or 0) for r in rows) for c in range(3, width - 1)]
        sheet.append(["合计", None, None, *counts, None])
        sheet.append(["填表人：王丽", None, "联系电话：010-65551234", None, None, None, "审核人：赵强"])
        sheet.append(["注：1. 人次按当天服务登记簿统计；"])
        sheet.append(["2. 空格表示当天没有这项服务。"])
    book.save(path)
    return path
