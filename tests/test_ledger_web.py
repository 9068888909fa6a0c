"""The ledger on the web and in the API: role rules (forged requests 403), the form with
its history, meetings, the riders' check-in (rate limits shared by two app instances),
the month import page, reports with SVG charts and defused downloads, flags in the queue."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import timedelta

import pytest

from stations import jobs, ledger, storage
from stations.accounts import users
from stations.web import create_app
from tests.conftest import csrf_token, finish_import, make_station

HAIDIAN, CHAOYANG = "海淀区总工会", "朝阳区总工会"


@pytest.fixture
def places(fresh_db):
    users.add_user(fresh_db, "hd", "hd-pass-12", "union", HAIDIAN, create_union=True)
    users.add_user(fresh_db, "cy", "cy-pass-12", "union", CHAOYANG, create_union=True)
    # open around the clock: riders check in whatever hour the suite runs (no check-in when 已打烊)
    a = make_station(fresh_db, name="海淀驿站", district="海淀区", host_union=HAIDIAN, lon=116.30, lat=39.96,
                     hours="24/7")
    b = make_station(fresh_db, name="朝阳驿站", district="朝阳区", host_union=CHAOYANG, lon=116.48, lat=39.92,
                     hours="24/7")
    return a, b


def login(client, name, password):
    token = csrf_token(client)
    response = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert response.status_code == 302


def recent_day():
    """Yesterday, or today on 1 January: a day in the period the reports show by default
    (this year to date), whatever day the suite runs."""
    day = ledger.today() - timedelta(days=1)
    return (day if day.year == ledger.today().year else ledger.today()).isoformat()


def basic(name, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_a_union_keeps_its_own_stations_ledger_and_a_forged_post_for_another_is_403(client, places, fresh_db):
    a, b = places
    login(client, "hd", "hd-pass-12")
    home = client.get("/ledger").get_data(as_text=True)
    assert "海淀驿站" in home and "朝阳驿站" not in home
    assert f"<small>#{a} · 海淀区" in home  # two stations of one name can be told apart
    form = client.get(f"/ledger/stations/{a}").get_data(as_text=True)
    assert "外卖骑手" in form and "维权/法律咨询" in form and 'inputmode="numeric"' in form
    token = csrf_token(client, f"/ledger/stations/{a}")
    assert client.get(f"/ledger/stations/{b}").status_code == 403
    forged = client.post(f"/ledger/stations/{b}", data={"csrf_token": token, "date": recent_day(), "v_rider": "50"})
    assert forged.status_code == 403
    assert ledger.get_entries(fresh_db, b) == []
    saved = client.post(f"/ledger/stations/{a}", data={"csrf_token": token, "date": recent_day(), "v_rider": "12",
                                                         "s_water": "9", "note": "雨天人多"}, follow_redirects=True)
    page = saved.get_data(as_text=True)
    assert saved.status_code == 200 and f"已保存 {recent_day()} 的台账" in page and 'value="12"' in page
    again = client.post(f"/ledger/stations/{a}", data={"csrf_token": token, "date": recent_day(), "v_rider": "15"},
                        follow_redirects=True).get_data(as_text=True)
    assert "原记录已存入历史" in again and "覆盖前" in again and "外卖骑手 12" in again and "雨天人多" in again
    assert ledger.get_entries(fresh_db, a)[0]["visitors"]["rider"] == 15


def test_the_form_says_what_is_wrong_in_chinese_and_keeps_what_was_typed(client, places):
    a, _ = places
    login(client, "hd", "hd-pass-12")
    token = csrf_token(client, f"/ledger/stations/{a}")
    future = (ledger.today() + timedelta(days=5)).isoformat()
    response = client.post(f"/ledger/stations/{a}", data={"csrf_token": token, "date": future, "v_rider": "-2",
                                                          "s_water": "abc", "v_courier": "7"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "不能登记未来的日子" in page and "不能是负数" in page and "不是整数" in page and 'value="7"' in page


def test_api_ledger_roles_201_then_200_and_a_forged_call_for_another_union_is_403(client, places, fresh_db):
    a, b = places
    body = {"date": recent_day(), "visitors": {"rider": 5, "courier": 2}, "services": {"water": 4}, "note": "好"}
    created = client.post(f"/api/v1/stations/{a}/ledger", json=body, headers=basic("hd", "hd-pass-12"))
    assert created.status_code == 201 and created.get_json()["visitors"]["rider"] == 5
    replaced = client.post(f"/api/v1/stations/{a}/ledger", json={**body, "visitors": {"rider": 6}},
                           headers=basic("hd", "hd-pass-12"))
    assert replaced.status_code == 200
    forged = client.post(f"/api/v1/stations/{b}/ledger", json=body, headers=basic("hd", "hd-pass-12"))
    assert forged.status_code == 403 and forged.get_json()["error"]["parameter"] == "station_id"
    assert client.get(f"/api/v1/stations/{b}/ledger", headers=basic("hd", "hd-pass-12")).status_code == 403
    read = client.get(f"/api/v1/stations/{a}/ledger?from={recent_day()}&to={recent_day()}",
                      headers=basic("hd", "hd-pass-12")).get_json()
    assert read == {"entries": [{"date": recent_day(), "note": "好",
                                 "visitors": {"rider": 6, "courier": 0, "sanitation": 0, "driver": 0,
                                              "trucker": 0, "other": 0},
                                 "services": {"water": 4, "meal_heating": 0, "charging": 0, "toilet": 0,
                                              "rest": 0, "first_aid": 0, "legal_aid": 0, "other": 0}}]}
    bad = client.post(f"/api/v1/stations/{a}/ledger", json={**body, "visitors": {"rider": -1}},
                      headers=basic("hd", "hd-pass-12"))
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "visitors.rider"
    assert client.post(f"/api/v1/stations/{a}/ledger", json=body).status_code == 401
    assert client.post(f"/api/v1/stations/{a}/ledger", json=body,
                       headers=basic("planner", "plan-pass-1")).status_code == 403


def test_the_meeting_form_refuses_an_empty_meeting_keeps_what_was_typed_then_saves(client, places, fresh_db):
    a, _ = places
    login(client, "hd", "hd-pass-12")
    form = client.get("/ledger/meetings").get_data(as_text=True)
    assert re.search(r'name="attendees"[^>]*min="1" required', form)  # said before sending, too
    token = csrf_token(client, "/ledger/meetings")
    typed = {"csrf_token": token, "date": recent_day(), "kind": "enterprise", "station_id": str(a),
             "attendees": "0", "companies": "0", "new_unions": "1", "note": "物流园区企业座谈"}
    refused = client.post("/ledger/meetings", data=typed)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "参加人数至少 1 人" in page
    assert "物流园区企业座谈" in page and 'value="1"' in page  # nothing typed is lost
    assert ledger.list_meetings(fresh_db, user=None) == []
    refused = client.post("/ledger/meetings", data={**typed, "attendees": "15"})
    assert refused.status_code == 400 and "企业沟通会至少要有 1 家企业到会" in refused.get_data(as_text=True)
    saved = client.post("/ledger/meetings", data={**typed, "attendees": "15", "companies": "9"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已记录" in saved and "参加 15 人，企业 9 家" in saved
    assert [(m["attendees"], m["companies"]) for m in ledger.list_meetings(fresh_db, user=None)] == [(15, 9)]


def test_api_meetings_and_report_follow_the_union_rule(client, places):
    a, b = places
    hd, cy = basic("hd", "hd-pass-12"), basic("cy", "cy-pass-12")
    made = client.post("/api/v1/meetings", json={"date": recent_day(), "kind": "worker", "station_id": a,
                                                 "district": "", "attendees": 30, "companies": 0,
                                                 "new_members": 8, "new_unions": 0, "note": ""}, headers=hd)
    assert made.status_code == 201 and made.get_json()["district"] == "海淀区"
    forged = client.post("/api/v1/meetings", json={"date": recent_day(), "kind": "worker", "station_id": b,
                                                   "attendees": 3}, headers=hd)
    assert forged.status_code == 403
    assert len(client.get("/api/v1/meetings", headers=hd).get_json()["meetings"]) == 1
    assert client.get("/api/v1/meetings", headers=cy).get_json()["meetings"] == []
    report = client.get(f"/api/v1/reports/ledger?from={recent_day()}&to={recent_day()}", headers=hd).get_json()
    assert report["total"]["meetings_worker"] == 1 and report["total"]["new_members"] == 8
    assert report["months"] == [{"month": recent_day()[:7], **{k: report["months"][0][k] for k in report["months"][0]
                                                              if k != "month"}}]
    assert client.get("/api/v1/reports/ledger", headers=cy).get_json()["total"]["new_members"] == 0
    assert client.get("/api/v1/reports/ledger?from=2026-02-30", headers=hd).status_code == 400


def checkin_form(client, station_id):
    page = client.get(f"/stations/{station_id}").get_data(as_text=True)
    assert "我在这里歇脚了" in page
    return re.search(r'id="checkin".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)


def test_a_rider_checks_in_with_one_tap_and_sees_the_thanks_where_they_are(client, places, fresh_db):
    a, _ = places
    token = checkin_form(client, a)
    response = client.post(f"/stations/{a}/checkin", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/stations/{a}#checkin")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "今天您是第 1 位在这里歇脚的" in page
    again = client.post(f"/stations/{a}/checkin", data={"csrf_token": token})
    assert again.status_code == 429 and "已在本站签到过了" in again.get_data(as_text=True)
    assert "Retry-After" in again.headers
    assert fresh_db.execute("SELECT sum(count) FROM checkin_days").fetchone()[0] == 1
    assert client.post(f"/stations/{a}/checkin").status_code == 400  # no CSRF token


@pytest.mark.parametrize("status, message", [("closed", "该驿站已关闭"), ("temporarily_closed", "该驿站暂停开放")])
def test_no_checkin_at_a_station_that_is_not_open(client, places, fresh_db, status, message):
    a, _ = places
    token = checkin_form(client, a)  # the page as it was while the station was open
    storage.set_status(fresh_db, a, status, username="test")
    page = client.get(f"/stations/{a}").get_data(as_text=True)
    assert "我在这里歇脚了" not in page  # no button offered
    forged = client.post(f"/stations/{a}/checkin", data={"csrf_token": token})
    html = forged.get_data(as_text=True)
    assert forged.status_code == 409 and message in html and "我在这里歇脚了" not in html
    api = client.post(f"/api/v1/stations/{a}/checkins")
    assert api.status_code == 409
    assert api.get_json()["error"]["status"] == 409 and api.get_json()["error"]["parameter"] == "station_id"
    assert message in api.get_json()["error"]["message"]
    assert fresh_db.execute("SELECT count(*) FROM checkin_days").fetchone()[0] == 0
    storage.set_status(fresh_db, a, "active", username="test")  # open again: counted
    assert client.post(f"/api/v1/stations/{a}/checkins").status_code == 201


def test_checkin_limits_hold_across_two_app_instances(db_path, fresh_db, places):
    a, b = places
    config = {"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "shared",
              "YIZHAN_CHECKIN_PER_CLIENT": 2}
    one, two = create_app(config).test_client(), create_app(config).test_client()
    assert one.post(f"/api/v1/stations/{a}/checkins").status_code == 201
    refused = two.post(f"/api/v1/stations/{a}/checkins")  # same client, same station, other process
    assert refused.status_code == 429 and "签到" in refused.get_json()["error"]["message"]
    assert two.post(f"/api/v1/stations/{b}/checkins").status_code == 201
    c = make_station(fresh_db, name="第三站", lon=116.40, lat=39.91, hours="24/7")
    over = one.post(f"/api/v1/stations/{c}/checkins")  # third station in the hour: per-client limit 2
    assert over.status_code == 429 and "太频繁" in over.get_json()["error"]["message"]
    assert fresh_db.execute("SELECT sum(count) FROM checkin_days").fetchone()[0] == 2
    assert not [r for r in fresh_db.execute("SELECT bucket FROM rate_limits") if "127.0.0.1" in r[0]]


def test_month_import_page_all_or_nothing_with_row_and_column(client, places, fresh_db, db_path):
    a, b = places
    login(client, "hd", "hd-pass-12")
    token = csrf_token(client, "/ledger/import")
    text = f"站点编号,日期,外卖骑手,饮水\n{a},{recent_day()},3,2\n{b},{recent_day()},1,1\n"
    # the upload becomes a background job (303 to its page, which refreshes until it ends)
    upload = client.post("/ledger/import", data={"csrf_token": token,
                                                 "file": (io.BytesIO(text.encode()), "三月.csv")},
                         content_type="multipart/form-data")
    job_page = upload.headers["Location"]
    assert re.search(r"/ledger/import/jobs/\d+$", job_page)
    response = finish_import(client, upload)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "未写入任何数据" in page and "不是本工会的站点" in page
    assert "<td>3</td><td>站点编号</td>" in page and "Refresh" not in response.headers
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0
    good = f"站点编号,日期,外卖骑手,饮水\n{a},{recent_day()},3,2\n"
    ok = finish_import(client, client.post("/ledger/import", data={
        "csrf_token": token, "file": (io.BytesIO(good.encode()), "m.csv")}, content_type="multipart/form-data"))
    assert ok.status_code == 200 and "已写入 1 天的台账" in ok.get_data(as_text=True)
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 1
    listed = client.get("/ledger/import").get_data(as_text=True)
    assert "三月.csv" in listed and "m.csv" in listed  # the user's recent imports
    waiting = jobs.create_job(fresh_db, filename="五月.csv", options={}, username="hd", kind="ledger",
                              upload=jobs.save_upload(db_path, lambda path: path.write_text(good)))  # not started: its page waits and refreshes
    running = client.get(f"/ledger/import/jobs/{waiting}")
    assert running.status_code == 200 and running.headers["Refresh"] == "2"
    assert "等待开始" in running.get_data(as_text=True) and "<progress" in running.get_data(as_text=True)
    # another union's keeper cannot see the job; the station import's job list leaves it out
    other = client.application.test_client()
    login(other, "cy", "cy-pass-12")
    assert other.get(job_page).status_code == 404 and other.get(job_page + ".json").status_code == 404
    assert "三月.csv" not in other.get("/ledger/import").get_data(as_text=True)
    assert [j["filename"] for j in jobs.recent_jobs(fresh_db)] == []
    assert [j["filename"] for j in jobs.recent_jobs(fresh_db, kind="ledger")] == ["五月.csv", "m.csv", "三月.csv"]


def test_reports_page_charts_downloads_and_union_scope(client, places, fresh_db):
    a, b = places
    admin = users.get_user(fresh_db, "admin")
    ledger.save_entry(fresh_db, a, {"date": recent_day(), "v_rider": "9", "s_water": "4"}, admin)
    ledger.save_entry(fresh_db, b, {"date": recent_day(), "v_courier": "5"}, admin)
    ledger.add_meeting(fresh_db, {"date": recent_day(), "kind": "enterprise", "place": "=cmd|' /C calc'!A0",
                                  "district": "朝阳区", "attendees": "12", "companies": "6", "new_unions": "2"},
                      admin)
    login(client, "planner", "plan-pass-1")
    page = client.get(f"/ledger/reports?year={ledger.today().year}").get_data(as_text=True)
    assert "全市共召开职工沟通会 0 场、企业沟通会 1 场" in page and "推动企业建会 2 家" in page
    assert page.count("<svg") >= 3 and "朝阳区" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", page)
    csv_body = client.get(f"/ledger/reports.csv?table=stations&year={ledger.today().year}")
    rows = list(csv.reader(io.StringIO(csv_body.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["站点编号", "站点名称", "区"]
    # the two stations, then the meeting held away from any station (issue 18, item 15: rows add up)
    assert [r[1] for r in rows[1:]][-1] == "不在站点（会议）"
    assert {r[1] for r in rows[1:]} == {"海淀驿站", "朝阳驿站", "不在站点（会议）"}
    # One charset, one file name (ASCII and UTF-8 forms agree), kept off shared caches.
    assert csv_body.headers["Content-Type"] == "text/csv; charset=utf-8"
    year = ledger.today().year
    assert csv_body.headers["Content-Disposition"] == (
        f"attachment; filename=yizhan-ledger-{year}-stations.csv; filename*=UTF-8''yizhan-ledger-{year}-stations.csv")
    assert csv_body.headers["Cache-Control"] == "no-store"
    district = client.get(f"/ledger/reports.csv?table=months&year={year}&district=海淀区")
    assert "filename*=UTF-8''yizhan-ledger-" + f"{year}-%E6%B5%B7%E6%B7%80%E5%8C%BA-months.csv" in \
        district.headers["Content-Disposition"]
    xlsx = client.get(f"/ledger/reports.xlsx?year={ledger.today().year}")
    assert xlsx.headers["Cache-Control"] == "no-store"
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["说明", "按月", "按区", "按站点"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/stations")})
    login(client, "hd", "hd-pass-12")
    mine = client.get("/ledger/reports").get_data(as_text=True)
    assert "本工会共召开" in mine and "海淀驿站" in mine and "朝阳驿站" not in mine
    assert client.get("/api/v1/reports/ledger", headers=basic("hd", "hd-pass-12")).get_json()["total"]["visits"] == 9


def test_formula_like_text_leaves_downloads_defused(app, fresh_db, places):
    admin = users.get_user(fresh_db, "admin")
    fresh_db.execute("UPDATE stations SET name = '=HYPERLINK(\"x\")' WHERE id = ?", [places[0]])
    fresh_db.conn.commit()
    ledger.save_entry(fresh_db, places[0], {"date": recent_day(), "v_rider": "1"}, admin)
    report = ledger.ledger_report(fresh_db)
    stations = ledger.station_table(fresh_db)
    tables = ledger.report_tables(report, stations, "摘要")
    text = ledger.report_csv(tables, "stations").decode("utf-8")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_consistency_flags_show_in_the_organisers_queue_with_figures_and_rules(client, auth, places, fresh_db):
    a, _ = places
    admin = users.get_user(fresh_db, "admin")
    for n in range(8):
        ledger.save_entry(fresh_db, a, {"date": (ledger.today() - timedelta(days=n)).isoformat(), "v_rider": "500"},
                          admin)
    auth.login("admin")
    page = client.get("/admin/flags").get_data(as_text=True)
    assert "台账一致性" in page and "近 30 天台账来访 ≥ 300 人次" in page
    assert "台账记来访 <b>4,000</b> 人次（8 天有台账）" in page and "骑手签到 <b>0</b> 次" in page
    token = csrf_token(client, "/admin/flags")
    quiet = client.post(f"/ledger/flags/{a}/quiet", data={"csrf_token": token, "kind": "claims"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已记为核实" in quiet and "台账记来访 <b>4,000</b>" not in quiet


def test_ledger_pages_refuse_riders_and_reviewers(client, auth, places):
    assert client.get("/ledger").status_code == 302  # to the login
    auth.login("reviewer")
    assert client.get("/ledger").status_code == 403
    assert client.get("/ledger/reports").status_code == 403
