"""The organiser's side of unions (issue 16, points 3 and 7): imports resolving host
unions, the 工会管理 page, the station form, and the unions API."""

from __future__ import annotations

import io
import json

import pytest

from stations import storage
from stations.registry.exporter import export_stations
from stations.registry.importer import format_report, import_file
from stations.unions import store

CSV = """名称,经度,纬度,所属工会,所属工会编号
甲站,116.45,39.92,顺丰工会,
乙站,116.46,39.93,顺丰速运工会（北京分公司）,
丙站,116.47,39.94,京东物流工会,
丁站,116.48,39.95,,{chaoyang}
戊站,116.49,39.96,顺丰速运工会(北京分公司),
己站,116.40,39.90,,99999
"""


def _tree(db):
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    haidian = store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    sf = store.add_union(db, "顺丰速运工会", parent_id=chaoyang, aliases=["顺丰工会"])
    return dict(city=city, chaoyang=chaoyang, haidian=haidian, sf=sf)


def _unions(db):
    return {u["name"]: u for u in store.list_unions(db)}


def test_import_resolves_unions_by_name_or_alias_and_reports_the_new_ones(fresh_db):
    t = _tree(fresh_db)
    data = CSV.format(chaoyang=t["chaoyang"]).encode()
    before = _unions(fresh_db)

    dry = import_file(fresh_db, data, "list.csv", dry_run=True)
    assert _unions(fresh_db) == before  # a dry run adds nothing…
    text = format_report(dry)           # …but says the same
    assert "新建工会 2 个：顺丰速运工会（北京分公司）（是否指“顺丰速运工会”？）、京东物流工会；请在工会管理中确认归属" in text
    assert dry.new_union_count == 2
    assert dry.new_unions[0] == ["顺丰速运工会（北京分公司）", 2, ["顺丰速运工会"]]
    assert "所属工会编号“99999”不存在" in text
    assert "所属工会编号" not in dry.ignored_columns

    report = import_file(fresh_db, data, "list.csv", username="organiser")
    assert report.written == 6
    assert "警告：新建工会 2 个：" in format_report(report)
    unions = _unions(fresh_db)
    assert unions["京东物流工会"]["status"] == "unplaced" and unions["京东物流工会"]["parent_id"] is None
    stations = {s["name"]: s for s in fresh_db.query("SELECT name, host_union, host_union_id FROM stations")}
    assert stations["甲站"]["host_union_id"] == t["sf"] and stations["甲站"]["host_union"] == "顺丰速运工会"
    # two spellings of one new union are one record; the id is read when the name is empty
    assert stations["乙站"]["host_union_id"] == stations["戊站"]["host_union_id"]
    assert stations["丁站"]["host_union"] == "朝阳区总工会"
    assert stations["己站"]["host_union_id"] is None
    assert [e["username"] for e in store.union_log(fresh_db) if e["action"] == "add"][:2] == ["organiser"] * 2


