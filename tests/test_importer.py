"""Import: every bad row reported with row, column and reason; all or nothing."""

import io
import json

import pytest
from openpyxl import Workbook

from stations import storage
from stations.registry.importer import format_report, import_file
from tests.conftest import make_station

HEADER = "名称,地址,经度,纬度,区,开放时间,设施,负责人,负责人电话\n"
GOOD = [
    "朝阳门暖心驿站,北京市东城区朝阳门内大街1号,116.4280,39.9240,东城区,周一至周五 08:00-20:00,饮水机、微波炉,李四,13800000001",
    "国贸驿站,北京市朝阳区建国门外大街1号,116.4600,39.9090,朝阳区,24小时,充电、厕所,王五,13800000002",
    "中关村驿站,北京市海淀区中关村大街27号,116.3160,39.9840,海淀区,每天 9:00-18:00,热水,赵六,13800000003",
]


def csv_bytes(rows, header=HEADER, encoding="utf-8"):
    return (header + "\n".join(rows) + "\n").encode(encoding)


def run(db, data, name="stations.csv", **kw):
    return import_file(db, data, name, **kw)


def problems(report):
    return [(r.row, p.field, p.message) for r in report.rows for p in r.errors]


def test_good_csv_imports_every_row(fresh_db):
    report = run(fresh_db, csv_bytes(GOOD))
    assert report.ok and report.written == 3
    rows, total = storage.search_stations(fresh_db, private=True)
    assert total == 3
    guomao = next(r for r in rows if r["name"] == "国贸驿站")
    assert guomao["district"] == "朝阳区" and guomao["hours"] == "24/7"
    assert guomao["facilities"] == ["charging", "toilet"]
    assert guomao["manager_phone"] == "13800000002"


def test_bad_last_row_leaves_the_database_unchanged(fresh_db):
    make_station(fresh_db, name="已有站点", lon=116.30, lat=39.95)
    before = storage.count_stations(fresh_db)
    history_before = fresh_db.execute("select count(*) from station_history").fetchone()[0]
    bad = GOOD + ["坏行驿站,某地,不是数字,39.9,朝阳区,,,,"]
    report = run(fresh_db, csv_bytes(bad))
    assert report.written == 0 and not report.ok
    assert problems(report) == [(5, "lon", problems(report)[0][2])]
    assert "经度" in problems(report)[0][2] and "不是数字" in problems(report)[0][2]
    assert storage.count_stations(fresh_db) == before
    assert fresh_db.execute("select count(*) from station_history").fetchone()[0] == history_before
    assert "未写入任何数据" in format_report(report)


def test_skip_invalid_writes_exactly_the_valid_rows(fresh_db):
    bad = [GOOD[0], ",无名地址,116.40,39.90,,,,,", GOOD[1]]
    report = run(fresh_db, csv_bytes(bad), skip_invalid=True)
    assert report.written == 2
    assert {r["name"] for r in storage.search_stations(fresh_db)[0]} == {"朝阳门暖心驿站", "国贸驿站"}
    assert problems(report)[0][:2] == (3, "name")


def test_dry_run_reports_and_writes_nothing(fresh_db):
    report = run(fresh_db, csv_bytes(GOOD), dry_run=True)
    assert report.ok and report.valid_rows == 3 and report.written == 0
    assert storage.count_stations(fresh_db) == 0
    assert "试运行" in format_report(report)


def test_gbk_csv_as_chinese_excel_saves_it(fresh_db):
    report = run(fresh_db, csv_bytes(GOOD, encoding="gbk"))
    assert report.encoding == "gb18030" and report.written == 3
    assert "国贸驿站" in {r["name"] for r in storage.search_stations(fresh_db)[0]}


def test_english_headers_and_full_width_digits_and_dms(fresh_db):
    data = ("name,address,lng,latitude,district\n"
            "全角驿站,北京市东城区,１１６．４２８,３９．９２４,东城区\n"
            "度分秒驿站,北京市朝阳区,116°27'36\",39°54'32\",朝阳区\n").encode()
    report = run(fresh_db, data)
    assert report.written == 2, format_report(report)
    dms = storage.search_stations(fresh_db, q="度分秒")[0][0]
    assert dms["lon"] == pytest.approx(116.46, abs=1e-6) and dms["lat"] == pytest.approx(39.908889, abs=1e-6)


