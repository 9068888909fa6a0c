"""Scope by the union tree (issue 16, point 4): an admin of 朝阳区总工会 sees and changes
its subtree only, and nothing of 海淀 — on every route, as the default-deny walk does;
colleagues of one union share its ledger, meetings and imports; the 工作台 counts and
links are of the user's scope."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from stations import jobs, ledger, storage
from stations.accounts import tokens, users
from stations.unions import store
from tests.conftest import csrf_token, finish_import, make_station

CITY, CY, HD = "北京市总工会", "朝阳区总工会", "海淀区总工会"
WJ, SF = "望京街道工会", "顺丰速运朝阳工会"
PASSWORD = "scope-pass-1"
# What only 海淀's records carry: a page, file or answer holding any of these shows 海淀.
HD_STATION, HD_PHONE, HD_PLACE = "海淀秘密驿站", "13999990000", "海淀秘密会场"
HD_IMPORT, HD_LEDGER_IMPORT = "海淀名单.csv", "海淀台账.csv"
MARKERS = (HD_STATION, HD_PHONE, HD_PLACE, HD_IMPORT, HD_LEDGER_IMPORT)


def day():
    return (ledger.today() - timedelta(days=1 if ledger.today().timetuple().tm_yday > 1 else 0)).isoformat()


@pytest.fixture
def tree(app, fresh_db, db_path):
    db = fresh_db
    city = store.add_union(db, CITY, kind="municipal")
    cy = store.add_union(db, CY, parent_id=city, kind="district")
    hd = store.find_union(db, HD)["id"]  # the conftest reviewer's union, unplaced
    store.move_union(db, hd, city, kind="district")
    wj = store.add_union(db, WJ, parent_id=cy, kind="street")
    sf = store.add_union(db, SF, parent_id=wj)
    for name, role, union in (("cy_admin", "admin", CY), ("city_admin", "admin", CITY),
                              ("hd_admin", "admin", HD), ("sf1", "union", SF), ("sf2", "union", SF),
                              ("hd_staff", "union", HD)):
        users.add_user(db, name, PASSWORD, role, union)
    ids = {
        "cy": make_station(db, name="望京暖心驿站", host_union=SF, district="朝阳区", lon=116.47, lat=40.0),
        "cy2": make_station(db, name="朝阳职工之家", host_union=CY, district="朝阳区", lon=116.48, lat=39.92),
        "hd": make_station(db, name=HD_STATION, host_union=HD, district="海淀区", lon=116.30, lat=39.96,
                           manager_phone=HD_PHONE),
    }
    hd_staff, sf1 = users.get_user(db, "hd_staff"), users.get_user(db, "sf1")
    ledger.save_entry(db, ids["hd"], {"date": day(), "v_rider": "1777"}, hd_staff)
    ledger.save_entry(db, ids["cy"], {"date": day(), "v_rider": "5"}, sf1)
    ids["meeting"] = ledger.add_meeting(db, {"date": day(), "kind": "worker", "station_id": str(ids["hd"]),
                                             "place": HD_PLACE, "attendees": "30"}, hd_staff)["id"]
    db.execute("UPDATE meetings SET large_confirmed = 1 WHERE id = ?", [ids["meeting"]])
    db.execute("INSERT INTO feedback (station_id, at, flag, client) VALUES (?, ?, 'closed', 'x')",
               [ids["hd"], storage.now_iso()])
    db.conn.commit()
    ids["job"] = jobs.create_job(db, filename=HD_IMPORT, upload=db_path.parent / "gone.csv", options={},
                                 username="hd_admin")
    ids["ledger_job"] = jobs.create_job(db, filename=HD_LEDGER_IMPORT, upload=db_path.parent / "gone2.csv",
                                        options={}, username="hd_staff", kind="ledger")
    ids["history"] = storage.station_history(db, ids["hd"])[0]["id"]
    ids["unions"] = {"city": city, "cy": cy, "hd": hd, "wj": wj, "sf": sf}
    return ids


def signed_in(app, name):
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, name
    return client


def body_text(response) -> str:
    data = response.get_data()
    if data[:2] == b"PK":  # an XLSX workbook: its strings live in XML parts
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return " ".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    text = data.decode("utf-8", "replace")
    if response.mimetype and "json" in response.mimetype:
        text += json.dumps(response.get_json(silent=True), ensure_ascii=False)
    return text


def assert_no_haidian(response, what):
    if response.status_code in (403, 404):
        return
    assert response.status_code in (200, 302, 303, 400), (what, response.status_code)
    text = body_text(response)
    shown = [m for m in MARKERS if m in text]
    assert not shown, f"{what} shows 海淀's {shown}"


# --- the walk --------------------------------------------------------------------------

# Areas other parts of issue 16 scope (campaigns: part C), and coverage planning, which
# maps every station's public location for planners and admins alike ("as today").
NOT_HERE = ("campaigns.", "campaigns_api.", "campaign_tree.", "plan.", "plan_report.")


def _url(rule, ids):
    values = {"station_id": ids["hd"], "meeting_id": ids["meeting"], "history_id": ids["history"],
              "job_id": ids["ledger_job"] if rule.endpoint.startswith("ledger.") else ids["job"],
              "union_id": ids["unions"]["hd"]}
    path = rule.rule
    for name in rule.arguments:
        if name == "fmt":
            continue
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(values[name]), path)
    return path


GET_QUERIES = {"/admin/export/download": "?format=csv&personal=1", "/admin/stations": "?q=%E6%B5%B7%E6%B7%80",
               "/ledger/reports.<any(csv, xlsx):fmt>": None}


def _get_urls(app, ids):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if "GET" not in rule.methods or "public" in getattr(view, "access", {"public"}) \
                or rule.endpoint.startswith(NOT_HERE):
            continue
        if rule.rule == "/ledger/reports.<any(csv, xlsx):fmt>":
            yield rule, "/ledger/reports.xlsx"
            for table in ("months", "districts", "stations"):
                yield rule, f"/ledger/reports.csv?table={table}"
            continue
        url = _url(rule, ids)
        yield rule, url
        if GET_QUERIES.get(rule.rule):
            yield rule, url + GET_QUERIES[rule.rule]


def test_a_district_admin_sees_nothing_of_another_district_on_any_page(app, tree):
    cy, city = signed_in(app, "cy_admin"), signed_in(app, "city_admin")
    walked = set()
    for rule, url in _get_urls(app, tree):
        walked.add((rule.rule, "GET"))
        assert_no_haidian(cy.get(url), f"GET {url} (朝阳 admin)")
    # the same pages show 海淀 to the city's admin: the markers are real
    for url, marker in (("/admin/stations", HD_STATION), (f"/admin/stations/{tree['hd']}", HD_PHONE),
                        ("/admin/export/download?format=csv&personal=1", HD_STATION),
                        ("/admin/import", HD_IMPORT), ("/admin/flags", HD_STATION), ("/ledger", HD_STATION),
                        ("/ledger/meetings", HD_STATION), ("/ledger/reports", HD_STATION),
                        ("/ledger/reports.csv?table=stations", HD_STATION), ("/ledger/import", HD_LEDGER_IMPORT),
                        (f"/admin/import/jobs/{tree['job']}", HD_IMPORT),
                        (f"/ledger/import/jobs/{tree['ledger_job']}", HD_LEDGER_IMPORT),
                        ("/api/v1/meetings", HD_PLACE)):
        response = city.get(url)
        assert response.status_code == 200 and marker in body_text(response), url
    for url in (f"/admin/stations/{tree['hd']}", f"/admin/stations/{tree['hd']}/edit",
                f"/admin/import/jobs/{tree['job']}", f"/admin/import/jobs/{tree['job']}.json",
                f"/ledger/stations/{tree['hd']}"):
        assert cy.get(url).status_code == 403, url  # a single record of 海淀: refused, not hidden
    # the report's figures are 朝阳's: 5 visits, not 海淀's 1,777
    report = cy.get("/api/v1/reports/ledger").get_json()
    assert report["total"]["visits"] == 5 and report["total"]["stations"] == 2
    assert {d["district"] for d in report["districts"]} == {"朝阳区"}
    assert city.get("/api/v1/reports/ledger").get_json()["total"]["visits"] == 1782
    walked |= _changes_are_refused(app, cy, tree)
    expected = {(rule.rule, method) for rule in app.url_map.iter_rules()
                for method in rule.methods - {"HEAD", "OPTIONS"}
                if rule.endpoint != "static" and "public" not in app.view_functions[rule.endpoint].access
                and not rule.endpoint.startswith(NOT_HERE)}
    assert expected - walked == set(), "routes the scope walk does not cover"


def _changes_are_refused(app, cy, ids):
    """Every changing route, aimed at 海淀 by the 朝阳 admin: refused, nothing changed."""
    db = storage.connect(app.config["YIZHAN_DB"])
    before = storage.get_station(db, ids["hd"], private=True)
    counts = lambda: [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
                      for t in ("stations", "ledger_entries", "meetings", "ledger_flag_reviews", "import_jobs",
                                "unions", "union_names", "union_log")]
    counted = counts()
    token = csrf_token(cy, "/admin")
    bearer = {"Authorization": "Bearer " + tokens.issue_token(db, users.get_user(db, "cy_admin")["id"])}
    hd, form, hd_union = ids["hd"], {"csrf_token": token}, ids["unions"]["hd"]
    stolen = {"name": "偷建的站", "lon": "116.31", "lat": "39.97", "host_union": HD}
    requests = [
        ("POST", "/admin/flags/<int:station_id>/resolve", f"/admin/flags/{hd}/resolve",
         dict(data=dict(form, resolution="false_report")), {403}),
        ("POST", "/admin/import/jobs/<int:job_id>/valid-rows", f"/admin/import/jobs/{ids['job']}/valid-rows",
         dict(data=form), {403}),
        ("POST", "/admin/stations/<int:station_id>/restore/<int:history_id>",
         f"/admin/stations/{hd}/restore/{ids['history']}", dict(data=form), {403}),
        ("POST", "/admin/stations/<int:station_id>/status", f"/admin/stations/{hd}/status",
         dict(data=dict(form, status="closed")), {403}),
        ("POST", "/admin/stations/<int:station_id>/edit", f"/admin/stations/{hd}/edit",
         dict(data=dict(form, name="改名", lon="116.30", lat="39.96")), {403}),
        ("POST", "/admin/stations/new", "/admin/stations/new", dict(data=dict(form, **stolen)), {400}),
        ("POST", "/api/v1/stations", "/api/v1/stations",
         dict(json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.31, 39.97]},
                    "properties": {"name": "偷建的站", "host_union": HD}}, headers=bearer), {400}),
        ("PATCH", "/api/v1/stations/<int:station_id>", f"/api/v1/stations/{hd}",
         dict(json={"properties": {"status": "closed"}}, headers=bearer), {403}),
        ("PUT", "/api/v1/stations/<int:station_id>", f"/api/v1/stations/{hd}",
         dict(json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.30, 39.96]},
                    "properties": {"name": "改名"}}, headers=bearer), {403}),
        ("POST", "/api/v1/stations/<int:station_id>/ledger", f"/api/v1/stations/{hd}/ledger",
         dict(json={"date": day(), "visitors": {"rider": 3}}, headers=bearer), {403}),
        ("POST", "/api/v1/meetings", "/api/v1/meetings",
         dict(json={"date": day(), "kind": "worker", "station_id": hd, "attendees": 3}, headers=bearer), {403}),
        ("POST", "/ledger/flags/<int:station_id>/quiet", f"/ledger/flags/{hd}/quiet",
         dict(data=dict(form, kind="claims")), {403}),
        ("POST", "/ledger/meetings", "/ledger/meetings",
         dict(data=dict(form, date=day(), kind="worker", station_id=str(hd), attendees="3")), {403}),
        ("POST", "/ledger/meetings/<int:meeting_id>/checked", f"/ledger/meetings/{ids['meeting']}/checked",
         dict(data=form), {403}),
        ("POST", "/ledger/stations/<int:station_id>", f"/ledger/stations/{hd}",
         dict(data=dict(form, date=day(), v_rider="3")), {403}),
        ("POST", "/ledger/import/jobs/<int:job_id>/write", f"/ledger/import/jobs/{ids['ledger_job']}/write",
         dict(data=form), {403, 404}),
        ("POST", "/admin/unions/<int:union_id>/place", f"/admin/unions/{hd_union}/place",
         dict(data=dict(form, parent=CY, kind="district")), {403}),
        ("POST", "/admin/unions/<int:union_id>/alias", f"/admin/unions/{hd_union}/alias",
         dict(data=dict(form, alias="海淀区工会（别名）")), {403}),
        ("POST", "/admin/unions/<int:union_id>/children", f"/admin/unions/{hd_union}/children",
         dict(data=dict(form, name="海淀新设工会", kind="street")), {403}),
        ("POST", "/admin/unions/merge", "/admin/unions/merge",
         dict(data=dict(form, confirm="1", **{"from": HD, "into": CY})), {403}),
        ("POST", "/api/v1/unions", "/api/v1/unions",
         dict(json={"name": "海淀新设工会", "parent_id": hd_union, "kind": "street"}, headers=bearer), {403}),
    ]
    walked = set()
    for method, rule, url, kwargs, statuses in requests:
        response = cy.open(url, method=method, **kwargs)
        assert response.status_code in statuses, (method, url, response.status_code,
                                                   response.get_data(as_text=True)[:300])
        assert_no_haidian(response, f"{method} {url}")
        walked.add((rule, method))
    assert storage.get_station(db, ids["hd"], private=True) == before
    assert counts() == counted
    assert db.execute("SELECT count(*) FROM feedback WHERE resolved_at IS NULL").fetchone()[0] == 1
    assert db.execute("SELECT large_checked_at FROM meetings WHERE id = ?", [ids["meeting"]]).fetchone()[0] is None
    db.conn.close()
    # the uploads: their own tests below (a 海淀 row is refused with its row number)
    walked |= {("/admin/import", "POST"), ("/ledger/import", "POST")}
    return walked


# --- imports ---------------------------------------------------------------------------

@pytest.fixture
def inline_jobs(monkeypatch):
    monkeypatch.setattr(jobs, "launch", jobs.run_job)  # the job, in this process


def test_a_district_admin_import_refuses_rows_of_another_district_by_row(app, tree, inline_jobs, fresh_db):
    cy = signed_in(app, "cy_admin")
    text = ("名称,经度,纬度,所属工会\n朝阳新站,116.45,39.93,望京街道工会\n"
            f"越界站,116.32,39.98,{HD}\n未知工会站,116.46,39.95,来广营顺丰工会\n")
    upload = cy.post("/admin/import", data={"csrf_token": csrf_token(cy, "/admin/import"), "datum": "wgs84",
                                            "file": (io.BytesIO(text.encode()), "朝阳名单.csv")},
                     content_type="multipart/form-data")
    page = finish_import(cy, upload).get_data(as_text=True)
    assert "越界站" in page and "不在您的管辖范围" in page and f"{CY}及其下级工会" in page
    assert re.search(r"<td>3</td>", page)  # the row as the spreadsheet numbers it
    assert storage.count_stations(fresh_db, q="越界站") == 0 and storage.count_stations(fresh_db, q="朝阳新站") == 0
    # skipping the refused row: the others are written, the unknown union under 朝阳 for now
    again = cy.post("/admin/import", data={"csrf_token": csrf_token(cy, "/admin/import"), "datum": "wgs84",
                                           "skip_invalid": "1",
                                           "file": (io.BytesIO(text.encode()), "朝阳名单.csv")},
                    content_type="multipart/form-data")
    finish_import(cy, again)
    assert storage.count_stations(fresh_db, q="越界站") == 0
    new = store.find_union(fresh_db, "来广营顺丰工会")
    assert new["status"] == "unplaced" and new["parent_id"] == tree["unions"]["cy"]
    listed = cy.get("/admin/stations").get_data(as_text=True)
    assert "朝阳新站" in listed and "未知工会站" in listed  # the importer still sees what it wrote
    # its jobs are 朝阳's: the 海淀 admin neither lists nor opens them
    job_id = int(urlsplit(again.headers["Location"]).path.rsplit("/", 1)[1])
    hd = signed_in(app, "hd_admin")
    assert "朝阳名单.csv" not in hd.get("/admin/import").get_data(as_text=True)
    assert hd.get(f"/admin/import/jobs/{job_id}").status_code == 403
    assert signed_in(app, "city_admin").get(f"/admin/import/jobs/{job_id}").status_code == 200


def test_a_district_admin_ledger_import_cannot_write_another_districts_station(app, tree, inline_jobs,
                                                                                fresh_db):
    cy = signed_in(app, "cy_admin")
    text = f"站点编号,日期,外卖骑手\n{tree['cy2']},{day()},4\n{tree['hd']},{day()},9\n"
    upload = cy.post("/ledger/import", data={"csrf_token": csrf_token(cy, "/ledger/import"),
                                             "file": (io.BytesIO(text.encode()), "朝阳台账.csv")},
                     content_type="multipart/form-data")
    response = finish_import(cy, upload)
    assert response.status_code == 400 and "<td>3</td>" in response.get_data(as_text=True)
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries WHERE station_id IN (?, ?) AND v_rider IN (4, 9)",
                            [tree["cy2"], tree["hd"]]).fetchone()[0] == 0


# --- writing within the scope ------------------------------------------------------------

def test_a_district_admin_creates_and_edits_stations_within_its_subtree(app, tree, fresh_db):
    cy = signed_in(app, "cy_admin")
    token = csrf_token(cy, "/admin/stations/new")
    refused = cy.post("/admin/stations/new", data={"csrf_token": token, "name": "越界站", "lon": "116.31",
                                                  "lat": "39.97", "host_union": "海淀区总工会"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "不在您的管辖范围" in page and 'value="越界站"' in page
    created = cy.post("/admin/stations/new", data={"csrf_token": token, "name": "来广营驿站", "lon": "116.46",
                                                  "lat": "40.02", "host_union": "来广营街道工会"})
    assert created.status_code == 302
    sid = int(urlsplit(created.headers["Location"]).path.rsplit("/", 1)[1])
    union = store.find_union(fresh_db, "来广营街道工会")
    assert union["parent_id"] == tree["unions"]["cy"] and union["status"] == "unplaced"
    assert cy.get(f"/admin/stations/{sid}").status_code == 200
    # moving one of its stations to 海淀 is refused as well
    moved = cy.post(f"/admin/stations/{sid}/edit", data={"csrf_token": token, "name": "来广营驿站",
                                                        "lon": "116.46", "lat": "40.02", "host_union": HD})
    assert moved.status_code == 400 and storage.get_station(fresh_db, sid)["host_union"] == "来广营街道工会"
    assert signed_in(app, "hd_admin").get(f"/admin/stations/{sid}").status_code == 403


def test_the_city_admin_and_an_admin_without_union_see_everything(app, tree, client, auth):
    for who in (signed_in(app, "city_admin"), client):
        if who is client:
            auth.login("admin")
        page = who.get("/admin/stations").get_data(as_text=True)
        assert HD_STATION in page and "望京暖心驿站" in page
        assert who.get(f"/admin/stations/{tree['hd']}").status_code == 200


# --- colleagues of one union ---------------------------------------------------------------

def test_colleagues_of_one_union_share_its_ledger_meetings_and_imports(app, tree, fresh_db):
    first, second = signed_in(app, "sf1"), signed_in(app, "sf2")
    token = csrf_token(first, "/ledger/meetings")
    assert first.post("/ledger/meetings", data={"csrf_token": token, "date": day(), "kind": "worker",
                                                "district": "朝阳区", "place": "望京会议室",
                                                "attendees": "12"}).status_code == 302
    job = jobs.create_job(fresh_db, filename="顺丰四月.csv", upload=fresh_db_path(app) / "x.csv", options={},
                          username="sf1", kind="ledger")
    for client in (first, second):
        assert "望京暖心驿站" in client.get("/ledger").get_data(as_text=True)
        assert "望京会议室" in client.get("/ledger/meetings").get_data(as_text=True)
        assert "顺丰四月.csv" in client.get("/ledger/import").get_data(as_text=True)
        assert client.get(f"/ledger/import/jobs/{job}").status_code == 200
        assert HD_STATION not in client.get("/ledger").get_data(as_text=True)
    # another union's keeper sees none of it
    other = signed_in(app, "hd_staff")
    assert "望京会议室" not in other.get("/ledger/meetings").get_data(as_text=True)
    assert other.get(f"/ledger/import/jobs/{job}").status_code == 404


def fresh_db_path(app):
    from pathlib import Path

    return Path(app.config["YIZHAN_DB"]).parent


# --- the 工作台 -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cy_admin", "city_admin", "sf1", "hd_staff", "planner", "reviewer"])
def test_the_home_counts_are_of_the_users_scope_and_link_to_no_refused_page(app, tree, client, auth, name):
    if name in ("planner", "reviewer"):
        auth.login(name)
        who = client
    else:
        who = signed_in(app, name)
    page = who.get("/admin").get_data(as_text=True)
    total = {"cy_admin": 2, "city_admin": 3, "sf1": 1, "hd_staff": 1, "planner": 3, "reviewer": 3}[name]
    assert f"共 {total} 个站点" in re.sub(r"<[^>]+>", "", page)
    for href in set(re.findall(r'href="(/[^"#]*)"', page)):
        if href.startswith(("/static/", "/logout")):
            continue
        assert who.get(href).status_code != 403, f"{name}'s 工作台 links to {href}, which refuses it"


# --- accounts ---------------------------------------------------------------------------------

def test_a_district_admin_manages_accounts_of_its_subtree_only(app, tree, fresh_db):
    from stations.unions.scope import scope_of

    scope = scope_of(fresh_db, users.get_user(fresh_db, "cy_admin"))
    users.add_user(fresh_db, "wj_staff", PASSWORD, "union", "望京街道工会", scope=scope)
    users.set_password(fresh_db, "sf1", "new-pass-123", scope=scope)
    for name, union in (("hd_new", HD), ("city_new", CITY), ("nobody_new", None)):
        with pytest.raises(users.UserError, match="不在您的管辖范围"):
            users.add_user(fresh_db, name, PASSWORD, "admin", union, scope=scope)
        assert users.get_user(fresh_db, name) is None
    for above in ("city_admin", "hd_admin", "admin"):  # an admin above it, beside it, of no union
        with pytest.raises(users.UserError, match="不在您的管辖范围"):
            users.set_role(fresh_db, above, "planner", scope=scope)
        with pytest.raises(users.UserError, match="不在您的管辖范围"):
            users.set_password(fresh_db, above, "taken-over-1", scope=scope)
        assert users.get_user(fresh_db, above)["role"] == "admin"
    # an unknown union goes under 朝阳 for now, so its admin still manages the account
    users.add_user(fresh_db, "new_staff", PASSWORD, "union", "酒仙桥新工会", create_union=True, scope=scope)
    assert store.find_union(fresh_db, "酒仙桥新工会")["parent_id"] == tree["unions"]["cy"]