def test_import_adds_no_union_for_rows_it_does_not_write_and_places_under_a_district(fresh_db):
    t = _tree(fresh_db)
    data = ("名称,经度,纬度,所属工会\n好站,116.45,39.92,美团外卖工会\n"
            "坏站,500,39.93,饿了么工会\n").encode()
    refused = import_file(fresh_db, data, "x.csv")
    assert refused.written == 0 and "饿了么工会" not in format_report(refused)
    assert "导入后将新建工会 1 个：美团外卖工会" in format_report(refused)
    assert "美团外卖工会" not in _unions(fresh_db)
    done = import_file(fresh_db, data, "x.csv", skip_invalid=True, union_parent_id=t["chaoyang"])
    assert done.written == 1
    unions = _unions(fresh_db)
    assert unions["美团外卖工会"]["parent_id"] == t["chaoyang"] and unions["美团外卖工会"]["status"] == "unplaced"
    assert "饿了么工会" not in unions


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_an_export_carries_the_union_id_and_imports_again(fresh_db, tmp_path, fmt):
    t = _tree(fresh_db)
    storage.insert_stations(fresh_db, [
        {"name": "顺丰站", "lon": 116.45, "lat": 39.92, "host_union": "顺丰工会"},
        {"name": "区站", "lon": 116.46, "lat": 39.93, "host_union_id": t["chaoyang"]},
        {"name": "无主站", "lon": 116.47, "lat": 39.94}])
    out = io.BytesIO()
    export_stations(storage.iter_stations(fresh_db), fmt, out)
    data = out.getvalue()
    if fmt == "geojson":
        features = json.loads(data)["features"]
        assert {f["properties"]["name"]: f["properties"]["host_union_id"] for f in features} == {
            "顺丰站": t["sf"], "区站": t["chaoyang"], "无主站": None}
    elif fmt == "csv":
        assert "所属工会编号" in data.decode("utf-8-sig").splitlines()[0]

    other = storage.connect(tmp_path / "other.db")
    storage.migrate(other)
    store.add_union(other, "朝阳区总工会", kind="district")  # ids differ there: the name decides
    store.add_union(other, "别的工会")
    report = import_file(other, data, f"export.{fmt}")
    assert report.ok and report.written == 3, format_report(report)
    assert not {"所属工会编号", "host_union_id"} & set(report.ignored_columns)
    assert [u[0] for u in report.new_unions] == ["顺丰速运工会"]
    got = {r[0]: r[1] for r in other.execute("SELECT name, host_union FROM stations")}
    assert got == {"顺丰站": "顺丰速运工会", "区站": "朝阳区总工会", "无主站": None}

    if fmt == "geojson":
        return  # a feature's id is not read as a station id: into its own database, duplicates
    again = import_file(fresh_db, data, f"export.{fmt}")  # into its own database: same ids, updates
    assert again.ok and again.new_union_count == 0
    assert {r[0]: r[1] for r in fresh_db.execute("SELECT name, host_union_id FROM stations")} == {
        "顺丰站": t["sf"], "区站": t["chaoyang"], "无主站": None}


def test_the_gpkg_export_carries_the_union_id(fresh_db, tmp_path):
    import geopandas as gpd

    t = _tree(fresh_db)
    storage.insert_stations(fresh_db, [{"name": "顺丰站", "lon": 116.45, "lat": 39.92, "host_union": "顺丰工会"}])
    path = tmp_path / "x.gpkg"
    with open(path, "wb") as out:
        export_stations(storage.iter_stations(fresh_db), "gpkg", out)
    frame = gpd.read_file(path, engine="pyogrio")
    assert list(frame["host_union_id"]) == [t["sf"]] and list(frame["host_union"]) == ["顺丰速运工会"]


# --- the 工会管理 page, the station form and the API ---------------------------------

from stations.accounts import users  # noqa: E402
from tests.conftest import csrf_token, finish_import, make_station  # noqa: E402

DISTRICT_PASSWORD = "district-pass-1"


def _web_tree(db):
    """The tree under the app fixture's accounts (its reviewer's 海淀区总工会 exists, unplaced)."""
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    haidian = store.find_union(db, "海淀区总工会")["id"]
    store.move_union(db, haidian, city, kind="district")
    sf = store.add_union(db, "顺丰速运工会", parent_id=chaoyang, aliases=["顺丰工会"])
    hd_shop = store.add_union(db, "物美海淀分公司工会", parent_id=haidian)
    users.add_user(db, "cy_admin", DISTRICT_PASSWORD, "admin", "朝阳区总工会")
    return dict(city=city, chaoyang=chaoyang, haidian=haidian, sf=sf, hd_shop=hd_shop)


