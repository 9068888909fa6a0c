"""What an organiser sees (issue 10, organiser points 15–19, 21, 23): history in words
and Beijing time, filters that find work, confirmations, the station form's helpers."""

import re

import pytest

from stations import storage
from tests.conftest import csrf_token, make_station


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def html(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_history_speaks_chinese_with_hours_as_people_write_them(admin, fresh_db):
    sid = make_station(fresh_db, name="历史站", hours="Mo-Fr 08:00-20:00; Sa 09:00-12:00",
                       facilities=["water", "toilet"])
    storage.update_station(fresh_db, sid, {"hours": "24/7", "facilities": ["water"],
                                           "status": "temporarily_closed"}, username="admin")
    first = storage.station_history(fresh_db, sid)[-1]["id"]
    storage.restore_version(fresh_db, sid, first, username="admin")
    page = html(admin, f"/admin/stations/{sid}")
    history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S).group(1)
    assert "<b>开放时间</b>：周一至周五 08:00-20:00；周六 09:00-12:00；周日休息 → 24小时" in history
    assert "<b>设施</b>：饮水、厕所 → 饮水" in history
    assert "<b>状态</b>：正常开放 → 暂停开放" in history
    assert re.search(r"<b>恢复到 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 的版本</b>", history)
    for code in ("restore:", "Mo-Fr", "temporarily_closed", "['water'", "<b>hours</b>",
                 "<b>facilities</b>"):
        assert code not in history, code
    # No raw ISO timestamps anywhere on the page.
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", page)


def test_edit_form_shows_hours_in_chinese(admin, fresh_db):
    sid = make_station(fresh_db, hours="Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00")
    form = html(admin, f"/admin/stations/{sid}/edit")
    assert 'value="周一至周五 08:00-20:00；周六、周日 09:00-17:00"' in form and "Mo-Fr" not in form


def test_history_and_flags_fit_a_phone(admin, fresh_db):
    sid = make_station(fresh_db)
    storage.update_station(fresh_db, sid, {"name": "改名"}, username="admin")
    page = html(admin, f"/admin/stations/{sid}")
    assert '<table class="grid history">' not in page and '<ol class="history">' in page
    assert 'class="flag-queue"' in html(admin, "/admin/flags")
    with admin.get("/static/site.css") as response:
        css = response.get_data(as_text=True)
    assert "button{white-space:nowrap}" in css and ".scroll{overflow-x:auto" in css


def test_station_list_filters_and_home_counts_link_to_them(admin, fresh_db):
    pending = make_station(fresh_db, name="待审站", status="pending")
    mismatch = make_station(fresh_db, name="区不对的站", lon=116.46, lat=39.91)
    fresh_db.execute("UPDATE stations SET district_mismatch = 1, district_declared = '海淀区' "
                     "WHERE id = ?", [mismatch])
    fresh_db.conn.commit()
    make_station(fresh_db, name="海淀站", district="海淀区", lon=116.30, lat=39.96)

    def listed(path):
        return re.findall(r'<a href="/admin/stations/\d+">([^<]+)</a>', html(admin, path))

    assert listed("/admin/stations?status=pending") == ["待审站"]
    assert listed("/admin/stations?mismatch=1") == ["区不对的站"]
    assert listed("/admin/stations?district=海淀区") == ["海淀站"]
    home = html(admin, "/admin")
    assert 'href="/admin/stations?status=pending">待审核 1</a>' in home
    assert 'href="/admin/stations?mismatch=1">1 个站点登记的区与坐标所在区不一致</a>' in home
    _ = pending


def test_irreversible_actions_ask_first_and_resolutions_are_recorded(admin, client, fresh_db):
    sid = make_station(fresh_db, name="被报告的站", hours="24/7")
    token = csrf_token(client, f"/stations/{sid}")
    client.post(f"/stations/{sid}/feedback", data={"csrf_token": token, "found": "closed"})
    page = html(admin, f"/admin/stations/{sid}")
    assert re.search(r'data-confirm="确定关闭“被报告的站”吗？[^"]*">\s*<input[^>]*>\s*<button name="status" '
                     r'value="closed"', page)
    flags = html(admin, "/admin/flags")
    assert re.search(r'<form[^>]*resolve"[^>]*data-confirm="确定把“被报告的站”的 1 条报告标记为已处理吗？"', flags)
    assert '<select name="resolution" required>' in flags
    # Without a resolution nothing is resolved.
    token = csrf_token(admin, "/admin/flags")
    admin.post(f"/admin/flags/{sid}/resolve", data={"csrf_token": token})
    assert "被报告的站" in html(admin, "/admin/flags")
    admin.post(f"/admin/flags/{sid}/resolve", data={"csrf_token": token, "resolution": "fixed_hours"})
    assert "被报告的站" not in html(admin, "/admin/flags")
    history = html(admin, f"/admin/stations/{sid}")
    assert "<b>处理骑手报告 1 条：已更正开放时间</b>" in history
    # A restore asks too.
    storage.update_station(fresh_db, sid, {"name": "改过"}, username="admin")
    assert 'data-confirm="确定把站点恢复到 ' in html(admin, f"/admin/stations/{sid}")


def test_new_station_form_has_a_map_picker_and_a_district_list(admin, app):
    from stations.riders.search import district_choices

    form = html(admin, "/admin/stations/new")
    options = re.findall(r'<option value="([^"]+)"',
                         re.search(r'<select name="district">(.*?)</select>', form, re.S).group(1))
    assert options == district_choices(app.config["YIZHAN_REGION"])  # official order
    assert 'id="coordpicker"' in form and 'data-datum="gcj02"' in form
    assert "/static/" in form and "admin_form.js" in form
    # The tab says what the page is (the picker's script once, in the page, not in the title).
    assert re.search(r"<title>([^<]*)</title>", form).group(1) == "新建站点 · 驿站 Yizhan"
    assert form.count("admin_form.js") == 1


def test_directory_districts_in_official_order_and_open_ones_by_default(client, fresh_db, app):
    from stations.riders.search import district_choices

    make_station(fresh_db, name="开着的站")
    make_station(fresh_db, name="关了的站", status="closed", lon=116.41)
    page = html(client, "/stations")
    options = re.findall(r'<option value="([^"]+)"',
                         re.search(r'<select name="district"[^>]*>(.*?)</select>', page, re.S).group(1))
    assert options == district_choices(app.config["YIZHAN_REGION"])
    assert "开着的站" in page and "关了的站" not in page
    assert "关了的站" in html(client, "/stations?status=all")


def test_admin_feedback_does_not_repeat_the_flag(admin, client, fresh_db):
    sid = make_station(fresh_db, name="搬走的站")
    token = csrf_token(client, f"/stations/{sid}")
    client.post(f"/stations/{sid}/feedback", data={"csrf_token": token, "found": "moved"})
    page = html(admin, f"/admin/stations/{sid}")
    assert "已搬走 · 已搬走" not in page and page.count("已搬走") == 1


def test_login_boxes_are_the_same_width(client):
    with client.get("/static/site.css") as response:
        css = response.get_data(as_text=True)
    assert ".form input[type=password]{width:100%}" in css
    assert ".form input:not([type])" in css


def test_import_page_names_the_note_column_and_what_is_skipped(admin):
    page = html(admin, "/admin/import")
    columns = re.search(r"列名可用中文或英文：([^。]*)。", page).group(1)
    assert "备注" in columns  # kept as the station's private note
    assert "度分秒" in page and "合计" in page and "填表人" in page
