"""Hostile and broken files: every one gets a report in Chinese (or a 400), never a 500,
and reading stays quick and small however much a file claims to hold."""

import io
import json
import time
import tracemalloc
import zipfile

import pytest

from stations import storage
from stations.registry.importer import format_report, import_file
from tests.conftest import make_station

# --- a hand-written XLSX -------------------------------------------------------------

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="站点" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def xlsx(sheet_data: str, dimension="A1:XFD1048576", raw_sheet=None) -> bytes:
    """A minimal workbook whose first sheet holds ``sheet_data`` (the <row> elements)."""
    sheet = raw_sheet or ('<?xml version="1.0" encoding="UTF-8"?>'
                          '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                          f'<dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


def text_cell(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER_ROW = '<row r="1">' + text_cell("A1", "名称") + text_cell("B1", "经度") + text_cell("C1", "纬度") + "</row>"


def station_row(r, name="好驿站", lon="116.42", lat="39.92"):
    return (f'<row r="{r}">' + text_cell(f"A{r}", name) + f'<c r="B{r}"><v>{lon}</v></c>'
            f'<c r="C{r}"><v>{lat}</v></c></row>')


# --- item 3: the dimension bomb ------------------------------------------------------

def test_an_xlsx_dimension_bomb_is_refused_quickly_in_little_memory(fresh_db):
    bomb = xlsx('<row r="1048576">' + text_cell("A1048576", "x") + "</row>")
    assert len(bomb) < 2000
    tracemalloc.start()
    started = time.perf_counter()
    report = import_file(fresh_db, bomb, "bomb.xlsx")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.file_errors and "1,048,576" in report.file_errors[0]
    assert "500,000" in report.file_errors[0]
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert seconds < 10
    assert storage.count_stations(fresh_db) == 0


def test_a_declared_dimension_does_not_pad_rows(fresh_db):
    # A sheet that claims A1:XFD1048576 but holds a header and two stations imports them.
    data = xlsx(HEADER_ROW + station_row(2) + station_row(40, "远处驿站", "116.45", "39.93"))
    tracemalloc.start()
    report = import_file(fresh_db, data, "s.xlsx")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.written == 2, format_report(report)
    assert peak < 100 * 2**20
    assert [r["name"] for r in storage.iter_stations(fresh_db)] == ["好驿站", "远处驿站"]


def test_data_right_of_the_column_limit_is_refused_naming_the_cell(fresh_db):
    data = xlsx(HEADER_ROW + '<row r="2">' + text_cell("A2", "甲") + text_cell("XFD2", "藏起来") + "</row>")
    report = import_file(fresh_db, data, "wide.xlsx")
    assert report.file_errors and "XFD 列" in report.file_errors[0] and "100 列" in report.file_errors[0]
    # Empty (styled) cells far right are not data.
    styled = '<c r="XFD2" s="0"/>'
    data = xlsx(HEADER_ROW + station_row(2).replace("</row>", styled + "</row>"))
    assert import_file(fresh_db, data, "styled.xlsx").written == 1


def test_peak_rss_of_a_process_reading_the_bomb_stays_small(tmp_path, fresh_db):
    # The same bomb in a fresh interpreter: its whole peak resident memory stays small.
    import subprocess
    import sys

    path = tmp_path / "bomb.xlsx"
    path.write_bytes(xlsx('<row r="1048576">' + text_cell("A1048576", "x") + "</row>"))
    # VmHWM, not ru_maxrss: Linux carries a big parent's high-water mark over fork + exec.
    code = ("import sys; from stations import storage; from stations.registry.importer import import_path;"
            "db = storage.connect(sys.argv[1]); r = import_path(db, sys.argv[2]);"
            "print(r.file_errors[0]);"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "y.db"), str(path)],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert "1,048,576" in out[0]
    assert int(out[1]) * 1024 < 400 * 2**20  # interpreter, numpy, geodata included


# --- item 10: a corpus of broken files, through the CLI and the web import ----------

HEADER_CSV = "名称,经度,纬度\n"
TYPED_ROW = ('<row r="2">' + '<c r="A2" t="e"><v>#N/A</v></c>'            # an error value as name
             '<c r="B2" t="d"><v>2024-01-05T00:00:00</v></c>'                  # a date as longitude
             '<c r="C2" t="b"><v>1</v></c></row>'                              # a boolean as latitude
             '<row r="3">' + text_cell("A3", "公式驿站") +
             '<c r="B3"><f>116+0.42</f><v>116.42</v></c><c r="C3" t="str"><f>"39.92"</f><v>39.92</v></c></row>')


def _deep_geojson(depth):
    return (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":'
            + b"[" * depth + b"]" * depth + b'},"geometry":{"type":"Point","coordinates":[116.4,39.9]}}]}')


CORPUS = [
    # (id, file name, bytes, what the report must say, file-level error?)
    ("xlsx-dimension-bomb", "bomb.xlsx", xlsx('<row r="1048576">' + text_cell("A1048576", "x") + "</row>"),
     "一次最多导入 500,000 行", True),
    ("xlsx-bad-sheet-xml", "bad.xlsx", xlsx(HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></row>'),
     "XML 已损坏", True),
    ("xlsx-truncated-sheet-xml", "wb.xlsx", xlsx("", raw_sheet="<worksheet><sheetData>"), "无法读取 XLSX", True),
    ("xlsx-not-a-zip", "text.xlsx", "名称,经度,纬度\n甲,116,39\n".encode(), "不是 XLSX", True),
    ("xlsx-truncated-zip", "cut.xlsx", xlsx(HEADER_ROW + station_row(2))[:300], "无法读取 XLSX", True),
    ("xlsx-missing-shared-string", "ss.xlsx", xlsx('<row r="1"><c r="A1" t="s"><v>99</v></c></row>'),
     "共享文字不存在", True),
    ("xlsx-data-in-column-XFD", "wide.xlsx", xlsx(HEADER_ROW + '<row r="2">' + text_cell("XFD2", "x") + "</row>"),
     "一次最多读取 100 列", True),
    ("xlsx-typed-cells", "typed.xlsx", xlsx(HEADER_ROW + TYPED_ROW), "经度“2024-01-05”不是数字", False),
    ("legacy-xls", "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "不支持旧版 .xls", True),
    ("csv-field-over-limit", "long.csv", (HEADER_CSV + '"' + "长" * 140_000 + '",116,39\n').encode(),
     "超过 131,072 个字符", True),
    ("csv-unclosed-quote", "quote.csv", (HEADER_CSV + '"甲,116,39\n' + "乙,116,39\n" * 15_000).encode(),
     "超过 131,072 个字符", True),
    ("csv-nul-bytes", "nul.csv", (HEADER_CSV + "甲\x00站,116.42,39.92\n").encode(), "含有控制字符 U+0000", False),
    ("csv-mixed-encodings", "mixed.csv", (HEADER_CSV + "甲驿站,116.42,39.92\n").encode() + "乙驿站,116.43,39.92\n".encode("gbk"),
     "编码混杂", True),
    ("csv-binary-garbage", "junk.csv", bytes(range(128, 256)) * 40, "编码", True),
    ("csv-300-columns", "cols.csv", (HEADER_CSV.strip() + "," * 300 + "\n甲,116.42,39.92" + "," * 299 + "x\n").encode(),
     "一次最多读取 100 列", True),
    ("csv-utf16-broken", "u16.csv", b"\xff\xfe" + "名称".encode("utf-16-le") + b"\x00\xd8", "UTF-16", True),
    ("empty-file", "empty.csv", b"", "文件是空的", True),
    ("header-only", "header.csv", HEADER_CSV.encode(), "没有站点数据行", True),
    ("geojson-200k-deep", "deep.geojson", _deep_geojson(200_000), "嵌套过深", True),
    ("geojson-features-not-array", "t.geojson", b'{"type":"FeatureCollection","features":"all"}',
     "features 应为数组", True),
    ("geojson-wrong-types", "w.geojson", json.dumps({"type": "FeatureCollection", "features": [
        7, {"type": "Feature", "properties": ["name"], "geometry": {"type": "Point", "coordinates": "116,39"}},
        {"type": "Feature", "properties": {"name": {"a": 1}}, "geometry": {"type": "Point", "coordinates": [True, None]}},
    ]}).encode(), "要素应为对象", False),
    ("geojson-truncated", "cut.geojson", b'{"type":"FeatureCollection","features":[{"type":"Feature",',
     "不是有效的 JSON", True),
    ("geojson-gbk", "gbk.geojson", '{"type":"FeatureCollection","features":[{"properties":{"名称":"甲"}}]}'.encode("gbk"),
     "UTF-8", True),
    ("json-top-level-array", "a.json", b"[1, 2, 3]", "不是数组", True),
]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.mark.parametrize("name,data,expected,whole", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_broken_files_get_a_report_from_the_cli(cli, tmp_path, fresh_db, name, data, expected, whole):
    path = tmp_path / name
    path.write_bytes(data)
    started = time.perf_counter()
    result = cli("import", str(path))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a report, not a traceback
    assert expected in result.output, result.output
    assert any(line.startswith("错误：") for line in result.output.splitlines()) == whole
    assert "未写入任何数据" in result.output
    assert storage.count_stations(fresh_db) == 0
    assert time.perf_counter() - started < 30


@pytest.fixture
def web(client, auth, monkeypatch):
    """The admin import page, with jobs run in this process (the job tests start real ones)."""
    from stations import jobs

    monkeypatch.setattr(jobs, "launch", jobs.run_job)
    auth.login("admin")
    return client


@pytest.mark.parametrize("name,data,expected,whole", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_broken_files_get_a_report_on_the_import_page(web, fresh_db, name, data, expected, whole):
    from tests.conftest import csrf_token, finish_import

    form = {"csrf_token": csrf_token(web, "/admin/import"), "datum": "wgs84",
            "file": (io.BytesIO(data), name)}
    response = finish_import(web, web.post("/admin/import", data=form, content_type="multipart/form-data"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ("状态：失败" if whole else "状态：已完成") in page
    assert expected in page.replace("&#34;", '"').replace("&#39;", "'")
    assert "未写入任何数据" in page
    assert storage.count_stations(fresh_db) == 0


# --- deeply nested and malformed JSON bodies on the API ----------------------------------

def _basic():
    import base64

    from tests.conftest import PASSWORDS
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORDS['admin']}".encode()).decode()}


@pytest.mark.parametrize("body,expected", [
    (b'{"name": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "嵌套过深"),
    (b'{"name": "x", "properties": ' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}", "嵌套过深"),
    (b'{"name": "x", "lon": 116.4,', "不是有效的 JSON"),
    (b'{"name": "x", "lon": NaN, "lat": 39.9}', "不是有效的 JSON"),
])
def test_deep_or_malformed_api_bodies_are_a_400_naming_the_body(client, fresh_db, body, expected):
    sid = make_station(fresh_db)
    for method, url in (("post", "/api/v1/stations"), ("patch", f"/api/v1/stations/{sid}")):
        response = getattr(client, method)(url, data=body, content_type="application/json", headers=_basic())
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        error = response.get_json()["error"]
        assert error["parameter"] == "body" and expected in error["message"]
    assert storage.count_stations(fresh_db) == 1