def _login(client, username, password):
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def _text(response) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_an_admin_places_an_unplaced_union_and_a_refusal_keeps_what_was_typed(client, auth, fresh_db):
    t = _web_tree(fresh_db)
    make_station(fresh_db, name="分公司站", host_union="顺丰速运工会（北京分公司）")
    new = store.find_union(fresh_db, "顺丰速运工会（北京分公司）")
    assert new["status"] == "unplaced"
    auth.login("admin")
    page = _text(client.get("/admin/unions"))
    assert "待确认归属（1 个）" in page
    unplaced = page.split("待确认归属（")[1].split("工会树")[0]
    assert "顺丰速运工会（北京分公司） 1 个站点" in unplaced and "是否指“顺丰速运工会”？" in unplaced
    assert "工会管理" in _text(client.get("/admin"))

    refused = client.post(f"/admin/unions/{new['id']}/place", data={
        "parent": "朝阳区总公会", "kind": "grassroots", "csrf_token": csrf_token(client, "/admin/unions")})
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "是否指“朝阳区总工会”" in body and 'value="朝阳区总公会"' in body
    assert store.get_union(fresh_db, new["id"])["status"] == "unplaced"

    token = csrf_token(client, "/admin/unions")
    assert client.post(f"/admin/unions/{new['id']}/place", data={"parent": "顺丰工会", "kind": "grassroots"}
                       ).status_code == 400  # no CSRF token
    done = client.post(f"/admin/unions/{new['id']}/place", data={
        "parent": "顺丰工会", "kind": "grassroots", "csrf_token": token}, follow_redirects=True)
    assert done.status_code == 200 and "已确认归属：放在“顺丰速运工会”之下" in _text(done)
    placed = store.get_union(fresh_db, new["id"])
    assert placed["status"] == "active" and placed["parent_id"] == t["sf"]
    assert "确认“顺丰速运工会（北京分公司）”的归属" in _text(client.get("/admin/unions"))

    alias = client.post(f"/admin/unions/{new['id']}/alias", data={"alias": "顺丰工会", "csrf_token": token})
    assert alias.status_code == 409 and "已是工会“顺丰速运工会”的名称或简称" in _text(alias)
    assert 'value="顺丰工会"' in alias.get_data(as_text=True)
    client.post(f"/admin/unions/{new['id']}/alias", data={"alias": "顺丰北京", "csrf_token": token})
    assert store.find_union(fresh_db, "顺丰北京")["id"] == new["id"]


def test_a_merge_names_what_moves_before_it_is_confirmed(client, auth, fresh_db):
    t = _web_tree(fresh_db)
    for n in range(2):
        make_station(fresh_db, name=f"重复站{n}", lon=116.40 + n / 100, host_union="顺丰速运有限公司工会")
    users.add_user(fresh_db, "sf_staff", "staff-pass-1", "union", "顺丰速运有限公司工会")
    dup = store.find_union(fresh_db, "顺丰速运有限公司工会")["id"]
    auth.login("admin")
    token = csrf_token(client, "/admin/unions")
    preview = client.post("/admin/unions/merge", data={"from": "顺丰速运有限公司工会", "into": "顺丰工会",
                                                       "csrf_token": token})
    assert preview.status_code == 200
    text = _text(preview)
    assert "把“ 顺丰速运有限公司工会 ”并入“ 顺丰速运工会 ”，将转移： 站点 2 个、账号 1 个" in text
    assert store.get_union(fresh_db, dup) is not None  # nothing moved yet

    typed = client.post("/admin/unions/merge?from=顺丰工会&into=朝阳区总工会", data={
        "from": "顺丰速运有限公司工会", "into": "顺丰工会", "csrf_token": token})  # a suggestion, then edited
    assert "把“ 顺丰速运有限公司工会 ”并入“ 顺丰速运工会 ”" in _text(typed)

    same = client.post("/admin/unions/merge", data={"from": "顺丰工会", "into": "顺丰速运工会", "csrf_token": token})
    assert same.status_code == 400 and "已是同一个工会" in _text(same) and 'value="顺丰工会"' in same.get_data(as_text=True)

    done = client.post("/admin/unions/merge", data={"from": "顺丰速运有限公司工会", "into": "顺丰速运工会",
                                                    "confirm": "1", "csrf_token": token}, follow_redirects=True)
    assert "已把“顺丰速运有限公司工会”并入“顺丰速运工会”：站点 2 个、账号 1 个" in _text(done)
    assert store.get_union(fresh_db, dup) is None
    assert {r[0] for r in fresh_db.execute("SELECT host_union_id FROM stations")} == {t["sf"]}
    assert store.find_union(fresh_db, "顺丰速运有限公司工会")["id"] == t["sf"]  # the old name answers
    assert "把“顺丰速运有限公司工会”并入“顺丰速运工会”：站点 2 个" in _text(client.get("/admin/unions"))


