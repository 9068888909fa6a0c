"""/ogcapi, the registry as an OGC API – Features layer: what a GIS desk and a browser see.

Real clients (GDAL, OWSLib) are in test_ogcapi_clients.py; the OpenAPI run in
test_ogcapi_conformance.py.  Here: paging by next/prev links, who sees what, CRSs,
filters and refusals, through Flask's test client.
"""

from __future__ import annotations

import base64

import pytest

from geodata.datum import wgs84_to_gcj02
from stations.accounts import tokens, users
from tests.conftest import PASSWORDS, make_station

ITEMS = "/ogcapi/collections/stations/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"


def basic(role):
    raw = base64.b64encode(f"{role}:{PASSWORDS[role]}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def ids(doc):
    return [f["id"] for f in doc["features"]]


def follow(client, url, headers=None):
    """Every feature of a collection, following next links; (ids, pages read)."""
    seen, pages = [], 0
    while url:
        doc = client.get(url, headers=headers).get_json()
        seen += ids(doc)
        pages += 1
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), None)
        assert pages < 100
    return seen, pages


@pytest.fixture
def registry(fresh_db):
    """12 public stations in 海淀区/东城区, one pending of 海淀区总工会, one pending of another union."""
    made = {"public": []}
    for i in range(12):
        made["public"].append(make_station(
            fresh_db, name=f"公开站{i}", lon=116.30 + i * 0.01, lat=39.95,
            district="海淀区" if i % 2 else "东城区", host_union="海淀区总工会" if i < 3 else "东城区总工会",
            facilities=["water", "charging"] if i % 3 == 0 else ["water"],
            awards=[{"title": "北京市最美工会户外劳动者服务站点"}] if i == 4 else [],
            status="temporarily_closed" if i == 5 else "active"))
    made["own_pending"] = make_station(fresh_db, name="海淀待审站", status="pending", host_union="海淀区总工会",
                                       manager="王五", manager_phone="13911112222")
    made["other_pending"] = make_station(fresh_db, name="外区待审站", status="pending", host_union="朝阳区总工会")
    users.add_user(fresh_db, "hd", "union-pass-1", "union", "海淀区总工会", create_union=True)
    made["union_token"] = tokens.issue_token(fresh_db, users.get_user(fresh_db, "hd")["id"])
    return made


