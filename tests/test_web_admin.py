"""Admin keeps the registry true through forms: create, validate, edit, history, import."""

import math
import re
from urllib.parse import urlsplit

import pytest

from geodata.datum import wgs84_to_gcj02
from stations import storage
from tests.conftest import csrf_token, finish_import, make_station

GOOD_FORM = {
    "name": "国贸暖心驿站", "address": "北京市朝阳区建国门外大街1号", "district": "",
    "subdistrict": "建外街道", "lon": "116.4600", "lat": "39.9200", "datum": "wgs84",
    "host_union": "朝阳区总工会", "station_type": "warm_station",
    "hours": "周一至周五 08:00-20:00；周六、周日 09:00-17:00",
    "facilities": ["water", "microwave", "charging"], "status": "active",
    "manager": "李站长", "manager_phone": "13800000001",
}

HEADER = "名称,地址,经度,纬度,区,开放时间,设施,负责人,负责人电话\n"
GOOD_ROWS = [
    "朝阳门暖心驿站,北京市东城区朝阳门内大街1号,116.4280,39.9240,东城区,周一至周五 08:00-20:00,饮水机、微波炉,李四,13800000001",
    "国贸驿站,北京市朝阳区建国门外大街1号,116.4600,39.9090,朝阳区,24小时,充电、厕所,王五,13800000002",
    "中关村驿站,北京市海淀区中关村大街27号,116.3160,39.9840,海淀区,每天 9:00-18:00,热水,赵六,13800000003",
]


def distance_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def post_form(client, path, **changes):
    data = dict(GOOD_FORM, **changes)
    data["csrf_token"] = csrf_token(client, path)
    return client.post(path, data=data)


def create(client, **changes):
    response = post_form(client, "/admin/stations/new", **changes)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/admin/stations/(\d+)", urlsplit(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return int(match.group(1))


def html(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def input_value(page, name):
    match = re.search(rf'<input name="{name}" type="[^"]+" value="([^"]*)"', page)
    assert match, f"no input {name}"
    return match.group(1)


def checked(page, name):
    return re.findall(rf'name="{name}" value="([^"]+)" checked', page)


# --- create ---------------------------------------------------------------------------

def test_create_station_through_the_form(admin, fresh_db):
    sid = create(admin)
    page = html(admin, f"/admin/stations/{sid}")
    assert "<h1>国贸暖心驿站</h1>" in page
    assert "已创建站点" in page  # the flash message
    assert "李站长" in page and "13800000001" in page

    # public: listed under the district its coordinates lie in
    listing = html(admin, "/stations?district=朝阳区")
    assert f'href="/stations/{sid}">国贸暖心驿站</a>' in listing
    detail = html(admin, f"/stations/{sid}")
    assert "朝阳区" in detail and "建外街道" in detail
    assert "周一至周五 08:00-20:00" in detail
    for label in ("饮水", "微波炉", "充电"):
        assert f">{label}</span>" in detail
    stored = storage.get_station(fresh_db, sid, private=True)
    assert stored["district"] == "朝阳区" and not stored["district_mismatch"]
    assert (stored["lon"], stored["lat"]) == (116.46, 39.92)
    assert stored["facilities"] == ["water", "microwave", "charging"]


def test_an_invalid_form_keeps_everything_typed(admin, fresh_db):
    response = post_form(admin, "/admin/stations/new", name="", lat="abc", hours="周八 25:00",
                         facilities=["water", "toilet"], station_type="union_station",
                         status="temporarily_closed", datum="gcj02")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "缺少站点名称" in page
    assert re.search(r"纬度“abc”不是数字", page)
    assert "无法识别的开放时间" in page and "周八" in page
    assert "有 3 处需要修改" in page
    # what was wrong is kept, so it can be corrected ...
    assert input_value(page, "name") == ""
    assert input_value(page, "lat") == "abc"
    assert input_value(page, "hours") == "周八 25:00"
    # ... and what was fine is kept too
    assert input_value(page, "address") == "北京市朝阳区建国门外大街1号"
    assert input_value(page, "lon") == "116.4600"
    assert input_value(page, "subdistrict") == "建外街道"
    assert input_value(page, "host_union") == "朝阳区总工会"
    assert input_value(page, "manager") == "李站长"
    assert input_value(page, "manager_phone") == "13800000001"
    assert sorted(checked(page, "facilities")) == ["toilet", "water"]
    assert re.search(r'<option value="union_station" selected>', page)
    assert re.search(r'<option value="temporarily_closed" selected>', page)
    assert re.search(r'<option value="gcj02" selected>', page)
    assert storage.count_stations(fresh_db) == 0


def test_gcj02_input_is_stored_as_wgs84(admin, fresh_db):
    typed = (116.4600, 39.9200)
    sid = create(admin, datum="gcj02", lon=str(typed[0]), lat=str(typed[1]))
    stored = storage.get_station(fresh_db, sid)
    assert distance_m(stored["lon"], stored["lat"], *typed) > 100  # Beijing: hundreds of metres
    back = wgs84_to_gcj02(stored["lon"], stored["lat"])
    assert back[0] == pytest.approx(typed[0], abs=1e-6)
    assert back[1] == pytest.approx(typed[1], abs=1e-6)
    # the admin page shows the stored WGS-84 value
    assert f"{stored['lon']}, {stored['lat']}" in html(admin, f"/admin/stations/{sid}")


def test_a_declared_district_that_disagrees_is_kept_and_flagged(admin, fresh_db):
    response = post_form(admin, "/admin/stations/new", district="海淀区")
    assert response.status_code == 302
    sid = int(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1])
    stored = storage.get_station(fresh_db, sid)
    assert stored["district"] == "朝阳区"
    assert stored["district_declared"] == "海淀区"
    assert stored["district_mismatch"] is True
    page = html(admin, f"/admin/stations/{sid}")
    assert "海淀区" in page and "不一致" in page  # flash and the district line both warn
    assert "区待核" in html(admin, "/admin/stations")
    # the public sees the district the point is in
    assert f'href="/stations/{sid}"' in html(admin, "/stations?district=朝阳区")
    assert f'href="/stations/{sid}"' not in html(admin, "/stations?district=海淀区")
    # the edit form shows what was declared, so saving again keeps the flag
    form = html(admin, f"/admin/stations/{sid}/edit")
    assert re.search(r'<select name="district">.*?<option value="海淀区" selected>', form, re.S)


