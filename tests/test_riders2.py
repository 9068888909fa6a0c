"""Issue 10, the remaining organiser points: hours kept as typed (15), a private note
from a 备注 column (22), district unions' spreadsheets (22), duplicate rows naming the
columns that clash (23), the import report's links, one-click import of the valid rows
and exports from the web (20)."""

import io
import json
import re

import pytest
from openpyxl import Workbook, load_workbook

from stations import storage
from stations.registry.coords import parse_coordinate
from stations.registry.importer import import_file
from tests.conftest import csrf_token, finish_import, make_station
from tests.test_web_admin import GOOD_FORM

TYPED = "周一至周五 8:00-20:00，周末休息"


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def html(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def post_form(client, path, **changes):
    data = dict(GOOD_FORM, **changes)
    data["csrf_token"] = csrf_token(client, path)
    return client.post(path, data=data)


# --- 15: the hours as the organiser typed them ---------------------------------------

def test_typed_hours_come_back_in_the_form_and_reach_riders(admin, client, fresh_db):
    response = post_form(admin, "/admin/stations/new", hours=TYPED, note="王师傅 13911112222 钥匙在门卫")
    assert response.status_code == 302, response.get_data(as_text=True)
    sid = int(response.headers["Location"].rsplit("/", 1)[1])
    form = html(admin, f"/admin/stations/{sid}/edit")
    assert f'value="{TYPED}"' in form
    assert "王师傅 13911112222 钥匙在门卫</textarea>" in form
    assert TYPED in html(admin, f"/admin/stations/{sid}")
    # The machine form stays for machines; riders read the words the organiser wrote.
    stored = storage.get_station(fresh_db, sid)
    assert stored["hours"] == "Mo-Fr 08:00-20:00" and stored["hours_text"] == TYPED
    feature = client.get(f"/api/v1/stations/{sid}").get_json()
    assert feature["properties"]["hours"] == stored["hours"]
    assert feature["properties"]["hours_text"] == TYPED
    page = html(client, f"/stations/{sid}")
    assert f"<dt>开放时间</dt><dd>{TYPED}</dd>" in page


def test_machine_hours_keep_no_typed_text_and_new_hours_drop_the_old_words(admin, fresh_db):
    sid = make_station(fresh_db, hours="Mo-Fr 08:00-20:00")
    post_form(admin, f"/admin/stations/{sid}/edit", hours="Mo-Fr 08:00-20:00")
    assert storage.get_station(fresh_db, sid)["hours_text"] is None
    post_form(admin, f"/admin/stations/{sid}/edit", hours=TYPED)
    assert storage.get_station(fresh_db, sid)["hours_text"] == TYPED
    storage.update_station(fresh_db, sid, {"hours": "24/7"})  # e.g. a script, or a restore
    assert storage.get_station(fresh_db, sid)["hours_text"] is None
    assert 'value="24小时"' in html(admin, f"/admin/stations/{sid}/edit")


def test_history_shows_the_hours_as_typed(admin, fresh_db):
    sid = make_station(fresh_db, hours="Mo-Su 08:00-20:00")
    post_form(admin, f"/admin/stations/{sid}/edit", hours=TYPED)
    history = re.search(r'<ol class="history">(.*?)</ol>', html(admin, f"/admin/stations/{sid}"),
                        re.S).group(1)
    assert f"<b>开放时间</b>：每天 08:00-20:00 → {TYPED}" in history
    assert "hours_text" not in history and "原文" not in history


# --- the note is private ---------------------------------------------------------------

def test_note_never_reaches_the_public(admin, client, fresh_db, auth):
    sid = make_station(fresh_db, note="联系人李四 13700001111")
    assert "李四" in html(admin, f"/admin/stations/{sid}")
    auth.logout()
    for path in (f"/stations/{sid}", f"/api/v1/stations/{sid}", "/api/v1/stations",
                 "/api/v1/nearest?lon=116.3975&lat=39.9087", "/stations"):
        body = client.get(path).get_data(as_text=True)
        assert "李四" not in body and "13700001111" not in body, path


# --- 22: spreadsheets as district unions send them -------------------------------------

def union_sheet() -> bytes:
    book = Workbook()
    sheet = book.active
    rows = [
        ["朝阳区户外劳动者服务站点统计表（2026年11月）"],
        [],
        ["序号", "站点名称", "地址", "经度", "纬度", "开放时间", "备注"],
        [1, "国贸暖心驿站", "建国门外大街1号", "116°27′36″E", "39°54′32″N", "每天 8:00-20:00",
         "钥匙在门卫王师傅 13911112222"],
        [2, "呼家楼驿站", "呼家楼1号", "116°28′12″", "39°55′12″", "周一至周五 9:00-18:00", None],
        [3, "团结湖驿站", "团结湖路2号", "东经116°28′48″", "北纬39°56′06″", "24小时", "冬季供暖"],
        [],
        ["合计", None, "3个", None, None, None, None],
        ["填表人：张三", None, None, "联系电话：010-65001234"],
        ["注：1. 坐标用 GPS 测得。"],
        ["2. 开放时间以现场公示为准。"],
    ]
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_union_sheet_with_title_totals_signature_and_notes_imports(fresh_db):
    report = import_file(fresh_db, union_sheet(), "朝阳区.xlsx")
    assert report.file_errors == [] and report.error_rows == 0, report.rows
    assert report.written == 3 and report.total_rows == 3
    assert report.skipped_count == 4
    assert [n for n, _ in report.skipped_lines] == [8, 9, 10, 11]
    assert report.skipped_lines[0][1] == "合计 3个"
    assert "填表人：张三 联系电话：010-65001234" in report.skipped_lines[1][1]
    from stations.registry.importer import format_report
    text = format_report(report)
    assert "已跳过 4 行不是站点的内容" in text and "第 10 行“注：1. 坐标用 GPS 测得。”" in text
    stations = {s["name"]: s for s in storage.iter_stations(fresh_db, private=True)}
    assert round(stations["国贸暖心驿站"]["lon"], 4) == 116.46
    assert round(stations["国贸暖心驿站"]["lat"], 4) == round(39 + 54 / 60 + 32 / 3600, 4)
    assert round(stations["团结湖驿站"]["lon"], 4) == 116.48
    assert stations["国贸暖心驿站"]["note"] == "钥匙在门卫王师傅 13911112222"
    assert stations["团结湖驿站"]["note"] == "冬季供暖"
    assert "note" not in storage.get_station(fresh_db, stations["团结湖驿站"]["id"])


def test_a_row_without_coordinates_and_without_footer_words_is_still_an_error(fresh_db):
    data = "名称,经度,纬度\n甲驿站,116.42,39.92\n乙驿站,,\n".encode()
    report = import_file(fresh_db, data, "a.csv")
    assert report.skipped_count == 0 and report.error_rows == 1 and report.written == 0


def test_the_web_report_quotes_the_skipped_lines(admin):
    response = admin.post("/admin/import", data={
        "csrf_token": csrf_token(admin, "/admin/import"), "datum": "wgs84",
        "file": (io.BytesIO(union_sheet()), "朝阳区.xlsx")}, content_type="multipart/form-data")
    page = finish_import(admin, response).get_data(as_text=True)
    assert "已写入 3 个站点" in page
    assert "已跳过 4 行不是站点的内容" in page and "第 9 行：“填表人：张三 联系电话：010-65001234”" in page


@pytest.mark.parametrize("text, expected", [
    ("116°23′45.6″", 116.396), ("116°23′45.6″E", 116.396), ("39°54′36″N", 39.91),
    ("北纬39°54′36″", 39.91), ("116° 23′ 45.6″ E", 116.396), ("39°54′36″S", -39.91),
])
def test_typographic_primes_read_like_ascii(text, expected):
    assert round(parse_coordinate(text), 6) == expected


# --- 23: a duplicate names the columns that clash --------------------------------------

def test_a_duplicate_row_names_the_columns_that_clash(fresh_db, admin):
    from stations.registry.importer import format_report

    data = ("名称,经度,纬度\n甲驿站,116.42,39.92\n乙驿站,116.42,39.92\n"
            "甲驿站,116.4201,39.9201\n").encode()
    report = import_file(fresh_db, data, "dup.csv", dry_run=True)
    text = format_report(report)
    assert "第 3 行 [经度、纬度] 错误：疑似重复" in text
    assert "第 4 行 [名称、经度、纬度] 错误：疑似重复" in text
    pair = import_file(fresh_db, "名称,坐标\n甲驿站,\"116.42,39.92\"\n乙驿站,\"116.42,39.92\"\n".encode(),
                       "pair.csv", dry_run=True)
    assert "第 3 行 [坐标] 错误：疑似重复" in format_report(pair)
    response = admin.post("/admin/import", data={
        "csrf_token": csrf_token(admin, "/admin/import"), "datum": "wgs84", "dry_run": "1",
        "file": (io.BytesIO(data), "dup.csv")}, content_type="multipart/form-data")
    page = finish_import(admin, response).get_data(as_text=True)
    assert "<td>3</td><td>乙驿站</td><td>经度、纬度</td><td>错误</td>" in page


# --- 20: links, one click for the valid rows, exports from the web ----------------------

def upload(client, data, name, **form):
    return client.post("/admin/import", data={
        "csrf_token": csrf_token(client, "/admin/import"), "datum": "wgs84", **form,
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_the_report_links_each_written_station(admin, fresh_db):
    data = "名称,经度,纬度\n甲驿站,116.42,39.92\n乙驿站,116.43,39.93\n".encode()
    page = finish_import(admin, upload(admin, data, "a.csv")).get_data(as_text=True)
    ids = {s["name"]: s["id"] for s in storage.iter_stations(fresh_db)}
    assert f'第 2 行：<a href="/admin/stations/{ids["甲驿站"]}">甲驿站</a>' in page
    assert f'第 3 行：<a href="/admin/stations/{ids["乙驿站"]}">乙驿站</a>' in page


def test_after_a_dry_run_with_errors_one_click_imports_the_valid_rows(admin, fresh_db, db_path):
    from stations import jobs

    data = "名称,经度,纬度\n甲驿站,116.42,39.92\n,116.43,39.93\n乙驿站,116.44,39.94\n".encode()
    first = finish_import(admin, upload(admin, data, "a.csv", dry_run="1"))
    page = first.get_data(as_text=True)
    assert "试运行：未写入任何数据" in page
    assert "只导入这 2 行有效数据（跳过 1 行有错误的）" in page and "不用重新上传" in page
    job_id = int(re.search(r"导入任务 #(\d+)", page).group(1))
    kept = jobs.get_job(fresh_db, job_id)["upload"]
    assert kept and (jobs.uploads_dir(db_path) / kept.rsplit("/", 1)[1]).exists()
    action = f"/admin/import/jobs/{job_id}/valid-rows"
    token = csrf_token(admin, f"/admin/import/jobs/{job_id}")
    second = finish_import(admin, admin.post(action, data={"csrf_token": token}))
    page = second.get_data(as_text=True)
    assert "已写入 2 个站点" in page and "只导入这" not in page
    assert sorted(s["name"] for s in storage.iter_stations(fresh_db)) == ["乙驿站", "甲驿站"]
    # The upload went with the second job and is gone; a second click imports nothing.
    again = admin.post(action, data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/jobs/{job_id}")
    assert "已经导入过" in admin.get(again.headers["Location"]).get_data(as_text=True)
    assert storage.count_stations(fresh_db) == 2
    assert not list(jobs.uploads_dir(db_path).glob("upload-*"))


def test_a_clean_dry_run_offers_the_real_import_and_old_uploads_expire(admin, fresh_db, db_path):
    from stations import jobs

    data = "名称,经度,纬度\n甲驿站,116.42,39.92\n".encode()
    page = finish_import(admin, upload(admin, data, "a.csv", dry_run="1")).get_data(as_text=True)
    assert "正式导入这 1 行" in page
    assert jobs.forget_kept_uploads(fresh_db, db_path, max_age_s=-1) == 1
    assert not list(jobs.uploads_dir(db_path).glob("upload-*"))
    job_id = int(re.search(r"导入任务 #(\d+)", page).group(1))
    assert "正式导入" not in admin.get(f"/admin/import/jobs/{job_id}").get_data(as_text=True)


def test_an_import_with_errors_and_no_valid_rows_offers_nothing(admin):
    page = finish_import(admin, upload(admin, "名称,经度,纬度\n,116.42,39.92\n".encode(), "a.csv",
                                       dry_run="1")).get_data(as_text=True)
    assert "只导入这" not in page and "正式导入" not in page


def test_export_from_the_web_streams_each_format_and_keeps_personal_fields_out(admin, fresh_db,
                                                                             client, auth):
    make_station(fresh_db, name="导出站", note="备注里的电话 13700001111", hours_text=None)
    assert "导出站点名单" in html(admin, "/admin")
    page = html(admin, "/admin/export")
    assert re.search(r'name="personal" value="1"\s*>', page)  # personal data not ticked by default
    response = admin.get("/admin/export/download?format=csv&datum=wgs84")
    assert response.status_code == 200 and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.decode("utf-8-sig").splitlines()[0].startswith("id,名称") and "导出站".encode() in body
    assert "13700001111".encode() not in body and "张三".encode() not in body
    personal = admin.get("/admin/export/download?format=csv&personal=1").get_data().decode("utf-8-sig")
    assert "备注" in personal.splitlines()[0] and "13700001111" in personal and "张三" in personal
    geo = json.loads(admin.get("/admin/export/download?format=geojson&datum=gcj02").get_data())
    assert geo["datum"] == "gcj02" and geo["features"][0]["properties"]["name"] == "导出站"
    assert "note" not in geo["features"][0]["properties"]
    xlsx = admin.get("/admin/export/download?format=xlsx&personal=1")
    sheet = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).active
    header = next(sheet.iter_rows(values_only=True))
    assert "名称" in header and "备注" in header
    bad = admin.get("/admin/export/download?format=shp")
    assert bad.status_code == 400 and "请选择文件格式" in bad.get_data(as_text=True)
    auth.logout()
    assert client.get("/admin/export/download?format=csv").status_code in (302, 401, 403)