def test_landing_page_links_the_api_conformance_and_collections(client):
    doc = client.get("/ogcapi").get_json()
    rels = {link["rel"]: link["href"] for link in doc["links"]}
    assert rels["service-desc"].endswith("/ogcapi/api")
    assert rels["conformance"].endswith("/ogcapi/conformance") and rels["data"].endswith("/ogcapi/collections")
    classes = client.get("/ogcapi/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_collections_declare_extent_crs_and_schema(client, registry):
    doc = client.get("/ogcapi/collections").get_json()
    assert [c["id"] for c in doc["collections"]] == ["stations", "awarded"]
    stations = doc["collections"][0]
    assert stations["title"] == "工会户外劳动者服务站点"
    assert stations["extent"]["spatial"]["bbox"] == [[116.30, 39.95, 116.41, 39.95]]
    assert stations["crs"][:3] == [CRS84, EPSG4326, EPSG4490] and stations["crs"][3].endswith("/ogcapi/crs/gcj02")
    schema_link = next(link for link in stations["links"] if link["rel"] == "describedby")
    schema = client.get(schema_link["href"]).get_json()
    assert schema["properties"]["facilities"]["items"]["enum"][0] == "water"
    assert "manager" not in schema["properties"]  # the public layer has no personal fields


def test_paging_by_next_links_reads_every_public_station_once(client, registry):
    seen, pages = follow(client, f"{ITEMS}?limit=5")
    assert seen == registry["public"] and pages == 3
    first = client.get(f"{ITEMS}?limit=5").get_json()
    assert first["numberMatched"] == 12 and first["numberReturned"] == 5
    assert not [link for link in first["links"] if link["rel"] == "prev"]
    second = client.get(next(link["href"] for link in first["links"] if link["rel"] == "next")).get_json()
    back = client.get(next(link["href"] for link in second["links"] if link["rel"] == "prev")).get_json()
    assert ids(back) == ids(first)
    assert ids(client.get(f"{ITEMS}?limit=5&offset=10").get_json()) == registry["public"][10:]


def test_next_links_keep_the_filters(client, registry):
    seen, _ = follow(client, f"{ITEMS}?limit=2&district=海淀区&crs=EPSG:4326")
    assert seen == registry["public"][1::2]
    doc = client.get(f"{ITEMS}?limit=2&district=海淀区&crs=EPSG:4326").get_json()
    assert doc["features"][0]["geometry"]["coordinates"] == [39.95, 116.31]


def test_the_public_sees_no_pending_station_and_no_manager(client, registry):
    doc = client.get(f"{ITEMS}?limit=100").get_json()
    assert registry["own_pending"] not in ids(doc)
    assert all("manager" not in f["properties"] and "manager_phone" not in f["properties"] for f in doc["features"])
    assert client.get(f"{ITEMS}/{registry['own_pending']}").status_code == 404
    assert "13800138000" not in client.get(f"{ITEMS}/{registry['public'][0]}").get_data(as_text=True)


def test_a_signed_in_planner_sees_what_the_public_sees(client, registry):
    doc = client.get(f"{ITEMS}?limit=100", headers=basic("planner")).get_json()
    assert ids(doc) == registry["public"] and "manager" not in doc["features"][0]["properties"]


def test_an_admin_with_basic_auth_sees_every_station_and_its_manager(client, registry):
    response = client.get(f"{ITEMS}?limit=100", headers=basic("admin"))
    assert "no-store" in response.headers["Cache-Control"]  # no shared cache keeps the managers
    doc = response.get_json()
    assert registry["own_pending"] in ids(doc) and registry["other_pending"] in ids(doc)
    assert doc["features"][0]["properties"]["manager_phone"] == "13800138000"
    assert "manager" in client.get("/ogcapi/collections/stations/schema", headers=basic("admin")).get_json()[
        "properties"]


def test_a_union_token_sees_its_own_pending_station_and_managers_only(client, registry):
    headers = {"Authorization": f"Bearer {registry['union_token']}"}
    doc = client.get(f"{ITEMS}?limit=100", headers=headers).get_json()
    assert registry["own_pending"] in ids(doc) and registry["other_pending"] not in ids(doc)
    by_id = {f["id"]: f["properties"] for f in doc["features"]}
    assert by_id[registry["own_pending"]]["manager_phone"] == "13911112222"
    assert by_id[registry["public"][0]]["manager"] == "张三"  # 海淀区总工会's own station
    assert "manager" not in by_id[registry["public"][5]]  # another union's station
    assert client.get(f"{ITEMS}/{registry['other_pending']}", headers=headers).status_code == 404


def test_wrong_credentials_are_refused_not_ignored(client, registry):
    raw = base64.b64encode(b"admin:wrong-password").decode()
    response = client.get(ITEMS, headers={"Authorization": f"Basic {raw}"})
    assert response.status_code == 401 and "密码" in response.get_json()["error"]["message"]
    assert client.get(ITEMS, headers={"Authorization": "Bearer yz_not-a-token"}).status_code == 401


@pytest.mark.parametrize("crs, expected", [
    (CRS84, [116.3, 39.95]), (EPSG4326, [39.95, 116.3]), (EPSG4490, [39.95, 116.3]),
    ("EPSG:4326", [39.95, 116.3])])
def test_crs_parameter_orders_axes_and_says_so(client, registry, crs, expected):
    response = client.get(f"{ITEMS}/{registry['public'][0]}", query_string={"crs": crs})
    assert response.get_json()["geometry"]["coordinates"] == expected
    assert response.headers["Content-Crs"] == f"<{crs if crs.startswith('http') else EPSG4326}>"


def test_gcj02_output_lands_on_amap_tiles(client, registry):
    response = client.get(ITEMS, query_string={"limit": 1, "crs": "http://localhost/ogcapi/crs/gcj02"})
    lon, lat = wgs84_to_gcj02(116.30, 39.95)
    assert response.get_json()["features"][0]["geometry"]["coordinates"] == [round(lon, 7), round(lat, 7)]
    assert response.headers["Content-Crs"] == "<http://localhost/ogcapi/crs/gcj02>"
    assert client.get("/ogcapi/crs/gcj02").get_json()["axisOrder"] == ["longitude", "latitude"]


def test_bbox_in_each_crs_selects_the_same_stations(client, registry):
    want = registry["public"][2:5]  # 116.32 … 116.34
    assert ids(client.get(f"{ITEMS}?bbox=116.315,39.9,116.345,40").get_json()) == want
    assert ids(client.get(f"{ITEMS}?bbox=39.9,116.315,40,116.345&bbox-crs={EPSG4326}").get_json()) == want
    (a, b), (c, d) = wgs84_to_gcj02(116.315, 39.9), wgs84_to_gcj02(116.345, 40)
    gcj = client.get(f"{ITEMS}?bbox={a},{b},{c},{d}&bbox-crs=http://x/ogcapi/crs/gcj02").get_json()
    assert ids(gcj) == want


def test_property_filters(client, registry, fresh_db):
    public = registry["public"]
    assert ids(client.get(f"{ITEMS}?status=temporarily_closed").get_json()) == [public[5]]
    assert ids(client.get(f"{ITEMS}?facilities=charging").get_json()) == public[::3]
    assert ids(client.get(f"{ITEMS}?host_union=海淀区总工会").get_json()) == public[:3]
    assert ids(client.get("/ogcapi/collections/awarded/items").get_json()) == [public[4]]
    fresh_db.execute("UPDATE stations SET hours = 'Mo-Su 00:00-24:00' WHERE id = ?", [public[1]])
    fresh_db.execute("UPDATE stations SET hours = NULL WHERE id != ?", [public[1]])
    assert ids(client.get(f"{ITEMS}?open_now=true").get_json()) == [public[1]]
    assert public[1] not in ids(client.get(f"{ITEMS}?open_now=false").get_json())


def test_datetime_filters_on_updated_at(client, registry, fresh_db):
    public = registry["public"]
    fresh_db.execute("UPDATE stations SET updated_at = '2025-01-10T09:00:00+08:00'")
    fresh_db.execute("UPDATE stations SET updated_at = '2026-06-01T12:00:00+08:00' WHERE id = ?", [public[7]])
    assert ids(client.get(f"{ITEMS}?datetime=2026-01-01T00:00:00Z/..").get_json()) == [public[7]]
    assert ids(client.get(f"{ITEMS}?datetime=2026-06-01").get_json()) == [public[7]]
    assert ids(client.get(f"{ITEMS}?datetime=2026-06-01T04:00:00Z").get_json()) == [public[7]]  # 12:00 in Beijing
    assert len(ids(client.get(f"{ITEMS}?datetime=../2025-12-31").get_json())) == 11


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=10001", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset"),
    ("bbox=1,2,3", "bbox"), ("bbox=116.4,39,116.3,40", "bbox"), ("bbox=39,116,40,117", "bbox"),
    ("crs=EPSG:3857", "crs"), ("bbox=1,2,3,4&bbox-crs=EPSG:2000", "bbox-crs"), ("bbox-crs=EPSG:4326", "bbox-crs"),
    ("datetime=yesterday", "datetime"), ("datetime=../..", "datetime"), ("status=open", "status"),
    ("facilities=sauna", "facilities"), ("open_now=maybe", "open_now"), ("cursor=xyz", "cursor"),
    ("f=xml", "f"), ("colour=red", "colour"), ("limit=", "limit"), ("cursor=", "cursor")])