def test_a_district_admin_keeps_its_own_subtree_only(client, fresh_db):
    t = _web_tree(fresh_db)
    make_station(fresh_db, name="海淀新站", host_union="物美海淀分公司工会")
    _login(client, "cy_admin", DISTRICT_PASSWORD)
    page = _text(client.get("/admin/unions"))
    assert "朝阳区总工会" in page and "顺丰速运工会" in page
    assert "海淀" not in page and "北京市总工会" not in page
    assert client.get(f"/admin/unions/{t['hd_shop']}").status_code == 403
    token = csrf_token(client, "/admin/unions")
    outside = client.post(f"/admin/unions/{t['sf']}/place", data={"parent": "海淀区总工会", "kind": "grassroots",
                                                                  "csrf_token": token})
    assert outside.status_code == 403 and "不在您管理的范围（朝阳区总工会）内" in _text(outside)
    own = client.post("/admin/unions/merge", data={"from": "朝阳区总工会", "into": "顺丰工会", "csrf_token": token})
    assert own.status_code == 403 and "是您所在的工会" in _text(own)
    across = client.post("/admin/unions/merge", data={"from": "顺丰工会", "into": "物美海淀分公司工会",
                                                      "csrf_token": token})
    assert across.status_code == 403
    assert store.get_union(fresh_db, t["sf"])["parent_id"] == t["chaoyang"]

    # a new union typed on the station form goes under the district, with a warning
    form = {"name": "望京驿站", "lon": "116.47", "lat": "39.99", "host_union": "美团外卖望京工会",
            "station_type": "warm_station", "status": "active", "datum": "wgs84", "address": "",
            "csrf_token": csrf_token(client, "/admin/stations/new")}
    form_page = client.get("/admin/stations/new").get_data(as_text=True)
    assert 'list="union-names"' in form_page and '<option value="顺丰速运工会">' in form_page
    assert '<option value="物美海淀分公司工会">' not in form_page
    saved = client.post("/admin/stations/new", data=form, follow_redirects=True)
    assert "新建工会“美团外卖望京工会”" in _text(saved) and "请在工会管理中确认归属" in _text(saved)
    added = store.find_union(fresh_db, "美团外卖望京工会")
    assert added["status"] == "unplaced" and added["parent_id"] == t["chaoyang"]
    assert "美团外卖望京工会" in _text(client.get("/admin/unions")).split("工会树")[0]


@pytest.mark.parametrize("role", ["reviewer", "planner"])
def test_other_roles_do_not_manage_unions(client, auth, fresh_db, role):
    _web_tree(fresh_db)
    auth.login(role)
    assert client.get("/admin/unions").status_code == 403
    assert client.get("/admin/unions/merge").status_code == 403
    assert "工会管理" not in _text(client.get("/admin"))