def test_a_duplicate_is_refused(admin, fresh_db):
    create(admin)
    response = post_form(admin, "/admin/stations/new", lon="116.46001")
    assert response.status_code == 400
    assert "疑似重复" in response.get_data(as_text=True)
    assert storage.count_stations(fresh_db) == 1


# --- edit, status, history, restore --------------------------------------------------------

def test_edit_changes_a_field_and_the_history_says_who_when_what(admin, fresh_db):
    sid = create(admin)
    form = html(admin, f"/admin/stations/{sid}/edit")
    assert input_value(form, "name") == "国贸暖心驿站"
    response = post_form(admin, f"/admin/stations/{sid}/edit", name="国贸户外劳动者驿站")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/admin/stations/{sid}"
    page = html(admin, f"/admin/stations/{sid}")
    assert "<h1>国贸户外劳动者驿站</h1>" in page and "已保存修改" in page
    history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S).group(1)
    rows = re.findall(r'<li class="entry">(.*?)</li>\s*(?=<li class="entry">|$)', history, re.S)
    assert len(rows) == 2  # newest first: the edit, then the creation
    edit = rows[0]
    # what · when (Beijing time, to the minute) · who
    assert re.search(r"<b>编辑</b> · \d{4}-\d{2}-\d{2} \d{2}:\d{2} · admin</div>", edit)
    assert "<b>名称</b>：国贸暖心驿站 → 国贸户外劳动者驿站" in edit  # before → after
    assert "新建" in rows[1]
    assert "国贸户外劳动者驿站" in html(admin, f"/stations/{sid}")
    assert storage.count_stations(fresh_db) == 1


def test_editing_keeps_the_other_fields(admin, fresh_db):
    sid = create(admin)
    post_form(admin, f"/admin/stations/{sid}/edit", address="北京市朝阳区建国路88号")
    stored = storage.get_station(fresh_db, sid, private=True)
    assert stored["address"] == "北京市朝阳区建国路88号"
    assert stored["name"] == "国贸暖心驿站"
    assert stored["facilities"] == ["water", "microwave", "charging"]
    assert stored["manager_phone"] == "13800000001"
    assert (stored["lon"], stored["lat"]) == (116.46, 39.92)