def test_bad_parameters_are_a_400_naming_them_in_chinese(client, registry, query, parameter):
    response = client.get(f"{ITEMS}?{query}")
    assert response.status_code == 400, query
    error = response.get_json()["error"]
    assert error["parameter"] == parameter
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])


def test_unknown_collection_and_feature_are_404(client, registry):
    response = client.get("/ogcapi/collections/roads/items")
    assert response.status_code == 404 and "stations、awarded" in response.get_json()["error"]["message"]
    assert client.get(f"{ITEMS}/99999").status_code == 404
    assert client.get(f"{ITEMS}/abc").status_code == 404
    assert client.get(f"/ogcapi/collections/awarded/items/{registry['public'][0]}").status_code == 404


def test_a_browser_gets_chinese_pages_and_f_json_still_json(client, registry):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = client.get(f"{ITEMS}?limit=5", headers=browser)
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "公开站0" in html and "共 12 个站点" in html and 'rel="next"' in html
    assert client.get(f"{ITEMS}/{registry['public'][0]}?f=html").mimetype == "text/html"
    assert "数据集合" in client.get("/ogcapi/collections", headers=browser).get_data(as_text=True)
    assert client.get(f"{ITEMS}?f=json", headers=browser).mimetype == "application/geo+json"
    error = client.get(f"{ITEMS}?limit=0", headers=browser)
    assert error.status_code == 400 and "limit" in error.get_data(as_text=True)
    assert client.get("/ogcapi/no/such/thing").mimetype == "application/json"