def test_the_unions_api_by_scope(client, auth, fresh_db):
    t = _web_tree(fresh_db)
    assert client.get("/api/v1/unions").status_code == 401
    auth.login("reviewer")
    assert client.post("/api/v1/unions", json={"name": "新工会"}).status_code == 403
    names = {u["name"] for u in client.get("/api/v1/unions").get_json()["unions"]}
    assert {"北京市总工会", "朝阳区总工会", "海淀区总工会"} <= names
    auth.logout()

    _login(client, "cy_admin", DISTRICT_PASSWORD)
    got = client.get("/api/v1/unions").get_json()["unions"]
    assert {u["name"] for u in got} == {"朝阳区总工会", "顺丰速运工会"}
    sf = next(u for u in got if u["name"] == "顺丰速运工会")
    assert sf == {"id": t["sf"], "name": "顺丰速运工会", "aliases": ["顺丰工会"], "kind": "grassroots",
                  "parent_id": t["chaoyang"], "status": "active"}
    headers = {"X-CSRFToken": csrf_token(client, "/admin/unions")}
    assert client.post("/api/v1/unions", json={"name": "京东工会", "parent_id": t["sf"]}).status_code == 400  # CSRF
    created = client.post("/api/v1/unions", headers=headers, json={
        "name": "京东物流朝阳工会", "parent_id": t["chaoyang"], "kind": "grassroots", "aliases": ["京东朝阳"]})
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "京东物流朝阳工会" and body["aliases"] == ["京东朝阳"] and body["parent_id"] == t["chaoyang"]
    taken = client.post("/api/v1/unions", headers=headers, json={"name": "京东朝阳", "parent_id": t["chaoyang"]})
    assert taken.status_code == 409 and taken.get_json()["error"]["parameter"] == "name"
    outside = client.post("/api/v1/unions", headers=headers, json={"name": "海淀某工会", "parent_id": t["haidian"]})
    assert outside.status_code == 403 and outside.get_json()["error"]["parameter"] == "parent_id"
    top = client.post("/api/v1/unions", headers=headers, json={"name": "某市总工会", "kind": "municipal"})
    assert top.status_code == 403
    for bad, field in (({"name": ""}, "name"), ({"name": "甲", "kind": "village"}, "kind"),
                       ({"name": "甲", "parent_id": "一"}, "parent_id"), ({"name": "甲", "aliases": "乙"}, "aliases"),
                       ([], "body")):
        answer = client.post("/api/v1/unions", headers=headers, json=bad)
        assert answer.status_code == 400 and answer.get_json()["error"]["parameter"] == field, bad
    assert store.find_union(fresh_db, "海淀某工会") is None


def test_the_station_api_resolves_the_union_and_warns_about_a_new_one(client, auth, fresh_db):
    t = _web_tree(fresh_db)
    auth.login("admin")
    headers = {"X-CSRFToken": csrf_token(client, "/admin/unions")}
    known = client.post("/api/v1/stations", headers=headers, json={
        "name": "别名站", "lon": 116.45, "lat": 39.92, "host_union": "顺丰工会"})
    assert known.status_code == 201
    assert known.get_json()["properties"]["host_union_id"] == t["sf"] and known.get_json()["warnings"] == []
    new = client.post("/api/v1/stations", headers=headers, json={
        "name": "新工会站", "lon": 116.46, "lat": 39.93, "host_union": "顺丰速运工会（北京分公司）"})
    assert new.status_code == 201
    assert any("新建工会“顺丰速运工会（北京分公司）”（是否指“顺丰速运工会”？）" in w and "请在工会管理中确认归属" in w
               for w in new.get_json()["warnings"])
    by_id = client.patch(f"/api/v1/stations/{new.get_json()['id']}", headers=headers,
                         json={"host_union_id": t["chaoyang"]})
    assert by_id.status_code == 200 and by_id.get_json()["properties"]["host_union"] == "朝阳区总工会"
    missing = client.patch(f"/api/v1/stations/{new.get_json()['id']}", headers=headers,
                           json={"host_union_id": 99999})
    assert missing.status_code == 400 and "host_union_id" in missing.get_json()["error"]["fields"]


def test_a_web_import_by_a_district_admin_reports_new_unions_under_its_union(client, fresh_db):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    t = _web_tree(fresh_db)
    _login(client, "cy_admin", DISTRICT_PASSWORD)
    data = "名称,经度,纬度,所属工会\n甲站,116.45,39.92,顺丰工会\n乙站,116.46,39.93,顺丰速运工会（朝阳分公司）\n"
    form = {"csrf_token": csrf_token(client, "/admin/import"), "datum": "wgs84",
            "file": FileStorage(io.BytesIO(data.encode()), "list.csv")}
    boundary, body = encode_multipart(form)
    page = _text(finish_import(client, client.post("/admin/import", data=body,
                                                   content_type=f"multipart/form-data; boundary={boundary}")))
    assert "新建工会 1 个：顺丰速运工会（朝阳分公司）（是否指“顺丰速运工会”？）；请在工会管理中确认归属" in page
    added = store.find_union(fresh_db, "顺丰速运工会（朝阳分公司）")
    assert added["status"] == "unplaced" and added["parent_id"] == t["chaoyang"]


