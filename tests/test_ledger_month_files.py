"""Month ledgers as district unions really make them (issue 18, items 11 and 12): a title,
a two-row merged header, 合计 / 填表人 / 注 lines under the table, dates as 11月3日,
20261105 and 2026/11/06 星期五."""

from __future__ import annotations

from datetime import date

import pytest

from stations import ledger
from stations.accounts import users
from tests.conftest import make_station
from tests.ledger_files import district_workbook

CHAOYANG = "朝阳区总工会"
WEEKDAYS = "一二三四五六日"


@pytest.fixture
def keeper(fresh_db):
    users.add_user(fresh_db, "cy", "cy-pass-12", "union", CHAOYANG, create_union=True)
    station = make_station(fresh_db, name="朝阳驿站", district="朝阳区", host_union=CHAOYANG, lon=116.48, lat=39.92)
    return users.get_user(fresh_db, "cy"), station


def last_november() -> int:
    """A November wholly in the past, whatever day the suite runs."""
    return ledger.today().year - 1


def month_rows(station, y):
    friday = date(y, 11, 6)
    return [
        [station, "朝阳驿站", "11月3日", 5, 2, 1, 1, 6, 1, 0, 2, "说明：雨天，来避雨的多"],
        [station, "朝阳驿站", int(f"{y}1105"), 7, 0, 0, 0, 3, 0, 2, 0, None],
        [station, "朝阳驿站", f"{y}/11/06 星期{WEEKDAYS[friday.weekday()]}", 4, 1, 0, 0, 2, 2, 1, 0, None],
    ]


def test_a_district_month_file_with_a_two_row_header_and_lines_under_it_imports(fresh_db, keeper, tmp_path):
    user, station = keeper
    y = last_november()
    path = district_workbook(tmp_path / "朝阳11月.xlsx", month_rows(station, y),
                             title=f"朝阳区户外劳动者服务站点服务台账（{y}年11月）")
    report = ledger.import_ledger(fresh_db, path, user)
    assert report.ok, (report.file_errors, report.problems)
    assert report.written == 3 and report.total_rows == 3
    entries = {e["date"]: e for e in ledger.get_entries(fresh_db, station)}
    assert sorted(entries) == [f"{y}-11-03", f"{y}-11-05", f"{y}-11-06"]
    third = entries[f"{y}-11-03"]
    assert third["visitors"]["rider"] == 5 and third["visitors"]["other"] == 1  # 其他 under 来访人次
    assert third["services"]["water"] == 6 and third["services"]["other"] == 2  # 其他 under 服务次数
    assert third["note"] == "说明：雨天，来避雨的多"  # a note that starts like a footer stays a note
    assert entries[f"{y}-11-05"]["services"]["charging"] == 2
    # the lines under the table are skipped and quoted, not imported, not errors
    assert report.skipped_count == 4
    warning = report.skipped_summary
    assert "已跳过 4 行" in warning and "第 8 行“合计" in warning and "填表人：王丽" in warning
    assert "审核人：赵强" in warning and "注：1. 人次按当天服务登记簿统计；" in warning
    assert report.columns["v_other"] == "来访人次·其他" and report.columns["s_other"] == "服务次数·其他"
    total = ledger.ledger_report(fresh_db, start=date(y, 11, 1), end=date(y, 11, 30))["total"]
    assert total["visits"] == (5 + 2 + 1 + 1) + 7 + (4 + 1)  # the 合计 row is not counted again


def test_a_month_day_without_a_year_takes_the_chosen_month_or_says_what_is_missing(fresh_db, keeper, tmp_path):
    user, station = keeper
    y = last_november()
    path = district_workbook(tmp_path / "无年份.xlsx", month_rows(station, y)[:1], title="朝阳区服务台账",
                             footer=False)
    refused = ledger.import_ledger(fresh_db, path, user)
    assert not refused.ok and refused.written == 0
    [problem] = refused.problems
    assert problem.column == "日期" and "“11月3日”没有年份" in problem.message and "台账月份" in problem.message
    chosen = ledger.import_ledger(fresh_db, path, user, month=f"{y}-11")
    assert chosen.ok and chosen.written == 1
    assert [e["date"] for e in ledger.get_entries(fresh_db, station)] == [f"{y}-11-03"]
    bad = ledger.import_ledger(fresh_db, path, user, month="2026-13")
    assert bad.file_errors and "台账月份“2026-13”" in bad.file_errors[0]


def test_a_csv_with_a_two_row_header_reads_the_item_names_from_the_second_row(fresh_db, keeper, tmp_path):
    user, station = keeper
    y = last_november()
    text = (f"{y}年11月服务台账\n"
            "站点编号,日期,来访人次,,服务次数,,备注\n"
            ",,外卖骑手,快递员,饮水,其他,\n"
            f"{station},{y}-11-10,3,1,4,1,\n"
            "合计,,3,1,4,1,\n")
    path = tmp_path / "two.csv"
    path.write_text(text, encoding="utf-8")
    report = ledger.import_ledger(fresh_db, path, user)
    assert report.ok, (report.file_errors, report.problems)
    assert report.written == 1 and report.skipped_count == 1
    entry = ledger.get_entries(fresh_db, station)[0]
    assert entry["visitors"]["courier"] == 1 and entry["services"]["other"] == 1


@pytest.mark.parametrize("text, expected", [("20261105", date(2026, 11, 5)), ("2026/11/06 星期五", date(2026, 11, 6)),
                                            ("2026-11-07（周六）", date(2026, 11, 7)), ("11月3日", date(2026, 11, 3)),
                                            ("11月3号", date(2026, 11, 3))])
def test_the_date_forms_of_district_files_are_read(text, expected):
    from stations.ledger.common import parse_date

    assert parse_date(text, year=2026) == expected


def test_the_import_page_takes_the_district_file_quotes_the_skipped_lines_and_the_chosen_month(client, fresh_db,
                                                                                               keeper, tmp_path):
    from tests.conftest import csrf_token, finish_import

    _user, station = keeper
    y = last_november()
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"username": "cy", "password": "cy-pass-12",
                                       "csrf_token": token}).status_code == 302
    form = client.get("/ledger/import").get_data(as_text=True)
    assert 'type="month" name="month"' in form and "两行合并表头" in form
    path = district_workbook(tmp_path / "m.xlsx", month_rows(station, y), title="朝阳区服务台账（无年份）")
    token = csrf_token(client, "/ledger/import")
    with open(path, "rb") as stream:
        upload = client.post("/ledger/import", data={"csrf_token": token, "month": f"{y}-11",
                                                     "file": (stream, "朝阳11月.xlsx")},
                             content_type="multipart/form-data")
    page = finish_import(client, upload)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "已写入 3 天的台账" in html
    assert "已跳过 4 行不是台账的内容" in html and "填表人：王丽" in html
    assert len(ledger.get_entries(fresh_db, station)) == 3