def test_swapped_coordinates_are_reported(fresh_db):
    report = run(fresh_db, csv_bytes(["颠倒驿站,北京,39.9087,116.3975,东城区,,,,"]))
    assert not report.ok
    assert any("填反" in message for _, _, message in problems(report))


def test_swapped_within_range_is_still_caught(fresh_db):
    # Ürümqi-ish latitude/longitude both in range but swapped: (43.8, 87.6) is in Kazakhstan? no:
    # lon 43.8 is west of China, lat 87.6 is in range; the swapped pair (87.6, 43.8) is in China.
    report = run(fresh_db, csv_bytes(["新疆驿站,乌鲁木齐,43.83,87.62,,,,,"]), region="china")
    assert any("填反" in message for _, _, message in problems(report))


def test_points_outside_china_and_far_outside_the_region(fresh_db):
    rows = ["东京驿站,東京,139.69,35.69,,,,,", "上海驿站,上海市黄浦区,121.47,31.23,,,,,",
            "近郊驿站,河北省三河市,116.95,39.98,,,,,"]
    report = run(fresh_db, csv_bytes(rows))
    by_row = {r.row: r for r in report.rows}
    assert "不在中国境内" in by_row[2].errors[0].message
    assert "北京市范围之外" in by_row[3].errors[0].message
    # Just across the boundary (Yanjiao, Hebei): a warning, not an error.
    assert not by_row[4].errors and "北京市范围之外" in by_row[4].warnings[0].message


def test_declared_district_mismatch_is_a_warning_and_kept(fresh_db):
    report = run(fresh_db, csv_bytes(["错区驿站,北京市,116.4600,39.9090,海淀,,,,"]))
    assert report.written == 1
    warning = report.rows[0].warnings[0]
    assert warning.field == "district" and "海淀" in warning.message and "朝阳区" in warning.message
    station = storage.search_stations(fresh_db)[0][0]
    assert station["district"] == "朝阳区" and station["district_declared"] == "海淀"
    assert station["district_mismatch"] is True


def test_district_written_differently_is_not_a_mismatch(fresh_db):
    report = run(fresh_db, csv_bytes(["驿站甲,北京市,116.4600,39.9090,北京市朝阳区,,,,"]))
    assert report.ok and not report.rows


def test_duplicates_in_the_file_and_in_the_registry(fresh_db):
    make_station(fresh_db, name="老站", lon=116.3000, lat=39.9500)
    rows = [
        "老站,北京,116.3003,39.9501,,,,,",          # same name 27 m from a stored station
        "新站,北京,116.3000,39.9500,,,,,",          # same coordinates as the stored station
        "双胞胎,北京,116.4100,39.9100,,,,,",
        "双胞胎,北京,116.4102,39.9101,,,,,",        # same name within 50 m of row 4
        "远亲,北京,116.5000,39.9100,,,,,",
        "远亲,北京,116.5100,39.9100,,,,,",          # same name 850 m away: not a duplicate
    ]
    report = run(fresh_db, csv_bytes(rows))
    found = {row: message for row, _, message in problems(report)}
    assert set(found) == {2, 3, 5}
    assert "#1" in found[2] and "同名" in found[2]
    assert "坐标相同" in found[3]
    assert "第 4 行" in found[5]


def test_reimporting_an_export_updates_by_id_instead_of_duplicating(fresh_db, tmp_path):
    from stations.registry.exporter import export_stations

    run(fresh_db, csv_bytes(GOOD))
    out = io.BytesIO()
    export_stations(storage.iter_stations(fresh_db), "csv", out)
    text = out.getvalue().decode("utf-8-sig").replace("国贸驿站", "国贸暖心驿站")
    report = run(fresh_db, text.encode("utf-8"))
    assert report.ok, format_report(report)
    assert storage.count_stations(fresh_db) == 3
    assert storage.search_stations(fresh_db, q="国贸暖心")[1] == 1