def test_a_control_character_is_refused_as_json(client, registry):
    response = client.get(ITEMS, query_string={"district": "海淀\x00区"})
    assert response.status_code == 400 and response.get_json()["error"]["parameter"] == "district"


def test_links_use_the_public_url_when_one_is_set(app, client, registry):
    app.config["YIZHAN_PUBLIC_URL"] = "https://yizhan.example.cn/"
    doc = client.get(f"{ITEMS}?limit=5").get_json()
    assert next(link["href"] for link in doc["links"] if link["rel"] == "next").startswith(
        "https://yizhan.example.cn/ogcapi/collections/stations/items?limit=5&cursor=")


def test_a_district_admin_sees_pending_stations_and_managers_of_its_district_only(client, registry, fresh_db):
    from stations.unions import store

    city = store.add_union(fresh_db, "北京市总工会", kind="municipal")
    for name in ("东城区总工会", "海淀区总工会", "朝阳区总工会"):
        store.move_union(fresh_db, store.find_union(fresh_db, name)["id"], city, kind="district")
    users.add_user(fresh_db, "dc_admin", "admin-pass-9", "admin", "东城区总工会")
    raw = base64.b64encode(b"dc_admin:admin-pass-9").decode()
    doc = client.get(f"{ITEMS}?limit=100", headers={"Authorization": f"Basic {raw}"}).get_json()
    assert registry["own_pending"] not in ids(doc) and registry["other_pending"] not in ids(doc)
    by_id = {f["id"]: f["properties"] for f in doc["features"]}
    assert "manager" not in by_id[registry["public"][0]]       # 海淀区总工会's station
    assert "manager" in by_id[registry["public"][5]]           # 东城区总工会's station


def test_the_host_union_filter_resolves_aliases_brackets_and_ids(client, registry, fresh_db):
    from stations.unions import store

    haidian = store.find_union(fresh_db, "海淀区总工会")
    store.add_alias(fresh_db, haidian["id"], "海淀区工会（区级）")
    public = registry["public"]
    assert ids(client.get(f"{ITEMS}?host_union=海淀区工会(区级)").get_json()) == public[:3]
    assert ids(client.get(f"{ITEMS}?host_union_id={haidian['id']}").get_json()) == public[:3]
    assert ids(client.get(f"{ITEMS}?host_union=不存在的工会").get_json()) == []
    refused = client.get(f"{ITEMS}?host_union_id=abc")
    assert refused.status_code == 400 and "host_union_id" in refused.get_data(as_text=True)
    assert client.get(f"{ITEMS}/{public[0]}").get_json()["properties"]["host_union_id"] == haidian["id"]