def test_an_invalid_edit_changes_nothing(admin, fresh_db):
    sid = create(admin)
    response = post_form(admin, f"/admin/stations/{sid}/edit", name="", lat="95")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "缺少站点名称" in page and input_value(page, "lat") == "95"
    assert storage.get_station(fresh_db, sid)["name"] == "国贸暖心驿站"


def set_status(client, sid, status):
    token = csrf_token(client, f"/admin/stations/{sid}")
    return client.post(f"/admin/stations/{sid}/status", data={"status": status,
                                                              "csrf_token": token})


def test_close_and_reopen(admin, fresh_db):
    sid = create(admin)
    response = set_status(admin, sid, "closed")
    assert response.status_code == 302
    public = html(admin, f"/stations/{sid}")
    assert "已关闭" in public and "营业中" not in public
    assert f'href="/stations/{sid}"' in html(admin, "/stations?status=closed")
    page = html(admin, f"/admin/stations/{sid}")
    assert "<b>关闭站点</b> · " in page and "<b>状态</b>：正常开放 → 已关闭" in page
    assert "重新开放" in page

    assert set_status(admin, sid, "active").status_code == 302
    public = html(admin, f"/stations/{sid}")
    assert "已关闭" not in public and "正常开放" in public
    assert "<b>重新开放</b> · " in html(admin, f"/admin/stations/{sid}")
    assert storage.get_station(fresh_db, sid)["status"] == "active"


def test_an_unknown_status_is_refused(admin, fresh_db):
    sid = create(admin)
    assert set_status(admin, sid, "demolished").status_code == 400
    assert storage.get_station(fresh_db, sid)["status"] == "active"


def test_restore_an_earlier_version(admin, fresh_db):
    sid = create(admin)
    post_form(admin, f"/admin/stations/{sid}/edit", name="改过的名字", hours="24小时")
    page = html(admin, f"/admin/stations/{sid}")
    restores = re.findall(rf'action="/admin/stations/{sid}/restore/(\d+)"', page)
    assert restores, "no restore button"
    first_version = min(int(h) for h in restores)  # the creation
    token = csrf_token(admin, f"/admin/stations/{sid}")
    response = admin.post(f"/admin/stations/{sid}/restore/{first_version}",
                          data={"csrf_token": token})
    assert response.status_code == 302
    page = html(admin, f"/admin/stations/{sid}")
    assert "<h1>国贸暖心驿站</h1>" in page
    actions = re.findall(r'<div class="when"><b>([^<]*)</b>', page)
    assert actions[0].startswith("恢复到 20") and actions[0].endswith(" 的版本")
    assert actions[1:] == ["编辑", "新建"]
    assert "改过的名字 → 国贸暖心驿站" in page
    stored = storage.get_station(fresh_db, sid)
    assert stored["name"] == "国贸暖心驿站" and stored["hours"] != "24/7"
    assert "国贸暖心驿站" in html(admin, f"/stations/{sid}")


def test_restoring_another_stations_version_is_404(admin, fresh_db):
    a = create(admin)
    b = create(admin, name="另一个站", lon="116.3160", lat="39.9840")
    other_version = storage.station_history(fresh_db, b)[-1]["id"]
    token = csrf_token(admin, f"/admin/stations/{a}")
    response = admin.post(f"/admin/stations/{a}/restore/{other_version}",
                          data={"csrf_token": token})
    assert response.status_code == 404
    assert storage.get_station(fresh_db, a)["name"] == "国贸暖心驿站"


def test_admin_station_pages_404_for_unknown_ids(admin):
    assert admin.get("/admin/stations/999999").status_code == 404
    assert admin.get("/admin/stations/999999/edit").status_code == 404


def test_admin_list_shows_pending_and_closed(admin, fresh_db):
    make_station(fresh_db, name="待审站", status="pending")
    make_station(fresh_db, name="关闭站", status="closed", lon=116.41)
    page = html(admin, "/admin/stations")
    assert "待审站" in page and "关闭站" in page and "待审核" in page
    assert "待审站" in html(admin, "/admin/stations?q=待审") and \
        "关闭站" not in html(admin, "/admin/stations?q=待审")


# --- import ---------------------------------------------------------------------------------

