"""A workbook whose row or cell references are broken (``<row r="inf">``, ``r="1e308"``,
``<c r="Anan">``…) gets the file-level Chinese message on every path that reads XLSX —
station import, ledger import, demand layers, candidate sites; CLI and web — never a 500
or an "internal error"; a sheet without references at all reads by position."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from openpyxl import Workbook

from stations import jobs, ledger, storage
from stations.accounts import users
from tests.conftest import csrf_token, finish_import, make_station

BAD_ROWS = ["inf", "-inf", "nan", "-1", "0", "1e308", "abc", "99999999999999999999999", "1048577", "1.5", "٣"]
BAD_CELLS = ["Ainf", "Anan", "A-1", "A1e308", "A99999999999999999999", "inf", "ZZZZ2"]
SAYS = "无效"  # 行号“…”无效 / 单元格地址“…”无效: the reader's file-level words
PLAN_QUERY = "minutes=15&cell_m=500&district=东城区&p=1"


def crafted(rows: list[list], edit) -> bytes:
    """A workbook written by openpyxl, then ``edit(sheet1_xml) -> sheet1_xml`` inside the zip."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data)
    return out.getvalue()


def row_ref(value):
    return lambda xml: xml.replace('<row r="2"', f'<row r="{value}"', 1)


def cell_ref(value):
    return lambda xml: xml.replace('<c r="A2"', f'<c r="{value}"', 1)


def no_refs(xml):
    return re.sub(r'(<(?:row|c)) r="[^"]*"', r"\1", xml)


EDITS = ([pytest.param(row_ref(v), id=f"row-{v}") for v in BAD_ROWS]
         + [pytest.param(cell_ref(v), id=f"cell-{v}") for v in BAD_CELLS])

STATIONS = [["名称", "经度", "纬度"], ["表格驿站", 116.40, 39.91]]
POINTS = [["名称", "经度", "纬度", "权重"], ["甲点", 116.40, 39.91, 3]]


def test_every_bad_reference_is_a_file_problem_of_the_reader():
    from stations.registry import readers

    for edit in [p.values[0] for p in EDITS]:
        with pytest.raises(readers.FileProblem, match=SAYS):
            list(readers.iter_xlsx(io.BytesIO(crafted(STATIONS, edit))))
    rows = list(readers.iter_xlsx(io.BytesIO(crafted(STATIONS, no_refs))))
    assert rows == [(1, ["名称", "经度", "纬度"]), (2, ["表格驿站", 116.4, 39.91])]


# --- station import: the CLI and the /admin/import job ------------------------------------

@pytest.mark.parametrize("edit", EDITS)
def test_station_import_cli_and_job_say_the_file_is_broken(app, client, auth, fresh_db, tmp_path, monkeypatch,
                                                             edit):
    data = crafted(STATIONS, edit)
    path = tmp_path / "站点.xlsx"
    path.write_bytes(data)
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert SAYS in result.output and "Traceback" not in result.output
    monkeypatch.setattr(jobs, "launch", jobs.run_job)  # the job, in this process
    auth.login("admin")
    response = finish_import(client, client.post("/admin/import", data={
        "csrf_token": csrf_token(client, "/admin/import"), "datum": "wgs84",
        "file": (io.BytesIO(data), "站点.xlsx")}, content_type="multipart/form-data"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "状态：失败" in page and SAYS in page
    assert "内部错误" not in page and "未写入任何数据" in page
    assert storage.count_stations(fresh_db) == 0


def test_station_import_reads_a_sheet_without_references(app, fresh_db, tmp_path):
    path = tmp_path / "无行号.xlsx"
    path.write_bytes(crafted(STATIONS, no_refs))
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert storage.count_stations(fresh_db) == 1


# --- the month ledger: the core, the CLI and the job ---------------------------------------

@pytest.fixture
def keeper(fresh_db):
    users.add_user(fresh_db, "keeper", "keeper-pass-1", "admin")
    station = make_station(fresh_db, name="台账驿站")
    day = (ledger.today() - timedelta(days=1)).isoformat()
    return users.get_user(fresh_db, "keeper"), [["站点编号", "日期", "外卖骑手", "饮水"], [station, day, 3, 2]]


@pytest.mark.parametrize("edit", EDITS)
def test_ledger_import_says_the_file_is_broken(app, fresh_db, db_path, tmp_path, keeper, edit):
    user, rows = keeper
    path = tmp_path / "台账.xlsx"
    path.write_bytes(crafted(rows, edit))
    report = ledger.import_ledger(fresh_db, path, user)
    assert report.file_errors and SAYS in report.file_errors[0] and report.written == 0
    result = app.test_cli_runner().invoke(args=["ledger", "import", str(path), "--user", "keeper"])
    assert result.exit_code != 0 and SAYS in result.output and "Traceback" not in result.output
    upload = jobs.save_upload(db_path, lambda target: target.write_bytes(path.read_bytes()))
    job = jobs.create_job(fresh_db, filename="台账.xlsx", upload=upload, options={}, username="keeper",
                          kind="ledger")
    assert jobs.run_job(db_path, job) == "failed"
    problems = jobs.get_job(fresh_db, job)["report"].file_errors
    assert SAYS in problems[0] and "内部错误" not in problems[0]
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_ledger_import_reads_a_sheet_without_references(fresh_db, tmp_path, keeper):
    user, rows = keeper
    path = tmp_path / "台账.xlsx"
    path.write_bytes(crafted(rows, no_refs))
    report = ledger.import_ledger(fresh_db, path, user)
    assert report.ok and report.written == 1


# --- demand layers and candidate sites: the CLI ---------------------------------------------

@pytest.mark.parametrize("edit", EDITS)
def test_demand_and_candidates_cli_say_the_file_is_broken(app, fresh_db, tmp_path, edit):
    path = tmp_path / "点.xlsx"
    path.write_bytes(crafted(POINTS, edit))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demand", "import", "订单", str(path)])
    assert result.exit_code != 0 and SAYS in result.output and "Traceback" not in result.output
    result = runner.invoke(args=["suggest", "-p", "1", "--district", "东城区", "--cell-m", "500",
                                 "--candidates", str(path)])
    assert result.exit_code != 0 and SAYS in result.output and "Traceback" not in result.output
    assert fresh_db.execute("SELECT count(*) FROM demand_layers").fetchone()[0] == 0


def test_demand_cli_reads_a_sheet_without_references(app, fresh_db, tmp_path):
    path = tmp_path / "点.xlsx"
    path.write_bytes(crafted(POINTS, no_refs))
    result = app.test_cli_runner().invoke(args=["demand", "import", "订单", str(path)])
    assert result.exit_code == 0, result.output
    assert fresh_db.execute("SELECT points FROM demand_layers").fetchone()[0] == 1


def test_empty_cells_keep_the_place_of_the_cells_after_them():
    """Empty cells (a style only) are skipped without being parsed, yet a cell without a
    reference after them still lands in the next column."""
    from stations.registry import readers
    from tests.test_import_hostile import text_cell, xlsx

    sheet = ('<row r="1">' + text_cell("A1", "名称") + '<c r="B1" s="1"/><c s="1"/>'
             '<c t="inlineStr"><is><t>纬度</t></is></c></row>'
             '<row><c/><c r="B2"><v>116.4</v></c><c/><c><v>39.9</v></c></row>')
    rows = list(readers.iter_xlsx(io.BytesIO(xlsx(sheet))))
    assert rows == [(1, ["名称", None, None, "纬度"]), (2, [None, 116.4, None, 39.9])]