def test_the_cli_import_warns_about_new_unions_and_files_them_under_a_district_user(runner, fresh_db, tmp_path):
    t = _web_tree(fresh_db)
    path = tmp_path / "list.csv"
    path.write_text("名称,经度,纬度,所属工会\n甲站,116.45,39.92,美团外卖工会\n", encoding="utf-8")
    dry = runner.invoke(args=["import", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "警告：导入后将新建工会 1 个：美团外卖工会；请在工会管理中确认归属" in dry.output
    assert store.find_union(fresh_db, "美团外卖工会") is None
    done = runner.invoke(args=["import", str(path), "--user", "cy_admin"])
    assert done.exit_code == 0 and "警告：新建工会 1 个：美团外卖工会" in done.output
    assert store.find_union(fresh_db, "美团外卖工会")["parent_id"] == t["chaoyang"]


def test_a_union_account_reads_its_own_union_only(client, fresh_db):
    t = _web_tree(fresh_db)
    users.add_user(fresh_db, "sf_staff", "staff-pass-1", "union", "顺丰工会")
    _login(client, "sf_staff", "staff-pass-1")
    assert [u["id"] for u in client.get("/api/v1/unions").get_json()["unions"]] == [t["sf"]]
    assert client.get("/admin/unions").status_code == 403


def test_fast_possible_matches_agree_with_the_index(fresh_db):
    from stations.unions.matches import Matches

    _tree(fresh_db)
    for name in ("顺丰速运工会 北京", "顺丰速运分公司工会", "朝阳区总工会委员会", "物美甲", "完全无关的名字"):
        store.add_union(fresh_db, name)
    index = store.UnionIndex(fresh_db)
    fast = Matches(index)
    for name in ("顺丰速运工会（北京分公司）", "顺丰速运有限公司工会", "朝阳区总公会", "海淀区总工会 ", "北京市总",
                 "物美甲乙", "不相干", ""):
        assert fast.close(name) == index.close(name), name


def test_an_admin_adds_a_union_below_one_and_the_station_page_links_its_union(client, auth, fresh_db):
    t = _web_tree(fresh_db)
    sid = make_station(fresh_db, name="顺丰站", host_union="顺丰工会")
    _login(client, "cy_admin", DISTRICT_PASSWORD)
    assert f'href="/admin/unions/{t["sf"]}"' in client.get(f"/admin/stations/{sid}").get_data(as_text=True)
    token = csrf_token(client, "/admin/unions")
    taken = client.post(f"/admin/unions/{t['chaoyang']}/children", data={
        "name": "望京街道工会", "kind": "street", "aliases": "顺丰工会", "csrf_token": token})
    assert taken.status_code == 409 and "已是工会“顺丰速运工会”的名称或简称" in _text(taken)
    body = taken.get_data(as_text=True)
    assert 'value="望京街道工会"' in body and 'value="顺丰工会"' in body
    assert store.find_union(fresh_db, "望京街道工会") is None  # all or nothing
    done = client.post(f"/admin/unions/{t['chaoyang']}/children", data={
        "name": "望京街道工会", "kind": "street", "aliases": "望京工会、望京街道", "csrf_token": token},
        follow_redirects=True)
    assert "已添加下级工会“望京街道工会”" in _text(done)
    added = store.find_union(fresh_db, "望京工会")
    assert added["parent_id"] == t["chaoyang"] and added["kind"] == "street" and added["status"] == "active"
    outside = client.post(f"/admin/unions/{t['haidian']}/children", data={"name": "某工会", "csrf_token": token})
    assert outside.status_code == 403