def upload(client, data, filename="stations.csv", **fields):
    token = csrf_token(client, "/admin/import")
    form = {"csrf_token": token, "datum": "wgs84"}
    form.update(fields)
    from io import BytesIO

    form["file"] = (BytesIO(data), filename)
    response = client.post("/admin/import", data=form, content_type="multipart/form-data")
    return finish_import(client, response) if response.status_code == 303 else response


def csv_bytes(rows):
    return (HEADER + "\n".join(rows) + "\n").encode("utf-8")


def test_import_with_a_bad_last_row_writes_nothing_and_says_why(admin, fresh_db):
    make_station(fresh_db, name="已有站点", lon=116.30, lat=39.95)
    before = storage.count_stations(fresh_db)
    bad = GOOD_ROWS + ["坏行驿站,某地,不是数字,39.9,朝阳区,,,,"]
    response = upload(admin, csv_bytes(bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "状态：已完成" in page  # the job ran; the file was refused
    row = re.search(r'<tr class="error"><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td>'
                    r'<td>错误</td><td>([^<]*)</td>', page)
    assert row, "the report has no error row"
    assert row.group(1) == "5"  # header is row 1, the bad row is the 4th station
    assert row.group(2) == "坏行驿站" and row.group(3) == "经度"
    assert "不是数字" in row.group(4)
    assert "未写入任何数据" in page
    assert storage.count_stations(fresh_db) == before


def test_import_dry_run_writes_nothing(admin, fresh_db):
    response = upload(admin, csv_bytes(GOOD_ROWS), dry_run="1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "试运行" in page and "可导入 3 行" in page
    assert "已写入" not in page
    assert storage.count_stations(fresh_db) == 0
    assert re.search(r'name="dry_run" value="1" checked', page)


def test_import_a_good_file(admin, fresh_db):
    response = upload(admin, csv_bytes(GOOD_ROWS))
    assert response.status_code == 200
    assert "已写入 3 个站点" in response.get_data(as_text=True)
    assert storage.count_stations(fresh_db) == 3
    listing = html(admin, "/stations")
    for name in ("朝阳门暖心驿站", "国贸驿站", "中关村驿站"):
        assert name in listing
    assert "王五" not in listing  # imported managers stay private


def test_import_in_gcj02(admin, fresh_db):
    response = upload(admin, csv_bytes(GOOD_ROWS[1:2]), datum="gcj02")
    assert "已写入 1 个站点" in response.get_data(as_text=True)
    (station,), _ = storage.search_stations(fresh_db)
    back = wgs84_to_gcj02(station["lon"], station["lat"])
    assert back == pytest.approx((116.4600, 39.9090), abs=1e-6)


def test_import_without_a_file_or_with_a_bad_datum(admin, fresh_db):
    token = csrf_token(admin, "/admin/import")
    response = admin.post("/admin/import", data={"csrf_token": token, "datum": "wgs84"},
                          content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择要导入的文件" in response.get_data(as_text=True)
    response = upload(admin, csv_bytes(GOOD_ROWS), datum="mars")
    assert response.status_code == 400 and "坐标系" in response.get_data(as_text=True)
    assert storage.count_stations(fresh_db) == 0


def test_saving_an_untouched_form_keeps_the_district_derived_from_the_point(admin, fresh_db):
    sid = create(admin, district="")  # 按坐标自动判定
    form = html(admin, f"/admin/stations/{sid}/edit")
    select = re.search(r'<select name="district">(.*?)</select>', form, re.S).group(1)
    assert "selected" not in select  # still 按坐标自动判定, not the derived 朝阳区
    values = {name: input_value(form, name) for name in ("name", "address", "lon", "lat", "hours")}
    response = post_form(admin, f"/admin/stations/{sid}/edit", district="", **values)
    assert response.status_code == 302
    stored = storage.get_station(fresh_db, sid)
    assert stored["district"] == "朝阳区" and not stored["district_declared"]
    assert "登记的区" not in html(admin, f"/admin/stations/{sid}")


@pytest.mark.parametrize("role, sees", [("planner", True), ("admin", True), ("reviewer", False)])
def test_planners_find_plan_from_their_desk_and_the_header(client, auth, role, sees):
    auth.login(role)
    desk = client.get("/admin/").get_data(as_text=True)
    assert ('href="/plan"' in desk) is sees
    assert ('href="/plan">覆盖规划</a>' in client.get("/nearby").get_data(as_text=True)) is sees
    if sees:
        assert client.get("/plan").status_code == 200