def test_xlsx_with_a_title_row(fresh_db):
    book = Workbook()
    sheet = book.active
    sheet.append(["2024年东城区职工暖心驿站名单"])
    sheet.append(["序号", "站点名称", "详细地址", "经度", "纬度", "开放时间"])
    sheet.append([1, "东四驿站", "北京市东城区东四北大街", 116.4170, 39.9300, "24小时"])
    sheet.append([2, "王府井驿站", "北京市东城区王府井大街", 116.4110, 39.9140, "周一到周五 9:00-17:00"])
    sheet.append([3, "坏驿站", "", None, 39.93, ""])
    data = io.BytesIO()
    book.save(data)
    report = run(fresh_db, data.getvalue(), "名单.xlsx")
    assert report.format == "xlsx"
    assert problems(report) == [(5, "lon", "缺少经度")]
    assert report.ignored_columns == ["序号"]
    assert report.written == 0


def test_geojson_features_and_a_bad_geometry(fresh_db):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.4170, 39.9300]},
         "properties": {"name": "东四驿站", "facilities": ["water", "charging"]}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[116, 39], [117, 40]]},
         "properties": {"name": "线状驿站"}},
    ]}
    report = run(fresh_db, json.dumps(doc).encode(), "s.geojson")
    assert report.format == "geojson" and report.written == 0
    assert problems(report)[0][0] == 2 and "Point" in problems(report)[0][2]
    assert "第 2 个要素" in format_report(report)


def test_gcj02_file_is_converted_on_the_way_in(fresh_db):
    # Tiananmen as Amap shows it.
    report = run(fresh_db, csv_bytes(["天安门驿站,北京,116.40387,39.91023,,,,,"]), datum="gcj02")
    assert report.written == 1
    station = storage.search_stations(fresh_db)[0][0]
    assert station["lon"] == pytest.approx(116.39747, abs=2e-4)
    assert station["lat"] == pytest.approx(39.90882, abs=2e-4)


@pytest.mark.parametrize("data,name,message", [
    (b"foo,bar\n1,2\n", "x.csv", "找不到表头"),
    ("地址,经度,纬度\n某地,116,39\n".encode(), "x.csv", "缺少“名称”列"),
    ("名称,地址\n甲,某地\n".encode(), "x.csv", "缺少坐标列"),
    (b"\xff\xfe\x00garbage\x81\x30", "x.csv", ""),
    (b"{not json", "x.geojson", "不是有效的 JSON"),
    (b"PK\x03\x04broken", "x.xlsx", "无法读取 XLSX"),
    (HEADER.encode(), "x.csv", "没有站点数据行"),
])
def test_unreadable_files_are_refused_whole(fresh_db, data, name, message):
    report = run(fresh_db, data, name)
    assert report.file_errors and message in report.file_errors[0]
    assert storage.count_stations(fresh_db) == 0


def test_bad_hours_and_unknown_words(fresh_db):
    rows = ["甲驿站,北京,116.42,39.92,,周八 08:00-20:00,,,",
            "乙驿站,北京,116.43,39.92,,,饮水机、火箭,,"]
    report = run(fresh_db, csv_bytes(rows))
    by_row = {r.row: r for r in report.rows}
    assert by_row[2].errors[0].field == "hours" and "周八" in by_row[2].errors[0].message
    assert not by_row[3].errors and "火箭" in by_row[3].warnings[0].message
    assert report.column("hours") == "开放时间"


def test_verification_dates_are_read_and_checked(fresh_db):
    data = ("名称,经度,纬度,核验时间\n甲驿站,116.42,39.92,2026/11/20\n"
            "乙驿站,116.43,39.92,上周\n").encode()
    report = run(fresh_db, data, skip_invalid=True)
    assert report.written == 1
    assert storage.search_stations(fresh_db)[0][0]["last_verified_at"] == "2026-11-20"
    assert problems(report)[0][:2] == (3, "last_verified_at") and "上周" in problems(report)[0][2]


def test_an_amap_style_export_in_gcj02(fresh_db):
    # name/address/location/adname/tel, as map-platform POI exports write them
    data = ("name,address,location,adname,tel\n"
            "天安门驿站,北京市东城区,\"116.40387,39.91023\",东城区,010-12345678\n").encode()
    report = run(fresh_db, data, datum="gcj02")
    assert report.written == 1, format_report(report)
    station = storage.search_stations(fresh_db, private=True)[0][0]
    assert station["district"] == "东城区" and station["manager_phone"] == "010-12345678"
    assert station["lon"] == pytest.approx(116.39747, abs=2e-4)
